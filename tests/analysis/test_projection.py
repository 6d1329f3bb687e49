"""Similarity maps: matrix preparation, PCA and UMAP projections, input keys, alignment."""

from __future__ import annotations

import re
import sys
import time
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA

from audiosoup_widgets.analysis.projection import (
    METHODS,
    align,
    input_key,
    prepare_matrix,
    project,
    rows_with_values,
    usable_columns,
)
from audiosoup_widgets.errors import AudiosoupError, ConfigError, ValidationError


def _clustered(n: int, d: int, *, seed: int = 0, clusters: int = 3, spread: float = 6.0) -> tuple:
    """Rows around ``clusters`` centres (columns on different scales), and each row's cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)) * spread
    labels = rng.integers(0, clusters, n)
    values = centres[labels] + rng.standard_normal((n, d))
    values *= np.geomspace(0.01, 1000.0, d)  # units as different as dB, Hz and BPM
    return values.astype(np.float32), labels


def _reference_prepare(values: np.ndarray) -> np.ndarray:
    """prepare_matrix written out plainly in float64."""
    x = np.asarray(values, dtype=np.float64).copy()
    x[~np.isfinite(x)] = np.nan
    keep = []
    for j in range(x.shape[1]):
        column = x[:, j][~np.isnan(x[:, j])]
        keep.append(column.size >= 2 and column.min() != column.max())
    x = x[:, np.array(keep, dtype=bool)]
    for j in range(x.shape[1]):
        column = x[:, j]
        column[np.isnan(column)] = np.median(column[~np.isnan(column)])
        x[:, j] = (column - column.mean()) / column.std()
    return x


def _fixed_signs(scores: np.ndarray, components: np.ndarray) -> np.ndarray:
    largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
    return scores * np.sign(largest)


# prepare_matrix -------------------------------------------------------------------------


def test_prepare_matrix_imputes_medians_drops_useless_columns_and_standardises():
    rng = np.random.default_rng(1)
    values = rng.standard_normal((40, 6)) * [1, 10, 100, 1, 1, 1] + [0, 5, -3, 0, 0, 0]
    values[rng.random((40, 6)) < 0.2] = np.nan
    values[:, 3] = np.nan  # never computed
    values[:, 4] = 7.25  # constant
    values[::3, 4] = np.nan  # constant where present
    values[5, 0] = np.inf  # an infinity counts as missing
    values[6, 1] = -np.inf

    prepared = prepare_matrix(values)

    assert prepared.dtype == np.float32
    assert usable_columns(values).tolist() == [True, True, True, False, False, True]
    assert prepared.shape == (40, 4)
    np.testing.assert_allclose(prepared, _reference_prepare(values), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(prepared.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(prepared.std(axis=0), 1.0, atol=1e-5)


def test_prepare_matrix_missing_value_becomes_the_column_median_before_scaling():
    values = np.array([[1.0, 0.0], [2.0, 1.0], [9.0, np.nan], [np.nan, 3.0]])
    prepared = prepare_matrix(values)
    # Column 0 becomes [1, 2, 9, 2] (median of 1, 2, 9), column 1 [0, 1, 1, 3].
    imputed = np.array([[1.0, 0.0], [2.0, 1.0], [9.0, 1.0], [2.0, 3.0]])
    expected = (imputed - imputed.mean(axis=0)) / imputed.std(axis=0)
    np.testing.assert_allclose(prepared, expected, rtol=1e-6)


def test_prepare_matrix_does_not_modify_its_input_and_handles_empty_shapes():
    values = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]], dtype=np.float32)
    before = values.copy()
    prepare_matrix(values)
    np.testing.assert_array_equal(values, before)
    assert prepare_matrix(np.zeros((0, 5))).shape == (0, 0)
    assert prepare_matrix(np.zeros((4, 0))).shape == (4, 0)
    assert prepare_matrix(np.ones((4, 3))).shape == (4, 0)  # all constant


def test_a_row_without_values_becomes_the_medians_and_rows_with_values_finds_it():
    values = np.array([[1.0, 10.0], [np.nan, np.nan], [3.0, 30.0], [2.0, 20.0]])
    assert rows_with_values(values).tolist() == [True, False, True, True]
    prepared = prepare_matrix(values)
    np.testing.assert_allclose(prepared[1], prepared[3])  # the medians are row 3's values


@pytest.mark.parametrize(
    ("values", "message"),
    [(np.zeros(5), "2-D"), (np.zeros((2, 2, 2)), "2-D"), (np.array([["a", "b"]]), "numeric")],
)
def test_prepare_matrix_refuses_what_is_not_a_numeric_matrix(values, message):
    with pytest.raises(ValidationError, match=message):
        prepare_matrix(values)


# PCA ------------------------------------------------------------------------------------


def test_pca_matches_scikit_learn_with_the_largest_loading_positive():
    values, _ = _clustered(300, 40)
    values[np.random.default_rng(2).random(values.shape) < 0.05] = np.nan

    xy = project(values)

    reference = PCA(n_components=2, svd_solver="full").fit(_reference_prepare(values))
    expected = _fixed_signs(reference.transform(_reference_prepare(values)), reference.components_)
    assert xy.dtype == np.float32 and xy.shape == (300, 2)
    np.testing.assert_allclose(xy, expected, rtol=1e-4, atol=1e-4)


def test_pca_each_components_largest_loading_is_positive_even_for_mirrored_data():
    # Negating a column flips that column's loadings; the map may change but the rule
    # (each component's largest loading positive) still holds, checked independently.
    values, _ = _clustered(200, 12, seed=3)
    for data in (values, values * np.array([-1.0] + [1.0] * 11, dtype=np.float32)):
        prepared = _reference_prepare(data)
        xy = project(data).astype(np.float64)
        # Loadings recovered from the scores by least squares: the directions the map used.
        loadings, *_ = np.linalg.lstsq(prepared, xy, rcond=None)
        for k in range(2):
            assert loadings[np.abs(loadings[:, k]).argmax(), k] > 0


def test_pca_is_deterministic_and_independent_of_row_order():
    values, _ = _clustered(2000, 60, seed=4)
    values[::7, 3] = np.nan
    first = project(values)
    np.testing.assert_array_equal(project(values), first)

    order = np.random.default_rng(5).permutation(len(values))
    permuted = project(values[order])
    scale = np.abs(first).max()
    np.testing.assert_allclose(permuted, first[order], atol=1e-5 * scale)


def test_pca_separates_clusters_along_the_first_axis():
    rng = np.random.default_rng(6)
    values = rng.standard_normal((200, 10))
    values[:100, :5] += 8.0
    xy = project(values)
    assert np.sign(xy[:100, 0]).sum() * np.sign(xy[100:, 0]).sum() == -(100 * 100)


def test_rows_without_values_get_nan_and_do_not_move_the_others():
    values, _ = _clustered(50, 8, seed=7)
    with_gaps = np.insert(values, [0, 20, 50], np.nan, axis=0)
    xy = project(with_gaps)
    assert np.isnan(xy[[0, 21, 52]]).all()
    present = np.delete(xy, [0, 21, 52], axis=0)
    np.testing.assert_allclose(present, project(values), rtol=1e-5, atol=1e-5)


def test_fewer_than_three_rows_and_degenerate_data():
    assert project(np.zeros((0, 4))).shape == (0, 2)
    np.testing.assert_array_equal(project(np.array([[1.0, 2.0, 3.0]])), [[0.0, 0.0]])
    two = project(np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 9.0]]))
    # A line on the x axis, symmetric, as far apart as the standardised rows (two columns
    # vary, each standardised to -1 and +1): sqrt(2 * 2**2).
    assert two[:, 1].tolist() == [0.0, 0.0]
    assert two[0, 0] == -two[1, 0]
    assert abs(two[0, 0] - two[1, 0]) == pytest.approx(np.sqrt(8.0), rel=1e-6)
    np.testing.assert_array_equal(project(np.ones((5, 3))), np.zeros((5, 2)))  # all alike
    one_column = project(np.arange(6.0)[:, None])
    assert (one_column[:, 1] == 0).all() and np.ptp(one_column[:, 0]) > 0
    np.testing.assert_array_equal(project(np.full((3, 2), np.nan)), np.full((3, 2), np.nan))


def test_unknown_method_is_refused_with_the_choices():
    with pytest.raises(
        ValidationError, match=re.escape("unknown projection method 'tsne': choose one of pca, umap")
    ):
        project(np.zeros((3, 3)), method="tsne")
    assert METHODS == ("pca", "umap")


def test_progress_reports_every_stage_up_to_the_total():
    calls = []
    project(
        np.random.default_rng(8).standard_normal((20, 4)),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.slow
def test_pca_of_100k_rows_by_352_columns_within_the_budget():
    rng = np.random.default_rng(9)
    values = (rng.standard_normal((100_000, 8)) @ rng.standard_normal((8, 352))).astype(np.float32)
    values += rng.standard_normal(values.shape, dtype=np.float32)
    values[rng.random(values.shape) < 0.001] = np.nan
    start = time.perf_counter()
    xy = project(values)
    elapsed = time.perf_counter() - start
    assert xy.shape == (100_000, 2) and np.isfinite(xy).all()
    assert elapsed < 20.0, f"PCA of 100,000 x 352 took {elapsed:.1f} s"


# UMAP -----------------------------------------------------------------------------------


def test_umap_without_umap_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # what Python does for a missing package
    with pytest.raises(ConfigError) as caught:
        project(np.zeros((5, 3)), method="umap")
    assert isinstance(caught.value, AudiosoupError)
    assert caught.value.code == "missing_dependency"
    assert "pip install audiosoup-widgets[umap]" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.slow
def test_umap_is_deterministic_keeps_clusters_apart_and_handles_few_rows():
    values, labels = _clustered(600, 30, seed=10, clusters=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the expected warnings of umap are handled inside
        first = project(values, method="umap", random_state=3)
    second = project(values, method="umap", random_state=3)
    assert first.dtype == np.float32 and first.shape == (600, 2)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(project(values, method="umap", random_state=4), first)

    # Each point's nearest neighbour on the map is from its own cluster.
    distances = np.linalg.norm(first[:, None, :] - first[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).all()

    for n in (1, 2, 3, 5, 12):
        xy = project(values[:n], method="umap")
        assert xy.shape == (n, 2) and np.isfinite(xy).all()
    np.testing.assert_array_equal(project(values[:2], method="umap"), project(values[:2]))
    np.testing.assert_array_equal(project(np.ones((20, 3)), method="umap"), np.zeros((20, 2)))


# input_key ------------------------------------------------------------------------------


def test_input_key_is_short_stable_and_changes_with_what_the_map_depends_on():
    ids = np.array([3, 1, 2], dtype=np.int64)
    values = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]], dtype=np.float32)
    key = input_key(ids, values, method="pca")
    assert re.fullmatch("[0-9a-f]{32}", key)
    # Pinned: a key written by an earlier version must still match the same input.
    assert key == input_key(ids.copy(), values.copy(), method="pca")
    assert key == "e75bdd583641366b0f71210e8416bcc3"

    changed = values.copy()
    changed[2, 1] = np.nextafter(np.float32(6.0), np.float32(7.0))
    assert input_key(ids, changed, method="pca") != key
    assert input_key(np.array([3, 1, 4]), values, method="pca") != key
    assert input_key(ids, values, method="umap") != key
    assert input_key(ids, values, method="pca", extra="mfcc") != key
    assert input_key(ids, values[:, :1], method="pca") != key


def test_input_key_ignores_row_order_dtype_nan_payload_and_negative_zero():
    ids = np.array([10, 11, 12, 13])
    values = np.array([[0.0, 1.5], [np.nan, 2.5], [3.0, -4.0], [0.25, 8.0]], dtype=np.float32)
    key = input_key(ids, values, method="pca")
    order = np.array([2, 0, 3, 1])
    assert input_key(ids[order], values[order], method="pca") == key
    assert input_key(ids, values.astype(np.float64), method="pca") == key
    other_nan = values.copy()
    other_nan.view(np.uint32)[1, 0] = 0xFFC00001  # a NaN with another payload
    assert np.isnan(other_nan[1, 0])
    assert input_key(ids, other_nan, method="pca") == key
    negative_zero = values.copy()
    negative_zero[0, 0] = -0.0
    assert input_key(ids, negative_zero, method="pca") == key
    assert re.fullmatch("[0-9a-f]{32}", input_key(np.array(["b", "a"]), values[:2], method="umap"))


def test_input_key_needs_one_id_per_row():
    with pytest.raises(ValidationError, match="one per row"):
        input_key(np.arange(3), np.zeros((4, 2)), method="pca")


# align ----------------------------------------------------------------------------------


def test_align_undoes_a_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(11)
    previous = rng.standard_normal((50, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (previous @ rotation * [-1.0, 1.0]) * 2.5 + [4.0, -1.0]
    np.testing.assert_allclose(align(previous, moved), previous, atol=1e-5)
    unscaled = align(previous, moved, scale=False)
    distances = np.linalg.norm(unscaled[1:] - unscaled[:-1], axis=1)
    np.testing.assert_allclose(distances, np.linalg.norm(moved[1:] - moved[:-1], axis=1), rtol=1e-5)


def test_align_fits_on_shared_rows_and_carries_new_rows_along():
    rng = np.random.default_rng(12)
    truth = rng.standard_normal((30, 2))
    turned = truth @ np.array([[0.0, -1.0], [1.0, 0.0]]) + 3.0
    previous = truth.copy()
    previous[20:] = np.nan  # new clips, not on the stored map
    np.testing.assert_allclose(align(previous, turned), truth, atol=1e-5)


def test_align_with_one_or_no_shared_row():
    new = np.array([[1.0, 1.0], [2.0, 3.0], [np.nan, np.nan]])
    unknown = np.full((3, 2), np.nan)
    np.testing.assert_array_equal(align(unknown, new), new.astype(np.float32))
    one = unknown.copy()
    one[0] = [11.0, 1.0]
    np.testing.assert_allclose(align(one, new)[:2], new[:2] + [10.0, 0.0])
    with pytest.raises(ValidationError, match="same rows"):
        align(np.zeros((3, 2)), np.zeros((4, 2)))


def test_a_recomputed_pca_map_aligned_to_the_stored_one_keeps_its_points():
    values, _ = _clustered(400, 20, seed=13)
    stored = project(values[:300])
    recomputed = project(values)
    previous = np.full((400, 2), np.nan, dtype=np.float32)
    previous[:300] = stored
    aligned = align(previous, recomputed)
    moved = np.linalg.norm(aligned[:300] - stored, axis=1).mean()
    assert moved < 0.05 * np.linalg.norm(stored - stored.mean(axis=0), axis=1).mean()
