"""RunsMixin: a run and its suspects stored in one go, old suspects pruned, decisions and their history."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets.errors import NotFoundError, ValidationError
from audiosoup_widgets.store import Store
from audiosoup_widgets.store.runs import KEEP_SUSPECTS
from audiosoup_widgets.testing import sample_row

ODD = 'say "yes", then\tno'


@pytest.fixture
def ds(store: Store):
    ds_id = store.ensure_dataset("d", root="/nowhere", layout="folders")
    labels = store.ensure_labels(ds_id, ("a", ODD))
    store.insert_samples(
        [
            sample_row(ds_id, f"{i}.wav", label_id=labels["a" if i % 2 else ODD], split="train")
            for i in range(6)
        ]
    )
    return store, [r[0] for r in store.sample_table("d")]


def _save(store: Store, ids: list[int]) -> int:
    return store.save_model_run(
        "d",
        model="logreg",
        params={"C": 1.0},
        features=["mfcc"],
        scores={"cv": {"accuracy": 0.5}},
        n_train=len(ids),
        n_validation=0,
        duration=0.1,
        reviewer="ann",
        suspects={
            "sample_id": ids,
            "label": [ODD if i % 2 else "a" for i in range(len(ids))],
            "suggested": ["a" if i % 2 else ODD for i in range(len(ids))],
            "score": [0.9 - 0.1 * i for i in range(len(ids))],
            "rank": list(range(1, len(ids) + 1)),
            "is_issue": [i < 3 for i in range(len(ids))],
            "top3": [[[ODD, 0.6], ["a", 0.4]] for _ in ids],
            "nearest": [[ids[-1]] if i < 3 else None for i in range(len(ids))],
        },
    )


def test_a_run_and_its_suspects_round_trip_with_odd_labels(ds):
    store, ids = ds
    run = _save(store, ids)
    rec = store.get_model_run(run, dataset="d")
    assert (rec.model, rec.features, rec.reviewer, rec.scores) == (
        "logreg",
        ["mfcc"],
        "ann",
        {"cv": {"accuracy": 0.5}},
    )
    got = store.run_suspects(run, issues_only=False, include_stale=True)
    assert [s.sample_id for s in got] == ids and got[1].label == ODD and got[0].suggested == ODD
    assert got[0].top3 == ((ODD, 0.6), ("a", 0.4)) and got[0].nearest == (ids[-1],) and got[4].nearest == ()
    assert [s.is_issue for s in got] == [True, True, True, False, False, False]
    with pytest.raises(NotFoundError):
        store.get_model_run(run, dataset="other")


def test_only_the_latest_runs_keep_their_suspects(ds):
    store, ids = ds
    runs = [_save(store, ids) for _ in range(KEEP_SUSPECTS + 2)]
    assert [r.id for r in store.model_runs("d")] == runs[::-1]
    kept = [r for r in runs if store.run_suspects(r, issues_only=False, include_stale=True)]
    assert kept == runs[-KEEP_SUSPECTS:]


def test_a_decision_goes_to_the_history_and_is_refused_when_bad(ds):
    store, ids = ds
    run = _save(store, ids)
    store.record_decision(ids[0], decision="keep", reviewer="bob", reason="fine", run_id=run)
    edit = store.sample_history(ids[0])[0]
    assert (edit.field, edit.old, edit.new, edit.kind, edit.reason) == (
        "suspect",
        ODD,
        "keep",
        "review",
        "fine",
    )
    assert store.get_sample(ids[0]).version == 1  # a decision changes nothing of the clip
    with pytest.raises(ValidationError, match="unknown decision"):
        store.record_decision(ids[0], decision="maybe", reviewer="bob")
    with pytest.raises(NotFoundError):
        store.record_decision(10**6, decision="keep", reviewer="bob")
    with pytest.raises(ValidationError, match="finite"):
        store.save_model_run(
            "d",
            model="logreg",
            params={},
            features=[],
            scores={},
            n_train=0,
            n_validation=0,
            duration=0,
            suspects={
                "sample_id": [ids[0]],
                "label": ["a"],
                "suggested": ["a"],
                "score": [float("nan")],
                "rank": [1],
                "is_issue": [True],
                "top3": [[]],
                "nearest": [None],
            },
        )


def test_class_probabilities_are_kept_with_the_run_when_given(ds):
    store, ids = ds
    without = _save(store, ids)
    assert store.run_probabilities(without) is None  # none given: none kept
    probs = [[0.25 + 0.1 * i, 0.75 - 0.1 * i] for i in range(len(ids))]
    run = store.save_model_run(
        "d",
        model="logreg",
        params={},
        features=["mfcc"],
        scores={"classes": ["a", ODD]},
        n_train=len(ids),
        n_validation=0,
        duration=0.1,
        suspects={
            "sample_id": ids[::-1],
            "label": ["a"] * len(ids),
            "suggested": ["a"] * len(ids),
            "score": [0.1] * len(ids),
            "rank": list(range(1, len(ids) + 1)),
            "is_issue": [False] * len(ids),
            "top3": [[["a", 0.5]]] * len(ids),
            "nearest": [None] * len(ids),
            "probs": probs[::-1],
        },
    )
    got_ids, classes, got = store.run_probabilities(run)
    assert got_ids.tolist() == ids and classes == ["a", ODD]
    assert np.allclose(got, probs, atol=1e-4)
    with pytest.raises(ValidationError, match="one finite row per clip"):
        store.save_model_run(
            "d",
            model="logreg",
            params={},
            features=[],
            scores={},
            n_train=1,
            n_validation=0,
            duration=0.0,
            suspects={
                "sample_id": ids[:1],
                "label": ["a"],
                "suggested": ["a"],
                "score": [0.1],
                "rank": [1],
                "is_issue": [False],
                "top3": [[]],
                "nearest": [None],
                "probs": [[float("nan"), 1.0]],
            },
        )
