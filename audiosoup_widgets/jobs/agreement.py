"""How far a dataset's reviewers agree (agreement): the votes read, measured, and weighed by a model.

The reviewers' current votes are read from the store and measured by
:mod:`audiosoup_widgets.analysis.agreement` (nominal Krippendorff's alpha, per-class
agreement, each clip's vote distribution and majority label). When the dataset's latest
model run kept its class probabilities, cleanlab's multi-annotator consensus of the clips
it judged comes too (a consensus that weighs each reviewer and the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from .compute import open_store

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["AgreementReport", "agreement"]


@dataclass(frozen=True)
class AgreementReport:
    """The reviewers' agreement on one dataset's labels.

    Attributes
    ----------
    dataset : str
    alpha : float or None
        Nominal Krippendorff's alpha over every clip with two or more votes (None when
        undefined: no such clip, or a single label among them).
    per_class : dict
        Per label: among pairs of votes on one clip where at least one is the label, the
        share where both are (None when no pair touches it).
    observed : float or None
        The share of all pairs of votes on one clip that agree.
    n_items, n_votes, n_reviewers, n_multi, n_disputed : int
        Clips with votes, votes, reviewers, clips with two or more votes, clips whose
        votes hold two or more labels.
    distribution : dict
        Per clip id, its votes per label, most first.
    consensus : dict
        Per clip id, its majority label; ``None`` for a tie (unresolved).
    run_id : int or None
        The model run whose probabilities weighed the consensus below (None: no run, or
        none that kept them).
    model_consensus, model_quality : dict or None
        Per clip id the model run judged, cleanlab's consensus label and its quality
        score (0 to 1).
    notes : list of str
        What was left out and why, one sentence each.
    """

    dataset: str
    alpha: float | None
    per_class: dict[str, float | None]
    observed: float | None
    n_items: int
    n_votes: int
    n_reviewers: int
    n_multi: int
    n_disputed: int
    distribution: dict[int, dict[str, int]] = field(default_factory=dict)
    consensus: dict[int, str | None] = field(default_factory=dict)
    run_id: int | None = None
    model_consensus: dict[int, str] | None = None
    model_quality: dict[int, float] | None = None
    notes: list[str] = field(default_factory=list)


def agreement(dataset: str, *, db: Store | str | None = None) -> AgreementReport:
    """Return how far the reviewers of ``dataset`` agree, with a consensus label per clip.

    Parameters
    ----------
    dataset : str
        Dataset name.
    db : str or Store, optional
        Database URL or an open store (default: the configured store).

    Returns
    -------
    AgreementReport

    Raises
    ------
    NotFoundError
        No such dataset.
    """
    from ..analysis.agreement import agreement as measure
    from ..analysis.agreement import multiannotator_consensus

    store = open_store(db)
    votes = store.vote_table(dataset)
    a = measure(votes)
    notes: list[str] = []
    run_id = model_consensus = model_quality = None
    run = store.latest_model_run(dataset, with_suspects=True)
    if votes and run is not None:
        stored = store.run_probabilities(run.id)
        if stored is None:
            notes.append(
                f"model run {run.id} kept no class probabilities; fit the model again to weigh votes"
            )
        else:
            ids, classes, probs = stored
            by_id = {int(i): row for i, row in zip(ids.tolist(), probs, strict=True)}
            cons = multiannotator_consensus(votes, by_id, classes)
            if cons is None:
                notes.append(f"model run {run.id} judged none of the voted clips")
            else:
                run_id = run.id
                model_consensus = {cast(int, k): v for k, v in cons.label.items()}
                model_quality = {cast(int, k): v for k, v in cons.quality.items()}
                if cons.n_left_out:
                    notes.append(
                        f"model run {run.id} did not judge {cons.n_left_out:,} of the voted clips "
                        "(test split, no features, or only labels it does not know)"
                    )
    return AgreementReport(
        dataset=dataset,
        alpha=a.alpha,
        per_class=a.per_class,
        observed=a.observed,
        n_items=a.n_items,
        n_votes=a.n_votes,
        n_reviewers=a.n_reviewers,
        n_multi=a.n_multi,
        n_disputed=a.n_disputed,
        distribution={cast(int, k): v for k, v in a.distribution.items()},
        consensus={cast(int, k): v for k, v in a.consensus.items()},
        run_id=run_id,
        model_consensus=model_consensus,
        model_quality=model_quality,
        notes=notes,
    )
