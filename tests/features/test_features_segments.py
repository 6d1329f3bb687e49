"""Long and extreme audio in the engine: segments, exact combination, huge samples, tempo."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from featuretest_helpers import no_warnings
from signals import clicks, noise, speech_like

from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.features import compute_features, compute_features_with_status, summarize
from audiosoup_widgets.features.params import MAX_PEAK, STATUSES, FeatureParams
from audiosoup_widgets.features.segments import (
    SEGMENT_SAMPLES,
    SummaryAccumulator,
    combine_statuses,
    segment_bounds,
    segment_samples,
    summarize_segments,
)
from audiosoup_widgets.features.tempo import beat_tempo

FEW = ["mel_spectrogram", "chroma", "tonnetz", "onset_strength", "tempogram", "mfcc_delta", "stack_memory"]


def long_signal(sr: int, seconds: float) -> np.ndarray:
    """Speech-like stretches, clicks and noise one after another."""
    parts, i = [], 0
    while sum(len(p) for p in parts) < sr * seconds:
        make = (speech_like, clicks, noise)[i % 3]
        parts.append(make(sr) if make is not speech_like else speech_like(sr, seed=i))
        i += 1
    return np.concatenate(parts)[: int(sr * seconds)]


@pytest.mark.parametrize("hop", [512, 256, 300])
def test_segment_bounds_cover_the_clip_on_the_hop_grid(hop):
    p = FeatureParams(hop_length=hop, n_fft=2 * hop if hop != 512 else 2048)
    size = segment_samples(p)
    assert size % hop == 0 and size <= SEGMENT_SAMPLES
    rng = np.random.default_rng(hop)
    for n in [1, size - 1, size, size + 1, 2 * size, 2 * size + 1, *rng.integers(size, 40 * size, 200)]:
        bounds = segment_bounds(int(n), params=p)
        lengths = [b - a for a, b in bounds]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
        assert max(lengths) <= size, (n, lengths)
        assert len(bounds) == -(-int(n) // size)  # the fewest that fit
        assert all(k % hop == 0 for k in lengths[:-1])
        if len(bounds) > 1:  # near-equal: no stub of a few samples at the end
            assert min(lengths) >= size // 2 - hop


def test_default_segment_is_two_million_samples_and_shrinks_for_denser_spectrograms():
    assert segment_samples() == SEGMENT_SAMPLES == 2**21
    assert segment_samples(FeatureParams(hop_length=128)) == SEGMENT_SAMPLES // 4
    assert segment_samples(FeatureParams(n_fft=4096)) < SEGMENT_SAMPLES


def test_long_clip_summary_is_mean_and_std_over_all_segments_frames():
    sr = 16000
    y = long_signal(sr, 9.3)
    bounds = segment_bounds(len(y), size=3 * sr)
    assert len(bounds) == 4
    with no_warnings():
        result = summarize_segments((y[a:b] for a, b in bounds), sr, FEW)
    assert result.status == "ok" and result.n_segments == 4 and result.n_samples == len(y)
    per_segment = [compute_features(y[a:b], sr, FEW) for a, b in bounds]
    for name in FEW:
        frames = np.concatenate([np.atleast_2d(v[name]) for v in per_segment], axis=-1)
        frames = frames.astype(np.float64)
        want = np.concatenate([frames.mean(axis=-1), frames.std(axis=-1)]).astype(np.float32)
        np.testing.assert_allclose(result.summaries[name], want, rtol=2e-6, atol=1e-7, err_msg=name)
        assert result.summaries[name].dtype == np.float32
        assert result.frames[name] == frames.shape[-1]
    # One segment is the clip itself: exactly what summarize gives for the whole clip.
    whole = summarize_segments([y], sr, FEW)
    direct = summarize(compute_features(y, sr, FEW))
    for name in FEW:
        np.testing.assert_allclose(whole.summaries[name], direct[name], rtol=1e-6, atol=1e-7)


def test_segment_frames_lie_on_the_whole_clips_frame_grid():
    # Away from the boundaries a segment's spectrogram frames are the whole clip's.
    sr, hop = 16000, 512
    y = long_signal(sr, 6.0)
    bounds = segment_bounds(len(y), size=2 * sr)
    whole = compute_features(y, sr, ["power_spectrogram"])["power_spectrogram"]
    for a, b in bounds:
        part = compute_features(y[a:b], sr, ["power_spectrogram"])["power_spectrogram"]
        first = a // hop
        inner = slice(4, part.shape[-1] - 4)  # clear of the zero padding at both ends
        np.testing.assert_allclose(
            part[:, inner],
            whole[:, first + 4 : first + part.shape[-1] - 4],
            rtol=1e-4,
            atol=1e-6 * whole.max(),
        )


def test_accumulator_merges_exactly_and_stably():
    rng = np.random.default_rng(3)
    # A large offset with a small spread: sum-of-squares would cancel catastrophically.
    chunks = [1e4 + rng.standard_normal((3, k)) for k in (1, 700, 4096, 33)]
    chunks[2][1, 5:9] = np.nan  # NaN columns (as batch padding) are ignored
    acc = SummaryAccumulator()
    for c in chunks:
        acc.add({"mfcc": c})
    allf = np.concatenate(chunks, axis=-1)
    want = np.concatenate([np.nanmean(allf, -1), np.nanstd(allf, -1)]).astype(np.float32)
    np.testing.assert_allclose(acc.summaries()["mfcc"], want, rtol=1e-6)
    assert acc.frames["mfcc"] == allf.shape[-1]


def test_long_clip_statuses_combine_and_bad_segments_stop_the_reading():
    assert combine_statuses(["silent", "ok", "silent"]) == "ok"
    assert combine_statuses(["silent", "silent"]) == "silent"
    assert combine_statuses(["ok", "out_of_range", "ok"]) == "out_of_range"
    assert combine_statuses(["out_of_range", "non_finite"]) == "non_finite"
    assert STATUSES.index("out_of_range") > STATUSES.index("too_short")
    sr = 8000
    seen = []

    def segments():
        for k in range(5):
            seen.append(k)
            seg = noise(sr, seconds=1.0, seed=k)
            if k == 1:
                seg[10] = 1e30
            yield seg

    result = summarize_segments(segments(), sr, ["mfcc"])
    assert result.status == "out_of_range" and result.summaries == {}
    assert seen == [0, 1] and result.peak == pytest.approx(1e30)
    quiet = summarize_segments([np.zeros(sr, np.float32), 0.3 * noise(sr)], sr, ["mfcc"])
    assert quiet.status == "ok"
    with pytest.raises(FeatureError):
        summarize_segments([], sr, ["mfcc"])


# -- Samples far beyond full scale -------------------------------------------------------------
def test_huge_samples_are_out_of_range_and_do_not_touch_the_others():
    sr = 16000
    good = speech_like(sr)
    huge = good.copy()
    huge[5000] = 1e30
    ints = (good / np.abs(good).max() * MAX_PEAK).astype(np.float32)  # integer codes as float
    with no_warnings():
        result = compute_features_with_status(np.stack([good, huge, ints]), sr)
        alone = compute_features(good, sr)
    assert result.status == ("ok", "out_of_range", "ok")
    for name, value in result.values.items():
        assert np.isnan(value[1]).all(), name
        assert np.isfinite(value[2][~np.isnan(value[2])]).all(), name
        np.testing.assert_array_equal(value[0][..., : alone[name].shape[-1]], alone[name])
    with pytest.raises(FeatureError) as info:
        compute_features(huge, sr)
    assert info.value.code == "out_of_range" and "\n" not in info.value.message


# -- The beat tracker's tempo in bounded memory ------------------------------------------------
@pytest.mark.parametrize("sr", [16000, 96000])
def test_blockwise_tempo_equals_librosas(sr):
    rng = np.random.default_rng(sr)
    envelopes = []
    for bpm in (95, 128, 171):
        n = int(30 * sr / 512)
        env = (0.2 * rng.random(n)).astype(np.float32)
        env[np.arange(0, n, 60 * sr / 512 / bpm).astype(int)] += 3.0
        envelopes.append(env)
    env = np.stack(envelopes)
    want = librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=512, start_bpm=120)
    got = beat_tempo(env, sr=sr, hop_length=512, start_bpm=120, max_elements=1000, block_elements=50_000)
    np.testing.assert_array_equal(got, want)
    # Small enough: librosa's own path (None means "let beat_track estimate it").
    assert beat_tempo(env[:, :100], sr=16000, hop_length=512, start_bpm=120) is None
