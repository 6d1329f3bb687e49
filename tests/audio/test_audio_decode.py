"""Decoding: formats from content, every skip reason, levels and flags, bounded reads."""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import librosa
import numpy as np
import pytest
from audio_fixtures import audio_bytes, huge_claim_wav, tone

from audiosoup_widgets.audio import (
    FLAGS,
    REASONS,
    Analysis,
    AudioInfo,
    Limits,
    analyse_file,
    decode,
    probe_file,
    waveform_peaks,
)
from audiosoup_widgets.errors import AudiosoupError, DecodeError, ValidationError


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def reason(path, **kw) -> str:
    with pytest.raises(DecodeError) as info:
        analyse_file(path, **kw)
    exc = info.value
    assert exc.code in REASONS
    assert exc.message and "\n" not in exc.message
    return exc.code


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
    y = tone(sr=sr, seconds=0.5, channels=ch, freq=440, level=0.5)
    path = write(tmp_path / f"x.{fmt.lower()}", audio_bytes(y, sr, format=fmt, subtype=subtype))
    a = analyse_file(path, root=tmp_path)
    assert isinstance(a, Analysis)
    assert (a.info.format, a.info.subtype, a.info.sample_rate, a.info.channels) == (
        fmt, subtype, sr, ch)
    assert a.info.frames == len(y)
    assert a.info.duration == pytest.approx(len(y) / sr)
    assert a.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert a.peaks.shape == (2, 200) and a.peaks.dtype == np.float32
    assert a.flags == ()
    assert 0.45 < a.peak_abs < 0.65
    # A 0.5-amplitude tone: RMS 0.5/sqrt(2) = -9.03 dBFS (lossy codecs differ a little).
    assert a.rms_db == pytest.approx(-9.03, abs=0.3)
    assert probe_file(path, root=tmp_path) == AudioInfo(fmt, subtype, sr, ch, len(y),
                                                        len(y) / sr)
    y2, sr2 = decode(path, mono=False)
    assert sr2 == sr and y2.shape == (ch, len(y)) and y2.dtype == np.float32
    if fmt in ("WAV", "FLAC"):
        tol = {"PCM_U8": 1 / 64, "PCM_16": 1e-4}.get(subtype, 1e-6)
        np.testing.assert_allclose(y2, y.T, atol=tol)


def test_format_comes_from_content_not_extension(tmp_path):
    path = write(tmp_path / "liar.wav", audio_bytes(tone(sr=16000, seconds=0.2), 16000,
                                                   format="FLAC"))
    assert analyse_file(path).info.format == "FLAC"
    path = write(tmp_path / "liar.mp3", audio_bytes(tone(sr=16000, seconds=0.2), 16000,
                                                   format="OGG", subtype="VORBIS"))
    assert probe_file(path).format == "OGG"


def test_streamed_wav_with_unknown_size_loads(tmp_path):
    # `ffmpeg ... -f wav -` cannot seek back and leaves 0xFFFFFFFF as the data size.
    data = bytearray(audio_bytes(tone(sr=16000, seconds=0.5), 16000, subtype="PCM_16"))
    i = data.index(b"data")
    data[i + 4:i + 8] = struct.pack("<I", 0xFFFFFFFF)
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    a = analyse_file(write(tmp_path / "piped.wav", bytes(data)))
    assert a.info.frames == 8000


def test_mp3_without_length_header_loads_by_decoding(tmp_path):
    # Without a Xing/Info frame libsndfile estimates the length from the file
    # size; the decoded length is taken as the truth, not flagged as truncated.
    data = bytearray(audio_bytes(tone(sr=44100, seconds=1.0, channels=2), 44100, format="MP3"))
    for tag in (b"Xing", b"Info"):
        i = data.find(tag, 0, 2000)
        if i >= 0:
            data[i:i + 4] = b"XXXX"
    a = analyse_file(write(tmp_path / "tagless.mp3", bytes(data)))
    y, sr = decode(tmp_path / "tagless.mp3")
    assert a.info.frames == len(y) and abs(len(y) - 44100) < 3 * 1152
    assert a.peaks.shape == (2, 200) and a.peaks.max() > 0.3


# -- every skip reason ---------------------------------------------------------------------

