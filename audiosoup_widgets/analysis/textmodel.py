"""What text vectors say: nearest texts to a query, and the label a clip's words suggest.

* :func:`top_matches`: the rows of a unit-vector matrix most similar to a query vector
  (one matrix-vector product, a partial sort of the best);
* :func:`text_consistency`: a logistic regression on text embeddings, cross-validated
  (folds grouped by speaker when known, as :mod:`.model` does), predicts each clip's
  label from its transcript and notes; a clip whose prediction differs from its label
  with at least :data:`MIN_CONFIDENCE` is one the text disagrees with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ValidationError
from .model import DEFAULT_FOLDS, MIN_PER_CLASS, SEED, _groups, choose_folds

__all__ = ["MIN_CONFIDENCE", "TextConsistency", "text_consistency", "top_matches"]

#: A text prediction must be at least this probable to count as disagreeing with a label.
MIN_CONFIDENCE = 0.6


def top_matches(
    matrix: npt.NDArray[np.float32],
    query: npt.NDArray[np.float32],
    *,
    k: int,
    keep: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Return the rows of ``matrix`` most similar to ``query``, best first.

    Parameters
    ----------
    matrix : ndarray, shape (n, d)
        Unit-length rows.
    query : ndarray, shape (d,)
        A unit-length vector.
    k : int
        How many (at most ``n``, or the rows kept).
    keep : ndarray of bool, shape (n,), optional
        Only these rows may match (the others, texts without words, never do).

    Returns
    -------
    rows : ndarray of int64
    scores : ndarray of float32
        Cosine similarities, descending; ties by row.
    """
    if k < 0:
        raise ValidationError("k must be 0 or more")
    n = matrix.shape[0]
    k = min(k, n if keep is None else int(np.count_nonzero(keep)))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = matrix @ query.astype(np.float32, copy=False)
    if keep is not None:
        scores[~keep] = -np.inf
    best = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    order = np.lexsort((best, -scores[best]))
    rows = best[order].astype(np.int64)
    return rows, scores[rows].astype(np.float32)


@dataclass(frozen=True)
class TextConsistency:
    """Each clip's label as its text predicts it (out of fold).

    Attributes
    ----------
    suggested : ndarray of object, shape (n,)
        The most probable label, None where the clip was left out (no text, or a label
        with fewer than two texts).
    confidence : ndarray of float64, shape (n,)
        Its probability (NaN where left out).
    disagrees : ndarray of bool, shape (n,)
        The suggestion differs from the label with at least ``min_confidence``.
    classes : tuple of str
        The labels the model knew.
    n_folds : int
    grouped : bool
        Folds grouped by speaker.
    """

    suggested: npt.NDArray[np.object_]
    confidence: npt.NDArray[np.float64]
    disagrees: npt.NDArray[np.bool_]
    classes: tuple[str, ...]
    n_folds: int
    grouped: bool


def text_consistency(
    vectors: npt.NDArray[np.float32],
    labels: Sequence[str | None],
    *,
    speakers: Sequence[Any] | None = None,
    has_text: npt.NDArray[np.bool_] | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    n_splits: int = DEFAULT_FOLDS,
) -> TextConsistency:
    """Predict each clip's label from its text embedding, out of fold, and flag disagreements.

    Parameters
    ----------
    vectors : ndarray, shape (n, d)
        Text embeddings.
    labels : sequence of str or None
        Each clip's label (None: left out).
    speakers : sequence, optional
        Each clip's speaker (None where unknown): folds keep a speaker's clips together.
    has_text : ndarray of bool, optional
        Clips with some text (others are left out: an empty text predicts nothing).
    min_confidence : float
        Probability a disagreeing prediction needs.
    n_splits : int
        Folds (fewer when the smallest label or the speakers are fewer).

    Raises
    ------
    ValidationError
        Fewer than two labels with at least two texts each.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    n = len(labels)
    if vectors.shape[0] != n:
        raise ValidationError("one label per text vector is needed")
    if not 0.0 <= min_confidence <= 1.0:
        raise ValidationError("the confidence threshold must be between 0 and 1")
    lab = np.array([("" if v is None else str(v)) for v in labels], dtype=object)
    use = lab != ""
    if has_text is not None:
        use &= np.asarray(has_text, bool)
    names, counts = np.unique(lab[use].astype(str), return_counts=True)
    use &= np.isin(lab, names[counts >= MIN_PER_CLASS])
    rows = np.flatnonzero(use)
    y = lab[rows].astype(str)
    groups = _groups(None if speakers is None else [speakers[i] for i in rows.tolist()], len(rows))
    if groups is not None and len(np.unique(groups)) < 2:
        groups = None
    splitter, k = choose_folds(y, groups, n_splits=n_splits)
    clf = LogisticRegression(C=10.0, max_iter=1000, random_state=SEED)
    proba = cross_val_predict(
        clf, vectors[rows], y, cv=splitter, groups=groups, method="predict_proba", n_jobs=1
    )
    classes = np.unique(y)
    best = proba.argmax(axis=1)
    suggested = np.full(n, None, dtype=object)
    confidence = np.full(n, np.nan)
    suggested[rows] = classes[best]
    confidence[rows] = proba[np.arange(len(rows)), best]
    disagrees = np.zeros(n, bool)
    disagrees[rows] = (classes[best] != y) & (confidence[rows] >= min_confidence)
    return TextConsistency(
        suggested, confidence, disagrees, tuple(map(str, classes)), int(k), groups is not None
    )
