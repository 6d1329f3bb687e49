"""Decoding: every format, rate and channel count, parts, resampling, segments of long files."""

from __future__ import annotations

import hashlib
import tracemalloc

import librosa
import numpy as np
import pytest
from audio_fixtures import audio_bytes
from audiotest_helpers import write
from signals import tone

from audiosoup_widgets.audio import (
    Analysis,
    AudioInfo,
    analyse_file,
    decode,
    decode_segments,
    probe_file,
)
from audiosoup_widgets.errors import DecodeError, ValidationError

# -- formats -------------------------------------------------------------------------------

CASES = [  # format, subtype, sample rate, channels
    ("WAV", "PCM_U8", 8000, 1),
    ("WAV", "PCM_16", 11025, 1),
    ("WAV", "PCM_16", 16000, 2),
    ("WAV", "PCM_24", 44100, 1),
    ("WAV", "PCM_32", 22050, 3),
    ("WAV", "FLOAT", 48000, 6),
    ("WAV", "DOUBLE", 96000, 2),
    ("FLAC", "PCM_16", 22050, 1),
    ("FLAC", "PCM_24", 48000, 2),
    ("OGG", "VORBIS", 32000, 1),
    ("OGG", "VORBIS", 44100, 2),
    ("MP3", "MPEG_LAYER_III", 44100, 2),
    ("MP3", "MPEG_LAYER_III", 16000, 1),
]


@pytest.mark.parametrize(("fmt", "subtype", "sr", "ch"), CASES)
def test_every_format_rate_and_channel_count_loads(tmp_path, fmt, subtype, sr, ch):
    y = tone(sr=sr, seconds=0.5, channels=ch, freq=440, level=0.5, noise=0.02)
    path = write(tmp_path / f"x.{fmt.lower()}", audio_bytes(y, sr, format=fmt, subtype=subtype))
    a = analyse_file(path, root=tmp_path)
    assert isinstance(a, Analysis)
    assert (a.info.format, a.info.subtype, a.info.sample_rate, a.info.channels) == (fmt, subtype, sr, ch)
    assert a.info.frames == len(y)
    assert a.info.duration == pytest.approx(len(y) / sr)
    assert a.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert a.peaks.shape == (2, 200) and a.peaks.dtype == np.float32
    assert a.flags == ()
    assert 0.45 < a.peak_abs < 0.65
    # A 0.5-amplitude tone: RMS 0.5/sqrt(2) = -9.03 dBFS (lossy codecs differ a little).
    assert a.rms_db == pytest.approx(-9.03, abs=0.3)
    assert probe_file(path, root=tmp_path) == AudioInfo(fmt, subtype, sr, ch, len(y), len(y) / sr)
    y2, sr2 = decode(path, mono=False)
    assert sr2 == sr and y2.shape == (ch, len(y)) and y2.dtype == np.float32
    if fmt in ("WAV", "FLAC"):
        tol = {"PCM_U8": 1 / 64, "PCM_16": 1e-4}.get(subtype, 1e-6)
        np.testing.assert_allclose(y2, y.T, atol=tol)


# -- decode --------------------------------------------------------------------------------


def test_decode_mixes_offsets_and_resamples(tmp_path):
    y = tone(sr=16000, seconds=1.0, channels=2, noise=0.02)
    path = write(tmp_path / "d.wav", audio_bytes(y, 16000, subtype="FLOAT"))
    mono, sr = decode(path)
    assert sr == 16000 and mono.shape == (16000,) and mono.dtype == np.float32
    np.testing.assert_allclose(mono, y.mean(axis=1), atol=1e-6)
    part, _ = decode(path, offset=0.25, duration=0.5, mono=False)
    np.testing.assert_array_equal(part, y[4000:12000].T)
    tail, _ = decode(path, offset=0.9, duration=5.0)
    assert len(tail) == 1600
    past, _ = decode(path, offset=9.0)
    assert past.shape == (0,)
    y22, sr22 = decode(path, sr=22050)
    assert sr22 == 22050 and y22.dtype == np.float32
    ref = librosa.resample(y.mean(axis=1), orig_sr=16000, target_sr=22050, res_type="soxr_hq")
    np.testing.assert_allclose(y22, ref, atol=1e-5)


