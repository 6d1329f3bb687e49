"""Cross-sample comparison: Cohen's d, effect tables, templates, shared dB scales, differences."""

from __future__ import annotations

import math
import warnings

import librosa
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audiosoup_widgets.analysis.compare import (
    EFFECT_COLUMNS,
    cohens_d,
    db_scale,
    difference,
    effect_sizes,
    equal_length,
    feature_of_column,
    per_feature,
    summary_column_parts,
    symmetric_limit,
    template,
)
from audiosoup_widgets.errors import ValidationError
from audiosoup_widgets.features.registry import FEATURES
from audiosoup_widgets.features.summaries import summary_columns


def _d_from_t_test(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's d recovered from scipy's pooled-variance t statistic: t = d / sqrt(1/na + 1/nb)."""
    t = stats.ttest_ind(a, b, equal_var=True).statistic
    return float(t * math.sqrt(1 / len(a) + 1 / len(b)))


# cohens_d -------------------------------------------------------------------------------


def test_cohens_d_by_hand():
    # means 2.5 and 5; variances 5/3 and 20/3; pooled (5 + 20) / 6; d = -2.5 / sqrt(25/6) = -sqrt(6)/2
    d = cohens_d(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0]))
    assert d.shape == (1,)
    assert d[0] == pytest.approx(-math.sqrt(6) / 2, rel=1e-12)
    # Unequal sizes: a = [0, 2] (var 2), b = [1, 1, 4] (mean 2, var 3); pooled (2 + 6) / 3.
    d = cohens_d(np.array([[0.0], [2.0]]), np.array([[1.0], [1.0], [4.0]]))
    assert d[0] == pytest.approx((1.0 - 2.0) / math.sqrt(8 / 3), rel=1e-12)


def test_cohens_d_agrees_with_scipy_t_test_per_column():
    rng = np.random.default_rng(0)
    a = rng.normal([0.0, 1.0, 5.0, -2.0], [1.0, 2.0, 0.5, 3.0], size=(23, 4))
    b = rng.normal([0.5, 1.0, 4.0, -2.5], [1.5, 1.0, 0.5, 3.0], size=(41, 4))
    d = cohens_d(a, b)
    expected = [_d_from_t_test(a[:, j], b[:, j]) for j in range(4)]
    np.testing.assert_allclose(d, expected, rtol=1e-10)
    np.testing.assert_allclose(cohens_d(b, a), -d, rtol=1e-12)


def test_cohens_d_ignores_missing_values_column_by_column():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (30, 3)), rng.normal(1, 2, (25, 3))
    a[[1, 5, 9], 0] = np.nan
    b[[0, 2], 2] = np.nan
    a[3, 1] = np.inf
    d = cohens_d(a, b)
    for j in range(3):
        keep_a, keep_b = a[:, j][np.isfinite(a[:, j])], b[:, j][np.isfinite(b[:, j])]
        assert d[j] == pytest.approx(_d_from_t_test(keep_a, keep_b), rel=1e-10)


def test_cohens_d_edge_cases():
    a = np.array([[1.0, 3.0, 0.1, 1.0, np.nan], [2.0, 3.0, 0.1, 1.0, 1.0], [np.nan, 3.0, 0.1, 1.0, np.nan]])
    b = np.array([[4.0, 3.0, 0.1, 2.0, 1.0], [np.nan, 3.0, 0.1, 2.0, 2.0], [np.nan, 3.0, 0.1, 2.0, 3.0]])
    d = cohens_d(a, b)
    assert np.isnan(d[0])  # b has one value
    assert d[1] == 0.0  # both constant at the same value
    assert d[2] == 0.0  # the same, with a value whose mean does not round back exactly
    assert d[3] == -np.inf  # both constant, apart: a perfect separation
    assert np.isnan(d[4])  # a has one value
    float32_constants = np.full((7, 1), 0.1, dtype=np.float32)
    assert cohens_d(float32_constants, float32_constants.astype(np.float64))[0] == 0.0
    assert np.isnan(cohens_d(np.zeros((0, 2)), np.ones((5, 2)))).all()
    with pytest.raises(ValidationError, match="3 and 2 columns"):
        cohens_d(np.zeros((4, 3)), np.zeros((4, 2)))


# effect_sizes and per_feature ----------------------------------------------------------


def _frame(values: np.ndarray, columns: list[str], label: str) -> pd.DataFrame:
    frame = pd.DataFrame(values.astype(np.float32), columns=columns)
    frame.insert(0, "sample_id", np.arange(len(values), dtype=np.int64))
    frame.insert(1, "label", label)
    return frame


def test_effect_sizes_table_sorted_by_absolute_d_with_nan_last():
    columns = ["mfcc_delta_mean_0", "mfcc_delta_std_0", "chroma_mean_0", "chroma_mean_1", "tempogram_std_2"]
    rng = np.random.default_rng(2)
    a = rng.normal([0, 0, 0, 0, 0], 1, (20, 5))
    b = rng.normal([0.2, -3, 1, 0, 0], 1, (15, 5))
    a[:, 4] = np.nan  # never computed for group a
    a[[0, 1], 2] = np.nan

    table = effect_sizes(_frame(a, columns, "dog"), _frame(b, columns, "cat"))

    assert tuple(table.columns) == EFFECT_COLUMNS
    assert table["column"].iloc[-1] == "tempogram_std_2" and np.isnan(table["d"].iloc[-1])
    finite = table["abs_d"].iloc[:-1].to_numpy()
    assert (np.diff(finite) <= 0).all()
    assert table["column"].iloc[0] == "mfcc_delta_std_0"
    row = table.set_index("column").loc["chroma_mean_0"]
    assert row["n_a"] == 18 and row["n_b"] == 15
    a32, b32 = a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    assert row["d"] == pytest.approx(cohens_d(a32[:, 2], b32[:, 2])[0], rel=1e-12)
    assert row["mean_a"] == pytest.approx(np.nanmean(a32[:, 2]))
    assert row["mean_b"] == pytest.approx(np.mean(b32[:, 2]))
    np.testing.assert_array_equal(table["abs_d"], np.abs(table["d"]))
    assert set(table["column"]) == set(columns)  # sample_id (integers) and label left out
    assert table.loc[table["column"] == "tempogram_std_2", ["n_a", "n_b"]].values.tolist() == [[0, 15]]


def test_effect_sizes_of_chosen_columns_and_missing_ones():
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 1.0, 2.0]})
    b = pd.DataFrame({"x": [2.0, 3.0, 4.0], "z": [0.0, 1.0, 2.0]})
    assert effect_sizes(a, b)["column"].tolist() == ["x"]
    assert effect_sizes(a, b, columns=["x"])["d"].tolist() == [-1.0]
    with pytest.raises(ValidationError, match="columns not in both groups: y"):
        effect_sizes(a, b, columns=["x", "y"])


def test_feature_of_column_reads_every_feature_id_from_the_right():
    for feature in FEATURES:
        for name in summary_columns(feature, 3):
            assert feature_of_column(name) == feature
    assert summary_column_parts("stack_memory_std_12") == ("stack_memory", "std", 12)
    assert summary_column_parts("x_mean_y_mean_3") == ("x_mean_y", "mean", 3)
    for bad in ("sample_id", "mfcc_mean_", "mfcc_max_1", "_mean_1"):
        with pytest.raises(ValidationError, match="not a feature summary column"):
            feature_of_column(bad)


def test_per_feature_keeps_each_features_largest_effect():
    effects = pd.DataFrame(
        {
            "column": [
                "chroma_mean_0",
                "mfcc_delta_std_1",
                "chroma_std_3",
                "mfcc_delta_mean_0",
                "tonnetz_mean_0",
            ],
            "d": [0.5, -2.0, -1.5, 0.1, np.nan],
        }
    ).assign(abs_d=lambda t: t["d"].abs())
    result = per_feature(effects)
    assert result.columns.tolist() == ["feature", "d", "abs_d", "column", "n_columns"]
    assert result["feature"].tolist() == ["mfcc_delta", "chroma", "tonnetz"]
    assert result["d"].tolist()[:2] == [-2.0, -1.5]
    assert result["column"].tolist() == ["mfcc_delta_std_1", "chroma_std_3", "tonnetz_mean_0"]
    assert result["n_columns"].tolist() == [2, 2, 1]
    assert np.isnan(result["abs_d"].iloc[-1])
    custom = per_feature(effects, feature_of=lambda name: name.split("_")[0])
    assert custom["feature"].tolist() == ["mfcc", "chroma", "tonnetz"]
    assert per_feature(effects.iloc[:0]).empty


# template and equal_length -------------------------------------------------------------


def test_template_is_the_nan_aware_mean_of_summaries_and_spectrograms():
    rng = np.random.default_rng(3)
    summaries = rng.standard_normal((9, 6))
    summaries[[0, 4], 2] = np.nan
    summaries[:, 5] = np.nan
    spectrograms = rng.random((5, 4, 7)).astype(np.float32)
    spectrograms[1, 2, 3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" for the all-NaN column
        summary_template = template(summaries)
        spectrogram_template = template(spectrograms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(summary_template, np.nanmean(summaries, axis=0), rtol=1e-12)
    assert summary_template.dtype == np.float64 and np.isnan(summary_template[5])
    assert spectrogram_template.dtype == np.float32 and spectrogram_template.shape == (4, 7)
    np.testing.assert_allclose(
        spectrogram_template, np.nanmean(spectrograms.astype(np.float64), axis=0), rtol=1e-6
    )
    assert np.isnan(template(np.zeros((0, 3)))).all()


def test_equal_length_picks_the_clips_of_the_modal_shape():
    assert equal_length([10, 12, 10, 11, 10]).tolist() == [0, 2, 4]
    assert equal_length([10, 12, 12, 10]).tolist() == [1, 2]  # a tie goes to the longer clips
    assert equal_length([(128, 44), (128, 43), (128, 44)]).tolist() == [0, 2]
    assert equal_length([np.int64(5), 5, 6]).tolist() == [0, 1]
    assert equal_length([]).tolist() == []
    stack = [np.ones((3, n)) * n for n in (4, 5, 4)]
    chosen = equal_length([s.shape for s in stack])
    np.testing.assert_array_equal(template(np.stack([stack[i] for i in chosen])), np.full((3, 4), 4.0))


# db_scale, difference, symmetric_limit -------------------------------------------------


def _powers(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    quiet = rng.random((16, 30)) ** 4 * 1e-3
    loud = rng.random((16, 22)) ** 4 * 5.0
    return [quiet.astype(np.float32), loud.astype(np.float32)]


def test_db_scale_of_one_spectrogram_is_librosa_power_to_db():
    power = _powers(4)[1]
    (scaled,), vmin, vmax = db_scale([power])
    expected = librosa.power_to_db(power.astype(np.float64), ref=np.max, top_db=80.0)
    np.testing.assert_allclose(scaled, expected, atol=1e-4)
    assert (vmin, vmax) == (-80.0, 0.0)
    assert scaled.dtype == np.float32


def test_db_scale_puts_several_clips_on_one_reference_and_one_floor():
    powers = _powers(5)
    scaled, vmin, vmax = db_scale(powers, top_db=60.0)
    reference = max(float(p.max()) for p in powers)
    # The common scale is librosa's of the clips side by side, split back ...
    joined = librosa.power_to_db(
        np.concatenate([p.astype(np.float64) for p in powers], axis=1), ref=np.max, top_db=60.0
    )
    np.testing.assert_allclose(np.concatenate(scaled, axis=1), joined, atol=1e-4)
    # ... which for each clip is its power against the common maximum, floored there.
    for power, db in zip(powers, scaled, strict=True):
        unfloored = librosa.power_to_db(power.astype(np.float64), ref=reference, top_db=None)
        np.testing.assert_allclose(db, np.maximum(unfloored, -60.0), atol=1e-4)
    assert (vmin, vmax) == (-60.0, 0.0)
    assert scaled[0].max() < -20.0  # the quiet clip stays quiet: no per-clip normalisation


def test_db_scale_without_floor_nan_and_silence():
    powers = _powers(6)
    powers[0][0, 0] = np.nan
    scaled, vmin, vmax = db_scale(powers, top_db=None)
    assert np.isnan(scaled[0][0, 0])
    assert vmax == 0.0 and vmin == pytest.approx(float(np.nanmin(np.concatenate(scaled, axis=1))))
    assert vmin < -80.0
    silent, vmin, vmax = db_scale([np.zeros((3, 4))])
    np.testing.assert_array_equal(silent[0], np.zeros((3, 4)))
    assert (vmin, vmax) == (-80.0, 0.0)
    with pytest.raises(ValidationError, match="at least one"):
        db_scale([])
    with pytest.raises(ValidationError, match="top_db"):
        db_scale(powers, top_db=-1.0)


def test_difference_pads_the_shorter_clip_with_the_floor():
    a = np.array([[-10.0, -20.0, -30.0], [0.0, -5.0, -80.0]])
    b = np.array([[-12.0, -20.0], [-3.0, -80.0]])
    diff = difference(a, b)
    assert diff.dtype == np.float32 and diff.shape == (2, 3)
    np.testing.assert_array_equal(diff, [[2.0, 0.0, 50.0], [3.0, 75.0, 0.0]])
    np.testing.assert_array_equal(difference(b, a), -diff)
    np.testing.assert_array_equal(difference(a, b, floor=-40.0)[:, 2], [10.0, -40.0])
    with pytest.raises(ValidationError, match="cannot be compared"):
        difference(np.zeros((3, 5)), np.zeros((4, 5)))


def test_symmetric_limit():
    diff = np.array([[-7.0, 2.0], [np.nan, 3.0]])
    assert symmetric_limit(diff) == 7.0
    assert symmetric_limit(diff, quantile=0.5) == pytest.approx(3.0)
    assert symmetric_limit(np.zeros((2, 2))) == 1.0
    assert symmetric_limit(np.zeros((2, 2)), minimum=6.0) == 6.0
    assert symmetric_limit(np.full(3, np.nan)) == 1.0
    with pytest.raises(ValidationError, match="quantile"):
        symmetric_limit(diff, quantile=2.0)


def test_the_views_compose_two_clips_on_one_scale_and_their_difference():
    powers = _powers(7)
    (a_db, b_db), vmin, vmax = db_scale(powers)
    diff = difference(a_db, b_db, floor=vmin)
    limit = symmetric_limit(diff)
    assert diff.shape == (16, 30)
    assert 0.0 < limit <= vmax - vmin
    np.testing.assert_allclose(diff[:, 22:], a_db[:, 22:] - vmin)
