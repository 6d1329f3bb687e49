"""Time regions and notes of samples: items with their own id and a version.

:class:`AnnotationItemsMixin` adds, edits, deletes and lists a sample's time regions
(start and end in seconds, within the clip, with a label and a note) and its notes (free
text by a reviewer, any number per sample). Each edit hands back the ``version`` it read:
a stale one raises :class:`ConflictError` and saves nothing (a compare-and-set on the
version, so two writers that read the same version cannot both win). Every change is
recorded with its state before and after (:mod:`.annotation_history`), so it can be undone.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError, ValidationError
from .annotation_history import note_state, record_edit, region_state, utc, write_lock
from .engine import BaseStore
from .models import MAX_TAG, MAX_TEXT, AnnotationNote, AnnotationRegion, Sample
from .queries import validate_reviewer
from .records import NoteRecord, RegionRecord

__all__ = [
    "AnnotationItemsMixin",
    "validate_note_text",
    "validate_span",
    "sample_row",
    "region_record",
    "note_record",
]

#: How far past a clip's end a region may reach (rounding of a drawn region).
_END_SLACK = 1e-6


def validate_note_text(text: object) -> str:
    """Return a note's text (trimmed) or raise :class:`ValidationError`."""
    if not isinstance(text, str):
        raise ValidationError("a note must be text")
    text = text.strip()
    if not text:
        raise ValidationError("a note cannot be empty")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"a note is at most {MAX_TEXT:,} characters")
    return text


def validate_span(start: object, end: object, duration: float | None = None) -> tuple[float, float]:
    """Return a region's (start, end) in seconds or raise :class:`ValidationError`.

    ``0 <= start < end``, and ``end`` no later than ``duration`` when given.
    """
    if isinstance(start, bool) or isinstance(end, bool):
        raise ValidationError("a region's start and end are numbers of seconds")
    try:
        s, e = float(cast("Any", start)), float(cast("Any", end))
    except (TypeError, ValueError):
        raise ValidationError("a region's start and end are numbers of seconds") from None
    if not (math.isfinite(s) and math.isfinite(e)):
        raise ValidationError("a region's start and end must be finite")
    if s < 0:
        raise ValidationError("a region cannot start before 0 s")
    if e <= s:
        raise ValidationError("a region must end after it starts")
    if duration is not None and e > duration + _END_SLACK:
        raise ValidationError(f"a region cannot end after the clip ({duration:.3f} s)")
    return s, e


def _optional_text(value: str | None, *, limit: int, what: str) -> str | None:
    """Return trimmed text, ``None`` for empty; refuse other types and long text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"a region's {what} must be text")
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"a region's {what} is at most {limit:,} characters")
    return value or None


def sample_row(sess: Session, sample_id: object, *, lock: bool = False) -> Sample:
    """Return the sample's row, or raise :class:`ValidationError` / :class:`NotFoundError`.

    With ``lock``, hold the row until the transaction ends, so two writers of one
    sample's annotations take turns: ``FOR NO KEY UPDATE`` on PostgreSQL (rows that merely
    refer to the sample are still written meanwhile), the database's write lock on SQLite.
    """
    if isinstance(sample_id, bool) or not isinstance(sample_id, int):
        raise ValidationError("sample id must be an integer")
    q = select(Sample).where(Sample.id == sample_id)
    if lock:
        write_lock(sess)
        q = q.with_for_update(key_share=True)
    s = sess.scalars(q).first()
    if s is None:
        raise NotFoundError(f"no sample with id {sample_id}")
    return s


def _item_id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise ValidationError(f"a {what} id is a positive whole number")
    return value


def region_record(r: AnnotationRegion) -> RegionRecord:
    """Return a region's plain record."""
    created = utc(r.created_at)
    assert created is not None  # NOT NULL column
    return RegionRecord(
        r.id,
        r.sample_id,
        float(r.start),
        float(r.end),
        r.label,
        r.note,
        r.reviewer,
        r.version,
        created,
        utc(r.updated_at),
        r.updated_by,
    )