def test_decode_seeks_in_compressed_files(tmp_path):
    y = tone(sr=22050, seconds=2.0, noise=0.02, channels=1)
    path = write(tmp_path / "s.flac", audio_bytes(y, 22050, format="FLAC"))
    part, _ = decode(path, offset=1.0, duration=0.5)
    np.testing.assert_allclose(part, y[22050:33075, 0], atol=1e-4)


def test_decode_refuses_bad_arguments_and_broken_files(tmp_path):
    path = write(tmp_path / "d.wav", audio_bytes(tone(sr=8000, seconds=0.1, noise=0.02), 8000))
    for kw in ({"offset": -1.0}, {"duration": -0.5}, {"offset": float("nan")}, {"sr": 0}):
        with pytest.raises(ValidationError):
            decode(path, **kw)
    cut = write(
        tmp_path / "cut.flac", audio_bytes(tone(sr=8000, seconds=3, noise=0.02), 8000, format="FLAC")[:3000]
    )
    with pytest.raises(DecodeError) as info:
        decode(cut)
    assert info.value.code == "truncated"


# -- segments of long files ----------------------------------------------------------------


def thirds(n: int) -> list[tuple[int, int]]:
    cuts = [0, n // 3, 2 * n // 3, n]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@pytest.mark.parametrize(
    ("fmt", "subtype", "channels"),
    [
        ("WAV", "PCM_16", 1),
        ("WAV", "FLOAT", 6),
        ("FLAC", None, 2),
        ("OGG", "VORBIS", 2),
        ("MP3", "MPEG_LAYER_III", 2),
    ],
)
def test_segments_are_the_whole_decode_cut_where_planned(tmp_path, fmt, subtype, channels):
    path = write(
        tmp_path / "a.bin",
        audio_bytes(
            tone(sr=32000, seconds=2.5, channels=channels, noise=0.02), 32000, format=fmt, subtype=subtype
        ),
    )
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
    path = write(tmp_path / "a.wav", audio_bytes(tone(sr=16000, seconds=1, noise=0.02), 16000))
    (only,) = decode_segments(path, lambda n: [(0, n)])
    assert only.last and only.start == 0
    np.testing.assert_array_equal(only.samples, decode(path)[0])


def test_audio_beyond_the_plan_comes_in_more_segments(tmp_path):
    # As when a header only estimates the length: the plan covers a part of the file.
    path = write(tmp_path / "a.wav", audio_bytes(tone(sr=8000, seconds=2, noise=0.02), 8000))
    segments = list(decode_segments(path, lambda n: [(0, 3000), (3000, 5000)]))
    # The planned 3000 and 2000, then 11000 more frames in segments of the last size.
    assert [len(s.samples) for s in segments] == [3000] + [2000] * 6 + [1000]
    np.testing.assert_array_equal(np.concatenate([s.samples for s in segments]), decode(path)[0])


def test_truncation_is_found_before_the_last_segment_is_handed_over(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=3, noise=0.02), 16000, subtype="PCM_16")
    path = write(tmp_path / "cut.wav", data[: len(data) // 2])
    got = []
    with pytest.raises(DecodeError) as info:
        for segment in decode_segments(path, thirds):
            got.append(segment)
    assert info.value.code == "truncated"
    assert not any(s.last for s in got)


def test_memory_is_one_segment_not_the_file(tmp_path):
    path = write(
        tmp_path / "long.wav",
        audio_bytes(tone(sr=16000, seconds=120, channels=2, noise=0.02), 16000, subtype="PCM_16"),
    )
    size = 16000 * 5
    tracemalloc.start()
    try:
        n = 0
        for segment in decode_segments(
            path, lambda total: [(a, min(a + size, total)) for a in range(0, total, size)]
        ):
            n += len(segment.samples)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 16000 * 120
    # Two segments of float32 at most (the one handed over and the next), plus a chunk;
    # the whole file's mono mix as float32 would be 7.7 MB.
    assert peak < 2 * size * 4 + 2**20 * 1.5, peak
