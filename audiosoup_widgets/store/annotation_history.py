"""The history of annotations: every change recorded with its state before and after, and undo.

Each change of a vote, tag, reviewer flag, time region or note writes one row of
``annotation_edits``: the item (``kind`` and ``target``), the action, the item's whole
state before and after as JSON (``None``: absent), the reviewer, the time and, for a
change of a selection, the batch id every row of it shares.

An undo puts the item back in its ``before`` state, and only while the item is still
in the edit's ``after`` state and no later change of it stands (changed and changed back
counts as changed): an item changed again since, by anyone, is a conflict, never
overwritten. Undoing the later change first makes the earlier one undoable again, as
in an undo stack. The undo is itself a row (action ``undo``, naming the row it
reverted in ``undoes``) and marks the reverted row undone. The undo of a batch reverts
every row it can and reports the samples whose item changed since.

The states, per kind:

* vote: ``{"label": ...}`` (target: the voter);
* tag, flag: the tag or flag itself (target: the same);
* region: ``{"start", "end", "label", "note", "version"}`` (target: the region's id);
* note: ``{"reviewer", "text", "version"}`` (target: the note's id).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, false, func, insert, literal, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased

from ..errors import ConflictError, NotFoundError, ValidationError
from .engine import BaseStore
from .models import (
    AnnotationEdit,
    AnnotationFlag,
    AnnotationNote,
    AnnotationRegion,
    AnnotationTag,
    AnnotationVote,
    Sample,
)
from .queries import validate_reviewer
from .records import AnnotationEditRecord, AnnotationUndoRecord
from .relabel import validate_batch_id

__all__ = [
    "AnnotationHistoryMixin",
    "KINDS",
    "lock_samples",
    "record_edit",
    "region_state",
    "note_state",
    "utc",
]

#: What an annotation edit is about.
KINDS: tuple[str, ...] = ("vote", "tag", "flag", "region", "note")
#: The table (and its value column) of each kind that marks a sample with a word.
_MARKS: dict[str, tuple[Any, Any]] = {
    "tag": (AnnotationTag, AnnotationTag.tag),
    "flag": (AnnotationFlag, AnnotationFlag.flag),
}


def utc(when: dt.datetime | None) -> dt.datetime | None:
    """Return ``when`` timezone-aware in UTC (SQLite hands stored times back naive)."""
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def region_state(r: AnnotationRegion) -> dict[str, Any]:
    """Return a region's state as history keeps it."""
    return {"start": r.start, "end": r.end, "label": r.label, "note": r.note, "version": r.version}


def note_state(n: AnnotationNote) -> dict[str, Any]:
    """Return a note's state as history keeps it."""
    return {"reviewer": n.reviewer, "text": n.text, "version": n.version}


def json_text(dialect: str, value: str) -> Any:
    """Return a JSON string constant for an ``INSERT ... SELECT`` into a JSON column."""
    param = literal(json.dumps(value))
    return sql_cast(param, JSONB) if dialect == "postgresql" else param


def write_lock(sess: Session) -> None:
    """On SQLite, take the database's write lock now, before anything is read.

    The driver opens a transaction at the first write, so the reads before it would see
    a state another writer may change before ours; a write that changes nothing, issued
    first, makes the whole check-then-write one turn (waiting out other writers up to the
    busy timeout). PostgreSQL locks rows instead (:func:`lock_samples`).
    """
    if sess.get_bind().dialect.name == "sqlite":
        sess.execute(update(Sample).where(false()).values(version=Sample.version))


def lock_samples(sess: Session, dialect: str, *conds: Any) -> int:
    """Count the samples matching ``conds``; on PostgreSQL, hold their rows until commit.

    Two changes of the same samples' annotations (a selection's tags, an undo) then take
    turns rather than interleave; ``FOR NO KEY UPDATE`` leaves rows that merely refer to
    the samples free to be written. On SQLite, the database's write lock is taken first.
    """
    write_lock(sess)
    inner = select(Sample.id).where(*conds)
    if dialect == "postgresql":
        inner = inner.with_for_update(of=Sample, key_share=True)
    return sess.scalar(select(func.count()).select_from(inner.subquery())) or 0


