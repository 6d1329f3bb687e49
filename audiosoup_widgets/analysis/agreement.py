"""How far reviewers agree on labels: vote distributions, Krippendorff's alpha, per-class agreement.

The input is a plain list of votes ``(item, reviewer, label)``, one current vote per
reviewer and item (the store keeps no more). Nothing here reads a database.

* :func:`vote_distribution` and :func:`majority_label`: an item's votes per label and
  its majority label (a tie, or no vote, leaves it ``None``: unresolved);
* :func:`krippendorff_alpha`: nominal Krippendorff's alpha of all the votes, from the
  ``krippendorff`` package (items with a single vote carry no pair and do not count);
* :func:`per_class_agreement`: for each class, among the pairs of votes on the same item
  in which at least one vote is that class, the share in which both are. Every unordered
  pair of two reviewers' votes on one item counts once, so an item with ``m`` votes brings
  ``m (m - 1) / 2`` pairs. With ``n_c`` votes for class ``c`` on an item, it adds
  ``n_c (n_c - 1) / 2`` pairs where both are ``c`` and ``m (m - 1) / 2 - (m - n_c)(m - n_c - 1) / 2``
  where at least one is. (This is the Jaccard form; the "specific agreement" of
  Fleiss, ``2a / (2a + b + c)``, counts the same pairs differently.) A class no pair
  touches has ``None``;
* :func:`multiannotator_consensus`: cleanlab's consensus label of each item from the
  votes and a model's out-of-sample class probabilities
  (:func:`cleanlab.multiannotator.get_label_quality_multiannotator`).
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Agreement",
    "Consensus",
    "agreement",
    "krippendorff_alpha",
    "majority_label",
    "multiannotator_consensus",
    "per_class_agreement",
    "vote_distribution",
]

Vote = tuple[Hashable, str, str]


def vote_distribution(labels: Sequence[str]) -> dict[str, int]:
    """Return how many votes each label has, most votes first (ties by label)."""
    counts = Counter(labels)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def majority_label(labels: Sequence[str]) -> str | None:
    """Return the label with the most votes; ``None`` for a tie at the top or no votes."""
    ranked = Counter(labels).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _by_item(votes: Sequence[Vote]) -> dict[Hashable, dict[str, str]]:
    """Group votes by item: {item: {reviewer: label}}; a reviewer's later vote wins."""
    items: dict[Hashable, dict[str, str]] = defaultdict(dict)
    for item, reviewer, label in votes:
        items[item][reviewer] = label
    return dict(items)


def krippendorff_alpha(votes: Sequence[Vote]) -> float | None:
    """Return nominal Krippendorff's alpha of the votes, or ``None`` when it is undefined.

    It is undefined without two votes on one item, or when every vote is the same label
    (no expected disagreement).

    Parameters
    ----------
    votes : sequence of (item, reviewer, label)
    """
    import krippendorff

    items = _by_item(votes)
    pairable = [v for v in items.values() if len(v) >= 2]
    classes = sorted({lab for v in pairable for lab in v.values()})
    if not pairable or len(classes) < 2:
        return None
    reviewers = sorted({r for v in pairable for r in v})
    col = {r: j for j, r in enumerate(reviewers)}
    code = {c: float(i) for i, c in enumerate(classes)}
    data = np.full((len(reviewers), len(pairable)), np.nan)
    for u, v in enumerate(pairable):
        for r, lab in v.items():
            data[col[r], u] = code[lab]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _pairs(m: int) -> int:
    return m * (m - 1) // 2


def per_class_agreement(votes: Sequence[Vote]) -> dict[str, float | None]:
    """Return, per class, the share of vote pairs touching it in which both votes are it.

    See the module's docstring for the exact definition. Classes are every label voted
    for; a class whose votes all sit alone on their items has ``None``.
    """
    both: Counter[str] = Counter()
    touching: Counter[str] = Counter()
    classes: set[str] = set()
    for v in _by_item(votes).values():
        labels = list(v.values())
        classes.update(labels)
        m = len(labels)
        for c, n_c in Counter(labels).items():
            both[c] += _pairs(n_c)
            touching[c] += _pairs(m) - _pairs(m - n_c)
    return {c: (both[c] / touching[c] if touching[c] else None) for c in sorted(classes)}


