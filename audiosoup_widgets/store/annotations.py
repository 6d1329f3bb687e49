"""Annotations of samples: reviewers' label votes, tags, reviewer flags, time regions and notes.

:class:`AnnotationsMixin` writes every change together with its history row
(:mod:`.annotation_history`, which also undoes them) in one transaction:

* a vote is one reviewer's current label for a sample: voting again replaces it (an
  edit, ``before`` the old vote), clearing removes it;
* tags and reviewer flags mark a sample with a word, once per sample; a selection's
  samples are tagged or flagged in one step whose rows share a batch id. Reviewer flags
  (``annotation_flags``) are a reviewer's judgement and are kept apart from the quality
  flags ingest writes on the sample (``samples.flags``);
* time regions and notes (:mod:`.annotation_items`) are items with their own id and a
  ``version``: an edit must hand back the version it read, and a stale one raises
  :class:`ConflictError`.

Reads hand back plain records; :meth:`AnnotationsMixin.annotation_columns` gives every
sample of a dataset its annotations at once, for exports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, false, func, insert, literal, null, select

from ..errors import ValidationError
from .annotation_history import json_text, lock_samples, record_edit, utc
from .annotation_items import note_record, region_record, sample_row
from .engine import BaseStore
from .idset import ids_condition, validate_ids
from .measures import dataset_id
from .models import (
    MAX_TAG,
    AnnotationEdit,
    AnnotationFlag,
    AnnotationNote,
    AnnotationRegion,
    AnnotationTag,
    AnnotationVote,
    Sample,
)
from .queries import validate_label_name, validate_reviewer
from .records import (
    AnnotationBatchRecord,
    SampleAnnotations,
    VoteRecord,
)

__all__ = [
    "AnnotationsMixin",
    "MAX_TAG",
    "MAX_WORDS",
    "validate_word",
]

#: Most tags or flags one change of a selection may add or remove.
MAX_WORDS = 20
#: How far past a clip's end a region may reach (rounding of a drawn region).
_END_SLACK = 1e-6
_MARKS: dict[str, tuple[Any, Any]] = {
    "tag": (AnnotationTag, AnnotationTag.tag),
    "flag": (AnnotationFlag, AnnotationFlag.flag),
}


def validate_word(value: object, *, what: str = "tag") -> str:
    """Return a cleaned tag or flag (spaces collapsed) or raise :class:`ValidationError`."""
    if not isinstance(value, str):
        raise ValidationError(f"a {what} must be text")
    word = " ".join(value.split())
    if not word:
        raise ValidationError(f"a {what} cannot be empty")
    if len(word) > MAX_TAG:
        raise ValidationError(f"a {what} is at most {MAX_TAG} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in word):
        raise ValidationError(f"a {what} cannot contain control characters")
    return word


def _vote(v: AnnotationVote) -> VoteRecord:
    at = utc(v.at)
    assert at is not None  # NOT NULL column
    return VoteRecord(v.sample_id, v.reviewer, v.label, at)


class AnnotationsMixin(BaseStore):
    """Annotation methods of :class:`audiosoup_widgets.store.Store`."""

    # -- votes -----------------------------------------------------------------------

    def set_vote(self, sample_id: int, label: str, *, reviewer: str) -> VoteRecord:
        """Record ``reviewer``'s label vote on a sample, replacing their earlier vote.

        Voting the same label again changes nothing (and records nothing).
        """
        who = validate_reviewer(reviewer)
        label = validate_label_name(label)
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            sample_row(sess, sample_id, lock=True)
            v = sess.scalar(
                select(AnnotationVote).where(
                    AnnotationVote.sample_id == sample_id, AnnotationVote.reviewer == who
                )
            )
            if v is not None and v.label == label:
                return _vote(v)
            before = None if v is None else {"label": v.label}
            if v is None:
                v = AnnotationVote(sample_id=sample_id, reviewer=who, label=label, at=now)
                sess.add(v)
            else:
                v.label, v.at = label, now
            record_edit(
                sess,
                sample_id=sample_id,
                kind="vote",
                action="set",
                target=who,
                before=before,
                after={"label": label},
                reviewer=who,
                now=now,
            )
            sess.flush()
            return _vote(v)

    def clear_vote(self, sample_id: int, *, reviewer: str) -> bool:
        """Withdraw ``reviewer``'s vote on a sample; return whether there was one."""
        who = validate_reviewer(reviewer)
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            sample_row(sess, sample_id, lock=True)
            v = sess.scalar(
                select(AnnotationVote).where(
                    AnnotationVote.sample_id == sample_id, AnnotationVote.reviewer == who
                )
            )
            if v is None:
                return False
            record_edit(
                sess,
                sample_id=sample_id,
                kind="vote",
                action="clear",
                target=who,
                before={"label": v.label},
                after=None,
                reviewer=who,
                now=now,
            )
            sess.delete(v)
            return True

    def sample_votes(self, sample_id: int) -> list[VoteRecord]:
        """Return the current votes on a sample, by reviewer."""
        with self.session() as sess:
            sample_row(sess, sample_id)
            rows = sess.scalars(
                select(AnnotationVote)
                .where(AnnotationVote.sample_id == sample_id)
                .order_by(AnnotationVote.reviewer)
            ).all()
            return [_vote(v) for v in rows]

    def vote_table(self, dataset: str) -> list[tuple[int, str, str]]:
        """Return every current vote of a dataset as (sample id, reviewer, label), by sample."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            rows = sess.execute(
                select(AnnotationVote.sample_id, AnnotationVote.reviewer, AnnotationVote.label)
                .join(Sample, Sample.id == AnnotationVote.sample_id)
                .where(Sample.dataset_id == ds_id)
                .order_by(AnnotationVote.sample_id, AnnotationVote.reviewer)
            ).all()
            return [(int(s), str(r), str(lab)) for s, r, lab in rows]

    # -- tags and reviewer flags ----------------------------------------------------

    def _mark(self, kind: str, sample_id: int, word: str, *, reviewer: str, present: bool) -> bool:
        who = validate_reviewer(reviewer)
        word = validate_word(word, what=kind)
        table, col = _MARKS[kind]
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            sample_row(sess, sample_id, lock=True)
            there = sess.scalar(select(table.id).where(table.sample_id == sample_id, col == word))
            if (there is not None) == present:
                return False
            if present:
                sess.execute(
                    insert(table).values({"sample_id": sample_id, col.key: word, "reviewer": who, "at": now})
                )
            else:
                sess.execute(delete(table).where(table.id == there))
            record_edit(
                sess,
                sample_id=sample_id,
                kind=kind,
                action="add" if present else "remove",
                target=word,
                before=None if present else word,
                after=word if present else None,
                reviewer=who,
                now=now,
            )
            return True

    def add_tag(self, sample_id: int, tag: str, *, reviewer: str) -> bool:
        """Tag a sample; return whether the tag is new to it."""
        return self._mark("tag", sample_id, tag, reviewer=reviewer, present=True)

    def remove_tag(self, sample_id: int, tag: str, *, reviewer: str) -> bool:
        """Remove a tag from a sample; return whether it had it."""
        return self._mark("tag", sample_id, tag, reviewer=reviewer, present=False)

    def add_flag(self, sample_id: int, flag: str, *, reviewer: str) -> bool:
        """Give a sample a reviewer flag; return whether the flag is new to it."""
        return self._mark("flag", sample_id, flag, reviewer=reviewer, present=True)

    def remove_flag(self, sample_id: int, flag: str, *, reviewer: str) -> bool:
        """Remove a reviewer flag from a sample; return whether it had it."""
        return self._mark("flag", sample_id, flag, reviewer=reviewer, present=False)

    def mark_samples(
        self,
        kind: str,
        ids: Iterable[int],
        words: Sequence[str],
        *,
        reviewer: str,
        remove: bool = False,
        dataset: str | None = None,
        batch_id: str | None = None,
    ) -> AnnotationBatchRecord:
        """Add (or remove) tags or reviewer flags on a selection in one step, with one batch id.

        Parameters
        ----------
        kind : {'tag', 'flag'}
        ids : iterable of int
            The selection; every id must be a sample (of ``dataset``, when given).
        words : sequence of str
            The tags or flags (at most :data:`MAX_WORDS`).
        reviewer : str
        remove : bool
            Remove them instead.
        dataset : str, optional
        batch_id : str, optional
            Join this batch (a tag merge adds one tag and removes others as one step,
            undone as one); default: a new one.

        Returns
        -------
        AnnotationBatchRecord
            The batch id (``None`` when nothing changed) and counts of (sample, word) pairs.

        Raises
        ------
        ValidationError
            An empty selection or word list, a bad word, ids that are not samples; nothing
            is written.
        """
        if kind not in _MARKS:
            raise ValidationError(f"unknown annotation kind {kind!r}")
        who = validate_reviewer(reviewer)
        if isinstance(words, str):
            words = [words]
        clean = sorted({validate_word(w, what=kind) for w in words})
        if not clean:
            raise ValidationError(f"give at least one {kind}")
        if len(clean) > MAX_WORDS:
            raise ValidationError(f"at most {MAX_WORDS} {kind}s at once")
        checked = tuple(sorted(set(validate_ids(ids))))
        if not checked:
            raise ValidationError("select at least one clip")
        table, col = _MARKS[kind]
        dialect = self.dialect
        csv = ",".join(map(str, checked))
        now = dt.datetime.now(dt.UTC)
        if batch_id is None:
            batch_id = uuid.uuid4().hex
        elif not (isinstance(batch_id, str) and batch_id.isalnum() and len(batch_id) <= 32):
            raise ValidationError("invalid batch id")
        with self.session() as sess:
            conds = [ids_condition(dialect, checked, csv=csv)]
            if dataset is not None:
                conds.append(Sample.dataset_id == dataset_id(sess, dataset))
            found = lock_samples(sess, dialect, *conds)
            if found != len(checked):
                where = f" in dataset {dataset!r}" if dataset is not None else ""
                raise ValidationError(
                    f"{len(checked) - found:,} selected clips are not clips{where}; nothing was changed"
                )
            changed = 0
            for w in clean:
                # One history row per sample that changes, written before the change (it reads
                # whether the sample has the word now), then the change itself: two set-based
                # statements per word, whatever the selection's size.
                in_set = ids_condition(dialect, checked, csv=csv)
                has = select(table.id).where(table.sample_id == Sample.id, col == w).exists()
                to_change = and_(in_set, has if remove else ~has)
                word = json_text(dialect, w)
                history = select(
                    Sample.id,
                    literal(kind),
                    literal("remove" if remove else "add"),
                    literal(w),
                    word if remove else null(),
                    null() if remove else word,
                    literal(who),
                    literal(batch_id),
                    literal(now, AnnotationEdit.at.type),
                    false(),
                ).where(to_change)
                res = sess.execute(
                    insert(AnnotationEdit).from_select(
                        [
                            "sample_id",
                            "kind",
                            "action",
                            "target",
                            "before",
                            "after",
                            "reviewer",
                            "batch_id",
                            "at",
                            "undone",
                        ],
                        history,
                    )
                )
                changed += cast("CursorResult[Any]", res).rowcount
                if remove:
                    sess.execute(
                        delete(table).where(
                            col == w, ids_condition(dialect, checked, csv=csv, column=table.sample_id)
                        )
                    )
                else:
                    sess.execute(
                        insert(table).from_select(
                            ["sample_id", col.key, "reviewer", "at"],
                            select(
                                Sample.id, literal(w), literal(who), literal(now, AnnotationEdit.at.type)
                            ).where(to_change),
                        )
                    )
            return AnnotationBatchRecord(
                batch_id=batch_id if changed else None,
                kind=kind,
                changed=changed,
                unchanged=len(checked) * len(clean) - changed,
            )

    def word_counts(
        self, kind: str, dataset: str, *, prefix: str = "", contains: str = ""
    ) -> list[tuple[str, int]]:
        """Return a dataset's tags (or reviewer flags) with how many samples carry each.

        Parameters
        ----------
        kind : {'tag', 'flag'}
        dataset : str
        prefix : str
            Keep words starting with it (case-insensitive).
        contains : str
            Keep words containing it (case-insensitive).

        Returns
        -------
        list of (str, int)
            Most used first, then by word.
        """
        if kind not in _MARKS:
            raise ValidationError(f"unknown annotation kind {kind!r}")
        table, col = _MARKS[kind]
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            n = func.count(table.sample_id)
            q = (
                select(col, n)
                .join(Sample, Sample.id == table.sample_id)
                .where(Sample.dataset_id == ds_id)
                .group_by(col)
                .order_by(n.desc(), col)
            )
            for text, pattern in ((prefix, "{}%"), (contains, "%{}%")):
                if text:
                    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    q = q.where(func.lower(col).like(pattern.format(escaped), escape="\\"))
            return [(str(w), int(c)) for w, c in sess.execute(q)]

    # -- reading everything -----------------------------------------------------------

    def sample_annotations(self, sample_id: int) -> SampleAnnotations:
        """Return every annotation of one sample."""
        with self.session() as sess:
            sample_row(sess, sample_id)
            votes = sess.scalars(
                select(AnnotationVote)
                .where(AnnotationVote.sample_id == sample_id)
                .order_by(AnnotationVote.reviewer)
            ).all()
            tags = sess.scalars(
                select(AnnotationTag.tag)
                .where(AnnotationTag.sample_id == sample_id)
                .order_by(AnnotationTag.tag)
            ).all()
            flags = sess.scalars(
                select(AnnotationFlag.flag)
                .where(AnnotationFlag.sample_id == sample_id)
                .order_by(AnnotationFlag.flag)
            ).all()
            regions = sess.scalars(
                select(AnnotationRegion)
                .where(AnnotationRegion.sample_id == sample_id)
                .order_by(AnnotationRegion.start, AnnotationRegion.id)
            ).all()
            notes = sess.scalars(
                select(AnnotationNote)
                .where(AnnotationNote.sample_id == sample_id)
                .order_by(AnnotationNote.id)
            ).all()
            return SampleAnnotations(
                sample_id=sample_id,
                votes=tuple(_vote(v) for v in votes),
                tags=tuple(tags),
                flags=tuple(flags),
                regions=tuple(region_record(r) for r in regions),
                notes=tuple(note_record(n) for n in notes),
            )

    def annotation_columns(self, dataset: str) -> dict[int, dict[str, Any]]:
        """Return every sample's annotations in plain values, for exports.

        Parameters
        ----------
        dataset : str

        Returns
        -------
        dict
            For every sample id of the dataset (annotated or not): ``tags`` (sorted list
            of str), ``reviewer_flags`` (sorted list of str; not the ingest quality flags),
            ``notes`` (list of str, oldest first), ``regions`` (list of ``{"start", "end",
            "label", "note"}``, by start) and ``votes`` (``{reviewer: label}``).
        """
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            in_ds = select(Sample.id).where(Sample.dataset_id == ds_id)
            out: dict[int, dict[str, Any]] = {
                int(i): {"tags": [], "reviewer_flags": [], "notes": [], "regions": [], "votes": {}}
                for i in sess.scalars(in_ds.order_by(Sample.id))
            }
            for sid, tag in sess.execute(
                select(AnnotationTag.sample_id, AnnotationTag.tag)
                .where(AnnotationTag.sample_id.in_(in_ds))
                .order_by(AnnotationTag.sample_id, AnnotationTag.tag)
            ):
                out[sid]["tags"].append(tag)
            for sid, flag in sess.execute(
                select(AnnotationFlag.sample_id, AnnotationFlag.flag)
                .where(AnnotationFlag.sample_id.in_(in_ds))
                .order_by(AnnotationFlag.sample_id, AnnotationFlag.flag)
            ):
                out[sid]["reviewer_flags"].append(flag)
            for sid, text in sess.execute(
                select(AnnotationNote.sample_id, AnnotationNote.text)
                .where(AnnotationNote.sample_id.in_(in_ds))
                .order_by(AnnotationNote.sample_id, AnnotationNote.id)
            ):
                out[sid]["notes"].append(text)
            for sid, start, end, label, note in sess.execute(
                select(
                    AnnotationRegion.sample_id,
                    AnnotationRegion.start,
                    AnnotationRegion.end,
                    AnnotationRegion.label,
                    AnnotationRegion.note,
                )
                .where(AnnotationRegion.sample_id.in_(in_ds))
                .order_by(AnnotationRegion.sample_id, AnnotationRegion.start, AnnotationRegion.id)
            ):
                out[sid]["regions"].append(
                    {"start": float(start), "end": float(end), "label": label, "note": note}
                )
            for sid, who, label in sess.execute(
                select(AnnotationVote.sample_id, AnnotationVote.reviewer, AnnotationVote.label)
                .where(AnnotationVote.sample_id.in_(in_ds))
                .order_by(AnnotationVote.sample_id, AnnotationVote.reviewer)
            ):
                out[sid]["votes"][who] = label
            return out
