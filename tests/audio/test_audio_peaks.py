"""Waveform peaks: binning, streaming, storage bytes and display gain."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets.audio.peaks import (
    PeakAccumulator,
    decode_peaks,
    encode_peaks,
    normalised,
    waveform_peaks,
)


def test_peaks_of_a_ramp_are_each_bins_ends():
    y = np.arange(1000, dtype=np.float32)
    p = waveform_peaks(y, n_bins=10)
    assert p.shape == (2, 10) and p.dtype == np.float32
    np.testing.assert_array_equal(p[0], np.arange(0, 1000, 100))
    np.testing.assert_array_equal(p[1], np.arange(99, 1000, 100))


def test_uneven_bins_cover_every_sample_once():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(1003).astype(np.float32)
    p = waveform_peaks(y, n_bins=7)
    edges = (np.arange(8) * 1003) // 7
    for i in range(7):
        seg = y[edges[i] : edges[i + 1]]
        assert p[0, i] == seg.min() and p[1, i] == seg.max()


def test_clip_shorter_than_bins_is_exact():
    y = np.array([0.1, -0.5, 0.3], dtype=np.float32)
    p = waveform_peaks(y, n_bins=8)
    assert p.shape == (2, 8)
    np.testing.assert_array_equal(p[0], p[1])  # one real sample per bin
    # Every sample appears, in order, and nothing else.
    seen = [v for i, v in enumerate(p[0]) if i == 0 or v != p[0][i - 1]]
    np.testing.assert_array_equal(seen, y)


def test_channels_are_mixed_to_mono():
    left = np.ones(400, dtype=np.float32)
    right = -np.ones(400, dtype=np.float32) * 0.5
    p = waveform_peaks(np.stack([left, right]), n_bins=4)
    np.testing.assert_allclose(p, 0.25)


def test_empty_clip_gives_flat_peaks_and_bad_input_is_refused():
    np.testing.assert_array_equal(waveform_peaks(np.zeros(0), n_bins=5), np.zeros((2, 5)))
    with pytest.raises(ValueError):
        waveform_peaks(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError):
        waveform_peaks(np.zeros(10), n_bins=0)


@pytest.mark.parametrize("n", [0, 1, 5, 199, 200, 201, 10_007])
@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
def test_accumulator_equals_whole_signal_peaks(n, chunk):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    acc = PeakAccumulator(n, n_bins=200)
    for i in range(0, n, chunk):
        acc.update(y[i : i + chunk])
    np.testing.assert_array_equal(acc.result(), waveform_peaks(y, n_bins=200))


def test_accumulator_with_an_estimated_length_stays_close():
    y = np.sin(np.linspace(0, 40 * np.pi, 50_000)).astype(np.float32)
    # The estimate is 10% high, as an MP3 length read from its size can be.
    acc = PeakAccumulator(55_000, n_bins=100, exact=False)
    for i in range(0, len(y), 4096):
        acc.update(y[i : i + 4096])
    got, want = acc.result(), waveform_peaks(y, n_bins=100)
    assert got.shape == (2, 100)
    assert np.abs(got - want).max() < 0.1


def test_encoded_peaks_are_compact_and_round_trip():
    rng = np.random.default_rng(1)
    p = np.sort(rng.uniform(-0.8, 0.8, (2, 200)).astype(np.float32), axis=0)
    b = encode_peaks(p)
    assert isinstance(b, bytes) and len(b) == 5 + 2 * 200
    back = decode_peaks(b)
    assert back.shape == (2, 200) and back.dtype == np.float32
    assert np.abs(back - p).max() <= np.abs(p).max() / 254 + 1e-7
    assert (back[0] <= back[1]).all()


def test_quiet_peaks_keep_their_shape_when_stored():
    p = np.array([[-0.001, -0.0005], [0.001, 0.0002]], dtype=np.float32)
    back = decode_peaks(encode_peaks(p))
    # Error bounded by the clip's own maximum / 254, not by full scale / 254.
    np.testing.assert_allclose(back, p, rtol=0, atol=0.001 / 254 + 1e-9)


def test_silent_peaks_encode_to_zeros():
    back = decode_peaks(encode_peaks(np.zeros((2, 50), np.float32)))
    np.testing.assert_array_equal(back, 0.0)


@pytest.mark.parametrize("bad", [b"", b"\x01\x00\x00", b"\x02" + b"\x00" * 8, b"\x01" + b"\x00" * 5])
def test_decode_peaks_refuses_what_it_did_not_write(bad):
    with pytest.raises(ValueError):
        decode_peaks(bad)


def test_encode_peaks_refuses_bad_shapes_and_nan():
    with pytest.raises(ValueError):
        encode_peaks(np.zeros(10))
    with pytest.raises(ValueError):
        encode_peaks(np.array([[0.0], [np.nan]]))


def test_normalised_lifts_a_quiet_clip_to_full_height():
    p = np.array([[-0.05, -0.1], [0.1, 0.05]], dtype=np.float32)  # -20 dBFS
    scaled, gain_db = normalised(p)
    assert gain_db == pytest.approx(20.0)
    assert np.abs(scaled).max() == pytest.approx(1.0)


def test_normalised_caps_the_gain():
    p = np.array([[-1e-4], [1e-4]], dtype=np.float32)  # -80 dBFS: noise, not signal
    scaled, gain_db = normalised(p)
    assert gain_db == 40.0
    assert np.abs(scaled).max() == pytest.approx(0.01)


def test_normalised_leaves_silence_flat_and_scales_overs_down():
    scaled, gain_db = normalised(np.zeros((2, 10), np.float32))
    assert gain_db == 0.0 and not scaled.any()
    scaled, gain_db = normalised(np.array([[-2.0], [1.0]], np.float32))
    assert gain_db == pytest.approx(-6.02, abs=0.01)
    assert np.abs(scaled).max() <= 1.0
