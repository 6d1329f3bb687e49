"""Container structure: claimed sizes, cut files, length headers, content that is not audio."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest
from audio_fixtures import audio_bytes, huge_claim_wav
from audiotest_helpers import reason, write
from signals import tone

from audiosoup_widgets.audio import analyse_file, decode, probe_file
from audiosoup_widgets.errors import DecodeError


def test_streamed_wav_with_unknown_size_loads(tmp_path):
    # `ffmpeg ... -f wav -` cannot seek back and leaves 0xFFFFFFFF as the data size.
    data = bytearray(audio_bytes(tone(sr=16000, seconds=0.5, noise=0.02), 16000, subtype="PCM_16"))
    i = data.index(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", 0xFFFFFFFF)
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    a = analyse_file(write(tmp_path / "piped.wav", bytes(data)))
    assert a.info.frames == 8000


def test_mp3_without_length_header_loads_by_decoding(tmp_path):
    # Without a Xing/Info frame libsndfile estimates the length from the file
    # size; the decoded length is taken as the truth, not flagged as truncated.
    data = bytearray(audio_bytes(tone(sr=44100, seconds=1.0, channels=2, noise=0.02), 44100, format="MP3"))
    for tag in (b"Xing", b"Info"):
        i = data.find(tag, 0, 2000)
        if i >= 0:
            data[i : i + 4] = b"XXXX"
    a = analyse_file(write(tmp_path / "tagless.mp3", bytes(data)))
    y, sr = decode(tmp_path / "tagless.mp3")
    assert a.info.frames == len(y) and abs(len(y) - 44100) < 3 * 1152
    assert a.peaks.shape == (2, 200) and a.peaks.max() > 0.3


def test_header_claiming_billions_of_frames_is_too_long_without_allocating(tmp_path):
    path = write(tmp_path / "huge.wav", huge_claim_wav())
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError) as info:
            analyse_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == "too_long"
    assert info.value.message == "header claims 2147483640 frames (> limit 172800000)"
    assert peak < 10_000_000
    with pytest.raises(DecodeError, match="header claims"):
        decode(path)
    with pytest.raises(DecodeError, match="header claims"):
        probe_file(path)


def test_truncated_wav(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=1, noise=0.02), 16000, subtype="PCM_16")
    path = write(tmp_path / "cut.wav", data[: len(data) // 2 + 1])  # also mid-frame
    with pytest.raises(DecodeError, match=r"decoded 7989 of the 16000 frames") as info:
        analyse_file(path)
    assert info.value.code == "truncated"
    assert probe_file(path).frames == 7989  # the header alone cannot tell


def test_wav_cut_inside_its_header(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=1, noise=0.02), 16000)
    for n in (12, 30, 40):
        assert reason(write(tmp_path / f"h{n}.wav", data[:n])) == "truncated"


@pytest.mark.parametrize(
    ("fmt", "subtype", "frac"),
    [
        ("FLAC", None, 0.5),
        ("FLAC", None, 0.95),
        ("MP3", "MPEG_LAYER_III", 0.5),
        ("MP3", "MPEG_LAYER_III", 0.8),
        ("OGG", "VORBIS", 0.5),
        ("OGG", "VORBIS", 0.1),
    ],
)
def test_truncated_compressed_files(tmp_path, fmt, subtype, frac):
    data = audio_bytes(tone(sr=32000, seconds=3, channels=2, noise=0.02), 32000, format=fmt, subtype=subtype)
    assert reason(write(tmp_path / "cut.bin", data[: int(len(data) * frac)])) == "truncated"


def test_ogg_cut_at_a_page_boundary_is_truncated(tmp_path):
    data = audio_bytes(tone(sr=32000, seconds=3, noise=0.02), 32000, format="OGG", subtype="VORBIS")
    cut = data.rfind(b"OggS")  # drop exactly the last (end-of-stream) page
    assert reason(write(tmp_path / "cut.ogg", data[:cut])) == "truncated"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, I am a text file\n" * 40,
        b"<html><body>not audio</body></html>",
        b"x",
        b"fLaC but not really",
    ],
)
def test_text_is_not_audio(tmp_path, data):
    assert reason(write(tmp_path / "t.wav", data)) == "not_audio"


@pytest.mark.parametrize("seed", range(12))
def test_random_bytes_are_not_audio(tmp_path, seed):
    data = np.random.default_rng(seed).bytes(4096 * (1 + seed % 4))
    assert reason(write(tmp_path / "r.flac", data)) == "not_audio"
