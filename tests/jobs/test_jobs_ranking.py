"""rank_features: train split only, the planted feature first, reruns agree, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_selection import f_classif

import audiosoup_widgets
from audiosoup_widgets import rank_features
from audiosoup_widgets.errors import FeatureError, NotFoundError, ValidationError
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import sample_row, seed_summaries, seed_synthetic

ROWS = {"mfcc": 3, "chroma": 2}  # a deltas feature and a spectral one: 10 columns


def write(store: Store, values: dict[int, np.ndarray]) -> None:
    fp = FeatureParams()
    rows = []
    for sid, v in values.items():
        col = 0
        for feat, k in ROWS.items():
            rows.append(
                {
                    "sample_id": sid,
                    "feature": feat,
                    "param_key": fp.key_for(feat),
                    "status": "ok",
                    "n_rows": k,
                    "n_frames": 32,
                    "data": v[col : col + 2 * k].astype("<f4").tobytes(),
                }
            )
            col += 2 * k
    store.write_summaries(rows)


@pytest.fixture
def planted(store: Store):
    """Noise summaries, but chroma_mean_1 is high for label 'yes' (train split and others)."""
    seed_synthetic(store, dataset="d", n=120, labels=("yes", "no", "up"))
    rng = np.random.default_rng(0)
    table = store.sample_table("d")
    values = {sid: rng.standard_normal(10).astype(np.float32) for sid, *_ in table}
    for sid, _, label, _ in table:
        if label == "yes":
            values[sid][7] += 3.0  # mfcc: 6 columns, then chroma_mean_0, chroma_mean_1
    write(store, values)
    return store, values, table


def test_the_planted_feature_ranks_first_on_the_train_split(planted):
    store, values, table = planted
    frame = rank_features("d", db=store, n_boot=30, n_half=4)
    overall = frame[frame["scope"] == "all"]
    assert overall.iloc[0]["name"] == "chroma" and overall.iloc[0]["column"] == "chroma_mean_1"
    assert set(frame["scope"]) == {"all", "yes", "no", "up"}
    assert (frame["split"] == "train").all() and frame.attrs["n_rows"] == 96
    train = [(sid, lab) for sid, _, lab, split in table if split == "train"]
    x = np.stack([values[sid] for sid, _ in train]).astype(np.float64)
    y = np.array([lab for _, lab in train])
    assert overall.iloc[0]["f"] == pytest.approx(f_classif(x, y)[0][7], rel=1e-5)
    yes = frame[frame["scope"] == "yes"].iloc[0]
    assert yes["f"] == pytest.approx(f_classif(x, y == "yes")[0][7], rel=1e-5)
    assert yes["n_label"] == sum(lab == "yes" for _, lab in train)


def test_test_split_values_do_not_change_the_ranking_and_reruns_agree(planted):
    store, values, table = planted
    first = rank_features("d", db=store, level="all", n_boot=30, n_half=4)
    held_out = {sid: values[sid] * 0 + 100.0 for sid, _, _, split in table if split != "train"}
    write(store, held_out)
    again = rank_features("d", db=store, level="all", n_boot=30, n_half=4)
    assert first.equals(again)
    assert set(first["level"]) == {"column", "feature", "family"}


def test_a_dataset_without_splits_uses_every_labelled_sample(store: Store):
    ds = store.ensure_dataset("nosplit", root="/nowhere", layout="folders")
    ids = store.ensure_labels(ds, ["a", "b"])
    store.insert_samples(
        [sample_row(ds, f"{i}.wav", label_id=ids["ab"[i % 2]]) for i in range(40)]
        + [sample_row(ds, "unlabelled.wav")]
    )
    seed_summaries(store, "nosplit", rows=ROWS)
    frame = rank_features("nosplit", db=store, n_boot=20, n_half=4)
    assert (frame["split"] == "all").all() and frame.attrs["n_rows"] == 40


def test_refusals_say_what_to_do(store: Store):
    seed_synthetic(store, dataset="d", n=30, labels=("yes", "no"))
    with pytest.raises(FeatureError, match="audiosoup features compute --dataset d") as err:
        rank_features("d", db=store)
    assert err.value.code == "not_computed"
    seed_summaries(store, "d", rows=ROWS)
    with pytest.raises(ValidationError, match="unknown level"):
        rank_features("d", db=store, level="band")
    with pytest.raises(NotFoundError):
        rank_features("nope", db=store)
    seed_synthetic(store, dataset="one", n=20, labels=("yes",))
    seed_summaries(store, "one", rows=ROWS)
    with pytest.raises(ValidationError, match="at least two labels"):
        rank_features("one", db=store)
    assert "rank_features" in audiosoup_widgets.__all__
