"""The current label suspects of a model run as SQL, for filtering and sorting sample queries.

:func:`current_suspects` is the SQL twin of what
:meth:`~audiosoup_widgets.store.runs.RunsMixin.run_suspects` hands back by default: the
run's label issues whose clip still has the label the run judged, and whose latest
reviewer decision (keep, ambiguous) does not hold for its current label and audio. It is
a subquery of (sample id, score) that a sample query joins (to sort by suspicion) or
filters by (suspects only), so a page of 100,000 clips is still one query. The run's id
travels as a bound parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from .models import Label, ModelRun, ModelSuspect, Sample, SuspectDecision

__all__ = ["current_suspects", "latest_suspects_run", "only_suspects", "by_suspicion"]


def latest_suspects_run(sess: Session, ds_id: int) -> int | None:
    """Return the id of the dataset's newest model run with stored suspects, or None."""
    has_suspects = select(ModelSuspect.run_id).where(ModelSuspect.run_id == ModelRun.id).exists()
    run_id = sess.scalar(
        select(ModelRun.id)
        .where(ModelRun.dataset_id == ds_id, has_suspects)
        .order_by(ModelRun.id.desc())
        .limit(1)
    )
    return None if run_id is None else int(run_id)


def current_suspects(run_id: int) -> Select[int, float]:
    """Return ``SELECT sample_id, score`` of the run's current suspects.

    Parameters
    ----------
    run_id : int
        The model run (bound as a parameter).

    Returns
    -------
    Select
        Uncorrelated (its own aliases of the samples and labels), so it can sit in a
        sample query's ``FROM`` or ``IN``.
    """
    sample = aliased(Sample)
    label = aliased(Label)
    decision = aliased(SuspectDecision)
    later = aliased(SuspectDecision)
    latest_id = select(func.max(later.id)).where(later.sample_id == decision.sample_id).scalar_subquery()
    holds = (
        select(decision.id)
        .where(
            decision.sample_id == sample.id,
            decision.id == latest_id,
            decision.label == label.name,
            decision.content_hash == sample.content_hash,
            or_(
                decision.pcm_hash.is_(None),
                sample.pcm_hash.is_(None),
                decision.pcm_hash == sample.pcm_hash,
            ),
        )
        .exists()
    )
    return (
        select(ModelSuspect.sample_id.label("sample_id"), ModelSuspect.score.label("score"))
        .join(sample, sample.id == ModelSuspect.sample_id)
        .join(label, and_(label.id == sample.label_id, label.name == ModelSuspect.label))
        .where(ModelSuspect.run_id == run_id, ModelSuspect.is_issue.is_(True), ~holds)
        .correlate(None)
    )


def only_suspects(sess: Session, ds_id: int) -> ColumnElement[bool]:
    """Return the condition "a current suspect of the dataset's latest run" (false without a run)."""
    run_id = latest_suspects_run(sess, ds_id)
    if run_id is None:
        return false()
    suspects = current_suspects(run_id).subquery()
    return Sample.id.in_(select(suspects.c.sample_id))


def by_suspicion(sess: Session, ds_id: int, ids_q: Select[Any], *, descending: bool) -> Select[Any]:
    """Order a query of sample ids by the latest run's suspicion (clips not suspected last).

    Ties (and every clip, without a run) go by id, in the same direction.
    """
    by_id = Sample.id.desc() if descending else Sample.id.asc()
    run_id = latest_suspects_run(sess, ds_id)
    if run_id is None:
        return ids_q.order_by(by_id)
    scores = current_suspects(run_id).subquery()
    score = func.coalesce(scores.c.score, -1.0)
    return ids_q.outerjoin(scores, scores.c.sample_id == Sample.id).order_by(
        score.desc() if descending else score.asc(), by_id
    )