@dataclass(frozen=True)
class Agreement:
    """The agreement of a set of votes.

    Attributes
    ----------
    alpha : float or None
        Nominal Krippendorff's alpha (None when undefined).
    per_class : dict
        Per-class agreement (:func:`per_class_agreement`).
    observed : float or None
        The share of all vote pairs on one item that agree (None without a pair).
    n_items, n_votes, n_reviewers : int
        Items with at least one vote, votes, reviewers.
    n_multi : int
        Items with two or more votes (those alpha and the pairs use).
    n_disputed : int
        Items whose votes hold two or more labels.
    distribution : dict
        Per item, its votes per label (:func:`vote_distribution`).
    consensus : dict
        Per item, its majority label (None: a tie, unresolved).
    """

    alpha: float | None
    per_class: dict[str, float | None]
    observed: float | None
    n_items: int
    n_votes: int
    n_reviewers: int
    n_multi: int
    n_disputed: int
    distribution: dict[Hashable, dict[str, int]] = field(default_factory=dict)
    consensus: dict[Hashable, str | None] = field(default_factory=dict)


def agreement(votes: Sequence[Vote]) -> Agreement:
    """Return every agreement measure of ``votes`` (item, reviewer, label)."""
    items = _by_item(votes)
    agree = total = 0
    for v in items.values():
        counts = Counter(v.values())
        agree += sum(_pairs(n) for n in counts.values())
        total += _pairs(len(v))
    return Agreement(
        alpha=krippendorff_alpha(votes),
        per_class=per_class_agreement(votes),
        observed=agree / total if total else None,
        n_items=len(items),
        n_votes=sum(len(v) for v in items.values()),
        n_reviewers=len({r for v in items.values() for r in v}),
        n_multi=sum(1 for v in items.values() if len(v) >= 2),
        n_disputed=sum(1 for v in items.values() if len(set(v.values())) >= 2),
        distribution={i: vote_distribution(list(v.values())) for i, v in items.items()},
        consensus={i: majority_label(list(v.values())) for i, v in items.items()},
    )


@dataclass(frozen=True)
class Consensus:
    """cleanlab's multi-annotator consensus of the items a model judged.

    Attributes
    ----------
    label : dict
        Per item, the consensus label.
    quality : dict
        Per item, cleanlab's consensus quality score (0 to 1, higher: more trustworthy).
    agreement : dict
        Per item, the share of its votes that equal the consensus label.
    n_left_out : int
        Items with votes but no model probabilities, or whose only votes are labels the
        model does not know (not judged).
    """

    label: dict[Hashable, str]
    quality: dict[Hashable, float]
    agreement: dict[Hashable, float]
    n_left_out: int = 0


def multiannotator_consensus(
    votes: Sequence[Vote], pred_probs: Mapping[Any, Sequence[float] | np.ndarray], classes: Sequence[str]
) -> Consensus | None:
    """Return cleanlab's consensus labels of the voted items that have model probabilities.

    Parameters
    ----------
    votes : sequence of (item, reviewer, label)
    pred_probs : mapping
        Per item, its out-of-sample probability of each class (in the order of ``classes``).
    classes : sequence of str
        The model's classes. Votes for other labels are left out.

    Returns
    -------
    Consensus or None
        ``None`` when no voted item has probabilities.
    """
    from cleanlab.multiannotator import get_label_quality_multiannotator

    code = {c: i for i, c in enumerate(classes)}
    items = _by_item([v for v in votes if v[2] in code])
    all_items = set(_by_item(votes))
    kept = [i for i in sorted(items, key=repr) if i in pred_probs]
    if not kept:
        return None
    reviewers = sorted({r for i in kept for r in items[i]})
    col = {r: j for j, r in enumerate(reviewers)}
    labels = np.full((len(kept), len(reviewers)), np.nan)
    for row, i in enumerate(kept):
        for r, lab in items[i].items():
            labels[row, col[r]] = code[lab]
    probs = np.asarray([pred_probs[i] for i in kept], dtype=np.float64)
    if probs.shape[1] != len(classes):
        raise ValueError("each item needs one probability per class")
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about annotators with few labels
        result: dict[str, Any] = get_label_quality_multiannotator(
            pd.DataFrame(labels, columns=reviewers),
            probs,
            return_detailed_quality=False,
            return_annotator_stats=False,
            verbose=False,
        )
    q = result["label_quality"]
    return Consensus(
        label={i: str(classes[int(c)]) for i, c in zip(kept, q["consensus_label"], strict=True)},
        quality={i: float(s) for i, s in zip(kept, q["consensus_quality_score"], strict=True)},
        agreement={i: float(a) for i, a in zip(kept, q["annotator_agreement"], strict=True)},
        n_left_out=len(all_items) - len(kept),
    )
