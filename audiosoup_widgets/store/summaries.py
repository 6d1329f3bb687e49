"""Feature summaries in the database: which samples still need work, and bulk writes.

Summaries are float32 vectors (row means then row stds) keyed by sample, feature
and the hash of the parameters that shaped that feature. Callers hand plain
:class:`SummaryRecord` values to :meth:`SummaryMixin.save_summaries`; packing them
into rows (little-endian float32 bytes, the status cut to its column) is this
module's business.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, or_, select

from ..errors import NotFoundError
from .bulk import BulkMixin
from .models import Dataset, FeatureSummary, Label, Sample

#: Characters of a status (or failure reason) kept in a summary row.
STATUS_LENGTH = 16


@dataclass(frozen=True)
class SummaryRecord:
    """One feature's summary of one sample, or the failure that stands in for it.

    Attributes
    ----------
    sample_id : int
    feature : str
        Feature id.
    param_key : str
        Hash of the parameters that shaped this feature.
    status : str
        Engine status (``ok``, ``silent``, ...) or, for a failure, its reason code.
    values : np.ndarray [shape=(2 * n_rows,)] or None
        Row means then row stds; ``None`` records a failure (stored with
        ``n_rows = 0`` so later runs skip the sample until asked to retry).
    n_frames : int
        Frames the summary was computed over.
    """

    sample_id: int
    feature: str
    param_key: str
    status: str
    values: np.ndarray | None = None
    n_frames: int = 0


def pack_summary(record: SummaryRecord) -> dict[str, Any]:
    """Return the row :meth:`SummaryMixin.write_summaries` stores for ``record``."""
    if record.values is None:
        return {
            "sample_id": record.sample_id,
            "feature": record.feature,
            "param_key": record.param_key,
            "status": record.status[:STATUS_LENGTH],
            "n_rows": 0,
            "n_frames": 0,
            "data": b"",
        }
    vec = np.ascontiguousarray(record.values, dtype="<f4")
    return {
        "sample_id": record.sample_id,
        "feature": record.feature,
        "param_key": record.param_key,
        "status": record.status[:STATUS_LENGTH],
        "n_rows": vec.shape[-1] // 2,
        "n_frames": int(record.n_frames),
        "data": vec.tobytes(),
    }


class SummaryMixin(BulkMixin):
    """Feature-summary methods of :class:`audiosoup_widgets.store.Store`."""

    def samples_needing(
        self, dataset: str, keys: dict[str, str], *, retry_failed: bool = False
    ) -> list[tuple[int, str, int, int]]:
        """Return ``(sample_id, file, sample_rate, frames)`` for samples missing any feature.

        Parameters
        ----------
        dataset : str
            Dataset name.
        keys : dict
            feature id -> current parameter key.
        retry_failed : bool
            Also return samples whose stored rows record a failure (see
            :meth:`failed_samples`); by default they count as done, so a known-bad
            clip is not retried on every run.
        """
        import os

        with self.session() as sess:
            ds = sess.execute(select(Dataset.id, Dataset.root).where(Dataset.name == dataset)).first()
            if ds is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            # One query: count each sample's up-to-date summaries in the database
            # rather than fetching every (sample, feature) pair into Python.
            conds = [Sample.dataset_id == ds.id, _current(keys)]
            if retry_failed:
                conds.append(~_FAILED)
            done = (
                select(FeatureSummary.sample_id, func.count().label("n"))
                .join(Sample, Sample.id == FeatureSummary.sample_id)
                .where(*conds)
                .group_by(FeatureSummary.sample_id)
                .subquery()
            )
            rows = sess.execute(
                select(Sample.id, Sample.path, Sample.path_bytes, Sample.sample_rate, Sample.frames)
                .outerjoin(done, done.c.sample_id == Sample.id)
                .where(Sample.dataset_id == ds.id, func.coalesce(done.c.n, 0) < len(keys))
                .order_by(Sample.id)
            ).all()
            return [
                (sid, os.path.join(ds.root, os.fsdecode(pb) if pb else p), sr, frames)
                for sid, p, pb, sr, frames in rows
            ]

    def failed_samples(self, dataset: str, keys: dict[str, str]) -> list[tuple[int, str]]:
        """Return ``(sample_id, reason)`` of samples with a stored failure for ``keys``.

        A failure is a summary row with no values (``n_rows = 0``: the clip could not
        be decoded or analysed; the reason is its status) or an older ``non_finite``
        row. ``reason`` is the first such status of the sample.
        """
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            rows = sess.execute(
                select(FeatureSummary.sample_id, func.min(FeatureSummary.status))
                .join(Sample, Sample.id == FeatureSummary.sample_id)
                .where(Sample.dataset_id == ds_id, _current(keys), _FAILED)
                .group_by(FeatureSummary.sample_id)
                .order_by(FeatureSummary.sample_id)
            ).all()
            return [(sid, status) for sid, status in rows]

    def count_samples_without_summaries(self, dataset: str) -> int:
        """Return how many samples of a dataset have no feature summary at all."""
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            has_any = select(FeatureSummary.sample_id).where(FeatureSummary.sample_id == Sample.id).exists()
            return (
                sess.scalar(
                    select(func.count()).select_from(Sample).where(Sample.dataset_id == ds_id, ~has_any)
                )
                or 0
            )

    def clear_summaries(self, dataset: str, features: Sequence[str]) -> int:
        """Delete stored summaries of ``features`` for a dataset (``--force``)."""
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            ids = select(Sample.id).where(Sample.dataset_id == ds_id)
            res = sess.execute(
                delete(FeatureSummary).where(
                    FeatureSummary.sample_id.in_(ids), FeatureSummary.feature.in_(list(features))
                )
            )
            return cast("CursorResult[Any]", res).rowcount  # a DML result counts its rows

    def save_summaries(self, records: Sequence[SummaryRecord]) -> int:
        """Upsert summaries given as plain records (see :class:`SummaryRecord`)."""
        return self.write_summaries([pack_summary(r) for r in records])

    def write_summaries(self, rows: Sequence[dict[str, Any]]) -> int:
        """Upsert summary rows ``{sample_id, feature, param_key, status, n_rows, n_frames, data}``."""
        if not rows:
            return 0
        now = dt.datetime.now(dt.UTC)
        full = [{"computed_at": now, **r} for r in rows]
        if self.dialect == "postgresql":
            return self._copy_summaries(full)
        ins = self._insert(FeatureSummary)
        stmt = ins.on_conflict_do_update(
            index_elements=["sample_id", "feature", "param_key"],
            set_={
                "status": ins.excluded.status,
                "n_rows": ins.excluded.n_rows,
                "n_frames": ins.excluded.n_frames,
                "data": ins.excluded.data,
                "computed_at": ins.excluded.computed_at,
            },
        )
        with self.session() as sess:
            sess.execute(stmt, full)
        return len(full)

    def _copy_summaries(self, rows: Sequence[dict[str, Any]]) -> int:
        # A batch is ~12 rows per clip carrying ~15 kB of float32 per clip. Binary COPY
        # sends the bytes as they are (text COPY needs them hex-encoded, and Python's
        # csv writer spends more time on that than the engine on a clip). A first
        # computation cannot conflict with stored rows, so it goes straight into the
        # table; only a recomputation or a concurrent run takes the upsert.
        self._copy_in(
            "feature_summaries",
            _SUMMARY_COLUMNS,
            _binary_copy_summaries(rows),
            fmt="binary",
            direct_first=True,
            on_conflict="ON CONFLICT (sample_id, feature, param_key) DO UPDATE SET "
            "status = EXCLUDED.status, n_rows = EXCLUDED.n_rows, n_frames = EXCLUDED.n_frames, "
            "data = EXCLUDED.data, computed_at = EXCLUDED.computed_at",
        )
        return len(rows)

    def summary_matrix(
        self, dataset: str, feature: str, key: str, *, label: str | None = None, split: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Read one feature's summaries for a dataset as arrays.

        Returns
        -------
        ids : ndarray of int64, shape (n,)
        values : ndarray of float32, shape (n, 2 * n_rows)
        """
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            q = (
                select(FeatureSummary.sample_id, FeatureSummary.data)
                .join(Sample, Sample.id == FeatureSummary.sample_id)
                .where(
                    Sample.dataset_id == ds_id,
                    FeatureSummary.feature == feature,
                    FeatureSummary.param_key == key,
                    FeatureSummary.n_rows > 0,
                )
            )
            if label is not None:
                q = q.join(Label, Label.id == Sample.label_id).where(Label.name == label)
            if split is not None:
                q = q.where(Sample.split == split)
            rows = sess.execute(q.order_by(FeatureSummary.sample_id)).all()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        blobs = [bytes(r[1]) for r in rows]
        width = max(len(b) for b in blobs)
        if all(len(b) == width for b in blobs):
            values = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(rows), -1)
        else:
            # Band-limited features adapt their row count to the sample rate:
            # pad the shorter summaries (means, then stds) with NaN.
            values = np.full((len(rows), width // 4), np.nan, np.float32)
            half = width // 8
            for i, b in enumerate(blobs):
                v = np.frombuffer(b, dtype="<f4")
                k = v.size // 2
                values[i, :k] = v[:k]
                values[i, half : half + k] = v[k:]
        return ids, values

    def sample_table(
        self, dataset: str, *, label: str | None = None, split: str | None = None
    ) -> list[tuple[int, str, str | None, str | None]]:
        """Return ``(id, path, label, split)`` of a dataset's samples, by id."""
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            q = (
                select(Sample.id, Sample.path, Label.name, Sample.split)
                .outerjoin(Label, Label.id == Sample.label_id)
                .where(Sample.dataset_id == ds_id)
            )
            if label is not None:
                q = q.where(Label.name == label)
            if split is not None:
                q = q.where(Sample.split == split)
            return [(r[0], r[1], r[2], r[3]) for r in sess.execute(q.order_by(Sample.id)).all()]


__all__ = ["STATUS_LENGTH", "SummaryMixin", "SummaryRecord", "pack_summary"]


def _current(keys: dict[str, str]) -> ColumnElement[bool]:
    """Rows of the given features with their current parameter keys."""
    return or_(
        *[and_(FeatureSummary.feature == feat, FeatureSummary.param_key == key) for feat, key in keys.items()]
    )


# A row that records a failure rather than values: n_rows = 0 (decode or engine
# failure), or a non_finite clip stored with NaN values by earlier versions.
_FAILED = or_(FeatureSummary.n_rows == 0, FeatureSummary.status == "non_finite")


_SUMMARY_COLUMNS = (
    "sample_id",
    "feature",
    "param_key",
    "status",
    "n_rows",
    "n_frames",
    "data",
    "computed_at",
)
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _binary_copy_summaries(rows: Sequence[dict[str, Any]]) -> bytes:
    """Encode summary rows in PostgreSQL's binary COPY format (columns as ``_SUMMARY_COLUMNS``).

    Each field is its length then its bytes, big-endian: integer as int4, text as
    UTF-8, bytea as is, timestamptz as int8 microseconds since 2000-01-01 UTC.
    """
    parts = [b"PGCOPY\n\xff\r\n\x00", struct.pack("!ii", 0, 0)]
    row_head = struct.Struct("!hii")  # field count, then the sample id as (length, int4)
    ints = struct.Struct("!iiii")  # n_rows and n_frames as (length, int4) pairs
    stamp = struct.Struct("!iq")
    for r in rows:
        micros = (r["computed_at"] - _PG_EPOCH) // dt.timedelta(microseconds=1)
        parts.append(row_head.pack(len(_SUMMARY_COLUMNS), 4, int(r["sample_id"])))
        for text in (r["feature"], r["param_key"], r["status"]):
            b = text.encode()
            parts += [struct.pack("!i", len(b)), b]
        parts.append(ints.pack(4, int(r["n_rows"]), 4, int(r["n_frames"])))
        data = bytes(r["data"])
        parts += [struct.pack("!i", len(data)), data, stamp.pack(8, micros)]
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)