def record_edit(
    sess: Session,
    *,
    sample_id: int,
    kind: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    reviewer: str,
    now: dt.datetime,
    batch_id: str | None = None,
    undoes: int | None = None,
) -> None:
    """Add one history row to the session's transaction."""
    sess.add(
        AnnotationEdit(
            sample_id=sample_id,
            kind=kind,
            action=action,
            target=target,
            before=before,
            after=after,
            reviewer=reviewer,
            batch_id=batch_id,
            at=now,
            undone=False,
            undoes=undoes,
        )
    )


def _edit_record(e: AnnotationEdit) -> AnnotationEditRecord:
    at = utc(e.at)
    assert at is not None  # NOT NULL column
    return AnnotationEditRecord(
        id=e.id,
        sample_id=e.sample_id,
        kind=e.kind,
        action=e.action,
        target=e.target,
        before=e.before,
        after=e.after,
        reviewer=e.reviewer,
        batch_id=e.batch_id,
        at=at,
        undone=bool(e.undone),
        undoes=e.undoes,
    )


def _current(sess: Session, e: AnnotationEdit) -> Any:
    """Return the current state of the item ``e`` changed."""
    if e.kind == "vote":
        label = sess.scalar(
            select(AnnotationVote.label).where(
                AnnotationVote.sample_id == e.sample_id, AnnotationVote.reviewer == e.target
            )
        )
        return None if label is None else {"label": label}
    if e.kind in _MARKS:
        table, col = _MARKS[e.kind]
        found = sess.scalar(select(col).where(table.sample_id == e.sample_id, col == e.target))
        return found
    if e.kind == "region":
        r = sess.get(AnnotationRegion, int(e.target))
        return None if r is None else region_state(r)
    n = sess.get(AnnotationNote, int(e.target))
    return None if n is None else note_state(n)


def _restore(sess: Session, e: AnnotationEdit, *, reviewer: str, now: dt.datetime) -> Any:
    """Put the item ``e`` changed back in its ``before`` state; return the state written."""
    state = e.before
    if e.kind == "vote":
        cond = (AnnotationVote.sample_id == e.sample_id, AnnotationVote.reviewer == e.target)
        sess.execute(delete(AnnotationVote).where(*cond))
        if state is not None:
            sess.execute(
                insert(AnnotationVote).values(
                    sample_id=e.sample_id, reviewer=e.target, label=state["label"], at=now
                )
            )
        return state
    if e.kind in _MARKS:
        table, col = _MARKS[e.kind]
        if state is None:
            sess.execute(delete(table).where(table.sample_id == e.sample_id, col == e.target))
        else:
            sess.execute(
                insert(table).values(
                    {"sample_id": e.sample_id, col.key: e.target, "reviewer": reviewer, "at": now}
                )
            )
        return state
    item_id = int(e.target)
    item: type[AnnotationRegion] | type[AnnotationNote] = (
        AnnotationRegion if e.kind == "region" else AnnotationNote
    )
    current = cast("AnnotationRegion | AnnotationNote | None", sess.get(item, item_id))
    if state is None:
        if current is not None:
            sess.delete(current)
        return None
    version = (int(state["version"]) if current is None else current.version) + 1
    if e.kind == "region":
        fields = {k: state[k] for k in ("start", "end", "label", "note")}
    else:
        fields = {"text": state["text"]}
    if current is None:
        # The item was deleted: bring it back under its own id, one version on (an editor
        # still holding the version it had gets a conflict).
        extra = {"reviewer": state.get("reviewer", reviewer)} if e.kind == "note" else {"reviewer": reviewer}
        sess.execute(
            insert(item).values(
                id=item_id,
                sample_id=e.sample_id,
                version=version,
                created_at=now,
                updated_at=now,
                updated_by=reviewer,
                **fields,
                **extra,
            )
        )
    else:
        sess.execute(
            update(item)
            .where(item.id == item_id)
            .values(**fields, version=version, updated_at=now, updated_by=reviewer)
            .execution_options(synchronize_session=False)
        )
        sess.expire(current)
    restored = dict(state)
    restored["version"] = version
    return restored


