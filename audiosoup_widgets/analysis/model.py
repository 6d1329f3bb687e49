"""A classifier on chosen feature summaries: cross-validated scores and label suspects.

This module owns the model of the "model" view and of ``audiosoup model fit`` /
``audiosoup suspects``, as plain arithmetic on arrays (no SQL, no UI):

* :func:`build_pipeline`: standardised logistic regression (the default) or a random
  forest, both with a fixed ``random_state``;
* :func:`choose_folds`: stratified folds, grouped by speaker when speakers are known (one
  voice never sits on both sides of a fold), fewer folds when a class is small;
* :func:`fit_and_score`: cross-validation on the train split, one fit on the whole train
  split scored on the validation split, out-of-sample probabilities for every clip of
  both, and cleanlab's label issues ranked by self-confidence (:class:`ModelResult`);
* :func:`score_split`: the explicit, separate scoring of another split (the test split);
* :func:`nearest_of_label`: the nearest clips of a label in standardised feature space
  (the review's "why");
* :func:`describe_change`: one sentence comparing two runs ("adding the rhythmic family
  raised balanced accuracy from 0.62 to 0.71").

Out-of-sample probabilities. Train clips get theirs from ``cross_val_predict`` (each from
the fold model that did not see it); validation clips from the model fitted on the whole
train split, the one the validation score comes from. Validation clips are therefore never
used to fit any model of a run: the validation score stays a held-out score, a validation
clip's suspicion comes from a model that never saw it, and one pass (the folds plus one
fit) yields both the run's scores and its suspects.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ValidationError

__all__ = [
    "MODELS",
    "DEFAULT_FOLDS",
    "MIN_PER_CLASS",
    "ModelResult",
    "build_pipeline",
    "choose_folds",
    "classification_scores",
    "fit_and_score",
    "score_split",
    "label_issues",
    "nearest_of_label",
    "describe_change",
]

#: The classifiers a user can pick.
MODELS: tuple[str, ...] = ("logreg", "forest")
#: Folds of the cross-validation when every class has enough clips.
DEFAULT_FOLDS = 5
#: Clips a class needs in the train split to be cross-validated at all.
MIN_PER_CLASS = 2
#: The fixed seed of every random choice (folds, forest).
SEED = 0
#: Labels and nearest clips kept per clip for the review.
TOP_K = 3

_DEFAULTS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 1000},
    "forest": {"n_estimators": 200, "min_samples_leaf": 1},
}


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValidationError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return model


def model_params(model: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the classifier's parameters: the defaults of ``model`` updated with ``params``.

    Raises
    ------
    ValidationError
        An unknown model or parameter name.
    """
    out = dict(_DEFAULTS[_check_model(model)])
    for key, value in (params or {}).items():
        if key not in out:
            raise ValidationError(f"unknown {model} parameter {key!r}; choose from {', '.join(out)}")
        out[key] = value
    return out


