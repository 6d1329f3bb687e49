"""Plain records that leave the store: frozen dataclasses, no ORM state attached."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


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

    @property
    def file_name(self) -> str:
        """The last part of the relative path."""
        return self.path.rsplit("/", 1)[-1]


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
