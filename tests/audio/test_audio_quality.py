"""Per-clip quality measures (audio.quality) against hand-computed values on synthetic signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from signals import noise, tone

from audiosoup_widgets.audio.analysis import analyse_file, clip_threshold
from audiosoup_widgets.audio.quality import (
    LEVEL_FLOOR_DB,
    SNR_CEIL_DB,
    QualityAccumulator,
    QualityMeasures,
    measure_quality,
    pcm_bytes,
)

SR = 16000
FRAME = 0.02


def chunked(y: np.ndarray, sizes, **kw) -> QualityMeasures:
    """Feed ``y`` to an accumulator in chunks cycling through ``sizes``."""
    acc = QualityAccumulator(**kw)
    n, i, k = y.shape[-1], 0, 0
    while i < n:
        step = sizes[k % len(sizes)]
        acc.add(y[..., i : i + step])
        i, k = i + step, k + 1
    return acc.result()


def assert_same(a: QualityMeasures, b: QualityMeasures) -> None:
    ra, rb = a.as_row(), b.as_row()
    assert ra.keys() == rb.keys()
    for key in ra:
        if isinstance(ra[key], str):
            assert ra[key] == rb[key], key
        else:
            assert ra[key] == pytest.approx(rb[key], rel=1e-9, abs=1e-12), key


def test_levels_of_a_minus_20_dbfs_sine():
    y = tone(SR, seconds=1.0, freq=440.0, level=0.1)
    q = measure_quality(y, sr=SR)
    assert q.peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert q.rms_dbfs == pytest.approx(-23.01, abs=0.01)
    assert q.clip_ratio == 0.0
    assert q.silence_ratio == 0.0
    assert q.leading_silence_s == q.trailing_silence_s == 0.0
    assert q.dc_offset == pytest.approx(0.0, abs=1e-6)


def test_silence_has_the_floor_never_inf_or_nan():
    q = measure_quality(np.zeros(SR, dtype=np.float32), sr=SR)
    assert q.peak_dbfs == q.rms_dbfs == LEVEL_FLOOR_DB == -120.0
    assert q.silence_ratio == 1.0
    assert q.leading_silence_s == q.trailing_silence_s == pytest.approx(1.0)
    assert q.snr_db == 0.0
    assert q.bandwidth_hz == 0.0
    assert all(math.isfinite(v) for v in q.as_row().values() if isinstance(v, float))
    empty = measure_quality(np.zeros(0, dtype=np.float32), sr=SR)
    assert empty.peak_dbfs == empty.rms_dbfs == -120.0
    assert empty.clip_ratio == empty.silence_ratio == 0.0


def test_a_full_scale_square_wave_clips():
    t = np.arange(SR) / SR
    square = np.sign(np.sin(2 * np.pi * 100 * t + 0.1)).astype(np.float32)
    q = measure_quality(square, sr=SR, subtype="PCM_16")
    assert q.peak_dbfs == pytest.approx(0.0, abs=1e-6)
    assert q.clip_ratio == pytest.approx(1.0, abs=1e-3)
    # The same wave at half scale does not clip.
    assert measure_quality(0.5 * square, sr=SR, subtype="PCM_16").clip_ratio == 0.0


def test_clipping_counts_only_runs_of_three_or_more_at_the_encodings_full_scale():
    top16 = 32767 / 32768
    y = np.zeros(100, dtype=np.float32)
    y[10:12] = top16  # a run of two: a sine touching its peak
    y[20:25] = top16  # five
    y[40:43] = -1.0  # three, negative full scale
    q = measure_quality(y, sr=SR, subtype="PCM_16")
    assert q.clip_ratio == pytest.approx(8 / 100)
    # Float files reach full scale at the analysis module's threshold, not at 32767/32768.
    assert clip_threshold(None) == clip_threshold("FLOAT") == 0.999
    assert measure_quality(0.998 * y, sr=SR, subtype="FLOAT").clip_ratio == 0.0
    # Stereo: runs are per channel; the ratio is over all samples.
    stereo = np.stack([y, np.zeros_like(y)])
    assert measure_quality(stereo, sr=SR, subtype="PCM_16").clip_ratio == pytest.approx(8 / 200)


def test_dc_offset_of_an_offset_sine_is_the_largest_channel_mean():
    y = tone(SR, seconds=1.0, freq=100.0, level=0.3) + 0.2
    assert measure_quality(y, sr=SR).dc_offset == pytest.approx(0.2, abs=1e-4)
    stereo = np.stack([y, tone(SR, seconds=1.0, freq=100.0, level=0.3) - 0.35])
    assert measure_quality(stereo, sr=SR).dc_offset == pytest.approx(0.35, abs=1e-4)


def test_leading_and_trailing_silence_of_a_padded_clip_within_one_frame():
    lead, body, trail = 0.37, 0.5, 0.81
    y = np.concatenate(
        [
            np.zeros(int(lead * SR)),
            tone(SR, seconds=body, level=0.5),
            np.zeros(int(trail * SR)),
        ]
    ).astype(np.float32)
    q = measure_quality(y, sr=SR)
    assert q.leading_silence_s == pytest.approx(lead, abs=FRAME)
    assert q.trailing_silence_s == pytest.approx(trail, abs=FRAME)
    assert q.silence_ratio == pytest.approx((lead + trail) / (lead + body + trail), abs=2 * FRAME)
    # Noise below -60 dBFS is still silence; above it is not.
    quiet = y + noise(SR, seconds=len(y) / SR, level=10 ** (-70 / 20))[: len(y)]
    assert measure_quality(quiet, sr=SR).leading_silence_s == pytest.approx(lead, abs=FRAME)
    loud = y + noise(SR, seconds=len(y) / SR, level=10 ** (-50 / 20))[: len(y)]
    assert measure_quality(loud, sr=SR).leading_silence_s == 0.0


@pytest.mark.parametrize("true_snr", [10.0, 20.0, 30.0])
def test_snr_of_a_sine_in_known_white_noise(true_snr):
    # Noise throughout, a sine in the middle half: the noise frames give N, the others S + N.
    level = 0.3
    signal_power = level**2 / 2
    noise_std = math.sqrt(signal_power / 10 ** (true_snr / 10))
    y = noise(SR, seconds=4.0, level=noise_std, seed=3).astype(np.float64)
    y[SR : 3 * SR] += tone(SR, seconds=2.0, freq=440.0, level=level)
    q = measure_quality(y.astype(np.float32), sr=SR)
    assert q.snr_db == pytest.approx(true_snr, abs=3.0)


def test_snr_of_a_signal_without_pauses_reads_near_zero_as_documented():
    y = tone(SR, seconds=2.0, level=0.3, noise=0.01)
    assert measure_quality(y, sr=SR).snr_db < 1.0


def test_clipping_agrees_with_the_analysis_flag(tmp_path):
    y = tone(SR, seconds=1.0, level=0.5)
    clean, clipped = tmp_path / "clean.wav", tmp_path / "clipped.wav"
    sf.write(clean, y, SR, subtype="PCM_16")
    hot = y.copy()
    hot[4000:4003] = 1.0
    sf.write(clipped, hot, SR, subtype="PCM_16")
    seen = []
    for path in (clean, clipped):
        data, sr = sf.read(path, dtype="float32")
        ratio = measure_quality(data, sr=sr, subtype=sf.info(path).subtype).clip_ratio
        assert (ratio > 0) == ("clipped" in analyse_file(path).flags), path.name
        seen.append(ratio)
    assert seen == [0.0, pytest.approx(3 / SR)]


def test_snr_with_digital_silence_between_is_the_ceiling():
    y = np.concatenate([np.zeros(SR), tone(SR, seconds=1.0), np.zeros(SR)]).astype(np.float32)
    assert measure_quality(y, sr=SR).snr_db == SNR_CEIL_DB


def test_bandwidth_of_white_noise_low_passed_at_4_khz():
    sr = 44100
    sos = scipy.signal.butter(8, 4000, btype="low", fs=sr, output="sos")
    y = scipy.signal.sosfiltfilt(sos, noise(sr, seconds=2.0, level=0.2, seed=5)).astype(np.float32)
    q = measure_quality(y, sr=sr)
    assert q.bandwidth_hz == pytest.approx(4000, rel=0.10)
    # Unfiltered white noise fills the band.
    full = measure_quality(noise(sr, seconds=2.0, level=0.2, seed=5), sr=sr)
    assert full.bandwidth_hz > 0.95 * sr / 2


def test_pcm_hash_is_the_same_for_wav_and_flac_and_differs_for_one_sample(tmp_path):
    # The same 16-bit audio in both containers: written from integers, since libsndfile
    # rounds floats to 16 bits differently for WAV and FLAC (that audio differs).
    y = tone(SR, seconds=0.5, level=0.4, channels=2, noise=0.1)  # (frames, channels)
    pcm = np.round(y * 32767).astype(np.int16)
    sf.write(tmp_path / "a.wav", pcm, SR, subtype="PCM_16")
    sf.write(tmp_path / "a.flac", pcm, SR, subtype="PCM_16")
    wav, _ = sf.read(tmp_path / "a.wav", dtype="float32", always_2d=True)
    flac, _ = sf.read(tmp_path / "a.flac", dtype="float32", always_2d=True)
    h_wav = measure_quality(wav.T, sr=SR, subtype="PCM_16").pcm_sha256
    h_flac = measure_quality(flac.T, sr=SR, subtype="PCM_16").pcm_sha256
    assert h_wav == h_flac
    changed = wav.T.copy()
    changed[1, 1234] += 2 / 32768
    assert measure_quality(changed, sr=SR).pcm_sha256 != h_wav
    # What is hashed: int16 little-endian, interleaved frame by frame.
    x = np.array([[0.5, -1.0], [1.0, 2.0]])
    assert pcm_bytes(x) == np.array([16384, 32767, -32768, 32767], dtype="<i2").tobytes()


@pytest.mark.parametrize("sizes", [[1000], [1, 2, 3, 4093], [320], [2048], [7919, 13]])
def test_the_accumulator_fed_in_chunks_equals_the_one_shot_measures(sizes):
    sr = 22050
    body = tone(sr, seconds=1.3, level=0.5, channels=2, noise=0.05).T.copy()
    body[0, 5000:5100] = 1.0  # a clipped run, maybe split across chunks
    body[1, 9000:9002] = -1.0  # too short to count
    y = np.concatenate([np.zeros((2, 3001)), body + 0.01, np.zeros((2, 4567))], axis=1)
    y = y.astype(np.float32)
    one = measure_quality(y, sr=sr, subtype="PCM_24")
    assert one.clip_ratio == pytest.approx(100 / y.size)
    assert_same(chunked(y, sizes, sr=sr, subtype="PCM_24"), one)
    mono = y[0]
    assert_same(chunked(mono, sizes, sr=sr), measure_quality(mono, sr=sr))


def test_a_clip_shorter_than_one_spectrum_segment_chunked_equals_one_shot():
    y = noise(SR, seconds=0.05, level=0.2)
    assert_same(chunked(y, [100], sr=SR), measure_quality(y, sr=SR))


def test_input_checks():
    acc = QualityAccumulator(sr=SR)
    acc.add(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="channels"):
        acc.add(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="shape"):
        measure_quality(np.zeros((1, 2, 3)), sr=SR)
    with pytest.raises(ValueError, match="sr"):
        QualityAccumulator(sr=0)
    nan = np.array([0.1, np.nan, np.inf, -0.1], dtype=np.float32)
    assert (
        measure_quality(nan, sr=SR).pcm_sha256
        == measure_quality(np.array([0.1, 0, 0, -0.1], dtype=np.float32), sr=SR).pcm_sha256
    )
