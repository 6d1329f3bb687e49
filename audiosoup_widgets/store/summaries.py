"""Feature summaries in the database: which samples still need work, bulk writes, matrices out.

A summary is a float32 vector (row means then row stds) keyed by sample, feature
and the hash of the parameters that shaped that feature. Each (sample, feature, key)
has a state row (status, row and frame counts, or the failure); the values of all of
a sample's summaries live together in its summary vector
(:mod:`~audiosoup_widgets.store.vectors`), so a dataset reads as one row per sample.
Callers hand plain :class:`SummaryRecord` values to :meth:`SummaryMixin.save_summaries`;
packing them into rows (little-endian float32 bytes, the status cut to its column) is
this module's business.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, CursorResult, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from ..errors import NotFoundError
from .bulk import BulkMixin
from .columns import read_columns
from .idset import ids_condition, validate_ids
from .models import Dataset, FeatureSummary, Label, Sample, SummaryLayout, SummaryVector
from .vectors import (
    Parts,
    SummaryBlock,
    decode_copy,
    join_parts,
    layout_key,
    merge_rows,
    split_vector,
    stack_blocks,
    stretches,
)

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
        gone = set(features)
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            ids = select(Sample.id).where(Sample.dataset_id == ds_id)
            res = sess.execute(
                delete(FeatureSummary).where(
                    FeatureSummary.sample_id.in_(ids), FeatureSummary.feature.in_(list(gone))
                )
            )
            # Cut the features out of the vectors that hold them.
            stored = sess.execute(
                select(SummaryVector.sample_id, SummaryLayout.entries, SummaryVector.data)
                .join(SummaryLayout, SummaryLayout.id == SummaryVector.layout_id)
                .where(SummaryVector.sample_id.in_(ids))
            ).all()
            kept = {}
            for sid, entries, data in stored:
                if any(e[0] in gone for e in entries):
                    parts = split_vector(entries, bytes(data))
                    kept[sid] = {k: v for k, v in parts.items() if k[0] not in gone}
            if kept:
                self._replace_vectors(sess, kept)
            return cast("CursorResult[Any]", res).rowcount  # a DML result counts its rows

    def save_summaries(self, records: Sequence[SummaryRecord]) -> int:
        """Upsert summaries given as plain records (see :class:`SummaryRecord`)."""
        return self.write_summaries([pack_summary(r) for r in records])

    def write_summaries(self, rows: Sequence[dict[str, Any]]) -> int:
        """Upsert summary rows ``{sample_id, feature, param_key, status, n_rows, n_frames, data}``.

        A row with ``n_rows = 0`` records a failure and drops that summary's values.
        The state rows and the samples' vectors change in one transaction; on
        PostgreSQL the samples' rows are locked first, so two runs writing different
        features of one clip at once both land in its vector.
        """
        if not rows:
            return 0
        now = dt.datetime.now(dt.UTC)
        full = [{"computed_at": now, **r} for r in rows]
        by_sample: dict[int, list[dict[str, Any]]] = {}
        for r in full:
            by_sample.setdefault(int(r["sample_id"]), []).append(r)
        ids = sorted(by_sample)
        with self.session() as sess:
            if self.dialect == "postgresql":
                sess.execute(
                    select(Sample.id)
                    .where(ids_condition(self.dialect, ids))
                    .order_by(Sample.id)
                    .with_for_update(key_share=True)
                ).all()
                self._copy_states(sess, full)
            else:
                self._upsert_states(sess, full)
            stored = self._stored_parts(sess, ids)
            self._replace_vectors(sess, {sid: merge_rows(stored.get(sid), by_sample[sid]) for sid in ids})
        return len(full)

    def _upsert_states(self, sess: Session, rows: Sequence[dict[str, Any]]) -> None:
        ins = self._insert(FeatureSummary)
        stmt = ins.on_conflict_do_update(
            index_elements=["sample_id", "feature", "param_key"],
            set_={
                "status": ins.excluded.status,
                "n_rows": ins.excluded.n_rows,
                "n_frames": ins.excluded.n_frames,
                "computed_at": ins.excluded.computed_at,
            },
        )
        sess.execute(stmt, [{c: r[c] for c in _STATE_COLUMNS} for r in rows])

    def _copy_states(self, sess: Session, rows: Sequence[dict[str, Any]]) -> None:
        # Binary COPY into a staging twin, then one upsert: a recomputation replaces
        # the state rows it meets.
        cur = sess.connection().connection.cursor()
        cols = ", ".join(_STATE_COLUMNS)
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS summary_states_stage "
            "(LIKE feature_summaries INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.copy_expert(
            f"COPY summary_states_stage ({cols}) FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(_binary_copy_states(rows)),
        )
        cur.execute(
            f"INSERT INTO feature_summaries ({cols}) SELECT {cols} FROM summary_states_stage "
            "ON CONFLICT (sample_id, feature, param_key) DO UPDATE SET "
            "status = EXCLUDED.status, n_rows = EXCLUDED.n_rows, n_frames = EXCLUDED.n_frames, "
            "computed_at = EXCLUDED.computed_at"
        )
        cur.execute("DELETE FROM summary_states_stage")

    def _stored_parts(self, sess: Session, ids: Sequence[int]) -> dict[int, Parts]:
        """Return the stored stretches of these samples' vectors."""
        in_ids = select(Sample.id).where(ids_condition(self.dialect, ids))
        rows = sess.execute(
            select(SummaryVector.sample_id, SummaryLayout.entries, SummaryVector.data)
            .join(SummaryLayout, SummaryLayout.id == SummaryVector.layout_id)
            .where(SummaryVector.sample_id.in_(in_ids))
        ).all()
        return {sid: split_vector(entries, bytes(data)) for sid, entries, data in rows}

    def _replace_vectors(self, sess: Session, parts: dict[int, Parts]) -> None:
        """Store these samples' vectors (a sample with no stretches left has none)."""
        vectors = {sid: join_parts(p) for sid, p in parts.items()}
        layouts = {layout_key(entries): entries for entries, _ in vectors.values() if entries}
        ids_of = self._layout_ids(sess, layouts)
        ids = sorted(parts)
        sess.execute(
            delete(SummaryVector).where(
                SummaryVector.sample_id.in_(select(Sample.id).where(ids_condition(self.dialect, ids)))
            )
        )
        out = [
            {"sample_id": sid, "layout_id": ids_of[layout_key(entries)], "data": data}
            for sid, (entries, data) in vectors.items()
            if entries
        ]
        if not out:
            return
        if self.dialect == "postgresql":
            cur = sess.connection().connection.cursor()
            cur.copy_expert(
                "COPY summary_vectors (sample_id, layout_id, data) FROM STDIN WITH (FORMAT binary)",
                io.BytesIO(_binary_copy_vectors(out)),
            )
        else:
            sess.execute(insert(SummaryVector), out)

    def _layout_ids(self, sess: Session, layouts: dict[str, list[Any]]) -> dict[str, int]:
        """Return the id of each layout (by key), storing the new ones."""
        if not layouts:
            return {}
        keys = list(layouts)
        found = dict(
            sess.execute(select(SummaryLayout.key, SummaryLayout.id).where(SummaryLayout.key.in_(keys))).all()
        )
        new = [{"key": k, "entries": [list(e) for e in layouts[k]]} for k in keys if k not in found]
        if new:
            # Another writer may store the same layout at the same moment: keep either.
            sess.execute(self._insert(SummaryLayout).on_conflict_do_nothing(index_elements=["key"]), new)
            found = dict(
                sess.execute(
                    select(SummaryLayout.key, SummaryLayout.id).where(SummaryLayout.key.in_(keys))
                ).all()
            )
        return found

    def summary_blocks(
        self,
        dataset: str,
        wanted: Sequence[tuple[str, str]],
        *,
        label: str | None = None,
        split: str | None = None,
        ids: Sequence[int] | npt.NDArray[np.int64] | None = None,
    ) -> list[SummaryBlock]:
        """Read the stored summaries of ``(feature, param_key)`` pairs, one block per layout.

        Parameters
        ----------
        dataset : str
        wanted : sequence of (feature, param_key)
        label, split : str, optional
            Keep only samples with this label or in this split.
        ids : sequence of int, optional
            Keep only these samples (one bound parameter, see
            :func:`~audiosoup_widgets.store.idset.ids_condition`).

        Returns
        -------
        list of SummaryBlock
            Blocks of samples sharing a layout that holds any of ``wanted`` (rows in no
            particular order; :func:`~audiosoup_widgets.store.vectors.stack_blocks`
            puts them in order).
        """
        id_set = None if ids is None else validate_ids(ids)
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            froms: Any = SummaryVector.__table__.join(Sample, Sample.id == SummaryVector.sample_id)
            conds: list[Any] = [Sample.dataset_id == ds_id]
            if label is not None:
                froms = froms.join(Label, Label.id == Sample.label_id)
                conds.append(Label.name == label)
            if split is not None:
                conds.append(Sample.split == split)
            if id_set is not None:
                conds.append(ids_condition(self.dialect, id_set))
            # Layouts are few and small: check them all here rather than scan the
            # dataset's vectors for its own; one that no sample of it has reads nothing
            # through the layout index.
            layouts = sess.execute(select(SummaryLayout.id, SummaryLayout.entries)).all()
            blocks = []
            for layout_id, entries in sorted(layouts):
                cuts, features, n_rows = stretches(entries, wanted)
                if not cuts:
                    continue
                # substr counts from 1, in bytes of a bytea or BLOB.
                q = (
                    select(
                        SummaryVector.sample_id,
                        *(func.substr(SummaryVector.data, off + 1, size) for off, size in cuts),
                    )
                    .select_from(froms)
                    .where(*conds, SummaryVector.layout_id == layout_id)
                )
                sizes = [size for _, size in cuts]
                if self.dialect == "postgresql":
                    fids, values = _copy_out(sess, q, sizes)
                else:
                    rows = sess.execute(q).all()
                    fids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                    values = np.hstack(
                        [
                            np.frombuffer(b"".join(r[i + 1] for r in rows), "<f4").reshape(
                                len(rows), size // 4
                            )
                            for i, size in enumerate(sizes)
                        ]
                    )
                if len(fids):
                    blocks.append(SummaryBlock(fids, features, n_rows, values.astype(np.float32, copy=False)))
            return blocks

    def summary_matrix(
        self, dataset: str, feature: str, key: str, *, label: str | None = None, split: str | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Read one feature's summaries for a dataset as arrays.

        Returns
        -------
        ids : ndarray of int64, shape (n,)
        values : ndarray of float32, shape (n, 2 * n_rows)
            Band-limited features adapt their row count to the sample rate: shorter
            summaries are padded with NaN (means, then stds).
        """
        blocks = self.summary_blocks(dataset, [(feature, key)], label=label, split=split)
        if not blocks:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids, values, _, _ = stack_blocks(blocks, [feature])
        return ids, values

    def sample_columns(
        self, dataset: str, *, label: str | None = None, split: str | None = None
    ) -> dict[str, Any]:
        """Return a dataset's ``sample_id`` (int64 array), ``path``, ``label`` and ``split`` (lists), by id.

        The columns of :meth:`sample_table`, read in one packed row on PostgreSQL
        (:func:`~audiosoup_widgets.store.columns.read_columns`).
        """
        with self.session() as sess:
            ds_id = sess.scalar(select(Dataset.id).where(Dataset.name == dataset))
            if ds_id is None:
                raise NotFoundError(f"no dataset named {dataset!r}")
            where: list[Any] = [Sample.dataset_id == ds_id]
            if label is not None:
                where.append(Label.name == label)
            if split is not None:
                where.append(Sample.split == split)
            return read_columns(
                sess,
                [
                    ("sample_id", Sample.id, "int"),
                    ("path", Sample.path, "text"),
                    ("label", Label.name, "text"),
                    ("split", Sample.split, "text"),
                ],
                froms=Sample.__table__.outerjoin(Label, Label.id == Sample.label_id),
                where=where,
            )

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


_STATE_COLUMNS = ("sample_id", "feature", "param_key", "status", "n_rows", "n_frames", "computed_at")
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _binary_copy_states(rows: Sequence[dict[str, Any]]) -> bytes:
    """Encode state rows in PostgreSQL's binary COPY format (columns as ``_STATE_COLUMNS``).

    Each field is its length then its bytes, big-endian: integer as int4, text as
    UTF-8, timestamptz as int8 microseconds since 2000-01-01 UTC.
    """
    parts = [_COPY_HEADER]
    row_head = struct.Struct("!hii")  # field count, then the sample id as (length, int4)
    ints = struct.Struct("!iiii")  # n_rows and n_frames as (length, int4) pairs
    stamp = struct.Struct("!iq")
    for r in rows:
        micros = (r["computed_at"] - _PG_EPOCH) // dt.timedelta(microseconds=1)
        parts.append(row_head.pack(len(_STATE_COLUMNS), 4, int(r["sample_id"])))
        for text in (r["feature"], r["param_key"], r["status"]):
            b = text.encode()
            parts += [struct.pack("!i", len(b)), b]
        parts += [ints.pack(4, int(r["n_rows"]), 4, int(r["n_frames"])), stamp.pack(8, micros)]
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)


def _binary_copy_vectors(rows: Sequence[dict[str, Any]]) -> bytes:
    """Encode ``(sample_id, layout_id, data)`` rows in PostgreSQL's binary COPY format."""
    parts = [_COPY_HEADER]
    head = struct.Struct("!hiiiii")  # 3 fields: two (length, int4), then the data's length
    for r in rows:
        data = r["data"]
        parts += [head.pack(3, 4, int(r["sample_id"]), 4, int(r["layout_id"]), len(data)), data]
    parts.append(struct.pack("!h", -1))
    return b"".join(parts)


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)


def _copy_out(
    sess: Session, query: Any, sizes: Sequence[int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Run ``query`` (an int4 id, then bytea fields of fixed ``sizes``) as one binary COPY out."""
    compiled = query.compile(dialect=sess.get_bind().dialect)
    cur = sess.connection().connection.cursor()
    # The driver quotes the bound values into the statement (COPY takes no parameters).
    sql = cur.mogrify(str(compiled), compiled.params).decode()
    buf = io.BytesIO()
    cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT binary)", buf)
    return decode_copy(buf.getvalue(), sizes)
