"""SampleService: samples, pages, counts and lists, and edits with history, undo and conflicts.

Every read of sample metadata and every edit the widgets make goes through here, so
this service alone decides what is cached and when it is stale:

* sample records are cached by id; a page read refreshes the records it returns, so
  the grid's click, the review, the editor and the explorer share one read;
* counts per filter and dataset/label lists are cached until an edit through this
  service (or :meth:`SampleService.forget`, after changes made elsewhere);
* an edit or undo replaces the cached record with the stored one; a conflict drops it,
  so the next read shows what is stored now.

It also re-exports the vocabulary the widgets need (splits, statuses, sorts, page
sizes, text limits, label and reviewer checks), so no widget imports the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConflictError, NotFoundError, ValidationError
from ..store import Store
from ..store.models import MAX_TEXT
from ..store.queries import (
    MAX_META_KEYS,
    MAX_SEARCH,
    SORTS,
    SPLITS,
    STATUSES,
    SampleQuery,
    validate_label_name,
    validate_reviewer,
)
from ..store.records import DatasetRecord, EditRecord, LabelRecord, SampleRecord
from .cache import LRUCache
from .protocols import SampleFilters

__all__ = [
    "SampleService",
    "as_sample_id",
    "PAGE_SIZES",
    "SPLITS",
    "STATUSES",
    "SORTS",
    "MAX_SEARCH",
    "MAX_TEXT",
    "MAX_META_KEYS",
    "MAX_META_KEY",
    "MAX_META_VALUE",
    "validate_label_name",
    "validate_reviewer",
]

#: Cards per page a user can pick (the store serves at most 200).
PAGE_SIZES: tuple[int, ...] = (12, 24, 48, 96)
#: Longest custom metadata key and value (the store's own limits).
MAX_META_KEY = 100
MAX_META_VALUE = 1000


def as_sample_id(value: object) -> int:
    """Return ``value`` as a sample id, or raise :class:`ValidationError`.

    Front ends send JSON: accept an int (or an integral float such as ``3.0``),
    refuse booleans, strings and anything out of range.
    """
    if isinstance(value, bool):
        raise ValidationError("invalid sample id")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not (0 < value < 2**63):
        raise ValidationError("invalid sample id")
    return value


def _query(filters: SampleFilters, ranked: tuple[int, ...] | None = None) -> SampleQuery:
    """Build the store's validated query from plain filters (raises ValidationError)."""
    return SampleQuery(
        filters["dataset"],
        labels=tuple(filters.get("labels", ())),
        split=filters.get("split"),
        search=filters.get("search", ""),
        status=filters.get("status"),
        sort=filters.get("sort", "id"),
        ids=None if filters.get("ids") is None else tuple(filters.get("ids") or ()),
        suspects=bool(filters.get("suspects", False)),
        disagreement=bool(filters.get("disagreement", False)),
        tags=tuple(filters.get("tags", ())),
        reviewer_flags=tuple(filters.get("reviewer_flags", ())),
        origin=filters.get("origin"),
        ranked=ranked,
    )