def build_pipeline(model: str = "logreg", params: Mapping[str, Any] | None = None, *, n_jobs: int = 1) -> Any:
    """Return an unfitted scikit-learn pipeline: median imputation, scaling, the classifier.

    Parameters
    ----------
    model : {'logreg', 'forest'}
        Standardised logistic regression (the default) or a random forest.
    params : mapping, optional
        Classifier parameters over the defaults (``C``, ``max_iter``; ``n_estimators``,
        ``min_samples_leaf``).
    n_jobs : int
        Trees built in parallel (forest only).

    Returns
    -------
    sklearn.pipeline.Pipeline
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    kw = model_params(model, params)
    clf: Any
    if model == "logreg":
        clf = LogisticRegression(random_state=SEED, **kw)
    else:
        clf = RandomForestClassifier(random_state=SEED, n_jobs=n_jobs, **kw)
    # A summary cell can be missing (a band a low sample rate never reaches): the median
    # stands in, rather than losing the clip.
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", clf),
        ]
    )


def _groups(groups: Sequence[Any] | np.ndarray | None, n: int) -> np.ndarray | None:
    """Return group codes, a clip without a speaker being its own group; None if none is known."""
    if groups is None:
        return None
    values = list(groups)
    if len(values) != n:
        raise ValidationError("one speaker (or None) per clip is needed")
    if all(v is None or (isinstance(v, float) and math.isnan(v)) or v == "" for v in values):
        return None
    codes: dict[Any, int] = {}
    out = np.empty(n, np.int64)
    for i, v in enumerate(values):
        key = ("clip", i) if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else ("sp", v)
        out[i] = codes.setdefault(key, len(codes))
    return out


def choose_folds(
    labels: np.ndarray, groups: np.ndarray | None, *, n_splits: int = DEFAULT_FOLDS
) -> tuple[Any, int]:
    """Return the cross-validation splitter for these labels (and groups), and its fold count.

    Stratified folds, grouped by speaker (:class:`~sklearn.model_selection.StratifiedGroupKFold`)
    when ``groups`` is given, else :class:`~sklearn.model_selection.StratifiedKFold`. The
    smallest class (and, grouped, the number of speakers) caps the fold count.

    Raises
    ------
    ValidationError
        A class with fewer than :data:`MIN_PER_CLASS` clips, fewer than two classes, or
        fewer than two speakers.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    names, counts = np.unique(labels, return_counts=True)
    if len(names) < 2:
        raise ValidationError("a model needs at least two labels in the train split")
    small = [str(n) for n, c in zip(names, counts, strict=True) if c < MIN_PER_CLASS]
    if small:
        raise ValidationError(
            f"label{'s' if len(small) > 1 else ''} {', '.join(map(repr, small))} "
            f"{'have' if len(small) > 1 else 'has'} fewer than {MIN_PER_CLASS} clips in the train "
            "split; cross-validation needs at least two per label (add clips or relabel them)"
        )
    k = min(n_splits, int(counts.min()))
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise ValidationError("every train clip has the same speaker: grouped folds need two or more")
        k = min(k, n_groups)
        return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=SEED), k
    return StratifiedKFold(n_splits=k, shuffle=True, random_state=SEED), k


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Return accuracy, balanced accuracy, per-class recall and the confusion matrix (JSON values).

    ``confusion["matrix"][i][j]`` counts clips labelled ``confusion["labels"][i]`` predicted
    as ``confusion["labels"][j]``. A class without clips here has recall None.
    """
    from sklearn.metrics import confusion_matrix

    labels = list(classes)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(axis=1)
    recall = {
        lab: (None if support[i] == 0 else round(float(cm[i, i] / support[i]), 6))
        for i, lab in enumerate(labels)
    }
    present = [r for r in recall.values() if r is not None]
    n = int(cm.sum())
    return {
        "n": n,
        "accuracy": round(float(np.trace(cm) / n), 6) if n else None,
        "balanced_accuracy": round(float(np.mean(present)), 6) if present else None,
        "recall": recall,
        "confusion": {"labels": labels, "matrix": cm.astype(int).tolist()},
    }


@dataclass
class ModelResult:
    """What one run computed: scores, and per clip its out-of-sample probabilities and suspicion.

    Attributes
    ----------
    classes : list of str
        The labels, in the order of the probability columns.
    folds : int
        Cross-validation folds used.
    grouped : bool
        Whether the folds were grouped by speaker.
    cv : dict
        Scores of the out-of-fold predictions on the train split.
    validation : dict or None
        Scores on the validation split (None when it has no clips).
    pool : np.ndarray [shape=(n,)]
        Row indices (into the inputs) of the clips scored: train then validation rows.
    probabilities : np.ndarray [shape=(n, n_classes)]
        Out-of-sample probabilities of the ``pool`` clips.
    score : np.ndarray [shape=(n,)]
        Suspect score, 1 - self-confidence (the probability of the given label).
    suggested : np.ndarray [shape=(n,)]
        Index into ``classes`` of the most probable label.
    is_issue : np.ndarray [shape=(n,), dtype=bool]
        cleanlab's verdict.
    ranking : np.ndarray [shape=(n,)]
        Positions into ``pool``, most suspicious first (cleanlab's issues ranked by
        self-confidence, then the other clips by score).
    """

    classes: list[str]
    folds: int
    grouped: bool
    cv: dict[str, Any]
    validation: dict[str, Any] | None
    pool: np.ndarray
    probabilities: np.ndarray
    score: np.ndarray
    suggested: np.ndarray
    is_issue: np.ndarray
    ranking: np.ndarray
    notes: list[str] = field(default_factory=list)

    def scores(self) -> dict[str, Any]:
        """Return the JSON scores of the run (cross-validation, validation, folds)."""
        return {
            "cv": self.cv,
            "validation": self.validation,
            "folds": self.folds,
            "grouped": self.grouped,
            "classes": list(self.classes),
            "notes": list(self.notes),
        }

    def top(self, k: int = TOP_K) -> list[list[tuple[str, float]]]:
        """Return, per pool clip, its ``k`` most probable labels with their probabilities."""
        order = np.argsort(-self.probabilities, axis=1, kind="stable")[:, :k]
        return [
            [(self.classes[j], round(float(p[j]), 4)) for j in row]
            for row, p in zip(order.tolist(), self.probabilities, strict=True)
        ]


def label_issues(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return cleanlab's label issues: (is_issue mask, suspect scores, ranking).

    Parameters
    ----------
    labels : np.ndarray [shape=(n,)]
        Given labels as class indices.
    probabilities : np.ndarray [shape=(n, k)]
        Out-of-sample predicted probabilities.

    Returns
    -------
    is_issue : np.ndarray of bool
    score : np.ndarray of float
        ``1 - self-confidence`` (:func:`cleanlab.rank.get_label_quality_scores`).
    ranking : np.ndarray of int
        Issues first, ranked by self-confidence, then every other clip by score.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    n = len(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the scores stand
        issues = np.asarray(
            find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1),
            dtype=np.int64,
        )
        quality = np.asarray(get_label_quality_scores(labels, probabilities, method="self_confidence"))
    score = 1.0 - quality
    mask = np.zeros(n, bool)
    mask[issues] = True
    rest = np.flatnonzero(~mask)
    rest = rest[np.argsort(-score[rest], kind="stable")]
    return mask, score, np.concatenate([issues, rest])


def _proba_all(pipe: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Return ``predict_proba`` with one column per class, even for classes the fit lacked."""
    p = pipe.predict_proba(x)
    if p.shape[1] == n_classes:
        return np.asarray(p)
    out = np.zeros((len(x), n_classes))
    out[:, pipe.classes_] = p
    return out


