"""Quality measures from the one analysis pass equal those of the decoded file, for every encoding.

``analyse_file`` and ``measure_file`` feed the file's chunks to a quality accumulator;
the reference is ``measure_quality`` of the whole file as ``decode`` returns it, with
the file's own sample encoding (what sets full scale for clipping).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import audio_bytes
from audiotest_helpers import reason, write
from signals import noise, speech_like, tone

import audiosoup_widgets.audio.analysis as analysis
import audiosoup_widgets.audio.levels as levels
import audiosoup_widgets.audio.quality as quality
from audiosoup_widgets.audio import Limits, analyse_file, decode, measure_quality
from audiosoup_widgets.audio.analysis import DC_OFFSET, measure_file
from audiosoup_widgets.audio.quality import QUALITY_VERSION, QualityMeasures
from audiosoup_widgets.errors import DecodeError


def assert_same(a: QualityMeasures, b: QualityMeasures) -> None:
    ra, rb = a.as_row(), b.as_row()
    assert ra.keys() == rb.keys()
    for key in ra:
        if isinstance(ra[key], str):
            assert ra[key] == rb[key], key
        else:
            # Only the summation order differs (chunks against blocks).
            assert ra[key] == pytest.approx(rb[key], rel=1e-9, abs=1e-12), key


def reference(path, **kw) -> QualityMeasures:
    """Measures of the whole decoded file, channels kept, with its own encoding."""
    y, sr = decode(path, mono=False, **kw)
    return measure_quality(y, sr=sr, subtype=sf.info(str(path)).subtype)


def padded_speech(sr: int, channels: int) -> np.ndarray:
    """Speech-like audio with silence around it and a little noise: every measure is non-trivial."""
    y = np.concatenate([np.zeros(sr // 4), 0.8 * speech_like(sr, seconds=1.0), np.zeros(sr // 3)])
    cols = [
        np.roll(y, 37 * c) + noise(sr, seconds=len(y) / sr, seed=c, level=0.0003)[: len(y)]
        for c in range(channels)
    ]
    return np.stack(cols, axis=1).astype(np.float32)


CASES = [
    # (name, format, subtype, sample rate, channels)
    ("pcm16_mono.wav", "WAV", "PCM_16", 16000, 1),
    ("pcm16_stereo.flac", "FLAC", "PCM_16", 22050, 2),
    ("pcm24_3ch.wav", "WAV", "PCM_24", 44100, 3),
    ("pcm24.flac", "FLAC", "PCM_24", 48000, 1),
    ("u8.wav", "WAV", "PCM_U8", 8000, 1),
    ("float_stereo.wav", "WAV", "FLOAT", 16000, 2),
    ("vorbis.ogg", "OGG", "VORBIS", 16000, 1),
]


@pytest.mark.parametrize(("name", "fmt", "subtype", "sr", "channels"), CASES)
@pytest.mark.parametrize("chunk", [65_536, 1000, 777])
def test_analysis_measures_equal_those_of_the_decoded_file(tmp_path, name, fmt, subtype, sr, channels, chunk):
    y = padded_speech(sr, channels)
    # Clipping at full scale, across chunk boundaries whatever the chunk size.
    y[sr // 2 : sr // 2 + 900, 0] = 1.0
    path = write(tmp_path / name, audio_bytes(y, sr, format=fmt, subtype=subtype))
    limits = Limits(chunk_frames=chunk)
    a = analyse_file(path, limits=limits)
    ref = reference(path)
    assert_same(a.quality, ref)
    assert_same(measure_file(path, limits=limits), ref)
    # The measures are real, not defaults: silence around the speech (8-bit quantisation
    # noise is louder than the silence threshold), clipping in it.
    if subtype != "PCM_U8":
        assert a.quality.leading_silence_s >= 0.2 and a.quality.trailing_silence_s >= 0.25
    assert a.quality.clip_ratio > 0
    assert 0 < a.quality.bandwidth_hz < sr / 2


def test_flags_and_level_come_from_the_measures(tmp_path):
    sr = 16000
    y = tone(sr, seconds=1.0, level=0.5, channels=2)
    y[:, 1] += 0.08  # one channel's mean beyond DC_OFFSET
    y[5000:5003, 0] = 1.0
    a = analyse_file(write(tmp_path / "f.wav", audio_bytes(y, sr, subtype="PCM_16")))
    assert a.rms_db == a.quality.rms_dbfs
    assert a.quality.dc_offset == pytest.approx(0.08, abs=1e-3) and a.quality.dc_offset > DC_OFFSET
    assert a.quality.clip_ratio == pytest.approx(3 / (2 * sr))
    assert a.flags == ("clipped", "dc_offset")
    assert 20 * np.log10(a.peak_abs) == pytest.approx(a.quality.peak_dbfs)


def test_non_finite_samples_count_as_zero_in_the_measures_too(tmp_path):
    sr = 16000
    y = tone(sr, seconds=0.5, level=0.3, channels=1)
    y[100, 0], y[200, 0], y[300, 0] = np.nan, np.inf, -np.inf
    path = write(tmp_path / "nan.wav", audio_bytes(y, sr, subtype="FLOAT"))
    a = analyse_file(path)
    assert "non_finite" in a.flags
    assert_same(a.quality, reference(path))
    clean = y.copy()
    clean[[100, 200, 300], 0] = 0.0
    assert_same(a.quality, measure_quality(clean[:, 0], sr=sr, subtype="FLOAT"))


def test_a_long_file_in_small_chunks(tmp_path):
    sr = 44100
    y = np.tile(padded_speech(sr, 2), (6, 1))  # about 9.5 s of stereo
    path = write(tmp_path / "long.flac", audio_bytes(y, sr, format="FLAC", subtype="PCM_16"))
    assert_same(measure_file(path, limits=Limits(chunk_frames=4099)), reference(path))


def test_measure_file_fails_as_analyse_file_does(tmp_path):
    good = audio_bytes(tone(16000, seconds=1.0, channels=1), 16000, subtype="PCM_16")
    cut = write(tmp_path / "cut.wav", good[: len(good) // 2])
    for path, code in [
        (cut, "truncated"),
        (write(tmp_path / "text.wav", b"not audio at all" * 10), "not_audio"),
        (tmp_path / "missing.wav", "unreadable"),
    ]:
        assert reason(path) == code
        with pytest.raises(DecodeError) as info:
            measure_file(path)
        assert info.value.code == code
    outside = write(tmp_path / "out" / "a.wav", good)
    with pytest.raises(DecodeError) as info:
        measure_file(outside, root=tmp_path / "in")
    assert info.value.code == "outside_root"


def test_one_definition_of_full_scale_and_a_version():
    assert analysis.clip_threshold is quality.clip_threshold is levels.clip_threshold
    assert analysis.CLIP_RUN == quality.CLIP_RUN == levels.CLIP_RUN == 3
    assert analysis.RMS_FLOOR_DB == quality.LEVEL_FLOOR_DB == levels.RMS_FLOOR_DB == -120.0
    assert isinstance(QUALITY_VERSION, int) and QUALITY_VERSION >= 1


def test_measuring_a_long_file_holds_only_chunks(tmp_path):
    import tracemalloc

    sr, minutes = 16000, 5
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as out:
        for i in range(minutes * 6):  # 10-s blocks, never the whole file in memory
            out.write(np.repeat(tone(sr, seconds=10.0, level=0.3, noise=0.1, seed=i)[:, None], 2, axis=1))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        q = measure_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert q.peak_dbfs > -12 and q.silence_ratio == 0.0
    # The file decodes to 38 MB of float32; a few chunks of 65,536 frames (about 4 MB
    # with their float64 copies) are held at a time.
    assert peak < 10_000_000, f"{peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"