class SampleService:
    """Sample metadata in and out, with caches invalidated by the edits made through it.

    Parameters
    ----------
    store : Store
        The open store (each call opens and closes its own session).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._records: LRUCache[SampleRecord] = LRUCache(512)
        self._counts: LRUCache[int] = LRUCache(128)
        self._datasets: LRUCache[list[DatasetRecord]] = LRUCache(1)
        self._labels: LRUCache[list[LabelRecord]] = LRUCache(32)
        self._roots: dict[str, str] = {}
        #: Counts the changes made through (or announced to) this service: caches of
        #: other services (the text vectors) compare it with the one they were built at.
        self.generation = 0
        #: Turns ``(dataset, text)`` into sample ids ranked by meaning (set by the text
        #: service); a filter with ``semantic`` text needs it.
        self.ranker: Callable[[str, str], tuple[int, ...]] | None = None

    # -- reads ------------------------------------------------------------------------

    def get(self, sample_id: object, *, dataset: str | None = None, fresh: bool = False) -> SampleRecord:
        """Return a sample record after checking the id (and its dataset).

        Parameters
        ----------
        sample_id : object
            Anything a front end sent; must be a positive integer.
        dataset : str, optional
            Refuse a sample of another dataset.
        fresh : bool
            Read the store even if the record is cached (a "reload").

        Returns
        -------
        SampleRecord

        Raises
        ------
        ValidationError, NotFoundError
        """
        sid = as_sample_id(sample_id)
        if fresh:
            self._records.pop(sid)
        record = self._records.get(sid, lambda: self._store.get_sample(sid))
        if dataset is not None and record.dataset != dataset:
            raise NotFoundError(f"no sample with id {sid}")
        return record

    def page(self, filters: SampleFilters, *, page: int, page_size: int) -> list[SampleRecord]:
        """Return one page of samples (and refresh their cached records).

        Parameters
        ----------
        filters : SampleFilters
            Dataset, labels, split, search, status and sort (checked here).
        page : int
            0-based page.
        page_size : int
            One of :data:`PAGE_SIZES`.

        Returns
        -------
        list of SampleRecord
        """
        if page_size not in PAGE_SIZES:
            raise ValidationError(f"page size must be one of {', '.join(map(str, PAGE_SIZES))}")
        records = self._store.page_samples(self._query(filters), page=page, page_size=page_size)
        for record in records:
            self._records.put(record.id, record)
        return records

    def count(self, filters: SampleFilters) -> int:
        """Return the number of samples matching ``filters`` (cached until an edit)."""
        query = self._query(filters)
        return self._counts.get(query, lambda: self._store.count_samples(query))

    def ids(self, filters: SampleFilters) -> list[int]:
        """Return every id matching ``filters``, in their sort order ("select all N").

        Read from the store each time (no cache): the ids go into a selection, which
        must hold what matches now.
        """
        return self._store.sample_ids(self._query(filters))

    def datasets(self) -> list[DatasetRecord]:
        """Return every dataset with its size (cached until an edit)."""
        return self._datasets.get("datasets", self._store.list_datasets)

    def labels(self, dataset: str) -> list[LabelRecord]:
        """Return the labels of ``dataset`` with counts (cached until an edit)."""
        return self._labels.get(dataset, lambda: self._store.list_labels(dataset))

    def label_names(self, dataset: str) -> set[str]:
        """Return the names of the labels ``dataset`` has."""
        return {lab.name for lab in self.labels(dataset)}

    def history(self, sample_id: int) -> list[EditRecord]:
        """Return a sample's edits, newest first (always read: others may edit too)."""
        return self._store.sample_history(as_sample_id(sample_id))

    def sample_file(self, sample_id: int) -> str:
        """Return the absolute file name of a sample's audio."""
        return self._store.sample_file(as_sample_id(sample_id))

    def dataset_root(self, dataset: str) -> str:
        """Return the root folder of a dataset (audio must stay inside it)."""
        if dataset not in self._roots:
            self._roots[dataset] = self._store.dataset_root(dataset)
        return self._roots[dataset]

    def forget(self) -> None:
        """Drop cached records, counts and lists (after a change made elsewhere)."""
        self._records.clear()
        self._changed()

    # -- edits ------------------------------------------------------------------------

    def update(
        self,
        record: SampleRecord,
        *,
        reviewer: str,
        label: str | None = None,
        text: str | None = None,
        split: str | None = None,
        meta: dict[str, Any] | None = None,
        create_label: bool = False,
        reason: str | None = None,
    ) -> SampleRecord:
        """Save a change against the version of ``record``; never overwrite a newer one.

        Parameters
        ----------
        record : SampleRecord
            The sample as the user saw it (its ``version`` is the one checked).
        reviewer : str
            Who makes the change (recorded in the history).
        label, text, split, meta : optional
            New values; ``None`` leaves a field unchanged.
        create_label : bool
            Allow a label the dataset does not have yet.
        reason : str, optional
            Why (kept in the history).

        Returns
        -------
        SampleRecord
            The sample as stored after the change (same version if nothing changed).

        Raises
        ------
        ConflictError
            Someone saved in between; nothing was written and the cached record is dropped.
        ValidationError
        """
        try:
            new = self._store.update_sample(
                record.id,
                version=record.version,
                reviewer=reviewer,
                label=label,
                text=text,
                split=split,
                meta=meta,
                create_label=create_label,
                reason=reason,
            )
        except ConflictError:
            self._records.pop(record.id)
            raise
        return self._saved(record, new)

    def undo(self, record: SampleRecord, *, reviewer: str) -> SampleRecord:
        """Revert the last edit of ``record`` (itself recorded); conflicts as :meth:`update`."""
        try:
            new = self._store.undo_last_edit(record.id, version=record.version, reviewer=reviewer)
        except ConflictError:
            self._records.pop(record.id)
            raise
        return self._saved(record, new)

    def _saved(self, old: SampleRecord, new: SampleRecord) -> SampleRecord:
        self._records.put(new.id, new)
        if new.version != old.version:
            self._changed()
        return new

    def _query(self, filters: SampleFilters) -> SampleQuery:
        semantic = (filters.get("semantic") or "").strip()
        if not semantic:
            return _query(filters)
        if self.ranker is None:
            raise ValidationError("searching by meaning is not available here")
        return _query(filters, self.ranker(filters["dataset"], semantic))

    def _changed(self) -> None:
        self.generation += 1
        # Any edit can move a sample between filters and labels: every count may differ.
        self._counts.clear()
        self._datasets.clear()
        self._labels.clear()