def fit_and_score(
    x: np.ndarray,
    labels: Sequence[str],
    splits: Sequence[str | None],
    *,
    groups: Sequence[Any] | None = None,
    model: str = "logreg",
    params: Mapping[str, Any] | None = None,
    n_splits: int = DEFAULT_FOLDS,
    n_jobs: int = 1,
) -> ModelResult:
    """Cross-validate on the train split, score on the validation split, find label suspects.

    Clips of the test split are ignored (pass them or not: they are never used). A clip
    without a split counts as train.

    Parameters
    ----------
    x : np.ndarray [shape=(n, d)]
        Feature summaries, one row per clip (NaN cells are imputed).
    labels : sequence of str
        Each clip's label.
    splits : sequence of str or None
        Each clip's split.
    groups : sequence, optional
        Each clip's speaker (None when unknown). With any speaker known, folds are grouped.
    model, params
        See :func:`build_pipeline`.
    n_splits : int
        Folds wanted (fewer when a class or the speakers are too few).
    n_jobs : int
        Folds fitted in parallel.

    Returns
    -------
    ModelResult
    """
    from sklearn.model_selection import cross_val_predict

    x = np.asarray(x, dtype=np.float64)
    labs = np.asarray([str(v) for v in labels], dtype=object)
    sp = np.asarray([s if s is not None else "train" for s in splits], dtype=object)
    if x.ndim != 2 or len(x) != len(labs) or len(sp) != len(labs):
        raise ValidationError("one row of features, one label and one split per clip are needed")
    if x.shape[1] == 0:
        raise ValidationError("choose at least one feature")
    train = np.flatnonzero(sp == "train")
    valid = np.flatnonzero(sp == "validation")
    if len(train) == 0:
        raise ValidationError("the train split has no labelled clips with features")
    classes = sorted(set(labs[train].tolist()))
    index = {c: i for i, c in enumerate(classes)}
    notes = []
    unseen = sorted(set(labs[valid].tolist()) - set(classes))
    if unseen:
        notes.append(f"validation labels absent from train (never predicted): {', '.join(unseen)}")
    g_all = _groups(groups, len(labs)) if groups is not None else None
    g_train = None if g_all is None else g_all[train]
    y_train = np.array([index[c] for c in labs[train]], dtype=np.int64)
    cv, k = choose_folds(labs[train], g_train, n_splits=n_splits)
    if k < n_splits:
        notes.append(f"{k} folds instead of {n_splits}: the smallest label (or the speakers) allow no more")
    pipe = build_pipeline(model, params)
    with warnings.catch_warnings():
        # A fold may lack a rare class (sklearn fills its column with 0) or stop short of
        # convergence; the run's scores say how good the model is.
        warnings.simplefilter("ignore")
        p_train = cross_val_predict(
            pipe, x[train], y_train, groups=g_train, cv=cv, method="predict_proba", n_jobs=n_jobs
        )
        final = build_pipeline(model, params).fit(x[train], y_train)
        p_valid = _proba_all(final, x[valid], len(classes)) if len(valid) else np.zeros((0, len(classes)))
    cv_scores = classification_scores(
        labs[train], np.asarray(classes, dtype=object)[p_train.argmax(axis=1)], classes
    )
    val_scores = None
    if len(valid):
        val_scores = classification_scores(
            labs[valid], np.asarray(classes, dtype=object)[p_valid.argmax(axis=1)], classes
        )
    # Suspects among the clips whose label the model knows (a validation label absent from
    # train has no probability column and cannot be judged).
    pool = np.concatenate([train, valid[np.isin(labs[valid], classes)]])
    probs = np.vstack([p_train, p_valid[np.isin(labs[valid], classes)]])
    given = np.array([index[c] for c in labs[pool]], dtype=np.int64)
    is_issue, score, ranking = label_issues(given, probs)
    return ModelResult(
        classes=classes,
        folds=k,
        grouped=g_train is not None,
        cv=cv_scores,
        validation=val_scores,
        pool=pool,
        probabilities=probs,
        score=score,
        suggested=probs.argmax(axis=1),
        is_issue=is_issue,
        ranking=ranking,
        notes=notes,
    )


