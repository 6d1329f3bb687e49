"""agreement: the reviewers' votes measured, and weighed by the model run's stored probabilities
(cleanlab's multi-annotator consensus), on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import audiosoup_widgets
from audiosoup_widgets.jobs.agreement import agreement
from audiosoup_widgets.jobs.model import fit_model
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def fitted(store: Store) -> tuple[Store, int]:
    seed_synthetic(store, dataset="d", n=200, labels=LABELS)
    seed_summaries(store, "d", rows={"mfcc": 5}, spread=1.5)
    report = fit_model("d", db=store, features="mfcc")
    return store, report.run.id


def test_the_model_run_keeps_every_judged_clips_probabilities(fitted):
    store, run_id = fitted
    ids, classes, probs = store.run_probabilities(run_id)
    judged = sorted(s.sample_id for s in store.run_suspects(run_id, issues_only=False, include_stale=True))
    assert ids.tolist() == judged and len(judged) == 180  # train and validation, not test
    assert classes == store.get_model_run(run_id).scores["classes"] and sorted(classes) == sorted(LABELS)
    assert probs.shape == (180, 4) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    # the stored rows agree with each clip's suggestion (the most probable class)
    suggested = {
        s.sample_id: s.suggested for s in store.run_suspects(run_id, issues_only=False, include_stale=True)
    }
    assert [classes[j] for j in probs.argmax(axis=1)] == [suggested[i] for i in ids.tolist()]


def test_the_consensus_weighs_votes_with_the_model_as_cleanlab_does(fitted):
    from cleanlab.multiannotator import get_label_quality_multiannotator

    store, run_id = fitted
    ids, classes, probs = store.run_probabilities(run_id)
    rng = np.random.default_rng(1)
    voted = ids[:30].tolist()
    table = {s[0]: s[2] for s in store.sample_table("d")}
    labels = np.full((30, 3), np.nan)
    for row, sid in enumerate(voted):
        for r in range(3):
            if r == 2 and row % 3:
                continue
            lab = table[sid] if rng.random() < 0.75 else LABELS[int(rng.integers(0, 4))]
            store.set_vote(sid, lab, reviewer=f"r{r}")
            labels[row, r] = classes.index(lab)
    test_clip = next(s[0] for s in store.sample_table("d") if s[3] == "test")
    store.set_vote(test_clip, "yes", reviewer="r0")
    rep = agreement("d", db=store)
    want = get_label_quality_multiannotator(
        pd.DataFrame(labels, columns=["r0", "r1", "r2"]), probs[:30], verbose=False
    )["label_quality"]
    assert rep.run_id == run_id and rep.model_consensus is not None and rep.model_quality is not None
    assert [rep.model_consensus[i] for i in voted] == [classes[c] for c in want["consensus_label"]]
    assert [rep.model_quality[i] for i in voted] == pytest.approx(
        want["consensus_quality_score"].tolist(), abs=1e-6
    )
    assert test_clip not in rep.model_consensus and rep.consensus[test_clip] == "yes"
    assert rep.notes == [
        f"model run {run_id} did not judge 1 of the voted clips "
        "(test split, no features, or only labels it does not know)"
    ]
    assert rep.n_items == 31 and rep.alpha is not None
    assert audiosoup_widgets.agreement is agreement


def test_a_run_without_probabilities_says_so(store: Store):
    seed_synthetic(store, dataset="d", n=4, labels=("a", "b"))
    ids = [s[0] for s in store.sample_table("d")]
    store.save_model_run(
        "d",
        model="logreg",
        params={},
        features=[],
        scores={"classes": ["a", "b"]},
        n_train=4,
        n_validation=0,
        duration=0.0,
        suspects={
            "sample_id": ids,
            "label": ["a"] * 4,
            "suggested": ["a"] * 4,
            "score": [0.1] * 4,
            "rank": [1, 2, 3, 4],
            "is_issue": [False] * 4,
            "top3": [[]] * 4,
            "nearest": [None] * 4,
        },
    )
    store.set_vote(ids[0], "a", reviewer="r0")
    rep = agreement("d", db=store)
    assert rep.model_consensus is None and rep.run_id is None
    assert rep.notes and "kept no class probabilities" in rep.notes[0]
