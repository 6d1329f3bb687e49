"""Per-clip quality measures in ``samples``: which clips still need measuring, writes, columns out.

The measures of a clip (those of
:class:`~audiosoup_widgets.audio.quality.QualityMeasures`) live in its ``samples``
row (see :class:`~audiosoup_widgets.store.models.Sample`). A backfill writes them
batch by batch (:meth:`QualityMixin.samples_missing_quality`,
:meth:`QualityMixin.write_quality`); ingest can write them with the sample
(:meth:`~audiosoup_widgets.store.bulk.BulkMixin.insert_samples` takes the same
columns). They leave the store as column arrays (:meth:`QualityMixin.quality_columns`)
for the quality panel and the QC job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from ..errors import NotFoundError, ValidationError
from .columns import ColumnSpec, read_columns
from .engine import BaseStore
from .models import Dataset, Label, Sample

#: The stored quality measures of a clip, in the order of the fields of
#: :class:`~audiosoup_widgets.audio.quality.QualityMeasures` (``rms_db`` is its
#: ``rms_dbfs``, also written at ingest).
QUALITY_COLUMNS = (
    "peak_dbfs",
    "rms_db",
    "clip_ratio",
    "silence_ratio",
    "leading_silence",
    "trailing_silence",
    "dc_offset",
    "snr_db",
    "bandwidth_hz",
    "pcm_hash",
)

#: ``QualityMeasures.as_row()`` key -> ``samples`` column. Silences are in seconds in both.
MEASURE_COLUMNS: Mapping[str, str] = {
    "peak_dbfs": "peak_dbfs",
    "rms_dbfs": "rms_db",
    "clip_ratio": "clip_ratio",
    "silence_ratio": "silence_ratio",
    "leading_silence_s": "leading_silence",
    "trailing_silence_s": "trailing_silence",
    "dc_offset": "dc_offset",
    "snr_db": "snr_db",
    "bandwidth_hz": "bandwidth_hz",
    "pcm_sha256": "pcm_hash",
}

#: The measures stored as floats (every one but the hash).
FLOAT_QUALITY_COLUMNS = QUALITY_COLUMNS[:-1]

#: Columns :meth:`QualityMixin.quality_columns` returns besides the measures.
_INFO_COLUMNS = (
    "sample_id",
    "path",
    "label",
    "split",
    "speaker",
    "status",
    "duration",
    "sample_rate",
    "channels",
)


def quality_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``samples`` column values of one clip's quality measures.

    Parameters
    ----------
    row : mapping
        ``QualityMeasures.as_row()``: keys as in :data:`MEASURE_COLUMNS`
        (``rms_dbfs``, ``leading_silence_s``, ``pcm_sha256``, ...). Column names
        (:data:`QUALITY_COLUMNS`) are accepted as well.

    Returns
    -------
    dict
        One value per name of :data:`QUALITY_COLUMNS`: floats (NaN becomes
        ``None``, stored as NULL) and the hash as text; a measure missing from
        ``row`` is ``None``.

    Raises
    ------
    ValidationError
        For a key that names no measure, a value that is not a number, or a
        hash that is not text of at most 64 characters.
    """
    out: dict[str, Any] = dict.fromkeys(QUALITY_COLUMNS)
    for key, value in row.items():
        column = MEASURE_COLUMNS.get(key, key)
        if column not in out:
            raise ValidationError(f"unknown quality measure {key!r}")
        out[column] = _measure(column, value)
    return out


