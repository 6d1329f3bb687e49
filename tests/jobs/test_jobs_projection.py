"""project_features: the map against scikit-learn's PCA, stored coordinates reused, stale ones redone."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

import audiosoup_widgets
from audiosoup_widgets import project_features
from audiosoup_widgets.errors import FeatureError, NotFoundError, ValidationError
from audiosoup_widgets.jobs.projection import map_features, read_summaries, update_map
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

ROWS = {"mfcc": 5, "chroma": 3}  # a deltas feature and a spectral one


def reference_pca(values: np.ndarray) -> np.ndarray:
    """PCA as a user would run it: z-scores (population SD), then scikit-learn's PCA."""
    z = (values - values.mean(axis=0)) / values.std(axis=0)
    return PCA(n_components=2, svd_solver="full").fit_transform(z.astype(np.float64))


def same_up_to_sign(got: np.ndarray, want: np.ndarray) -> None:
    for k in range(2):
        sign = np.sign(np.dot(got[:, k], want[:, k]))
        np.testing.assert_allclose(got[:, k] * sign, want[:, k], rtol=1e-3, atol=1e-3)


@pytest.fixture
def mapped(store: Store):
    seed_synthetic(store, dataset="d", n=60, labels=("yes", "no", "up"))
    stored = seed_summaries(store, "d", rows=ROWS)
    return store, stored


def test_the_map_is_scikit_learns_pca_of_the_standardised_summaries(mapped):
    store, stored = mapped
    frame = project_features("d", db=store)
    ids = sorted(stored)
    assert frame["sample_id"].tolist() == ids
    assert list(frame.columns) == ["sample_id", "x", "y", "label", "split"]
    want = reference_pca(np.stack([stored[i] for i in ids]).astype(np.float64))
    same_up_to_sign(frame[["x", "y"]].to_numpy(np.float64), want)
    table = {sid: (label, split) for sid, _, label, split in store.sample_table("d")}
    assert [(r.label, r.split) for r in frame.itertuples()] == [table[i] for i in ids]


def test_a_family_maps_only_its_own_features(mapped):
    store, stored = mapped
    ids = sorted(stored)
    frame = project_features("d", family="spectral", db=store)  # chroma only
    chroma = np.stack([stored[i][10:16] for i in ids]).astype(np.float64)
    same_up_to_sign(frame[["x", "y"]].to_numpy(np.float64), reference_pca(chroma))
    assert map_features(None) == map_features("all") and "chroma" in map_features("spectral")
    got_ids, values, used = read_summaries(store, "d", map_features("deltas"))
    assert used == ["mfcc"] and got_ids.tolist() == ids and values.shape == (60, 10)


def test_stored_coordinates_are_reused_while_the_summaries_are_unchanged(mapped):
    store, _ = mapped
    first = update_map("d", db=store)
    assert first.recomputed and first.features == (
        "chroma",
        "mfcc",
    )  # registry order and first.n_missing == 0
    again = update_map("d", db=store)
    assert not again.recomputed
    assert again.record.computed_at == first.record.computed_at
    stored = store.load_projection("d", family="all", method="pca")
    assert stored is not None and stored.computed_at == first.record.computed_at
    np.testing.assert_array_equal(again.record.x, first.record.x)
    forced = update_map("d", db=store, recompute=True)
    assert forced.recomputed and forced.record.computed_at > first.record.computed_at
    # The same inputs recomputed and aligned give the same map.
    np.testing.assert_allclose(forced.record.x, first.record.x, atol=1e-4)


def test_new_summaries_make_the_map_stale_and_the_old_clips_keep_their_place(mapped):
    store, _ = mapped
    first = update_map("d", db=store)
    seed_synthetic(store, dataset="d2", n=1)  # another dataset changes nothing
    assert not update_map("d", db=store).recomputed
    new_ids = seed_synthetic_more(store, 6)
    assert not update_map("d", db=store).recomputed  # clips without summaries: not on the map
    seed_summaries(store, "d", rows=ROWS, ids=new_ids, seed=5)
    later = update_map("d", db=store)
    assert later.recomputed and later.record.computed_at > first.record.computed_at
    assert set(new_ids) <= set(later.record.sample_ids.tolist())
    old = np.isin(later.record.sample_ids, first.record.sample_ids)
    # Aligned onto the stored map: six more clips barely move the sixty that were there.
    moved = np.hypot(later.record.x[old] - first.record.x, later.record.y[old] - first.record.y)
    spread = np.hypot(np.ptp(first.record.x), np.ptp(first.record.y))
    assert np.median(moved) < 0.1 * spread


def seed_synthetic_more(store: Store, n: int) -> list[int]:
    """Add ``n`` samples to dataset ``d`` (no summaries yet); return their ids."""
    from audiosoup_widgets.testing import sample_row

    before = set(store.sample_ids(SampleQuery("d")))
    ds_id = store.get_dataset("d").id
    labels = store.ensure_labels(ds_id, ["yes"])
    store.insert_samples(
        [sample_row(ds_id, f"yes/new_{i}.wav", label_id=labels["yes"], split="train") for i in range(n)]
    )
    return sorted(set(store.sample_ids(SampleQuery("d"))) - before)


def test_clips_without_summaries_are_left_out_and_counted(mapped):
    store, stored = mapped
    new_ids = seed_synthetic_more(store, 3)
    result = update_map("d", db=store)
    assert result.n_missing == 3 and not set(new_ids) & set(result.record.sample_ids.tolist())
    assert len(result.record.sample_ids) == len(stored)


def test_no_summaries_name_the_command_to_run(store: Store):
    seed_synthetic(store, dataset="bare", n=5)
    with pytest.raises(FeatureError) as info:
        project_features("bare", db=store)
    assert info.value.code == "not_computed"
    assert "run: audiosoup features compute --dataset bare" in info.value.message
    seed_summaries(store, "bare", rows={"mfcc": 2})
    with pytest.raises(FeatureError) as info:
        project_features("bare", family="rhythmic", db=store)
    assert "--features onset_strength,tempogram,fourier_tempogram" in info.value.message


def test_an_empty_dataset_has_an_empty_map(sqlite_store_empty):
    store = sqlite_store_empty
    store.ensure_dataset("empty", root="/nowhere", layout="folders")
    frame = project_features("empty", db=store)
    assert frame.empty and list(frame.columns) == ["sample_id", "x", "y", "label", "split"]


@pytest.fixture
def sqlite_store_empty(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    s.upgrade()
    yield s
    s.dispose()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"family": "timbre"}, ValidationError),
        ({"family": 3}, ValidationError),
        ({"method": "tsne"}, ValidationError),
        ({"method": None}, ValidationError),
    ],
)
def test_unknown_family_or_method_is_refused(sqlite_store_empty, kwargs, error):
    sqlite_store_empty.ensure_dataset("d", root="/nowhere", layout="folders")
    with pytest.raises(error):
        project_features("d", db=sqlite_store_empty, **kwargs)


def test_an_unknown_dataset_is_not_found(sqlite_store_empty):
    with pytest.raises(NotFoundError):
        project_features("nope", db=sqlite_store_empty)


def test_project_features_is_public_and_lazy():
    assert "project_features" in audiosoup_widgets.__all__
    assert audiosoup_widgets.project_features is project_features
