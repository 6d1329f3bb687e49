"""Decoding a file one segment at a time: same samples as a whole decode, bounded, checked."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import audio_bytes, tone

from audiosoup_widgets.audio import decode, decode_segments
from audiosoup_widgets.errors import DecodeError


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def thirds(n: int) -> list[tuple[int, int]]:
    cuts = [0, n // 3, 2 * n // 3, n]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@pytest.mark.parametrize(("fmt", "subtype", "channels"), [
    ("WAV", "PCM_16", 1), ("WAV", "FLOAT", 6), ("FLAC", None, 2), ("OGG", "VORBIS", 2),
    ("MP3", "MPEG_LAYER_III", 2),
])
def test_segments_are_the_whole_decode_cut_where_planned(tmp_path, fmt, subtype, channels):
    path = write(tmp_path / "a.bin", audio_bytes(tone(sr=32000, seconds=2.5, channels=channels),
                                                 32000, format=fmt, subtype=subtype))
    whole, sr = decode(path)
    segments = list(decode_segments(path, thirds))
    assert [s.last for s in segments] == [False] * (len(segments) - 1) + [True]
    assert all(s.info.sample_rate == sr == 32000 for s in segments)
    np.testing.assert_array_equal(np.concatenate([s.samples for s in segments]), whole)
    starts = [s.start for s in segments]
    assert starts == list(np.cumsum([0] + [len(s.samples) for s in segments[:-1]]))
    if fmt != "MP3":  # exact lengths: exactly the planned cuts
        assert [(s.start, s.start + len(s.samples)) for s in segments] == thirds(len(whole))


def test_a_file_that_fits_is_one_last_segment_equal_to_decode(tmp_path):
    path = write(tmp_path / "a.wav", audio_bytes(tone(sr=16000, seconds=1), 16000))
    (only,) = decode_segments(path, lambda n: [(0, n)])
    assert only.last and only.start == 0
    np.testing.assert_array_equal(only.samples, decode(path)[0])


def test_audio_beyond_the_plan_comes_in_more_segments(tmp_path):
    # As when a header only estimates the length: the plan covers a part of the file.
    path = write(tmp_path / "a.wav", audio_bytes(tone(sr=8000, seconds=2), 8000))
    segments = list(decode_segments(path, lambda n: [(0, 3000), (3000, 5000)]))
    # The planned 3000 and 2000, then 11000 more frames in segments of the last size.
    assert [len(s.samples) for s in segments] == [3000] + [2000] * 6 + [1000]
    np.testing.assert_array_equal(np.concatenate([s.samples for s in segments]),
                                  decode(path)[0])


def test_truncation_is_found_before_the_last_segment_is_handed_over(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=3), 16000, subtype="PCM_16")
    path = write(tmp_path / "cut.wav", data[:len(data) // 2])
    got = []
    with pytest.raises(DecodeError) as info:
        for segment in decode_segments(path, thirds):
            got.append(segment)
    assert info.value.code == "truncated"
    assert not any(s.last for s in got)


def test_memory_is_one_segment_not_the_file(tmp_path):
    path = write(tmp_path / "long.wav",
                 audio_bytes(tone(sr=16000, seconds=120, channels=2), 16000, subtype="PCM_16"))
    size = 16000 * 5
    tracemalloc.start()
    try:
        n = 0
        for segment in decode_segments(path, lambda total: [
                (a, min(a + size, total)) for a in range(0, total, size)]):
            n += len(segment.samples)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 16000 * 120
    # Two segments of float32 at most (the one handed over and the next), plus a chunk;
    # the whole file's mono mix as float32 would be 7.7 MB.
    assert peak < 2 * size * 4 + 2**20 * 1.5, peak
