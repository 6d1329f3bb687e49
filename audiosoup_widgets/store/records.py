"""Plain records that leave the store: frozen dataclasses, no ORM state attached."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset and its size."""

    id: int
    name: str
    root: str
    layout: str
    n_samples: int = 0


@dataclass(frozen=True)
class LabelRecord:
    """A label and how many samples carry it."""

    id: int
    name: str
    n_samples: int = 0


@dataclass(frozen=True)
class SampleRecord:
    """Everything the UI shows about one sample (no audio)."""

    id: int
    dataset: str
    path: str
    label: str | None
    split: str | None
    speaker: str | None
    text: str | None
    meta: dict[str, Any]
    format: str
    subtype: str | None
    sample_rate: int
    channels: int
    frames: int
    duration: float
    status: str
    flags: tuple[str, ...]
    peaks: bytes | None
    peak_abs: float | None
    rms_db: float | None
    content_hash: str
    version: int
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    #: A derived (augmented) clip's parent sample and recipe version; None for an original.
    parent_id: int | None = None
    recipe_id: int | None = None

    @property
    def file_name(self) -> str:
        """The last part of the relative path."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RecipeRecord:
    """One stored version of a dataset's augmentation recipe (``spec``: its dict form)."""

    id: int
    dataset: str
    name: str
    version: int
    spec: dict[str, Any]
    key: str
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class EditRecord:
    """One recorded change of one field."""

    id: int
    sample_id: int
    reviewer: str
    at: dt.datetime
    field: str
    old: Any
    new: Any
    version: int
    undone: bool
    kind: str = "edit"
    batch_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SkippedSample:
    """A sample a bulk change left alone, with who saved it last and when."""

    id: int
    path: str
    updated_by: str | None
    updated_at: dt.datetime | None

    @property
    def file_name(self) -> str:
        """The last part of the relative path."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RelabelRecord:
    """What a bulk relabel did.

    Attributes
    ----------
    batch_id : str or None
        Shared by the history rows of the change; ``None`` when nothing changed.
    label : str
        The label given.
    changed : int
        Samples relabelled.
    unchanged : int
        Samples that already carried the label (no history row).
    skipped : tuple of SkippedSample
        Samples saved by someone else since they were selected, left alone.
    """

    batch_id: str | None
    label: str
    changed: int
    unchanged: int
    skipped: tuple[SkippedSample, ...] = field(default=())


@dataclass(frozen=True)
class BatchUndoRecord:
    """What the undo of a bulk change did.

    Attributes
    ----------
    batch_id : str
    label : str or None
        The label the bulk change had given.
    reverted : int
        Samples given back their previous label.
    already_undone : int
        Samples whose change had been undone on its own before.
    skipped : tuple of SkippedSample
        Samples edited again since the change, left alone.
    """

    batch_id: str
    label: str | None
    reverted: int
    already_undone: int
    skipped: tuple[SkippedSample, ...] = field(default=())


@dataclass(frozen=True)
class LoadRunRecord:
    """A load run with its counts and its skipped files."""

    id: int
    dataset: str
    root: str
    layout: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    n_found: int
    n_loaded: int
    n_existing: int
    n_skipped: int
    failures: tuple[tuple[str, str, str], ...] = field(default=())


@dataclass(frozen=True)
class QcRunRecord:
    """One quality-control scan of a dataset.

    Attributes
    ----------
    id : int
    dataset : str
    started_at, finished_at : datetime
        When the scan started and when its findings were saved.
    params : dict
        The parameters the scan ran with (thresholds, measure version, ...).
    n_samples : int
        Samples the scan looked at.
    n_findings : int
        Findings it saved.
    """

    id: int
    dataset: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    params: dict[str, Any]
    n_samples: int
    n_findings: int


@dataclass(frozen=True)
class FindingRecord:
    """One QC finding: what kind, about which label, naming which samples.

    Attributes
    ----------
    id, run_id : int
    kind : str
        What was found (``duplicate``, ``clipping``, ``silence``, ...).
    label : str or None
        The label the finding is about, if any.
    sample_ids : tuple of int
        The samples it names (a grid filter: ``SampleQuery(..., ids=sample_ids)``).
    detail : dict
        Kind-specific values (thresholds, the shared hash, scores, ...).
    started_at, finished_at : datetime
        The run's start and end.
    """

    id: int
    run_id: int
    kind: str
    label: str | None
    sample_ids: tuple[int, ...]
    detail: dict[str, Any]
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def n_samples(self) -> int:
        """How many samples the finding names."""
        return len(self.sample_ids)


@dataclass(frozen=True, eq=False)
class ProjectionRecord:
    """A stored 2-D map of a dataset, one point per sample, in sample-id order.

    Attributes
    ----------
    dataset, family, method : str
        Which map: ``family`` is a feature family or ``all``; ``method`` e.g. ``pca``.
    input_key : str
        Identifies the inputs it was computed from (compare to tell it is stale).
    computed_at : datetime
    sample_ids : np.ndarray [shape=(n,), dtype=int64]
    x, y : np.ndarray [shape=(n,), dtype=float32]
    label, split : list of (str or None)
        Each point's current label and split (for colouring).
    """

    dataset: str
    family: str
    method: str
    input_key: str
    computed_at: dt.datetime
    sample_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    label: list[str | None]
    split: list[str | None]

    def __len__(self) -> int:
        return len(self.sample_ids)


@dataclass(frozen=True)
class ModelRunRecord:
    """One classifier run on a dataset: what it used, how it scored, who ran it.

    Attributes
    ----------
    id : int
    dataset : str
    created_at : datetime
    reviewer : str or None
    model : str
        ``logreg`` or ``forest``.
    params : dict
        Classifier parameters.
    features : list of str
        Feature ids the model used.
    scores : dict
        ``cv`` and ``validation`` scores (accuracy, balanced accuracy, per-class recall,
        confusion matrix), folds, grouping, notes.
    n_train, n_validation : int
        Clips of each split the run used.
    duration : float
        Seconds.
    test_scores : dict or None
        Scores on the test split, once a user asked for them.
    test_scored_at : datetime or None
    test_scored_by : str or None
    """

    id: int
    dataset: str
    created_at: dt.datetime
    reviewer: str | None
    model: str
    params: dict[str, Any]
    features: list[str]
    scores: dict[str, Any]
    n_train: int
    n_validation: int
    duration: float
    test_scores: dict[str, Any] | None = None
    test_scored_at: dt.datetime | None = None
    test_scored_by: str | None = None

    def metric(self, name: str = "balanced_accuracy") -> float | None:
        """Return the validation value of a metric, else the cross-validated one."""
        for where in ("validation", "cv"):
            part = self.scores.get(where) or {}
            if part.get(name) is not None:
                return float(part[name])
        return None


@dataclass(frozen=True)
class SuspectRecord:
    """One clip's suspicion in a model run, with the clip as it is now.

    Attributes
    ----------
    run_id, sample_id : int
    path : str
        As the store records it (relative to the dataset root).
    label : str
        The label the clip had when the run judged it.
    current_label : str or None
        Its label now.
    suggested : str
        The model's most probable label.
    score : float
        1 - self-confidence: how little the model believes the given label.
    rank : int
        1 for the most suspicious clip of the run.
    is_issue : bool
        cleanlab's verdict.
    top3 : tuple of (str, float)
        The model's three most probable labels.
    nearest : tuple of int
        The nearest clips of the suggested label (the run's issues only).
    decision : str or None
        ``keep`` or ``ambiguous`` when a reviewer decided about this clip and label and
        neither its label nor its audio changed since.
    """

    run_id: int
    sample_id: int
    path: str
    label: str
    current_label: str | None
    suggested: str
    score: float
    rank: int
    is_issue: bool
    top3: tuple[tuple[str, float], ...]
    nearest: tuple[int, ...]
    decision: str | None = None

    @property
    def stale(self) -> bool:
        """Whether the clip's label changed since the run (the suspicion no longer applies)."""
        return self.current_label != self.label


# -- annotations ------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteRecord:
    """A reviewer's current label vote on a sample."""

    sample_id: int
    reviewer: str
    label: str
    at: dt.datetime


@dataclass(frozen=True)
class RegionRecord:
    """A time region of a sample: ``start`` and ``end`` in seconds, a label and a note.

    ``version`` is what an edit of the region must hand back (optimistic concurrency).
    """

    id: int
    sample_id: int
    start: float
    end: float
    label: str | None
    note: str | None
    reviewer: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class NoteRecord:
    """A free-text note on a sample by one reviewer; ``version`` guards its edits."""

    id: int
    sample_id: int
    reviewer: str
    text: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class SampleAnnotations:
    """Every annotation of one sample.

    Attributes
    ----------
    votes : tuple of VoteRecord
        One per reviewer, by reviewer.
    tags, flags : tuple of str
        Sorted; ``flags`` are reviewer flags (not the ingest quality flags of the sample).
    regions : tuple of RegionRecord
        By start time.
    notes : tuple of NoteRecord
        Oldest first.
    """

    sample_id: int
    votes: tuple[VoteRecord, ...] = field(default=())
    tags: tuple[str, ...] = field(default=())
    flags: tuple[str, ...] = field(default=())
    regions: tuple[RegionRecord, ...] = field(default=())
    notes: tuple[NoteRecord, ...] = field(default=())


@dataclass(frozen=True)
class AnnotationEditRecord:
    """One recorded change of one annotation.

    Attributes
    ----------
    kind : str
        ``vote``, ``tag``, ``flag``, ``region`` or ``note``.
    action : str
        ``set``, ``clear``, ``add``, ``remove``, ``update``, ``delete`` or ``undo``.
    target : str
        The item within the sample: the voter, the tag, the flag, the region's or note's id.
    before, after : object
        The item's whole state before and after (``None``: absent), as JSON values.
    undoes : int or None
        For an undo, the id of the edit it reverted.
    """

    id: int
    sample_id: int
    kind: str
    action: str
    target: str
    before: Any
    after: Any
    reviewer: str
    batch_id: str | None
    at: dt.datetime
    undone: bool
    undoes: int | None = None


@dataclass(frozen=True)
class AnnotationBatchRecord:
    """What a change of a selection's tags or flags did.

    Attributes
    ----------
    batch_id : str or None
        Shared by the change's history rows; ``None`` when nothing changed.
    changed : int
        (sample, tag or flag) pairs added or removed.
    unchanged : int
        Pairs that were already so (no history row).
    """

    batch_id: str | None
    kind: str
    changed: int
    unchanged: int


@dataclass(frozen=True)
class AnnotationUndoRecord:
    """What the undo of a batch of annotation edits did.

    Attributes
    ----------
    reverted : int
        Edits reverted.
    already_undone : int
        Edits of the batch undone before (left alone).
    conflicts : tuple of int
        Ids of the samples whose item changed again since the batch (left alone).
    """

    batch_id: str
    reverted: int
    already_undone: int
    conflicts: tuple[int, ...] = field(default=())


def sample_record(s: Any, label: str | None, dataset: str) -> SampleRecord:
    """Return the record of a sample row (its label and dataset names given)."""
    return SampleRecord(
        id=s.id,
        dataset=dataset,
        path=s.path,
        label=label,
        split=s.split,
        speaker=s.speaker,
        text=s.text,
        meta=dict(s.meta or {}),
        format=s.format,
        subtype=s.subtype,
        sample_rate=s.sample_rate,
        channels=s.channels,
        frames=s.frames,
        duration=s.duration,
        status=s.status,
        flags=tuple(s.flags or ()),
        peaks=s.peaks,
        peak_abs=s.peak_abs,
        rms_db=s.rms_db,
        content_hash=s.content_hash,
        version=s.version,
        updated_at=s.updated_at,
        updated_by=s.updated_by,
        parent_id=getattr(s, "parent_id", None),
        recipe_id=getattr(s, "recipe_id", None),
    )