def test_empty_file(tmp_path):
    assert reason(write(tmp_path / "e.wav", b"")) == "empty"


def test_wav_with_no_frames_is_empty(tmp_path):
    path = write(tmp_path / "h.wav", audio_bytes(np.zeros((0, 1), np.float32), 16000))
    assert reason(path) == "empty"


@pytest.mark.parametrize("data", [
    b"hello, I am a text file\n" * 40,
    b"<html><body>not audio</body></html>",
    b"x",
    b"fLaC but not really",
])
def test_text_is_not_audio(tmp_path, data):
    assert reason(write(tmp_path / "t.wav", data)) == "not_audio"


@pytest.mark.parametrize("seed", range(12))
def test_random_bytes_are_not_audio(tmp_path, seed):
    data = np.random.default_rng(seed).bytes(4096 * (1 + seed % 4))
    assert reason(write(tmp_path / "r.flac", data)) == "not_audio"


def test_too_large_is_refused_before_reading(tmp_path):
    path = write(tmp_path / "big.wav", audio_bytes(tone(sr=16000, seconds=1), 16000))
    with pytest.raises(DecodeError, match=r"bytes \(> limit 1000\)") as info:
        analyse_file(path, limits=Limits(max_bytes=1000))
    assert info.value.code == "too_large"


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


def test_long_file_is_too_long_for_a_short_limit(tmp_path):
    path = write(tmp_path / "long.flac", audio_bytes(tone(sr=8000, seconds=3), 8000,
                                                    format="FLAC"))
    assert reason(path, limits=Limits(max_seconds=2.0)) == "too_long"


