"""fit_model and label_suspects on real scikit-learn and cleanlab, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

import audiosoup_widgets
from audiosoup_widgets.errors import FeatureError, NotFoundError, ValidationError
from audiosoup_widgets.jobs.model import fit_model, label_suspects, run_history, score_test, suspects_report
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import sample_row, seed_summaries, seed_synthetic

ROWS = {"mfcc": 5, "chroma": 3}
LABELS = ("yes", "no", "up", "down")


def flip_labels(store: Store, dataset: str, *, share: float, seed: int = 0) -> set[int]:
    """Relabel ``share`` of the non-test clips to another label; return their ids."""
    rng = np.random.default_rng(seed)
    table = [r for r in store.sample_table(dataset) if r[3] != "test"]
    chosen = rng.choice(len(table), size=round(share * len(table)), replace=False)
    flipped = set()
    for i in chosen.tolist():
        sid, _, label, _ = table[i]
        other = LABELS[(LABELS.index(label) + 1 + int(rng.integers(0, 3))) % len(LABELS)]
        store.update_sample(sid, version=1, reviewer="flipper", label=other)
        flipped.add(sid)
    return flipped


@pytest.fixture
def separable(store: Store) -> Store:
    seed_synthetic(store, dataset="d", n=400, labels=LABELS)
    seed_summaries(store, "d", rows=ROWS, spread=1.5)
    return store


def test_the_top_suspects_hold_most_of_the_flipped_labels(separable):
    store = separable
    flipped = flip_labels(store, "d", share=0.10)
    frame = label_suspects("d", db=store, features="mfcc,chroma", reviewer="ann")
    top = set(frame["sample_id"].head(len(flipped)).tolist())
    recall = len(top & flipped) / len(flipped)
    print(f"flipped-label recall at k={len(flipped)}: {recall:.3f}")
    assert recall >= 0.8
    assert list(frame.columns) == [
        "sample_id",
        "path",
        "label",
        "suggested",
        "score",
        "rank",
        "top3",
        "decision",
    ]
    assert frame["score"].is_monotonic_decreasing
    assert (frame["label"] != frame["suggested"]).mean() > 0.9
    first = frame.iloc[0]
    assert len(first["top3"]) == 3 and first["top3"][0][0] == first["suggested"]


def test_a_run_is_recorded_with_its_features_parameters_scores_and_reviewer(separable):
    store = separable
    report = fit_model("d", db=store, features=["mfcc"], reviewer="ann")
    run = store.get_model_run(report.run.id)
    assert run.features == ["mfcc"] and run.model == "logreg" and run.reviewer == "ann"
    assert run.params == {"C": 1.0, "max_iter": 1000}
    assert run.n_train == 320 and run.n_validation == 40 and run.duration > 0
    val = run.scores["validation"]
    assert val["accuracy"] > 0.9 and val["balanced_accuracy"] > 0.9
    assert set(val["recall"]) == set(LABELS)
    assert val["confusion"]["labels"] == sorted(LABELS)
    assert np.asarray(val["confusion"]["matrix"]).sum() == 40
    assert run.scores["cv"]["n"] == 320 and run.test_scores is None
    # The history compares a later run with this one.
    second = fit_model("d", db=store, features=["mfcc", "chroma"], model="forest", reviewer="bob")
    assert second.change is not None and "adding chroma" in second.change and "forest" in second.change
    history = run_history("d", db=store)
    assert [r.id for r, _ in history] == [second.run.id, run.id] and history[-1][1] is None
    assert "balanced accuracy" in second.summary()


def test_the_test_split_is_untouched_until_asked(separable):
    store = separable
    first = fit_model("d", db=store, features="mfcc")
    test_ids = [sid for sid, _, _, split in store.sample_table("d") if split == "test"]
    # Scramble the test clips' labels and features: fit and suspects must not move.
    for sid in test_ids:
        store.update_sample(sid, version=1, reviewer="x", label="yes")
    seed_summaries(store, "d", rows=ROWS, ids=test_ids, spread=9.0, seed=7)
    again = fit_model("d", db=store, features="mfcc")
    assert again.run.scores == first.run.scores
    suspects = store.run_suspects(again.run.id, issues_only=False)
    assert not set(test_ids) & {s.sample_id for s in suspects}
    assert len(suspects) == 360
    scored = score_test("d", db=store, reviewer="ann")
    assert scored.id == again.run.id and scored.test_scores is not None
    assert scored.test_scores["n"] == len(test_ids) and scored.test_scored_by == "ann"


def test_folds_never_split_a_speaker(store: Store):
    from audiosoup_widgets.analysis.model import choose_folds

    ds = store.ensure_dataset("g", root="/nowhere", layout="folders")
    ids = store.ensure_labels(ds, LABELS)
    rows = [
        sample_row(ds, f"{i}.wav", label_id=ids[LABELS[i % 4]], split="train", speaker=f"s{i % 12}")
        for i in range(96)
    ]
    store.insert_samples(rows)
    seed_summaries(store, "g", rows=ROWS)
    report = fit_model("g", db=store, features="mfcc")
    assert report.run.scores["grouped"] is True and report.run.scores["folds"] == 5
    speakers = np.array([i % 12 for i in range(96)])
    y = np.array([i % 4 for i in range(96)])
    cv, k = choose_folds(y, speakers)
    for train, held in cv.split(np.zeros((96, 1)), y, speakers):
        assert not set(speakers[train]) & set(speakers[held])


def test_bad_input_says_what_is_wrong(separable):
    store = separable
    with pytest.raises(ValidationError, match="unknown feature or family 'nope'"):
        fit_model("d", db=store, features="nope")
    with pytest.raises(ValidationError, match="unknown model 'svm'"):
        fit_model("d", db=store, features="mfcc", model="svm")
    with pytest.raises(FeatureError, match="audiosoup features compute"):
        fit_model("d", db=store, features="tempogram")
    with pytest.raises(NotFoundError):
        fit_model("missing", db=store, features="mfcc")
    with pytest.raises(NotFoundError, match="no model run 99"):
        label_suspects("d", db=store, run=99)


def test_a_tiny_label_is_refused_with_a_clear_message(store: Store):
    ds = store.ensure_dataset("t", root="/nowhere", layout="folders")
    ids = store.ensure_labels(ds, ("a", "b"))
    rows = [sample_row(ds, f"{i}.wav", label_id=ids["a"], split="train") for i in range(10)]
    rows.append(sample_row(ds, "lonely.wav", label_id=ids["b"], split="train"))
    store.insert_samples(rows)
    seed_summaries(store, "t", rows={"mfcc": 2})
    with pytest.raises(ValidationError, match="'b' has fewer than 2 clips in the train split"):
        fit_model("t", db=store, features="mfcc")


def test_the_report_and_the_lazy_api(separable):
    store = separable
    flip_labels(store, "d", share=0.05)
    frame = audiosoup_widgets.label_suspects("d", db=store, features="mfcc,chroma")
    report = suspects_report(frame)
    assert report["dataset"] == "d" and report["run"] == frame.attrs["run"]
    assert report["suspects"] and set(report["suspects"][0]) == {
        "sample_id",
        "path",
        "label",
        "suggested",
        "score",
    }
    scores = [s["score"] for s in report["suspects"]]
    assert scores == sorted(scores, reverse=True)
    # The stored suspects of that run read back the same.
    again = label_suspects("d", db=store, run=frame.attrs["run"])
    assert again["sample_id"].tolist() == frame["sample_id"].tolist()
    assert audiosoup_widgets.fit_model is fit_model
