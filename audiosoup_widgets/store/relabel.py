"""Bulk relabel: one label for many samples, one history row each, undone as one batch.

A bulk change is a handful of set-based statements, whatever the number of samples:
the ids travel as one bound parameter (:func:`~.idset.ids_condition`), the history
rows are written by one ``INSERT ... SELECT`` and the samples by one ``UPDATE``.
Every changed sample gets its own history row (field ``label``, old and new value,
reviewer, time, the reason) carrying the batch id the whole change shares, and its
optimistic-concurrency ``version`` is bumped as a single edit bumps it, so an editor
still holding the old version gets a conflict rather than overwriting.

The conflict rule needs no per-sample versions from the caller (a selection of
100,000 clips knows only their ids): the caller passes when the selection was made,
and a sample saved after that time by another reviewer counts as changed since; it is
skipped and reported, never overwritten. The undo of a batch reverts every sample
whose version is still the one the batch wrote; a sample edited again since is
reported and left alone (the rule of a single undo).

On PostgreSQL the samples' rows are locked first (``FOR UPDATE``), so no writer slips
in between the statements; on SQLite the first statement of the transaction is a
write, which takes the database's one write lock before anything is read.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from .engine import BaseStore
from .idset import ids_condition, validate_ids
from .models import Label, Sample, SampleEdit
from .queries import _dataset_id, validate_label_name, validate_reviewer
from .records import BatchUndoRecord, RelabelRecord, SkippedSample

__all__ = ["RelabelMixin", "MAX_REASON", "validate_batch_id", "validate_reason"]

#: Longest reason a bulk change may carry.
MAX_REASON = 500
#: How many unknown ids an error message names.
_SHOWN_IDS = 5


def validate_reason(reason: str | None) -> str | None:
    """Return a cleaned reason (``None`` when empty) or raise :class:`ValidationError`."""
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise ValidationError("the reason must be text")
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise ValidationError(f"reason longer than {MAX_REASON} characters")
    return reason or None


def validate_batch_id(batch_id: object) -> str:
    """Return ``batch_id`` if it looks like a batch id (32 hex digits), else raise."""
    if (
        not isinstance(batch_id, str)
        or len(batch_id) != 32
        or not all(c in "0123456789abcdef" for c in batch_id)
    ):
        raise ValidationError("invalid batch id")
    return batch_id


def _utc(when: dt.datetime) -> dt.datetime:
    if not isinstance(when, dt.datetime) or when.tzinfo is None:
        raise ValidationError("the selection time must be a timezone-aware datetime")
    return when.astimezone(dt.UTC)


def _json_text(dialect: str, value: str) -> Any:
    """Return a JSON string constant for an ``INSERT ... SELECT`` into a JSON column."""
    param = literal(json.dumps(value))
    return sql_cast(param, JSONB) if dialect == "postgresql" else param


def _json_of(dialect: str, column: Any) -> Any:
    """Return a text column as a JSON value (NULL stays empty)."""
    return func.to_jsonb(column) if dialect == "postgresql" else func.json_quote(column)


def _text_of(dialect: str, column: Any) -> Any:
    """Return the text inside a JSON string column."""
    if dialect == "postgresql":
        return column.op("#>>")(literal_column("'{}'"))
    return func.json_extract(column, "$")


def _skipped(rows: Iterable[Any]) -> tuple[SkippedSample, ...]:
    return tuple(SkippedSample(r.id, r.path, r.updated_by, r.updated_at) for r in rows)


class RelabelMixin(BaseStore):
    """Bulk relabel methods of :class:`audiosoup_widgets.store.Store`."""

    def label_counts(self, dataset: str, ids: Iterable[int]) -> dict[str | None, int]:
        """Return how many of ``ids`` carry each label now (``None``: no label).

        Ids of other datasets or of no sample are not counted.

        Parameters
        ----------
        dataset : str
            Dataset name.
        ids : iterable of int
            Sample ids (one bound parameter however many).
        """
        checked = validate_ids(ids)
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            rows = sess.execute(
                select(Label.name, func.count(Sample.id))
                .select_from(Sample)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.dataset_id == ds_id, ids_condition(self.dialect, checked))
                .group_by(Label.name)
            ).all()
            return {name: int(n) for name, n in rows}

    def _lock_samples(self, sess: Session, *conds: ColumnElement[bool]) -> int:
        """Count the samples matching ``conds``; on PostgreSQL, lock them until commit."""
        inner = select(Sample.id).where(*conds)
        if self.dialect == "postgresql":
            inner = inner.with_for_update(of=Sample)
        return sess.scalar(select(func.count()).select_from(inner.subquery())) or 0

    def relabel_samples(
        self,
        dataset: str,
        ids: Iterable[int],
        *,
        label: str,
        reviewer: str,
        seen_at: dt.datetime,
        reason: str | None = None,
        create_label: bool = False,
    ) -> RelabelRecord:
        """Give every sample of ``ids`` the label ``label`` in one transaction, with history.

        Parameters
        ----------
        dataset : str
            Dataset name; every id must be one of its samples.
        ids : iterable of int
            The samples (a selection); at least one.
        label : str
            The new label.
        reviewer : str
            Who makes the change (recorded in each history row).
        seen_at : datetime
            When the caller saw the samples (the selection was made). A sample saved
            after it by another reviewer is skipped and reported.
        reason : str, optional
            Why, recorded in each history row.
        create_label : bool
            Allow a label name the dataset does not have yet.

        Returns
        -------
        RelabelRecord
            The batch id (``None`` when nothing changed), counts and skipped samples.

        Raises
        ------
        ValidationError
            For an empty selection, an unknown label (without ``create_label``), ids
            that are not samples of ``dataset``, or a bad name or reason; nothing is written.
        """
        checked = tuple(set(validate_ids(ids)))
        if not checked:
            raise ValidationError("select at least one clip to relabel")
        label = validate_label_name(label)
        reviewer = validate_reviewer(reviewer)
        reason = validate_reason(reason)
        seen = _utc(seen_at)
        dialect = self.dialect
        csv = ",".join(map(str, checked))
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)

            def in_set() -> ColumnElement[bool]:
                return and_(Sample.dataset_id == ds_id, ids_condition(dialect, checked, csv=csv))

            found = self._lock_samples(sess, in_set())
            if found != len(checked):
                present = set(sess.scalars(select(Sample.id).where(in_set())))
                missing = sorted(set(checked) - present)
                shown = ", ".join(map(str, missing[:_SHOWN_IDS])) + (
                    ", ..." if len(missing) > _SHOWN_IDS else ""
                )
                raise ValidationError(
                    f"{len(missing):,} of the selected clips are not in dataset {dataset!r} (ids {shown}); "
                    "nothing was changed"
                )
            label_id = sess.scalar(select(Label.id).where(Label.dataset_id == ds_id, Label.name == label))
            if label_id is None:
                if not create_label:
                    raise ValidationError(f"unknown label {label!r}")
                new_label = Label(dataset_id=ds_id, name=label)
                sess.add(new_label)
                sess.flush()
                label_id = new_label.id
            # The complement of "saved after seen_at by someone else" (NULLs included).
            unchanged_since = or_(
                Sample.updated_at.is_(None),
                Sample.updated_at <= seen,
                func.coalesce(Sample.updated_by, "") == reviewer,
            )
            to_change = and_(in_set(), unchanged_since, Sample.label_id.is_distinct_from(label_id))
            batch_id = uuid.uuid4().hex
            now = dt.datetime.now(dt.UTC)
            # History first: it reads each sample's old label before the UPDATE replaces it.
            history = (
                select(
                    Sample.id,
                    literal(reviewer),
                    literal(now, SampleEdit.at.type),
                    literal("label"),
                    _json_of(dialect, Label.name),
                    _json_text(dialect, label),
                    Sample.version + 1,
                    false(),
                    literal("edit"),
                    literal(batch_id),
                    literal(reason, SampleEdit.reason.type),
                )
                .select_from(Sample)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(to_change)
            )
            sess.execute(
                insert(SampleEdit).from_select(
                    [
                        "sample_id",
                        "reviewer",
                        "at",
                        "field",
                        "old",
                        "new",
                        "version",
                        "undone",
                        "kind",
                        "batch_id",
                        "reason",
                    ],
                    history,
                )
            )
            res = sess.execute(
                update(Sample)
                .where(to_change)
                .values(label_id=label_id, version=Sample.version + 1, updated_at=now, updated_by=reviewer)
                .execution_options(synchronize_session=False)
            )
            changed = cast("CursorResult[Any]", res).rowcount
            skipped = _skipped(
                sess.execute(
                    select(Sample.id, Sample.path, Sample.updated_by, Sample.updated_at)
                    .where(in_set(), ~unchanged_since)
                    .order_by(Sample.id)
                )
            )
            return RelabelRecord(
                batch_id=batch_id if changed else None,
                label=label,
                changed=changed,
                unchanged=len(checked) - changed - len(skipped),
                skipped=skipped,
            )

    def undo_batch(self, batch_id: str, *, reviewer: str) -> BatchUndoRecord:
        """Revert a bulk change as one step, recorded as undo rows with the same batch id.

        A sample whose version is no longer the one the batch wrote (edited again
        since, by anyone) is reported and left alone; a sample already undone on its
        own is counted and left alone.

        Parameters
        ----------
        batch_id : str
            The batch (from :meth:`relabel_samples`).
        reviewer : str
            Who undoes it.

        Returns
        -------
        BatchUndoRecord

        Raises
        ------
        NotFoundError
            If no bulk change has this id.
        """
        batch_id = validate_batch_id(batch_id)
        reviewer = validate_reviewer(reviewer)
        dialect = self.dialect
        in_batch = and_(SampleEdit.batch_id == batch_id, SampleEdit.kind == "edit")
        with self.session() as sess:
            first = sess.execute(select(SampleEdit.new).where(in_batch).limit(1)).first()
            if first is None:
                raise NotFoundError("no bulk change with this id")
            total = self._lock_samples(sess, Sample.id.in_(select(SampleEdit.sample_id).where(in_batch)))
            # The batch's row of this sample, not undone, and nothing saved over it since.
            live = and_(
                in_batch,
                SampleEdit.undone.is_(False),
                SampleEdit.sample_id == Sample.id,
                SampleEdit.version == Sample.version,
            )
            now = dt.datetime.now(dt.UTC)
            sess.execute(
                insert(SampleEdit).from_select(
                    [
                        "sample_id",
                        "reviewer",
                        "at",
                        "field",
                        "old",
                        "new",
                        "version",
                        "undone",
                        "kind",
                        "batch_id",
                    ],
                    select(
                        Sample.id,
                        literal(reviewer),
                        literal(now, SampleEdit.at.type),
                        SampleEdit.field,
                        SampleEdit.new,
                        SampleEdit.old,
                        Sample.version + 1,
                        false(),
                        literal("undo"),
                        literal(batch_id),
                    )
                    .select_from(Sample)
                    .join(SampleEdit, SampleEdit.sample_id == Sample.id)
                    .where(live),
                )
            )
            # Mark the live rows undone while their version still equals the sample's
            # (UPDATE ... FROM, a join on the samples' key on both databases) ...
            res = sess.execute(
                update(SampleEdit)
                .where(live)
                .values(undone=true())
                .execution_options(synchronize_session=False)
            )
            reverted = cast("CursorResult[Any]", res).rowcount
            # ... then give exactly those samples their previous label: a row undone on its
            # own earlier no longer matches its sample's version. Each previous label id is
            # joined once (a correlated subquery would scan the batch once per sample).
            ds_id = sess.scalar(
                select(Sample.dataset_id)
                .join(SampleEdit, SampleEdit.sample_id == Sample.id)
                .where(in_batch)
                .limit(1)
            )
            back = (
                select(
                    SampleEdit.sample_id.label("sid"),
                    SampleEdit.version.label("ver"),
                    Label.id.label("old_id"),
                )
                .select_from(SampleEdit)
                .outerjoin(
                    Label, and_(Label.dataset_id == ds_id, Label.name == _text_of(dialect, SampleEdit.old))
                )
                .where(in_batch, SampleEdit.undone.is_(True))
                .subquery()
            )
            sess.execute(
                update(Sample)
                .where(Sample.id == back.c.sid, Sample.version == back.c.ver)
                .values(
                    label_id=back.c.old_id, version=Sample.version + 1, updated_at=now, updated_by=reviewer
                )
                .execution_options(synchronize_session=False)
            )
            skipped = _skipped(
                sess.execute(
                    select(Sample.id, Sample.path, Sample.updated_by, Sample.updated_at)
                    .join(SampleEdit, SampleEdit.sample_id == Sample.id)
                    .where(in_batch, SampleEdit.undone.is_(False))
                    .order_by(Sample.id)
                )
            )
            return BatchUndoRecord(
                batch_id=batch_id,
                label=first.new,
                reverted=reverted,
                already_undone=total - reverted - len(skipped),
                skipped=skipped,
            )