def test_truncated_wav(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=1), 16000, subtype="PCM_16")
    path = write(tmp_path / "cut.wav", data[:len(data) // 2 + 1])  # also mid-frame
    with pytest.raises(DecodeError, match=r"decoded 7989 of the 16000 frames") as info:
        analyse_file(path)
    assert info.value.code == "truncated"
    assert probe_file(path).frames == 7989  # the header alone cannot tell


def test_wav_cut_inside_its_header(tmp_path):
    data = audio_bytes(tone(sr=16000, seconds=1), 16000)
    for n in (12, 30, 40):
        assert reason(write(tmp_path / f"h{n}.wav", data[:n])) == "truncated"


@pytest.mark.parametrize(("fmt", "subtype", "frac"), [
    ("FLAC", None, 0.5), ("FLAC", None, 0.95), ("MP3", "MPEG_LAYER_III", 0.5),
    ("MP3", "MPEG_LAYER_III", 0.8), ("OGG", "VORBIS", 0.5), ("OGG", "VORBIS", 0.1),
])
def test_truncated_compressed_files(tmp_path, fmt, subtype, frac):
    data = audio_bytes(tone(sr=32000, seconds=3, channels=2), 32000, format=fmt,
                       subtype=subtype)
    assert reason(write(tmp_path / "cut.bin", data[:int(len(data) * frac)])) == "truncated"


def test_ogg_cut_at_a_page_boundary_is_truncated(tmp_path):
    data = audio_bytes(tone(sr=32000, seconds=3), 32000, format="OGG", subtype="VORBIS")
    cut = data.rfind(b"OggS")  # drop exactly the last (end-of-stream) page
    assert reason(write(tmp_path / "cut.ogg", data[:cut])) == "truncated"


def test_too_many_channels_is_unsupported(tmp_path):
    path = write(tmp_path / "c.wav", audio_bytes(tone(sr=8000, seconds=0.1, channels=4), 8000))
    assert reason(path, limits=Limits(max_channels=2)) == "unsupported"


def test_unsupported_sample_rate(tmp_path):
    path = write(tmp_path / "r.wav", audio_bytes(tone(sr=8000, seconds=0.1), 8000))
    assert reason(path, limits=Limits(max_sample_rate=4000)) == "unsupported"


def test_symlink_leaving_the_root(tmp_path):
    outside = write(tmp_path / "elsewhere" / "secret.wav", audio_bytes(tone(sr=8000, seconds=0.1),
                                                                       8000))
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.wav").symlink_to(outside)
    assert reason(root / "link.wav", root=root) == "outside_root"
    assert reason(root / ".." / "elsewhere" / "secret.wav", root=root) == "outside_root"
    # A sibling whose name starts like the root is outside too (no string prefix test).
    write(tmp_path / "root2" / "x.wav", audio_bytes(tone(sr=8000, seconds=0.1), 8000))
    assert reason(tmp_path / "root2" / "x.wav", root=root) == "outside_root"
    # Without a root, the same link is fine.
    assert analyse_file(root / "link.wav").info.frames == 800


def test_symlink_inside_the_root_and_a_symlinked_root_load(tmp_path):
    real = tmp_path / "real"
    target = write(real / "a" / "x.wav", audio_bytes(tone(sr=8000, seconds=0.1), 8000))
    (real / "b").mkdir()
    (real / "b" / "y.wav").symlink_to(Path("..") / "a" / "x.wav")
    (tmp_path / "alias").symlink_to(real)
    assert analyse_file(real / "b" / "y.wav", root=real).info.frames == 800
    assert analyse_file(tmp_path / "alias" / "a" / "x.wav", root=tmp_path / "alias")
    assert analyse_file(target, root=tmp_path / "alias")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_regular_and_never_blocks(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    box: dict[str, object] = {}

    def run() -> None:
        try:
            analyse_file(fifo, root=tmp_path)
        except DecodeError as exc:
            box["code"] = exc.code

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "analyse_file blocked on a FIFO"
    assert box["code"] == "not_regular"
    assert reason(fifo) == "not_regular"


def test_folders_and_devices_are_not_regular(tmp_path):
    (tmp_path / "d.wav").mkdir()
    assert reason(tmp_path / "d.wav") == "not_regular"
    if os.path.exists("/dev/null"):
        assert reason("/dev/null") == "not_regular"


def test_missing_file_and_symlink_loop_are_unreadable(tmp_path):
    assert reason(tmp_path / "nope.wav") == "unreadable"
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    assert reason(tmp_path / "loop.wav") == "unreadable"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_permission_denied_is_unreadable(tmp_path):
    path = write(tmp_path / "p.wav", audio_bytes(tone(sr=8000, seconds=0.1), 8000))
    path.chmod(0)
    assert reason(path) == "unreadable"


def test_slow_decoding_times_out_between_chunks(tmp_path):
    path = write(tmp_path / "t.wav", audio_bytes(tone(sr=16000, seconds=2), 16000))
    with pytest.raises(DecodeError, match="longer than") as info:
        analyse_file(path, limits=Limits(timeout_s=1e-9, chunk_frames=1000))
    assert info.value.code == "timeout"


def test_decode_error_is_an_audiosoup_error_with_a_code():
    exc = DecodeError("x", code="truncated")
    assert isinstance(exc, AudiosoupError) and exc.code == "truncated"


# -- levels and flags ----------------------------------------------------------------------

def flags_of(tmp_path, y, sr=16000, subtype="PCM_16", name="f.wav") -> tuple[str, ...]:
    return analyse_file(write(tmp_path / name, audio_bytes(y, sr, subtype=subtype))).flags


def test_silent_quiet_and_normal(tmp_path):
    assert flags_of(tmp_path, np.zeros((16000, 1), np.float32)) == ("silent",)
    assert flags_of(tmp_path, tone(sr=16000, seconds=1, level=0.001)) == ("quiet",)
    assert flags_of(tmp_path, tone(sr=16000, seconds=1, level=0.1)) == ()
    a = analyse_file(tmp_path / "f.wav")
    assert a.rms_db == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.05)
    silent = analyse_file(write(tmp_path / "s.wav", audio_bytes(np.zeros((100, 2)), 8000)))
    assert silent.rms_db == -120.0 and silent.peak_abs == 0.0
    assert not silent.peaks.any()


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_clipping_needs_three_full_scale_samples_in_a_row(tmp_path, subtype):
    y = tone(sr=16000, seconds=0.5, level=0.5, noise=0.0)
    assert "clipped" not in flags_of(tmp_path, y, subtype=subtype)
    loud = np.clip(tone(sr=16000, seconds=0.5, level=4.0, noise=0.0), -1, 1)
    assert "clipped" in flags_of(tmp_path, loud, subtype=subtype)
    two = y.copy()
    two[100:102] = 1.0
    assert "clipped" not in flags_of(tmp_path, two, subtype=subtype)


def test_clipping_across_a_chunk_boundary(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.5, noise=0.0)
    y[998:1001] = -1.0
    path = write(tmp_path / "b.wav", audio_bytes(y, 16000, subtype="PCM_16"))
    assert "clipped" in analyse_file(path, limits=Limits(chunk_frames=1000)).flags


def test_dc_offset(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.2) + np.float32(0.1)
    assert flags_of(tmp_path, y) == ("dc_offset",)


def test_non_finite_samples_are_flagged_and_count_as_zero(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.5)
    y[10, 0], y[20, 0], y[30, 0] = np.nan, np.inf, -np.inf
    a = analyse_file(write(tmp_path / "n.wav", audio_bytes(y, 16000, subtype="FLOAT")))
    assert a.flags == ("non_finite",)
    assert np.isfinite(a.peaks).all() and np.isfinite(a.rms_db) and a.peak_abs < 1.0
    assert set(a.flags) <= set(FLAGS)


# -- peaks from the single pass ------------------------------------------------------------

@pytest.mark.parametrize("chunk", [65_536, 1000, 777])
@pytest.mark.parametrize("n_peaks", [200, 64])
def test_peaks_equal_those_of_the_decoded_signal(tmp_path, chunk, n_peaks):
    y = tone(sr=22050, seconds=1.3, channels=2, freq=3)  # slow, so bins differ
    path = write(tmp_path / "p.wav", audio_bytes(y, 22050, subtype="FLOAT"))
    a = analyse_file(path, limits=Limits(chunk_frames=chunk), n_peaks=n_peaks)
    mono, _ = decode(path)
    np.testing.assert_array_equal(a.peaks, waveform_peaks(mono, n_bins=n_peaks))
    assert a.encoded_peaks()[:1] == b"\x01"


def test_peaks_of_a_clip_shorter_than_the_bins(tmp_path):
    y = np.array([[0.5], [-0.25], [0.125]], dtype=np.float32)
    a = analyse_file(write(tmp_path / "s.wav", audio_bytes(y, 8000, subtype="FLOAT")))
    assert set(a.peaks[0]) == {0.5, -0.25, 0.125}


# -- decode --------------------------------------------------------------------------------

def test_decode_mixes_offsets_and_resamples(tmp_path):
    y = tone(sr=16000, seconds=1.0, channels=2)
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
    y = tone(sr=22050, seconds=2.0)
    path = write(tmp_path / "s.flac", audio_bytes(y, 22050, format="FLAC"))
    part, _ = decode(path, offset=1.0, duration=0.5)
    np.testing.assert_allclose(part, y[22050:33075, 0], atol=1e-4)


def test_decode_refuses_bad_arguments_and_broken_files(tmp_path):
    path = write(tmp_path / "d.wav", audio_bytes(tone(sr=8000, seconds=0.1), 8000))
    for kw in ({"offset": -1.0}, {"duration": -0.5}, {"offset": float("nan")}, {"sr": 0}):
        with pytest.raises(ValidationError):
            decode(path, **kw)
    cut = write(tmp_path / "cut.flac",
                audio_bytes(tone(sr=8000, seconds=3), 8000, format="FLAC")[:3000])
    with pytest.raises(DecodeError) as info:
        decode(cut)
    assert info.value.code == "truncated"


def test_limits_are_validated():
    with pytest.raises(ValidationError):
        Limits(max_bytes=0)
    with pytest.raises(ValidationError):
        Limits(timeout_s=float("inf"))
    assert Limits().max_frames(16000) == 172_800_000


def test_analysis_of_a_one_second_clip_costs_well_under_a_millisecond(tmp_path):
    path = write(tmp_path / "one.wav", audio_bytes(tone(sr=16000, seconds=1), 16000,
                                                  subtype="PCM_16"))
    for _ in range(20):
        analyse_file(path, root=tmp_path)
    n = 300
    t0 = time.process_time()
    for _ in range(n):
        analyse_file(path, root=tmp_path)
    per_file = (time.process_time() - t0) / n
    assert per_file < 1e-3, f"{per_file * 1e3:.3f} ms CPU per 1-s clip"