def _measure(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column == "pcm_hash":
        if not isinstance(value, str) or len(value) > 64:
            raise ValidationError("the PCM hash must be text of at most 64 characters")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValidationError(f"quality measure {column!r} must be a number")
    number = float(value)
    # SQLite stores NaN as NULL anyway; say so on both databases.
    return None if math.isnan(number) else number


def _sample_row(row: Mapping[str, Any], version: int) -> dict[str, Any]:
    """Return the bound values of one row of :meth:`QualityMixin.write_quality`."""
    sample_id = row.get("sample_id")
    if type(sample_id) is not int and not isinstance(sample_id, np.integer):
        raise ValidationError("each quality row needs an integer sample_id")
    if row.get("quality_error"):
        values: dict[str, Any] = dict.fromkeys(QUALITY_COLUMNS)
    else:
        values = quality_values({k: v for k, v in row.items() if k not in ("sample_id", "quality_error")})
    return {"b_id": int(sample_id), "b_version": version, **{f"b_{c}": v for c, v in values.items()}}


def dataset_id(sess: Session, name: str, *, lock: bool = False) -> int:
    """Return the id of dataset ``name`` or raise :class:`NotFoundError`.

    With ``lock`` (PostgreSQL), hold the dataset's row until the transaction ends,
    so two writers of one dataset's findings or maps take turns. ``FOR NO KEY
    UPDATE`` leaves the foreign-key checks of samples being loaded meanwhile
    free to go on; SQLite has one writer at a time anyway and renders no lock.
    """
    q = select(Dataset.id).where(Dataset.name == name)
    if lock:
        q = q.with_for_update(key_share=True)
    ds_id = sess.scalar(q)
    if ds_id is None:
        raise NotFoundError(f"no dataset named {name!r}")
    return ds_id


class QualityMixin(BaseStore):
    """Quality-measure methods of :class:`audiosoup_widgets.store.Store`."""

    def samples_missing_quality(
        self, dataset: str, *, version: int, after_id: int = 0, limit: int = 500
    ) -> list[tuple[int, str, bytes | None]]:
        """Return ``(id, path, path_bytes)`` of samples not yet measured at ``version``.

        A sample counts when its ``quality_version`` is NULL or lower than
        ``version``. Ordered by id and starting after ``after_id``, so a backfill
        goes batch by batch (pass the last id it got) and resumes where it stopped.

        Parameters
        ----------
        dataset : str
            Dataset name.
        version : int
            The current version of the measuring code.
        after_id : int
            Return only ids above this one.
        limit : int
            At most this many.
        """
        if limit < 1:
            raise ValidationError("limit must be 1 or more")
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            rows = sess.execute(
                select(Sample.id, Sample.path, Sample.path_bytes)
                .where(Sample.dataset_id == ds_id, _missing(version), Sample.id > after_id)
                .order_by(Sample.id)
                .limit(limit)
            ).all()
            # psycopg2 hands bytea back as a memoryview.
            return [(i, p, bytes(b) if b is not None else None) for i, p, b in rows]

    def count_missing_quality(self, dataset: str, *, version: int) -> int:
        """Count the samples :meth:`samples_missing_quality` would return, all batches together."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            return sess.scalar(select(func.count()).where(Sample.dataset_id == ds_id, _missing(version))) or 0

    def write_quality(self, rows: Sequence[Mapping[str, Any]], *, version: int) -> int:
        """Store quality measures of clips, all in one transaction.

        A Core ``UPDATE`` run once per row (executemany), not the ORM: the
        samples' optimistic ``version`` counter and ``updated_at``/``updated_by``
        stay as they are, so a reviewer editing a clip meanwhile meets no false
        conflict.

        Parameters
        ----------
        rows : sequence of mapping
            Each holds ``sample_id`` and the measures, keyed as in
            ``QualityMeasures.as_row()`` or by column (see :func:`quality_values`);
            a measure left out is stored as NULL, except ``rms_db``, which then
            keeps the value written at ingest. A row with a true ``quality_error``
            (the reason, say) records a clip whose measuring failed: its measures
            become NULL (``rms_db`` again kept) and its ``quality_version`` is set
            all the same, so it is not retried on every run;
            :meth:`samples_missing_quality` with a higher ``version`` returns it
            again.
        version : int
            The version of the measuring code, stored as ``quality_version``.

        Returns
        -------
        int
            Rows updated (a sample id that no longer exists updates nothing).
        """
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValidationError("the quality version must be an integer of 1 or more")
        params = [_sample_row(r, version) for r in rows]
        if not params:
            return 0
        table = cast(Table, Sample.__table__)
        values: dict[str, Any] = {c: bindparam(f"b_{c}") for c in QUALITY_COLUMNS}
        values["rms_db"] = func.coalesce(bindparam("b_rms_db"), table.c.rms_db)
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(**values, quality_version=bindparam("b_version"))
        )
        with self.session() as sess:
            res = sess.connection().execute(stmt, params)
            return cast("CursorResult[Any]", res).rowcount

    def quality_columns(self, dataset: str) -> dict[str, np.ndarray | list[Any]]:
        """Return the dataset's quality measures and sample facts as columns, by sample id.

        Returns
        -------
        dict
            In this order: ``sample_id`` (int64); ``path``, ``label``,
            ``split``, ``speaker``, ``status`` (lists of str or None);
            ``duration`` (float64); ``sample_rate``, ``channels`` (int64);
            ``peak_dbfs`` to ``bandwidth_hz`` of :data:`QUALITY_COLUMNS` (float64,
            NaN where NULL); ``pcm_hash`` (list of str or None);
            ``quality_version`` (float64, NaN while not measured).

        Notes
        -----
        On PostgreSQL the columns travel packed (see
        :mod:`audiosoup_widgets.store.columns`): about a tenth of the time of
        reading the rows one by one.
        """
        specs: list[ColumnSpec] = [
            ("sample_id", Sample.id, "int"),
            ("path", Sample.path, "text"),
            ("label_id", func.coalesce(Sample.label_id, 0), "int"),
            ("split", Sample.split, "text"),
            ("speaker", Sample.speaker, "text"),
            ("status", Sample.status, "text"),
            ("duration", Sample.duration, "float"),
            ("sample_rate", Sample.sample_rate, "int"),
            ("channels", Sample.channels, "int"),
            *((c, getattr(Sample, c), "float") for c in FLOAT_QUALITY_COLUMNS),
            ("pcm_hash", Sample.pcm_hash, "text"),
            ("quality_version", Sample.quality_version, "float"),
        ]
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            names: dict[int, str] = {
                i: n for i, n in sess.execute(select(Label.id, Label.name).where(Label.dataset_id == ds_id))
            }
            cols = read_columns(sess, specs, froms=Sample, where=[Sample.dataset_id == ds_id])
        label_ids = cols.pop("label_id")
        assert isinstance(label_ids, np.ndarray)
        # Label names by id here rather than a join: four names, not 100,000 strings, travel.
        cols["label"] = [names.get(i) for i in label_ids.tolist()]
        return {name: cols[name] for name in (*_INFO_COLUMNS, *QUALITY_COLUMNS, "quality_version")}


def _missing(version: int) -> Any:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError("the quality version must be an integer")
    return or_(Sample.quality_version.is_(None), Sample.quality_version < version)


__all__ = ["QualityMixin", "QUALITY_COLUMNS", "MEASURE_COLUMNS", "FLOAT_QUALITY_COLUMNS", "quality_values"]
