"""Model runs in the database: their scores, each clip's suspicion, and reviewers' decisions.

:class:`RunsMixin` records a classifier run with the suspicion of every clip it judged
(one transaction), lists the run history, hands a run's suspects back with each clip as
it is now, and records the decisions "keep the label" and "ambiguous". A decision holds
while the clip keeps that label and its audio (``content_hash``, and ``pcm_hash`` when
measured); it is written to the clip's history too, as a ``review`` row with its reason
(never undone: it changes nothing of the clip).

Suspects are kept for the latest :data:`KEEP_SUSPECTS` runs of a dataset; older runs keep
their scores (the history) and lose their per-clip rows.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, delete, insert, join, select, update

from ..errors import NotFoundError, ValidationError
from .columns import read_columns
from .engine import BaseStore
from .idset import ids_condition, validate_ids
from .measures import dataset_id
from .models import (
    MAX_NAME,
    Dataset,
    FeatureSummary,
    Label,
    ModelRun,
    ModelSuspect,
    Sample,
    SampleEdit,
    SuspectDecision,
)
from .queries import validate_reason, validate_reviewer
from .records import ModelRunRecord, SuspectRecord

__all__ = ["RunsMixin", "DECISIONS", "KEEP_SUSPECTS", "SUSPECT_COLUMNS"]

#: What a reviewer can decide about a suspect without changing its label.
DECISIONS: tuple[str, ...] = ("keep", "ambiguous")
#: Runs of a dataset whose per-clip suspects are kept.
KEEP_SUSPECTS = 3
#: The per-clip values :meth:`RunsMixin.save_model_run` takes, each one per judged clip.
SUSPECT_COLUMNS = ("sample_id", "label", "suggested", "score", "rank", "is_issue", "top3", "nearest")


def _json(value: Any, what: str) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be plain JSON values (no NaN): {exc}") from exc
    return value


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands times back naive (they are stored in UTC).
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _run_record(run: ModelRun, dataset: str) -> ModelRunRecord:
    created = _utc(run.created_at)
    assert created is not None  # NOT NULL column
    return ModelRunRecord(
        id=run.id,
        dataset=dataset,
        created_at=created,
        reviewer=run.reviewer,
        model=run.model,
        params=dict(run.params or {}),
        features=list(run.features or []),
        scores=dict(run.scores or {}),
        n_train=run.n_train,
        n_validation=run.n_validation,
        duration=float(run.duration),
        test_scores=None if run.test_scores is None else dict(run.test_scores),
        test_scored_at=_utc(run.test_scored_at),
        test_scored_by=run.test_scored_by,
    )


class RunsMixin(BaseStore):
    """Model-run methods of :class:`audiosoup_widgets.store.Store`."""

    def model_table(self, dataset: str) -> dict[str, np.ndarray | list[Any]]:
        """Return what a model needs of every clip: id, path, label, split, speaker, hashes.

        Returns
        -------
        dict
            ``sample_id`` (int array, ascending), ``path``, ``label``, ``split``,
            ``speaker``, ``content_hash``, ``pcm_hash`` (lists of str or None).
        """
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            return read_columns(
                sess,
                [
                    ("sample_id", Sample.id, "int"),
                    ("path", Sample.path, "text"),
                    ("label", Label.name, "text"),
                    ("split", Sample.split, "text"),
                    ("speaker", Sample.speaker, "text"),
                    ("content_hash", Sample.content_hash, "text"),
                    ("pcm_hash", Sample.pcm_hash, "text"),
                ],
                froms=join(Sample, Label, Label.id == Sample.label_id, isouter=True),
                where=(Sample.dataset_id == ds_id,),
            )

    def stored_features(self, dataset: str) -> list[tuple[str, str]]:
        """Return the (feature, parameter key) pairs with stored summaries in ``dataset``."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            rows = sess.execute(
                select(FeatureSummary.feature, FeatureSummary.param_key)
                .join(Sample, Sample.id == FeatureSummary.sample_id)
                .where(Sample.dataset_id == ds_id, FeatureSummary.n_rows > 0)
                .distinct()
            ).all()
            return sorted((str(f), str(k)) for f, k in rows)

    def save_model_run(
        self,
        dataset: str,
        *,
        model: str,
        params: Mapping[str, Any],
        features: Sequence[str],
        scores: Mapping[str, Any],
        n_train: int,
        n_validation: int,
        duration: float,
        reviewer: str | None = None,
        suspects: Mapping[str, Sequence[Any]] | None = None,
    ) -> int:
        """Record a model run and the suspicion of every clip it judged; return the run's id.

        Parameters
        ----------
        dataset : str
        model : str
            ``logreg`` or ``forest`` (at most 16 characters).
        params, scores : mapping
            JSON values.
        features : sequence of str
            Feature ids the model used.
        n_train, n_validation : int
            Clips of each split used.
        duration : float
            Seconds.
        reviewer : str, optional
            Who ran it.
        suspects : mapping, optional
            The columns of :data:`SUSPECT_COLUMNS`, one value per judged clip: ``top3`` a list
            of ``[label, probability]``, ``nearest`` a list of ids or None; optionally
            ``probs``, each clip's probability of every class in the order of
            ``scores["classes"]`` (what the multi-annotator consensus needs).
        """
        if not isinstance(model, str) or not model or len(model) > 16:
            raise ValidationError("a model kind must be text of 1 to 16 characters")
        who = None if reviewer is None else validate_reviewer(reviewer)
        feats = [str(f) for f in features]
        values = {
            "model": model,
            "params": _json(dict(params), "model parameters"),
            "features": _json(feats, "model features"),
            "scores": _json(dict(scores), "model scores"),
            "n_train": int(n_train),
            "n_validation": int(n_validation),
            "duration": float(duration),
            "reviewer": who,
            "created_at": dt.datetime.now(dt.UTC),
        }
        rows = _suspect_rows(suspects or {})
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset, lock=True)
            run_id = sess.scalar(insert(ModelRun).values(dataset_id=ds_id, **values).returning(ModelRun.id))
            assert run_id is not None  # RETURNING of the row just inserted
            run_id = int(run_id)
            if rows and self.dialect == "postgresql":
                _copy_suspects(sess, run_id, rows)
            elif rows:
                sess.connection().execute(insert(ModelSuspect), [{**r, "run_id": run_id} for r in rows])
            keep = (
                select(ModelRun.id)
                .where(ModelRun.dataset_id == ds_id)
                .order_by(ModelRun.id.desc())
                .limit(KEEP_SUSPECTS)
            )
            older = select(ModelRun.id).where(ModelRun.dataset_id == ds_id, ModelRun.id.not_in(keep))
            sess.execute(delete(ModelSuspect).where(ModelSuspect.run_id.in_(older)))
            return run_id

    def model_runs(self, dataset: str) -> list[ModelRunRecord]:
        """Return the dataset's model runs, newest first (the run history)."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            runs = sess.scalars(
                select(ModelRun).where(ModelRun.dataset_id == ds_id).order_by(ModelRun.id.desc())
            ).all()
            return [_run_record(r, dataset) for r in runs]

    def get_model_run(self, run_id: int, *, dataset: str | None = None) -> ModelRunRecord:
        """Return one model run (of ``dataset``, when given) or raise :class:`NotFoundError`."""
        if isinstance(run_id, bool) or not isinstance(run_id, int) or not 0 < run_id < 2**31:
            raise ValidationError("a run is a positive whole number")
        with self.session() as sess:
            row = sess.execute(
                select(ModelRun, Dataset.name)
                .join(Dataset, Dataset.id == ModelRun.dataset_id)
                .where(ModelRun.id == run_id)
            ).first()
            if row is None or (dataset is not None and row[1] != dataset):
                where = f" of {dataset!r}" if dataset is not None else ""
                raise NotFoundError(f"no model run {run_id}{where}")
            return _run_record(row[0], row[1])

    def latest_model_run(self, dataset: str, *, with_suspects: bool = False) -> ModelRunRecord | None:
        """Return the dataset's newest run (with stored suspects, if asked), or None."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            q = select(ModelRun).where(ModelRun.dataset_id == ds_id)
            if with_suspects:
                q = q.where(select(ModelSuspect.run_id).where(ModelSuspect.run_id == ModelRun.id).exists())
            run = sess.scalars(q.order_by(ModelRun.id.desc()).limit(1)).first()
            return None if run is None else _run_record(run, dataset)

    def run_probabilities(self, run_id: int) -> tuple[np.ndarray, list[str], np.ndarray] | None:
        """Return the class probabilities a run stored: (sample ids, classes, probabilities).

        ``None`` when the run kept none (recorded before they were kept, or its suspects
        were dropped as an old run's). The probabilities are one row per id, one column
        per class (the order of the run's ``scores["classes"]``).
        """
        run = self.get_model_run(run_id)
        classes = [str(c) for c in run.scores.get("classes", [])]
        with self.session() as sess:
            rows = sess.execute(
                select(ModelSuspect.sample_id, ModelSuspect.probs)
                .where(ModelSuspect.run_id == run_id, ModelSuspect.probs.is_not(None))
                .order_by(ModelSuspect.sample_id)
            ).all()
        rows = [r for r in rows if r[1] is not None]  # a JSON null is not SQL NULL
        if not rows or not classes:
            return None
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        return ids, classes, np.asarray([r[1] for r in rows], dtype=np.float64)

    def save_test_scores(
        self, run_id: int, *, scores: Mapping[str, Any], reviewer: str | None = None
    ) -> None:
        """Record the scores of a run's model on the test split (the separate, asked-for step)."""
        who = None if reviewer is None else validate_reviewer(reviewer)
        values = _json(dict(scores), "test scores")
        with self.session() as sess:
            res = sess.execute(
                update(ModelRun)
                .where(ModelRun.id == run_id)
                .values(test_scores=values, test_scored_at=dt.datetime.now(dt.UTC), test_scored_by=who)
            )
            if not cast("CursorResult[Any]", res).rowcount:  # a DML result counts its rows
                raise NotFoundError(f"no model run {run_id}")

    def run_suspects(
        self,
        run_id: int,
        *,
        ids: Sequence[int] | None = None,
        issues_only: bool = True,
        include_reviewed: bool = False,
        include_stale: bool = False,
    ) -> list[SuspectRecord]:
        """Return a run's suspects with each clip as it is now, most suspicious first.

        Parameters
        ----------
        run_id : int
        ids : sequence of int, optional
            Only these clips (a page of cards).
        issues_only : bool
            Only cleanlab's label issues (the default), else every clip the run judged.
        include_reviewed : bool
            Also clips a reviewer kept or called ambiguous (their ``decision`` says so).
        include_stale : bool
            Also clips whose label changed since the run (an accepted suggestion).
        """
        where: list[Any] = [ModelSuspect.run_id == run_id]
        if issues_only:
            where.append(ModelSuspect.is_issue.is_(True))
        if ids is not None:
            id_list = validate_ids(ids)
            if not id_list:
                return []
            where.append(ids_condition(self.dialect, id_list))
        with self.session() as sess:
            rows = sess.execute(
                select(
                    ModelSuspect,
                    Sample.path,
                    Label.name,
                    Sample.content_hash,
                    Sample.pcm_hash,
                    Sample.dataset_id,
                )
                .join(Sample, Sample.id == ModelSuspect.sample_id)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(*where)
                .order_by(ModelSuspect.rank)
            ).all()
            if not rows:
                return []
            decided = _decisions(sess, rows[0][5], [r[0].sample_id for r in rows])
        out = []
        for s, path, label, chash, phash, _ in rows:
            decision = None
            d = decided.get(s.sample_id)
            if (
                d is not None
                and d[1] == label
                and d[2] == chash
                and (d[3] is None or phash is None or d[3] == phash)
            ):
                decision = d[0]
            if decision is not None and not include_reviewed:
                continue
            if label != s.label and not include_stale:
                continue
            out.append(
                SuspectRecord(
                    run_id=s.run_id,
                    sample_id=s.sample_id,
                    path=path,
                    label=s.label,
                    current_label=label,
                    suggested=s.suggested,
                    score=float(s.score),
                    rank=int(s.rank),
                    is_issue=bool(s.is_issue),
                    top3=tuple((str(a), float(b)) for a, b in (s.top3 or [])),
                    nearest=tuple(int(i) for i in (s.nearest or [])),
                    decision=decision,
                )
            )
        return out

    def record_decision(
        self,
        sample_id: int,
        *,
        decision: str,
        reviewer: str,
        reason: str | None = None,
        run_id: int | None = None,
    ) -> None:
        """Record "keep the label" or "ambiguous" about a suspect, in its history too.

        The decision is about the clip's current label and audio: it stops being a suspect
        for that label until either changes.

        Raises
        ------
        ValidationError
            An unknown decision, a missing reviewer, a clip without a label.
        NotFoundError
            No such clip.
        """
        if decision not in DECISIONS:
            raise ValidationError(f"unknown decision {decision!r}; choose one of {', '.join(DECISIONS)}")
        who = validate_reviewer(reviewer)
        why = validate_reason(reason)
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            row = sess.execute(
                select(Sample, Label.name)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.id == sample_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no sample with id {sample_id}")
            sample, label = row
            if label is None:
                raise ValidationError("this clip has no label to keep")
            sess.execute(
                insert(SuspectDecision).values(
                    dataset_id=sample.dataset_id,
                    sample_id=sample.id,
                    run_id=run_id,
                    label=label[:MAX_NAME],
                    decision=decision,
                    reviewer=who,
                    at=now,
                    reason=why,
                    content_hash=sample.content_hash,
                    pcm_hash=sample.pcm_hash,
                )
            )
            sess.add(
                SampleEdit(
                    sample_id=sample.id,
                    reviewer=who,
                    at=now,
                    field="suspect",
                    old=label,
                    new=decision,
                    version=sample.version,
                    kind="review",
                    reason=why,
                )
            )


def _decisions(sess: Any, ds_id: int, ids: Sequence[int]) -> dict[int, tuple[str, str, str, str | None]]:
    """Return each clip's latest decision: (decision, label, content hash, PCM hash)."""
    q = (
        select(
            SuspectDecision.sample_id,
            SuspectDecision.decision,
            SuspectDecision.label,
            SuspectDecision.content_hash,
            SuspectDecision.pcm_hash,
        )
        .where(SuspectDecision.dataset_id == ds_id)
        .order_by(SuspectDecision.id)
    )
    if len(ids) <= 500:
        q = q.where(SuspectDecision.sample_id.in_(list(ids)))
    out: dict[int, tuple[str, str, str, str | None]] = {}
    for sid, dec, lab, ch, ph in sess.execute(q):
        out[sid] = (dec, lab, ch, ph)  # the latest wins
    return out


def _csv(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _copy_suspects(sess: Any, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """COPY a run's suspects inside the session's transaction (100,000 rows in a second or two)."""
    lines = [
        f"{run_id},{r['sample_id']},{_csv(r['label'])},{_csv(r['suggested'])},{r['score']!r},{r['rank']},"
        f"{'t' if r['is_issue'] else 'f'},{_csv(json.dumps(r['top3']))},"
        f"{'' if r['nearest'] is None else _csv(json.dumps(r['nearest']))},"
        f"{'' if r['probs'] is None else _csv(json.dumps(r['probs']))}\n"
        for r in rows
    ]
    raw = sess.connection().connection.dbapi_connection
    assert raw is not None  # a checked-out connection
    cur = raw.cursor()
    try:
        cur.copy_expert(
            "COPY model_suspects (run_id, sample_id, label, suggested, score, rank, is_issue, top3, nearest, "
            "probs) FROM STDIN WITH (FORMAT csv)",
            io.StringIO("".join(lines)),
        )
    finally:
        cur.close()


def _suspect_rows(columns: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not columns:
        return []
    missing = [c for c in SUSPECT_COLUMNS if c not in columns]
    if missing:
        raise ValidationError(f"suspects lack {', '.join(missing)}")
    n = len(columns["sample_id"])
    if any(len(columns[c]) != n for c in SUSPECT_COLUMNS):
        raise ValidationError("every suspect column needs one value per clip")
    ids = validate_ids(columns["sample_id"])
    score = np.asarray(columns["score"], dtype=np.float64)
    if not np.isfinite(score).all():
        raise ValidationError("suspect scores must be finite")
    probs: Sequence[Any] = [None] * n
    if columns.get("probs") is not None:
        matrix = np.asarray(columns["probs"], dtype=np.float64)
        if matrix.ndim != 2 or len(matrix) != n or not np.isfinite(matrix).all():
            raise ValidationError("suspect probabilities need one finite row per clip")
        # Four decimals: the consensus needs no more, and a row of JSON stays short.
        probs = np.round(matrix, 4).tolist()
    return [
        {
            "sample_id": sid,
            "label": str(lab)[:MAX_NAME],
            "suggested": str(sug)[:MAX_NAME],
            "score": float(sc),
            "rank": int(rk),
            "is_issue": bool(iss),
            "top3": [[str(a), float(b)] for a, b in top],
            "nearest": None if near is None else [int(i) for i in near],
            "probs": prob,
        }
        for sid, lab, sug, sc, rk, iss, top, near, prob in zip(
            ids,
            columns["label"],
            columns["suggested"],
            score.tolist(),
            columns["rank"],
            columns["is_issue"],
            columns["top3"],
            columns["nearest"],
            probs,
            strict=True,
        )
    ]