def note_record(n: AnnotationNote) -> NoteRecord:
    """Return a note's plain record."""
    created = utc(n.created_at)
    assert created is not None  # NOT NULL column
    return NoteRecord(
        n.id, n.sample_id, n.reviewer, n.text, n.version, created, utc(n.updated_at), n.updated_by
    )


def _stale(what: str, current: Any, by: str | None) -> ConflictError:
    return ConflictError(
        f"{by or 'someone'} changed this {what} since you opened it; nothing was saved",
        field=what,
        mine=None,
        theirs=current,
        theirs_by=by,
    )


def _items() -> dict[str, tuple[Any, Any, Any]]:
    """Per kind of versioned item: its table, its record and its history state."""
    return {
        "region": (AnnotationRegion, region_record, region_state),
        "note": (AnnotationNote, note_record, note_state),
    }


def _current(sess: Session, kind: str, item_id: int, version: int) -> Any:
    """Return the region or note ``item_id`` if it is still at ``version``."""
    model, to_record, _ = _items()[kind]
    row = sess.get(model, item_id)
    if row is None:
        raise NotFoundError(f"no {kind} {item_id}")
    if row.version != version:
        raise _stale(kind, to_record(row), row.updated_by or row.reviewer)
    return row


def _save_version(
    sess: Session, kind: str, row: Any, version: int, values: dict[str, Any], *, who: str, now: dt.datetime
) -> Any:
    """Write ``values`` over ``row`` read at ``version``, with its history row; return its record."""
    model, to_record, state = _items()[kind]
    item_id, before = row.id, state(row)
    # Compare-and-set: a writer that read the same version at the same moment loses.
    res = sess.execute(
        update(model)
        .where(model.id == item_id, model.version == version)
        .values(**values, version=version + 1, updated_at=now, updated_by=who)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", res).rowcount != 1:
        raise _stale(kind, None, None)
    sess.expire(row)
    row = sess.get(model, item_id)
    assert row is not None  # updated just now
    record_edit(
        sess,
        sample_id=row.sample_id,
        kind=kind,
        action="update",
        target=str(item_id),
        before=before,
        after=state(row),
        reviewer=who,
        now=now,
    )
    return to_record(row)


def _delete_version(sess: Session, kind: str, row: Any, version: int, *, who: str, now: dt.datetime) -> None:
    """Delete ``row`` read at ``version``, with its history row."""
    model, _, state = _items()[kind]
    record_edit(
        sess,
        sample_id=row.sample_id,
        kind=kind,
        action="delete",
        target=str(row.id),
        before=state(row),
        after=None,
        reviewer=who,
        now=now,
    )
    res = sess.execute(delete(model).where(model.id == row.id, model.version == version))
    if cast("CursorResult[Any]", res).rowcount != 1:
        raise _stale(kind, None, None)


class AnnotationItemsMixin(BaseStore):
    """Region and note methods of :class:`audiosoup_widgets.store.Store`."""

    # -- time regions ---------------------------------------------------------------

    def add_region(
        self,
        sample_id: int,
        *,
        start: float,
        end: float,
        reviewer: str,
        label: str | None = None,
        note: str | None = None,
    ) -> RegionRecord:
        """Add a time region (seconds, within the clip) to a sample."""
        who = validate_reviewer(reviewer)
        label = _optional_text(label, limit=MAX_TAG, what="label")
        note = _optional_text(note, limit=MAX_TEXT, what="note")
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            s = sample_row(sess, sample_id)
            lo, hi = validate_span(start, end, s.duration)
            r = AnnotationRegion(
                sample_id=sample_id,
                start=lo,
                end=hi,
                label=label,
                note=note,
                reviewer=who,
                version=1,
                created_at=now,
            )
            sess.add(r)
            sess.flush()
            record_edit(
                sess,
                sample_id=sample_id,
                kind="region",
                action="add",
                target=str(r.id),
                before=None,
                after=region_state(r),
                reviewer=who,
                now=now,
            )
            return region_record(r)

    def update_region(
        self,
        region_id: int,
        *,
        version: int,
        reviewer: str,
        start: float | None = None,
        end: float | None = None,
        label: str | None = None,
        note: str | None = None,
    ) -> RegionRecord:
        """Change a region; ``None`` leaves a field as it is, ``""`` clears a label or note.

        Raises
        ------
        ConflictError
            The region changed since ``version`` was read; nothing is saved.
        NotFoundError
            No such region (deleted meanwhile).
        """
        who = validate_reviewer(reviewer)
        region_id = _item_id(region_id, "region")
        new_label = None if label is None else _optional_text(label, limit=MAX_TAG, what="label")
        new_note = None if note is None else _optional_text(note, limit=MAX_TEXT, what="note")
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            r = _current(sess, "region", region_id, version)
            duration = sess.scalar(select(Sample.duration).where(Sample.id == r.sample_id))
            lo, hi = validate_span(
                r.start if start is None else start, r.end if end is None else end, duration
            )
            before = region_state(r)
            values = {
                "start": lo,
                "end": hi,
                "label": r.label if label is None else new_label,
                "note": r.note if note is None else new_note,
            }
            if all(before[k] == v for k, v in values.items()):
                return region_record(r)
            return cast(RegionRecord, _save_version(sess, "region", r, version, values, who=who, now=now))

    def delete_region(self, region_id: int, *, version: int, reviewer: str) -> None:
        """Delete a region (undoable); a stale ``version`` raises :class:`ConflictError`."""
        who = validate_reviewer(reviewer)
        region_id = _item_id(region_id, "region")
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            r = _current(sess, "region", region_id, version)
            _delete_version(sess, "region", r, version, who=who, now=now)

    def sample_regions(self, sample_id: int) -> list[RegionRecord]:
        """Return a sample's regions by start time."""
        with self.session() as sess:
            sample_row(sess, sample_id)
            rows = sess.scalars(
                select(AnnotationRegion)
                .where(AnnotationRegion.sample_id == sample_id)
                .order_by(AnnotationRegion.start, AnnotationRegion.id)
            ).all()
            return [region_record(r) for r in rows]

    # -- notes ----------------------------------------------------------------------

    def add_note(self, sample_id: int, text: str, *, reviewer: str) -> NoteRecord:
        """Add a note by ``reviewer`` to a sample."""
        who = validate_reviewer(reviewer)
        text = validate_note_text(text)
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            sample_row(sess, sample_id)
            n = AnnotationNote(sample_id=sample_id, reviewer=who, text=text, version=1, created_at=now)
            sess.add(n)
            sess.flush()
            record_edit(
                sess,
                sample_id=sample_id,
                kind="note",
                action="add",
                target=str(n.id),
                before=None,
                after=note_state(n),
                reviewer=who,
                now=now,
            )
            return note_record(n)

    def update_note(self, note_id: int, text: str, *, version: int, reviewer: str) -> NoteRecord:
        """Change a note's text; a stale ``version`` raises :class:`ConflictError`."""
        who = validate_reviewer(reviewer)
        note_id = _item_id(note_id, "note")
        text = validate_note_text(text)
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            n = _current(sess, "note", note_id, version)
            if n.text == text:
                return note_record(n)
            return cast(NoteRecord, _save_version(sess, "note", n, version, {"text": text}, who=who, now=now))

    def delete_note(self, note_id: int, *, version: int, reviewer: str) -> None:
        """Delete a note (undoable); a stale ``version`` raises :class:`ConflictError`."""
        who = validate_reviewer(reviewer)
        note_id = _item_id(note_id, "note")
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            n = _current(sess, "note", note_id, version)
            _delete_version(sess, "note", n, version, who=who, now=now)

    def sample_notes(self, sample_id: int) -> list[NoteRecord]:
        """Return a sample's notes, oldest first."""
        with self.session() as sess:
            sample_row(sess, sample_id)
            rows = sess.scalars(
                select(AnnotationNote)
                .where(AnnotationNote.sample_id == sample_id)
                .order_by(AnnotationNote.id)
            ).all()
            return [note_record(n) for n in rows]
