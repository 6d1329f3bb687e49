"""One analysis pass: levels and flags, peaks equal to those of the decoded signal, cost."""

from __future__ import annotations

import time

import numpy as np
import pytest
from audio_fixtures import audio_bytes
from audiotest_helpers import write
from signals import tone

from audiosoup_widgets.audio import FLAGS, Limits, analyse_file, decode, waveform_peaks

# -- levels and flags ----------------------------------------------------------------------


def flags_of(tmp_path, y, sr=16000, subtype="PCM_16", name="f.wav") -> tuple[str, ...]:
    return analyse_file(write(tmp_path / name, audio_bytes(y, sr, subtype=subtype))).flags


def test_silent_quiet_and_normal(tmp_path):
    assert flags_of(tmp_path, np.zeros((16000, 1), np.float32)) == ("silent",)
    assert flags_of(tmp_path, tone(sr=16000, seconds=1, level=0.001, noise=0.02)) == ("quiet",)
    assert flags_of(tmp_path, tone(sr=16000, seconds=1, level=0.1, noise=0.02)) == ()
    a = analyse_file(tmp_path / "f.wav")
    assert a.rms_db == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.05)
    silent = analyse_file(write(tmp_path / "s.wav", audio_bytes(np.zeros((100, 2)), 8000)))
    assert silent.rms_db == -120.0 and silent.peak_abs == 0.0
    assert not silent.peaks.any()


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_clipping_needs_three_full_scale_samples_in_a_row(tmp_path, subtype):
    y = tone(sr=16000, seconds=0.5, level=0.5, channels=1)
    assert "clipped" not in flags_of(tmp_path, y, subtype=subtype)
    loud = np.clip(tone(sr=16000, seconds=0.5, level=4.0, channels=1), -1, 1)
    assert "clipped" in flags_of(tmp_path, loud, subtype=subtype)
    two = y.copy()
    two[100:102] = 1.0
    assert "clipped" not in flags_of(tmp_path, two, subtype=subtype)


def test_clipping_across_a_chunk_boundary(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.5, channels=1)
    y[998:1001] = -1.0
    path = write(tmp_path / "b.wav", audio_bytes(y, 16000, subtype="PCM_16"))
    assert "clipped" in analyse_file(path, limits=Limits(chunk_frames=1000)).flags


def test_dc_offset(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.2, noise=0.02, channels=1) + np.float32(0.1)
    assert flags_of(tmp_path, y) == ("dc_offset",)


def test_non_finite_samples_are_flagged_and_count_as_zero(tmp_path):
    y = tone(sr=16000, seconds=0.5, level=0.5, noise=0.02, channels=1)
    y[10, 0], y[20, 0], y[30, 0] = np.nan, np.inf, -np.inf
    a = analyse_file(write(tmp_path / "n.wav", audio_bytes(y, 16000, subtype="FLOAT")))
    assert a.flags == ("non_finite",)
    assert np.isfinite(a.peaks).all() and np.isfinite(a.rms_db) and a.peak_abs < 1.0
    assert set(a.flags) <= set(FLAGS)


# -- peaks from the single pass ------------------------------------------------------------


@pytest.mark.parametrize("chunk", [65_536, 1000, 777])
@pytest.mark.parametrize("n_peaks", [200, 64])
def test_peaks_equal_those_of_the_decoded_signal(tmp_path, chunk, n_peaks):
    y = tone(sr=22050, seconds=1.3, channels=2, freq=3, noise=0.02)  # slow, so bins differ
    path = write(tmp_path / "p.wav", audio_bytes(y, 22050, subtype="FLOAT"))
    a = analyse_file(path, limits=Limits(chunk_frames=chunk), n_peaks=n_peaks)
    mono, _ = decode(path)
    np.testing.assert_array_equal(a.peaks, waveform_peaks(mono, n_bins=n_peaks))
    assert a.encoded_peaks()[:1] == b"\x01"


def test_peaks_of_a_clip_shorter_than_the_bins(tmp_path):
    y = np.array([[0.5], [-0.25], [0.125]], dtype=np.float32)
    a = analyse_file(write(tmp_path / "s.wav", audio_bytes(y, 8000, subtype="FLOAT")))
    assert set(a.peaks[0]) == {0.5, -0.25, 0.125}


# -- cost ----------------------------------------------------------------------------------


def test_analysis_of_a_one_second_clip_costs_well_under_a_millisecond(tmp_path):
    path = write(
        tmp_path / "one.wav", audio_bytes(tone(sr=16000, seconds=1, noise=0.02), 16000, subtype="PCM_16")
    )
    for _ in range(20):
        analyse_file(path, root=tmp_path)
    n = 300
    t0 = time.process_time()
    for _ in range(n):
        analyse_file(path, root=tmp_path)
    per_file = (time.process_time() - t0) / n
    assert per_file < 1e-3, f"{per_file * 1e3:.3f} ms CPU per 1-s clip"
