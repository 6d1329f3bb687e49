"""RelabelService: one label for a selection of clips, previewed, applied and undone as a batch.

The use case behind the selection bar's "Relabel": a preview (how many of the
selected clips carry each label now), the change itself (one history row per clip
with a shared batch id, clips saved by someone else since the selection was made
skipped and reported) and the undo of a whole batch in one step. The store does
the work in a few set-based statements; this service checks the input with the
editor's own rules, and drops the sample service's caches after a change, so
pages, counts and label lists are read again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..errors import ValidationError
from ..store import Store
from ..store.idset import validate_ids
from ..store.records import BatchUndoRecord, RelabelRecord, SkippedSample
from ..store.relabel import MAX_REASON, validate_reason
from .samples import SampleService, validate_label_name, validate_reviewer

__all__ = ["RelabelService", "MAX_REASON", "BatchUndoRecord", "RelabelRecord", "SkippedSample"]


def _selection(ids: Iterable[int]) -> tuple[int, ...]:
    if isinstance(ids, (str, bytes)):
        raise ValidationError("sample ids must be a list of integers")
    checked = tuple(sorted(set(validate_ids(ids))))
    if not checked:
        raise ValidationError("Select at least one clip to relabel.")
    return checked


class RelabelService:
    """Bulk relabel of a selection, with a preview and the undo of a batch.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        The sample service whose caches a change makes stale.
    """

    def __init__(self, store: Store, samples: SampleService) -> None:
        self._store = store
        self._samples = samples

    def preview(self, dataset: str, ids: Iterable[int]) -> list[tuple[str | None, int]]:
        """Return how many of ``ids`` carry each label now, most common first.

        Parameters
        ----------
        dataset : str
            Dataset name.
        ids : iterable of int
            The selection.

        Returns
        -------
        list of (str or None, int)
            ``(label, count)``; ``None`` stands for clips without a label.

        Raises
        ------
        ValidationError
            For an empty selection or ids that are not clips of ``dataset``.
        """
        checked = _selection(ids)
        counts = self._store.label_counts(dataset, checked)
        missing = len(checked) - sum(counts.values())
        if missing:
            raise ValidationError(
                f"{missing:,} of the selected clips are not in dataset {dataset!r}; clear the selection "
                "and select again."
            )
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))

    def relabel(
        self,
        dataset: str,
        ids: Iterable[int],
        label: str,
        *,
        reviewer: str,
        seen_at: dt.datetime,
        reason: str | None = None,
        create_label: bool = False,
    ) -> RelabelRecord:
        """Give every clip of ``ids`` the label ``label``; skip clips changed by others since ``seen_at``.

        Parameters
        ----------
        dataset : str
            Dataset name.
        ids : iterable of int
            The selection.
        label : str
            The new label: one the dataset has, or a new one with ``create_label``
            (as the editor's "New label").
        reviewer : str
            Who makes the change.
        seen_at : datetime
            When the selection was made (timezone-aware).
        reason : str, optional
            Why, recorded in each clip's history (at most :data:`MAX_REASON` characters).
        create_label : bool
            Allow a label the dataset does not have yet.

        Returns
        -------
        RelabelRecord
            The batch id, how many clips changed, already had the label, or were skipped.

        Raises
        ------
        ValidationError
            For an empty selection, unknown ids, an unknown label without
            ``create_label``, a bad label name, reviewer or reason; nothing is written.
        """
        checked = _selection(ids)
        name = validate_label_name(label)
        who = validate_reviewer(reviewer)
        why = validate_reason(reason)
        if not create_label and name not in self._samples.label_names(dataset):
            raise ValidationError(f"“{name}” is not a label of this dataset; use “New label” to create it.")
        result = self._store.relabel_samples(
            dataset,
            checked,
            label=name,
            reviewer=who,
            seen_at=seen_at,
            reason=why,
            create_label=create_label,
        )
        self._samples.forget()
        return result

    def undo_batch(self, batch_id: str, *, reviewer: str) -> BatchUndoRecord:
        """Undo a bulk relabel as one step; clips edited again since are reported and left alone.

        Parameters
        ----------
        batch_id : str
            The batch id of a :class:`RelabelRecord`.
        reviewer : str
            Who undoes it.

        Returns
        -------
        BatchUndoRecord

        Raises
        ------
        ValidationError, NotFoundError
        """
        result = self._store.undo_batch(batch_id, reviewer=validate_reviewer(reviewer))
        self._samples.forget()
        return result