def score_split(
    x_train: np.ndarray,
    labels_train: Sequence[str],
    x_eval: np.ndarray,
    labels_eval: Sequence[str],
    *,
    model: str = "logreg",
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit on the train clips and score on another split's clips (the test split, when asked).

    Returns
    -------
    dict
        As :func:`classification_scores`, over the labels of the train clips.
    """
    y_train = np.asarray([str(v) for v in labels_train], dtype=object)
    y_eval = np.asarray([str(v) for v in labels_eval], dtype=object)
    if len(y_train) == 0 or len(set(y_train.tolist())) < 2:
        raise ValidationError("a model needs at least two labels in the train split")
    if len(y_eval) == 0:
        raise ValidationError("the split to score has no labelled clips with features")
    classes = sorted(set(y_train.tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = build_pipeline(model, params).fit(np.asarray(x_train, np.float64), y_train)
        pred = pipe.predict(np.asarray(x_eval, np.float64))
    return classification_scores(y_eval, np.asarray(pred, dtype=object), classes)


def nearest_of_label(
    x: np.ndarray, labels: Sequence[str], queries: np.ndarray, wanted: Sequence[str], *, k: int = TOP_K
) -> list[list[int]]:
    """Return, for each query row, the ``k`` nearest rows labelled as wanted (not itself).

    Distances are Euclidean in standardised feature space (each column centred and
    scaled over ``x``; missing cells at the column median).

    Parameters
    ----------
    x : np.ndarray [shape=(n, d)]
        Every candidate's features.
    labels : sequence of str
        Each row's label.
    queries : np.ndarray [shape=(m,)]
        Row indices of the clips to explain.
    wanted : sequence of str
        For each query, the label its neighbours must carry (the suggested label).
    k : int
        Neighbours per query.

    Returns
    -------
    list of list of int
        Row indices, nearest first.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(queries) == 0:
        return []
    missing = np.isnan(x)
    z = x
    if missing.any():
        med = np.nanmedian(np.where(missing.all(axis=0), 0.0, x), axis=0)
        z = np.where(missing, med, x)
    sd = z.std(axis=0)
    z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    labs = np.asarray([str(v) for v in labels], dtype=object)
    queries = np.asarray(queries, dtype=np.int64)
    want = np.asarray([str(v) for v in wanted], dtype=object)
    out: list[list[int]] = [[] for _ in range(len(queries))]
    z = z.astype(np.float32)  # distances to rank, not to report: single precision is enough
    sq = (z * z).sum(axis=1)
    for lab in sorted(set(want.tolist())):
        cand = np.flatnonzero(labs == lab)
        which = np.flatnonzero(want == lab)
        if len(cand) == 0:
            continue
        zc, sqc = z[cand], sq[cand]
        kk = min(k, len(cand))
        for start in range(0, len(which), 1024):
            qpos = which[start : start + 1024]
            rows = queries[qpos]
            d = sq[rows][:, None] + sqc[None, :] - 2.0 * (z[rows] @ zc.T)
            d[rows[:, None] == cand[None, :]] = np.inf  # never a clip's own neighbour
            part = np.argpartition(d, kk - 1, axis=1)[:, :kk] if kk < len(cand) else np.argsort(d, axis=1)
            near = np.take_along_axis(d, part, axis=1)
            order = np.argsort(near, axis=1, kind="stable")
            part = np.take_along_axis(part, order, axis=1)
            finite = np.isfinite(np.take_along_axis(near, order, axis=1))
            for qi, cols, ok in zip(qpos.tolist(), part.tolist(), finite.tolist(), strict=True):
                out[qi] = [int(cand[c]) for c, f in zip(cols, ok, strict=True) if f][:k]
    return out


def _families(features: Sequence[str], family_of: Mapping[str, str]) -> str:
    names = list(features)
    whole = []
    for fam in sorted({g for f in names if (g := family_of.get(f))}):
        members = [f for f, g in family_of.items() if g == fam]
        if members and set(members) <= set(names):
            names = [n for n in names if n not in members]
            whole.append(f"the {fam} family")
    return ", ".join([*whole, *names])


def describe_change(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    family_of: Mapping[str, str] | None = None,
    metric: str = "balanced_accuracy",
) -> str:
    """Say in one sentence how a run's score moved from an earlier one, and what changed.

    Parameters
    ----------
    before, after : mapping
        Each with ``features`` (ids), ``model`` and ``scores`` (as :meth:`ModelResult.scores`).
    family_of : mapping, optional
        Feature id -> family, so a whole family added reads "the rhythmic family".
    metric : str
        ``balanced_accuracy`` or ``accuracy``.

    Returns
    -------
    str
        e.g. "adding the rhythmic family raised validation balanced accuracy from 0.62 to 0.71".
    """
    fam = dict(family_of or {})
    b_feat, a_feat = list(before.get("features", [])), list(after.get("features", []))
    added = [f for f in a_feat if f not in b_feat]
    removed = [f for f in b_feat if f not in a_feat]
    parts = []
    if added:
        parts.append(f"adding {_families(added, fam)}")
    if removed:
        parts.append(f"removing {_families(removed, fam)}")
    if before.get("model") != after.get("model"):
        parts.append(f"switching from {before.get('model')} to {after.get('model')}")
    what = " and ".join(parts) if parts else "the same choices"

    def value(run: Mapping[str, Any]) -> tuple[str, float | None]:
        scores = run.get("scores") or {}
        val = scores.get("validation")
        if val and val.get(metric) is not None:
            return "validation", float(val[metric])
        cv = scores.get("cv") or {}
        return "cross-validated", (None if cv.get(metric) is None else float(cv[metric]))

    where_b, vb = value(before)
    where_a, va = value(after)
    name = metric.replace("_", " ")
    if vb is None or va is None:
        return f"{what}: no {name} to compare"
    where = where_a if where_a == where_b else "its"
    verb = "raised" if va > vb + 5e-4 else "lowered" if va < vb - 5e-4 else "left"
    if verb == "left":
        return f"{what} left {where} {name} at {va:.2f}"
    if not parts:
        return f"a refit on the same choices {verb} {where} {name} from {vb:.2f} to {va:.2f}"
    return f"{what} {verb} {where} {name} from {vb:.2f} to {va:.2f}"