class AnnotationHistoryMixin(BaseStore):
    """Annotation history and undo methods of :class:`audiosoup_widgets.store.Store`."""

    def annotation_history(self, sample_id: int) -> list[AnnotationEditRecord]:
        """Return every recorded change of the sample's annotations, newest first."""
        with self.session() as sess:
            rows = sess.scalars(
                select(AnnotationEdit)
                .where(AnnotationEdit.sample_id == sample_id)
                .order_by(AnnotationEdit.id.desc())
            ).all()
            return [_edit_record(e) for e in rows]

    def annotation_batch(self, batch_id: str) -> list[AnnotationEditRecord]:
        """Return the rows of a change of a selection (and of its undo), oldest first."""
        batch_id = validate_batch_id(batch_id)
        with self.session() as sess:
            rows = sess.scalars(
                select(AnnotationEdit).where(AnnotationEdit.batch_id == batch_id).order_by(AnnotationEdit.id)
            ).all()
            return [_edit_record(e) for e in rows]

    def undo_annotation(self, edit_id: int, *, reviewer: str) -> AnnotationEditRecord:
        """Revert one annotation edit; return the undo's own history row.

        Parameters
        ----------
        edit_id : int
            The edit (from :meth:`annotation_history`).
        reviewer : str
            Who undoes it.

        Raises
        ------
        NotFoundError
            No such edit.
        ValidationError
            The edit is an undo, or was undone already.
        ConflictError
            The item changed since the edit (by anyone); nothing is changed.
        """
        who = validate_reviewer(reviewer)
        if isinstance(edit_id, bool) or not isinstance(edit_id, int):
            raise ValidationError("an edit id is a whole number")
        with self.session() as sess:
            e = sess.get(AnnotationEdit, edit_id)
            if e is None:
                raise NotFoundError(f"no annotation edit {edit_id}")
            if e.action == "undo":
                raise ValidationError("an undo cannot be undone; make the change again")
            lock_samples(sess, self.dialect, Sample.id == e.sample_id)
            sess.refresh(e)  # as it is now that no other writer of the sample can move it
            if e.undone:
                raise ValidationError("this change was undone already")
            now = dt.datetime.now(dt.UTC)
            current = _current(sess, e)
            if current != e.after or _later_changes(sess, [e]).get(_key(e), 0) > e.id:
                raise ConflictError(
                    f"this {e.kind} changed since; nothing was undone",
                    field=e.kind,
                    mine=e.before,
                    theirs=current,
                )
            restored = _restore(sess, e, reviewer=who, now=now)
            e.undone = True
            undo = AnnotationEdit(
                sample_id=e.sample_id,
                kind=e.kind,
                action="undo",
                target=e.target,
                before=current,
                after=restored,
                reviewer=who,
                batch_id=None,
                at=now,
                undone=False,
                undoes=e.id,
            )
            sess.add(undo)
            sess.flush()
            return _edit_record(undo)

    def undo_annotation_batch(self, batch_id: str, *, reviewer: str) -> AnnotationUndoRecord:
        """Revert a change of a selection's tags or flags as one step.

        Every row of the batch whose item is still as the batch left it (and not changed
        since by a standing edit) is reverted, with an undo row each carrying the same batch
        id; a row whose item changed since is left alone and its sample reported. A few
        set-based statements per tag or flag, whatever the selection's size.

        Raises
        ------
        NotFoundError
            No change with this batch id.
        """
        batch_id = validate_batch_id(batch_id)
        who = validate_reviewer(reviewer)
        now = dt.datetime.now(dt.UTC)
        edit, later, mine = AnnotationEdit, aliased(AnnotationEdit), aliased(AnnotationEdit)
        in_batch = and_(edit.batch_id == batch_id, edit.action != "undo")
        with self.session() as sess:
            lock_samples(
                sess, self.dialect, Sample.id.in_(select(edit.sample_id).where(edit.batch_id == batch_id))
            )
            groups = sess.execute(
                select(edit.kind, edit.target, edit.action).where(in_batch).distinct()
            ).all()
            if not groups:
                raise NotFoundError("no annotation change with this batch id")
            if any(kind not in _MARKS for kind, _, _ in groups):
                raise ValidationError("only a change of tags or flags is undone as a batch")
            already = sess.scalar(select(func.count()).where(in_batch, edit.undone.is_(True))) or 0
            start = sess.scalar(select(func.max(edit.id))) or 0
            columns = ["sample_id", "kind", "action", "target", "before", "after", "reviewer"]
            columns += ["batch_id", "at", "undone", "undoes"]
            reverted = 0
            for kind, word, action in groups:
                table, col = _MARKS[kind]
                present = select(table.id).where(table.sample_id == edit.sample_id, col == word).exists()
                standing_since = (
                    select(later.id)
                    .where(
                        later.sample_id == edit.sample_id,
                        later.kind == edit.kind,
                        later.target == edit.target,
                        later.id > edit.id,
                        later.action != "undo",
                        later.undone.is_(False),
                    )
                    .exists()
                )
                live = and_(
                    in_batch,
                    edit.kind == kind,
                    edit.target == word,
                    edit.action == action,
                    edit.undone.is_(False),
                    ~standing_since,
                    present if action == "add" else ~present,
                )
                res = sess.execute(
                    insert(AnnotationEdit).from_select(
                        columns,
                        select(
                            edit.sample_id,
                            edit.kind,
                            literal("undo"),
                            edit.target,
                            edit.after,
                            edit.before,
                            literal(who),
                            literal(batch_id),
                            literal(now, AnnotationEdit.at.type),
                            false(),
                            edit.id,
                        ).where(live),
                    )
                )
                reverted += cast("CursorResult[Any]", res).rowcount
                # The samples this step reverts: its own undo rows (ids after ``start``).
                undone_now = select(mine.sample_id).where(
                    mine.batch_id == batch_id,
                    mine.action == "undo",
                    mine.id > start,
                    mine.kind == kind,
                    mine.target == word,
                )
                if action == "add":
                    sess.execute(delete(table).where(col == word, table.sample_id.in_(undone_now)))
                else:
                    sess.execute(
                        insert(table).from_select(
                            ["sample_id", col.key, "reviewer", "at"],
                            select(
                                mine.sample_id,
                                literal(word),
                                literal(who),
                                literal(now, AnnotationEdit.at.type),
                            ).where(
                                mine.batch_id == batch_id,
                                mine.action == "undo",
                                mine.id > start,
                                mine.kind == kind,
                                mine.target == word,
                            ),
                        )
                    )
            sess.execute(
                update(AnnotationEdit)
                .where(
                    AnnotationEdit.id.in_(
                        select(mine.undoes).where(
                            mine.batch_id == batch_id, mine.action == "undo", mine.id > start
                        )
                    )
                )
                .values(undone=True)
                .execution_options(synchronize_session=False)
            )
            conflicts = sess.scalars(
                select(edit.sample_id)
                .where(in_batch, edit.undone.is_(False))
                .distinct()
                .order_by(edit.sample_id)
            ).all()
            return AnnotationUndoRecord(
                batch_id=batch_id,
                reverted=reverted,
                already_undone=already,
                conflicts=tuple(int(c) for c in conflicts),
            )


def _key(e: AnnotationEdit) -> tuple[int, str, str]:
    return (e.sample_id, e.kind, e.target)


def _later_changes(sess: Session, edits: Sequence[AnnotationEdit]) -> dict[tuple[int, str, str], int]:
    """Return, per item of ``edits``, the id of its newest standing change (not an undo, not undone)."""
    if not edits:
        return {}
    samples = {e.sample_id for e in edits}
    q = select(
        AnnotationEdit.sample_id, AnnotationEdit.kind, AnnotationEdit.target, func.max(AnnotationEdit.id)
    ).where(
        AnnotationEdit.id > min(e.id for e in edits),
        AnnotationEdit.action != "undo",
        AnnotationEdit.undone.is_(False),
        AnnotationEdit.kind.in_(sorted({e.kind for e in edits})),
        AnnotationEdit.target.in_(sorted({e.target for e in edits})),
    )
    if len(samples) <= 1000:
        q = q.where(AnnotationEdit.sample_id.in_(sorted(samples)))
    q = q.group_by(AnnotationEdit.sample_id, AnnotationEdit.kind, AnnotationEdit.target)
    return {(int(s), str(k), str(t)): int(i) for s, k, t, i in sess.execute(q)}
