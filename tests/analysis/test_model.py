"""analysis.model: folds, scores, label issues and nearest clips on plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets.analysis.model import (
    build_pipeline,
    choose_folds,
    classification_scores,
    describe_change,
    fit_and_score,
    nearest_of_label,
    score_split,
)
from audiosoup_widgets.errors import ValidationError


def test_small_labels_mean_fewer_folds_and_a_lone_clip_is_refused():
    y = np.array(["a"] * 10 + ["b"] * 3)
    _, k = choose_folds(y, None)
    assert k == 3
    with pytest.raises(ValidationError, match="'c' has fewer than 2 clips"):
        choose_folds(np.array(["a", "a", "b", "b", "c"]), None)
    with pytest.raises(ValidationError, match="same speaker"):
        choose_folds(np.array(["a", "b"] * 5), np.zeros(10, np.int64))


def test_speakers_are_never_split_and_unknown_speakers_are_their_own_group():
    rng = np.random.default_rng(0)
    n = 120
    labels = np.array(["a", "b", "c"])[np.arange(n) % 3]
    x = rng.standard_normal((n, 4)) + (np.arange(n) % 3)[:, None] * 3
    speakers = [None if i % 10 == 0 else f"s{i % 9}" for i in range(n)]
    result = fit_and_score(x, labels, ["train"] * n, groups=speakers)
    assert result.grouped and result.folds == 5 and result.cv["accuracy"] > 0.9
    assert result.validation is None and len(result.pool) == n
    # Without any speaker the folds are plain stratified ones.
    assert not fit_and_score(x, labels, ["train"] * n, groups=[None] * n).grouped


def test_scores_name_the_label_order_of_the_confusion_matrix():
    s = classification_scores(np.array(["a", "a", "b", "b"]), np.array(["a", "b", "b", "b"]), ["a", "b", "c"])
    assert s["accuracy"] == 0.75 and s["balanced_accuracy"] == 0.75
    assert s["recall"] == {"a": 0.5, "b": 1.0, "c": None}
    assert s["confusion"] == {"labels": ["a", "b", "c"], "matrix": [[1, 1, 0], [0, 2, 0], [0, 0, 0]]}


def test_the_test_split_is_ignored_and_scored_only_when_asked():
    rng = np.random.default_rng(1)
    n = 90
    labels = np.array(["a", "b", "c"])[np.arange(n) % 3]
    x = rng.standard_normal((n, 3)) + (np.arange(n) % 3)[:, None] * 4
    splits = np.array(["train"] * 6 + ["validation", "test", "test"])[np.arange(n) % 9]
    base = fit_and_score(x, labels, list(splits))
    x2 = x.copy()
    x2[splits == "test"] = 1e6
    again = fit_and_score(x2, labels, list(splits))
    assert again.scores() == base.scores() and not set(base.pool) & set(np.flatnonzero(splits == "test"))
    tr, te = splits == "train", splits == "test"
    assert score_split(x[tr], labels[tr], x[te], labels[te])["accuracy"] > 0.9


def test_nearest_clips_carry_the_wanted_label_and_never_the_clip_itself():
    x = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [9.0]])
    labels = ["a", "a", "a", "b", "b", "b"]
    near = nearest_of_label(x, labels, np.array([0, 3]), ["a", "b"], k=3)
    assert near == [[1, 2], [4, 5]]


def test_a_run_change_names_a_whole_family():
    before = {"features": ["mfcc"], "model": "logreg", "scores": {"validation": {"balanced_accuracy": 0.62}}}
    after = {
        "features": ["mfcc", "tempogram", "fourier_tempogram"],
        "model": "logreg",
        "scores": {"validation": {"balanced_accuracy": 0.71}},
    }
    fam = {"mfcc": "spectral", "tempogram": "rhythmic", "fourier_tempogram": "rhythmic"}
    assert describe_change(before, after, family_of=fam) == (
        "adding the rhythmic family raised validation balanced accuracy from 0.62 to 0.71"
    )
    assert "lowered" in describe_change(after, before, family_of=fam)


def test_the_forest_is_seeded():
    with pytest.raises(ValidationError, match="unknown logreg parameter"):
        build_pipeline("logreg", {"depth": 3})
    assert build_pipeline("forest")[-1].random_state == 0
