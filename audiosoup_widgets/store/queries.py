"""Reading and editing samples: filters, keyset pages, edits with history.

Every filter and sort column comes from an allow-list checked before any SQL is
built; every value travels as a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session

from ..errors import ConflictError, NotFoundError, ValidationError
from ..vocabulary import SPLITS
from .annotation_filters import annotation_conditions, check_annotation_filters
from .engine import BaseStore
from .idset import MAX_IDS, ids_condition, validate_ids
from .models import MAX_TEXT, Dataset, Label, LoadFailure, LoadRun, Sample, SampleEdit
from .origin import check_origin, origin_conditions
from .records import DatasetRecord, EditRecord, LabelRecord, LoadRunRecord, SampleRecord, sample_record
from .suspects import by_suspicion, only_suspects
from .textvectors import rank_order
from .validation import MAX_META_KEYS, validate_label_name, validate_meta, validate_reason, validate_reviewer

#: Columns a user may sort by: name -> (SQL expression builder).
SORTS = ("id", "path", "label", "duration", "split", "speaker", "sample_rate", "suspicion")
STATUSES = ("ok", "flagged")
MAX_PAGE_SIZE = 200
MAX_SEARCH = 200
EDITABLE = ("label", "text", "split", "meta")
#: The columns of a history row, in the order of :class:`EditRecord`'s fields.
_EDIT_FIELDS = tuple("id sample_id reviewer at field old new version undone kind batch_id reason".split())


@dataclass(frozen=True)
class SampleQuery:
    """A validated filter and sort over one dataset's samples.

    Parameters
    ----------
    dataset : str
        Dataset name.
    labels : tuple of str
        Keep samples with any of these labels (empty: all).
    split : str, optional
        ``train``, ``validation`` or ``test``.
    search : str
        Case-insensitive text searched in the file path and the free text.
    status : str, optional
        ``ok`` or ``flagged`` (a sample with any flag).
    sort : str
        One of :data:`SORTS`, optionally prefixed with ``-`` for descending.
    ids : tuple of int, optional
        Keep only these sample ids (a selection, a lasso on a map, a QC finding):
        ``None`` filters nothing, ``()`` matches nothing. Ids of other datasets
        match nothing. Any iterable of integers (a NumPy integer array too) is
        turned into a tuple; at most :data:`MAX_IDS`.
    suspects : bool
        Keep only the current label suspects of the dataset's latest model run with
        suspects (none when there is no run). Sorting by ``suspicion`` (``-suspicion``:
        most suspicious first) orders by that run's score, clips it does not suspect last.
    disagreement : bool
        Keep only samples whose reviewers' current votes hold two or more labels.
    tags, reviewer_flags : tuple of str
        Keep samples with any of these tags, and with any of these reviewer flags (not
        the quality flags of ``status``); empty: all.
    origin : {'original', 'derived'}, optional
        Keep only clips loaded from disk, or only clips derived from them by an
        augmentation recipe; None keeps both.
    """

    dataset: str
    labels: tuple[str, ...] = field(default=())
    split: str | None = None
    search: str = ""
    status: str | None = None
    sort: str = "id"
    ids: tuple[int, ...] | None = None
    suspects: bool = False
    disagreement: bool = False
    tags: tuple[str, ...] = field(default=())
    reviewer_flags: tuple[str, ...] = field(default=())
    #: Keep only these ids, in this order (a semantic search's ranking; it overrides ``sort``).
    ranked: tuple[int, ...] | None = None
    origin: str | None = None

    def __post_init__(self) -> None:
        check_annotation_filters(self)
        check_origin(self)
        key = self.sort.lstrip("-")
        if key not in SORTS:
            raise ValidationError(f"cannot sort by {self.sort!r}; choose one of {', '.join(SORTS)}")
        if self.split not in (None, *SPLITS):
            raise ValidationError(f"unknown split {self.split!r}; choose one of {', '.join(SPLITS)}")
        if self.status not in (None, *STATUSES):
            raise ValidationError(f"unknown status {self.status!r}")
        if len(self.search) > MAX_SEARCH:
            raise ValidationError(f"search text longer than {MAX_SEARCH} characters")
        if not isinstance(self.labels, tuple):
            object.__setattr__(self, "labels", tuple(self.labels))
        if self.ids is not None:
            object.__setattr__(self, "ids", validate_ids(self.ids))
        if self.ranked is not None:
            object.__setattr__(self, "ranked", validate_ids(self.ranked))

    def __repr__(self) -> str:
        # A lasso's 100,000 ids would make every log line and error message huge.
        keys = (
            "dataset labels split search status sort suspects disagreement tags reviewer_flags origin".split()
        )
        fields = {k: getattr(self, k) for k in keys}
        ids = "None" if self.ids is None else f"<{len(self.ids)} ids>"
        ranked = "" if self.ranked is None else f", ranked=<{len(self.ranked)} ids>"
        return f"SampleQuery({', '.join(f'{k}={v!r}' for k, v in fields.items())}, ids={ids}{ranked})"

    @functools.cached_property
    def _ids_csv(self) -> str:
        # Built once per query: a count and a page of the same query both bind it.
        return ",".join(map(str, self.ids or ()))


def _dataset_id(sess: Session, name: str) -> int:
    ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == name))
    if ds_id is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return ds_id


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(sess: Session, q: SampleQuery) -> list[Any]:
    ds_id = _dataset_id(sess, q.dataset)
    conds: list[Any] = [Sample.dataset_id == ds_id]
    if q.labels:
        ids = sess.scalars(select(Label.id).where(Label.dataset_id == ds_id, Label.name.in_(q.labels))).all()
        if len(ids) != len(set(q.labels)):
            raise ValidationError("unknown label in filter")
        conds.append(Sample.label_id.in_(ids))
    if q.split:
        conds.append(Sample.split == q.split)
    if q.search:
        pat = f"%{_escape_like(q.search.lower())}%"
        conds.append(
            or_(
                func.lower(Sample.path).like(pat, escape="\\"), func.lower(Sample.text).like(pat, escape="\\")
            )
        )
    if q.status == "ok":
        conds.append(Sample.status == "ok")
    elif q.status == "flagged":
        conds.append(Sample.status != "ok")
    if q.ids is not None:
        conds.append(ids_condition(sess.get_bind().dialect.name, q.ids, csv=q._ids_csv))
    if q.suspects:
        conds.append(only_suspects(sess, ds_id))
    if q.ranked is not None:
        conds.append(ids_condition(sess.get_bind().dialect.name, q.ranked))
    return conds + annotation_conditions(q) + origin_conditions(q)


def _ordered(sess: Session, q: SampleQuery, ids_q: Any) -> Any:
    """Join what the sort needs (the label, the latest run's suspicion) and order ``ids_q``."""
    key = q.sort.lstrip("-")
    desc = q.sort.startswith("-")
    if q.ranked is not None:
        return rank_order(sess.get_bind().dialect.name, q.ranked, ids_q)
    if key == "label":
        ids_q = ids_q.outerjoin(Label, Label.id == Sample.label_id)
    if key == "suspicion":
        return by_suspicion(sess, _dataset_id(sess, q.dataset), ids_q, descending=desc)
    col = Label.name if key == "label" else getattr(Sample, key)
    cols = [col.desc() if desc else col.asc()]
    if key != "id":
        cols.append(Sample.id.desc() if desc else Sample.id.asc())
    return ids_q.order_by(*cols)


class QueryMixin(BaseStore):
    """Read and edit methods of :class:`audiosoup_widgets.store.Store`."""

    def list_datasets(self) -> list[DatasetRecord]:
        """Return every dataset with its sample count, by name."""
        with self.session() as sess:
            counts = dict(
                sess.execute(select(Sample.dataset_id, func.count()).group_by(Sample.dataset_id)).all()
            )
            return [
                DatasetRecord(d.id, d.name, d.root, d.layout, counts.get(d.id, 0))
                for d in sess.scalars(select(Dataset).order_by(Dataset.name))
            ]

    def get_dataset(self, name: str) -> DatasetRecord:
        """Return one dataset, or raise :class:`NotFoundError`."""
        with self.session() as sess:
            d = sess.scalar(select(Dataset).where(Dataset.name == name))
            if d is None:
                raise NotFoundError(f"no dataset named {name!r}")
            n = sess.scalar(select(func.count()).where(Sample.dataset_id == d.id)) or 0
            return DatasetRecord(d.id, d.name, d.root, d.layout, n)

    def list_labels(self, dataset: str) -> list[LabelRecord]:
        """Return the dataset's labels with their sample counts, by name."""
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            rows = sess.execute(
                select(Label.id, Label.name, func.count(Sample.id))
                .outerjoin(Sample, Sample.label_id == Label.id)
                .where(Label.dataset_id == ds_id)
                .group_by(Label.id, Label.name)
                .order_by(Label.name)
            ).all()
            return [LabelRecord(i, n, c) for i, n, c in rows]

    def count_samples(self, query: SampleQuery) -> int:
        """Count the samples matching ``query``."""
        with self.session() as sess:
            return sess.scalar(select(func.count(Sample.id)).where(*_where(sess, query))) or 0

    def sample_ids(self, query: SampleQuery, *, limit: int | None = None) -> list[int]:
        """Return the ids of every sample matching ``query``, in its sort order.

        This is "select all N matching the filters" done on the server: the
        result, handed back as ``SampleQuery(..., ids=...)``, pages exactly as
        ``query`` does.

        Parameters
        ----------
        query : SampleQuery
            Filters and sort.
        limit : int, optional
            Return at most this many (the first ones in sort order).
        """
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValidationError("limit must be 0 or more")
        with self.session() as sess:
            ids_q = _ordered(sess, query, select(Sample.id).where(*_where(sess, query)))
            if limit is not None:
                ids_q = ids_q.limit(limit)
            return list(sess.scalars(ids_q))

    def page_samples(self, query: SampleQuery, *, page: int = 0, page_size: int = 24) -> list[SampleRecord]:
        """Return one page of samples.

        The ids of the page are found first over the covering indexes (cheap
        even for a deep page), then only those rows are read in full.
        """
        if not (1 <= page_size <= MAX_PAGE_SIZE):
            raise ValidationError(f"page size must be between 1 and {MAX_PAGE_SIZE}")
        if page < 0:
            raise ValidationError("page must be 0 or more")
        with self.session() as sess:
            conds = _where(sess, query)
            ids_q = _ordered(sess, query, select(Sample.id).where(*conds))
            ids = sess.scalars(ids_q.offset(page * page_size).limit(page_size)).all()
            return self._records_by_ids(sess, ids, query.dataset)

    def _records_by_ids(
        self, sess: Session, ids: Sequence[int], dataset: str | None = None
    ) -> list[SampleRecord]:
        if not ids:
            return []
        rows = sess.execute(
            select(Sample, Label.name, Dataset.name)
            .join(Dataset, Dataset.id == Sample.dataset_id)
            .outerjoin(Label, Label.id == Sample.label_id)
            .where(Sample.id.in_(ids))
        ).all()
        by_id = {s.id: sample_record(s, lab, ds) for s, lab, ds in rows}
        return [by_id[i] for i in ids if i in by_id]

    def get_sample(self, sample_id: int, *, dataset: str | None = None) -> SampleRecord:
        """Return one sample; with ``dataset``, refuse a sample of another dataset."""
        if not isinstance(sample_id, int) or isinstance(sample_id, bool):
            raise ValidationError("sample id must be an integer")
        with self.session() as sess:
            recs = self._records_by_ids(sess, [sample_id])
            if not recs or (dataset is not None and recs[0].dataset != dataset):
                raise NotFoundError(f"no sample with id {sample_id}")
            return recs[0]

    def sample_file(self, sample_id: int) -> str:
        """Return the absolute file name of a sample's audio (for playback)."""
        import os

        with self.session() as sess:
            row = sess.execute(
                select(Sample.path, Sample.path_bytes, Dataset.root)
                .join(Dataset, Dataset.id == Sample.dataset_id)
                .where(Sample.id == sample_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no sample with id {sample_id}")
            rel = os.fsdecode(row.path_bytes) if row.path_bytes else row.path
            return os.path.join(row.root, rel)

    # -- edits ---------------------------------------------------------------

    def update_sample(
        self,
        sample_id: int,
        *,
        version: int,
        reviewer: str,
        label: str | None = None,
        text: str | None = None,
        split: str | None = None,
        meta: dict[str, Any] | None = None,
        create_label: bool = False,
        reason: str | None = None,
    ) -> SampleRecord:
        """Change a sample's label, text, split or metadata, with history.

        Parameters
        ----------
        sample_id : int
            The sample.
        version : int
            The version the writer read. If the row has moved on, nothing is
            written and :class:`ConflictError` carries both values.
        reviewer : str
            Who makes the change (recorded in the history).
        label, text, split, meta : optional
            New values; ``None`` leaves a field unchanged. ``text=""`` clears it.
        create_label : bool
            Allow a label name the dataset does not have yet.
        reason : str, optional
            Why (kept with each history row of the change).

        Returns
        -------
        SampleRecord
            The sample as stored after the change.
        """
        reviewer = validate_reviewer(reviewer)
        reason = validate_reason(reason)
        if text is not None and len(text) > MAX_TEXT:
            raise ValidationError(f"text longer than {MAX_TEXT} characters")
        if split is not None and split not in SPLITS:
            raise ValidationError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if meta is not None:
            meta = validate_meta(meta)
        if label is not None:
            label = validate_label_name(label)
        with self.session() as sess:
            row = sess.execute(
                select(Sample, Label.name)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.id == sample_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no sample with id {sample_id}")
            sample, old_label = row
            changes: dict[str, tuple[Any, Any]] = {}
            values: dict[str, Any] = {}
            if label is not None and label != old_label:
                label_id = sess.scalar(
                    select(Label.id).where(Label.dataset_id == sample.dataset_id, Label.name == label)
                )
                if label_id is None:
                    if not create_label:
                        raise ValidationError(f"unknown label {label!r}")
                    new = Label(dataset_id=sample.dataset_id, name=label)
                    sess.add(new)
                    sess.flush()
                    label_id = new.id
                values["label_id"] = label_id
                changes["label"] = (old_label, label)
            if text is not None and (text or None) != sample.text:
                values["text"] = text or None
                changes["text"] = (sample.text, text or None)
            if split is not None and split != sample.split:
                values["split"] = split
                changes["split"] = (sample.split, split)
            if meta is not None and meta != (sample.meta or {}):
                values["meta"] = meta
                changes["meta"] = (sample.meta or {}, meta)
            if version != sample.version:
                field_name = next(iter(changes), "label")
                theirs = {
                    "label": old_label,
                    "text": sample.text,
                    "split": sample.split,
                    "meta": sample.meta,
                }.get(field_name)
                mine = {"label": label, "text": text, "split": split, "meta": meta}.get(field_name)
                raise ConflictError(
                    f"{sample.updated_by or 'someone'} changed this sample since you opened it; "
                    "nothing was saved",
                    field=field_name,
                    mine=mine,
                    theirs=theirs,
                    theirs_by=sample.updated_by,
                )
            if not changes:
                return self._records_by_ids(sess, [sample_id])[0]
            self._write(sess, sample, version, reviewer, values, changes, reason=reason)
        return self.get_sample(sample_id)

    def _write(
        self,
        sess: Session,
        sample: Sample,
        version: int,
        reviewer: str,
        values: dict[str, Any],
        changes: dict[str, tuple[Any, Any]],
        kind: str = "edit",
        reason: str | None = None,
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        # Compare-and-set on the version: the WHERE makes a concurrent writer lose
        # cleanly even if both read the same version at the same moment.
        res = sess.execute(
            update(Sample)
            .where(Sample.id == sample.id, Sample.version == version)
            .values(**values, version=version + 1, updated_at=now, updated_by=reviewer)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", res).rowcount != 1:  # a DML result counts its rows
            sess.rollback()
            current = self.get_sample(sample.id)
            field_name = next(iter(changes))
            raise ConflictError(
                f"{current.updated_by or 'someone'} changed this sample since you opened it; "
                "nothing was saved",
                field=field_name,
                mine=changes[field_name][1],
                theirs=getattr(current, field_name, None),
                theirs_by=current.updated_by,
            )
        for name, (old, new) in changes.items():
            sess.add(
                SampleEdit(
                    sample_id=sample.id,
                    reviewer=reviewer,
                    at=now,
                    field=name,
                    old=old,
                    new=new,
                    version=version + 1,
                    kind=kind,
                    reason=reason,
                )
            )

    def sample_history(self, sample_id: int) -> list[EditRecord]:
        """Return the sample's edits, newest first."""
        with self.session() as sess:
            rows = sess.scalars(
                select(SampleEdit).where(SampleEdit.sample_id == sample_id).order_by(SampleEdit.id.desc())
            ).all()
            return [EditRecord(*(getattr(e, name) for name in _EDIT_FIELDS)) for e in rows]

    def undo_last_edit(self, sample_id: int, *, version: int, reviewer: str) -> SampleRecord:
        """Revert the most recent (not yet undone) edit of a sample.

        The undo is itself a recorded edit; it needs the current ``version``, so
        undoing over someone else's newer change is a conflict, not a loss.
        """
        reviewer = validate_reviewer(reviewer)
        with self.session() as sess:
            sample = sess.get(Sample, sample_id)
            if sample is None:
                raise NotFoundError(f"no sample with id {sample_id}")
            last = sess.scalars(
                select(SampleEdit)
                .where(
                    SampleEdit.sample_id == sample_id, SampleEdit.undone.is_(False), SampleEdit.kind == "edit"
                )
                .order_by(SampleEdit.version.desc(), SampleEdit.id.desc())
                .limit(1)
            ).first()
            if last is None:
                raise ValidationError("nothing to undo")
            group = sess.scalars(
                select(SampleEdit).where(
                    SampleEdit.sample_id == sample_id,
                    SampleEdit.version == last.version,
                    SampleEdit.kind == "edit",
                    SampleEdit.undone.is_(False),
                )
            ).all()
            if version != sample.version:
                raise ConflictError(
                    "this sample changed since you opened it; nothing was undone",
                    field=last.field,
                    mine=last.old,
                    theirs=last.new,
                    theirs_by=sample.updated_by,
                )
            values: dict[str, Any] = {}
            changes: dict[str, tuple[Any, Any]] = {}
            for e in group:
                if e.field == "label":
                    lid = None
                    if e.old is not None:
                        lid = sess.scalar(
                            select(Label.id).where(Label.dataset_id == sample.dataset_id, Label.name == e.old)
                        )
                    values["label_id"] = lid
                elif e.field in ("text", "split", "meta"):
                    values[e.field] = e.old
                changes[e.field] = (e.new, e.old)
                e.undone = True
            self._write(sess, sample, version, reviewer, values, changes, kind="undo")
        return self.get_sample(sample_id)

    # -- load runs -------------------------------------------------------------

    def list_load_runs(self, dataset: str) -> list[LoadRunRecord]:
        """Return the dataset's load runs, newest first, with their skipped files."""
        with self.session() as sess:
            ds_id = _dataset_id(sess, dataset)
            runs = sess.scalars(
                select(LoadRun).where(LoadRun.dataset_id == ds_id).order_by(LoadRun.id.desc())
            ).all()
            out = []
            for r in runs:
                fails = sess.execute(
                    select(LoadFailure.path, LoadFailure.reason, LoadFailure.message)
                    .where(LoadFailure.run_id == r.id)
                    .order_by(LoadFailure.path)
                ).all()
                out.append(
                    LoadRunRecord(
                        r.id,
                        dataset,
                        r.root,
                        r.layout,
                        r.status,
                        r.started_at,
                        r.finished_at,
                        r.n_found,
                        r.n_loaded,
                        r.n_existing,
                        r.n_skipped,
                        tuple((p, c, m) for p, c, m in fails),
                    )
                )
            return out


__all__ = ["SampleQuery", "QueryMixin", "SORTS", "SPLITS", "MAX_IDS", "ids_condition", "validate_ids"]
__all__ += ["MAX_META_KEYS", "validate_label_name", "validate_meta", "validate_reason", "validate_reviewer"]
