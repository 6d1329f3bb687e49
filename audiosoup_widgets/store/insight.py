"""Dataset insight in the database: QC runs and their findings, 2-D maps, and the quality measures.

:class:`InsightMixin` gathers what the "dataset as a whole" views read and write:
the per-clip quality measures (from :mod:`audiosoup_widgets.store.measures`,
whose names this module re-exports), a QC run's findings and a map's points. Each
write is one transaction; everything leaves as plain records or arrays.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np
from sqlalchemy import delete, func, insert, join, select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from .columns import read_columns
from .idset import ids_condition, validate_ids
from .measures import (
    FLOAT_QUALITY_COLUMNS,
    MEASURE_COLUMNS,
    QUALITY_COLUMNS,
    QualityMixin,
    dataset_id,
    quality_values,
)
from .models import MAX_NAME, Label, Projection, QcFinding, QcRun, Sample
from .records import FindingRecord, ProjectionRecord, QcRunRecord

_FAMILY_LENGTH = 32
_METHOD_LENGTH = 16
_KEY_LENGTH = 64
_KIND_LENGTH = 32


def _json(value: Any, what: str) -> Any:
    """Return ``value`` if it is strict JSON (no NaN: PostgreSQL's JSONB refuses it)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be plain JSON values (no NaN): {exc}") from exc
    return value


@overload
def _utc(when: dt.datetime) -> dt.datetime: ...
@overload
def _utc(when: dt.datetime | None) -> dt.datetime | None: ...
def _utc(when: dt.datetime | None) -> dt.datetime | None:
    # Times are stored in UTC; SQLite keeps no zone (it would drop an offset on
    # write and hands times back naive), so convert on the way in and out.
    if when is None:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _name(value: Any, what: str, length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > length:
        raise ValidationError(f"{what} must be text of 1 to {length} characters")
    return value


class InsightMixin(QualityMixin):
    """Quality, QC and map methods of :class:`audiosoup_widgets.store.Store`."""

    # -- QC runs and findings -----------------------------------------------------

    def save_findings(
        self,
        dataset: str,
        *,
        findings: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        started_at: dt.datetime,
        n_samples: int | None = None,
    ) -> int:
        """Record a QC run and its findings, replacing the dataset's earlier findings.

        One transaction: a reader sees the old findings or the new ones, never a
        mix. Earlier runs stay (as history, see :meth:`latest_qc_run`); their
        findings go.

        Parameters
        ----------
        dataset : str
            Dataset name.
        findings : sequence of mapping
            Each with ``kind`` (text, at most 32 characters), ``label`` (text or
            None), ``sample_ids`` (integers) and ``detail`` (a JSON object,
            optional).
        params : mapping
            The parameters the run used (JSON values).
        started_at : datetime
            When the run started (timezone-aware).
        n_samples : int, optional
            Samples the run looked at; by default the dataset's current count.

        Returns
        -------
        int
            The run's id.
        """
        if not isinstance(started_at, dt.datetime):
            raise ValidationError("a QC run's start must be a date and time")
        started_at = _utc(started_at)
        rows = [_finding_row(f) for f in findings]
        run_params = _json(dict(params), "QC parameters")
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset, lock=True)
            if n_samples is None:
                n_samples = sess.scalar(select(func.count()).where(Sample.dataset_id == ds_id)) or 0
            run_id = sess.scalar(
                insert(QcRun)
                .values(
                    dataset_id=ds_id,
                    started_at=started_at,
                    finished_at=dt.datetime.now(dt.UTC),
                    params=run_params,
                    n_samples=n_samples,
                    n_findings=len(rows),
                )
                .returning(QcRun.id)
            )
            assert run_id is not None  # RETURNING of the row just inserted
            run_id = int(run_id)
            sess.execute(delete(QcFinding).where(QcFinding.dataset_id == ds_id))
            if rows:
                sess.execute(insert(QcFinding), [{**r, "run_id": run_id, "dataset_id": ds_id} for r in rows])
            return run_id

    def latest_qc_run(self, dataset: str) -> QcRunRecord | None:
        """Return the dataset's most recent QC run, or None if it has none."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            run = sess.scalar(
                select(QcRun).where(QcRun.dataset_id == ds_id).order_by(QcRun.id.desc()).limit(1)
            )
            if run is None:
                return None
            return QcRunRecord(
                run.id,
                dataset,
                _utc(run.started_at),
                _utc(run.finished_at),
                dict(run.params or {}),
                run.n_samples,
                run.n_findings,
            )

    def list_findings(self, dataset: str) -> list[FindingRecord]:
        """Return the findings of the dataset's latest QC run, in the order they were saved."""
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            latest = select(func.max(QcRun.id)).where(QcRun.dataset_id == ds_id).scalar_subquery()
            rows = sess.execute(
                select(
                    QcFinding.id,
                    QcFinding.run_id,
                    QcFinding.kind,
                    QcFinding.label,
                    QcFinding.sample_ids,
                    QcFinding.detail,
                    QcRun.started_at,
                    QcRun.finished_at,
                )
                .join(QcRun, QcRun.id == QcFinding.run_id)
                .where(QcFinding.run_id == latest)
                .order_by(QcFinding.id)
            ).all()
            return [
                FindingRecord(i, r, k, lab, tuple(ids or ()), dict(det or {}), _utc(s), _utc(f))
                for i, r, k, lab, ids, det, s, f in rows
            ]

    # -- 2-D maps -----------------------------------------------------------------

    def save_projection(
        self,
        dataset: str,
        *,
        family: str,
        method: str,
        input_key: str,
        sample_ids: np.ndarray,
        xy: np.ndarray,
    ) -> None:
        """Store a 2-D map of a dataset, replacing the stored one of that family and method.

        Parameters
        ----------
        dataset : str
            Dataset name.
        family : str
            Feature family the map was computed from, or ``all`` (at most 32 characters).
        method : str
            ``pca``, ``umap``, ... (at most 16 characters).
        input_key : str
            Identifies the inputs (at most 64 characters), returned by
            :meth:`load_projection` to tell a stale map.
        sample_ids : np.ndarray [shape=(n,)]
            Distinct ids of samples of ``dataset``.
        xy : np.ndarray [shape=(n, 2)]
            Finite coordinates.
        """
        family = _name(family, "map family", _FAMILY_LENGTH)
        method = _name(method, "map method", _METHOD_LENGTH)
        input_key = _name(input_key, "map input key", _KEY_LENGTH)
        ids = np.asarray(sample_ids)
        points = np.asarray(xy, dtype=np.float64)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValidationError("map sample ids must be a flat array of integers")
        if points.shape != (len(ids), 2) or not np.isfinite(points).all():
            raise ValidationError("map coordinates must be finite, one (x, y) pair per sample")
        if len(np.unique(ids)) != len(ids):
            raise ValidationError("map sample ids must be distinct")
        id_list = validate_ids(ids.astype(np.int64))
        now = dt.datetime.now(dt.UTC)
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset, lock=True)
            if id_list:
                found = sess.scalar(
                    select(func.count()).where(
                        Sample.dataset_id == ds_id, ids_condition(self.dialect, id_list)
                    )
                )
                if found != len(id_list):
                    raise ValidationError(
                        f"{len(id_list) - (found or 0)} map sample ids are not in {dataset!r}"
                    )
            sess.execute(
                delete(Projection).where(
                    Projection.dataset_id == ds_id, Projection.family == family, Projection.method == method
                )
            )
            if not id_list:
                return
            if self.dialect == "postgresql":
                _copy_projection(sess, ds_id, family, method, input_key, now, id_list, points)
            else:
                sess.connection().execute(
                    insert(Projection),
                    [
                        {
                            "dataset_id": ds_id,
                            "family": family,
                            "method": method,
                            "sample_id": i,
                            "x": x,
                            "y": y,
                            "input_key": input_key,
                            "computed_at": now,
                        }
                        for i, (x, y) in zip(id_list, points.tolist(), strict=True)
                    ],
                )

    def load_projection(self, dataset: str, *, family: str, method: str) -> ProjectionRecord | None:
        """Return a stored 2-D map with each point's current label and split, or None.

        Points of samples deleted since the map was saved are gone (the rows
        cascade); points are in sample-id order.
        """
        with self.session() as sess:
            ds_id = dataset_id(sess, dataset)
            where = (Projection.dataset_id == ds_id, Projection.family == family, Projection.method == method)
            head = sess.execute(
                select(Projection.input_key, Projection.computed_at).where(*where).limit(1)
            ).first()
            if head is None:
                return None
            names: dict[int, str] = {
                i: n for i, n in sess.execute(select(Label.id, Label.name).where(Label.dataset_id == ds_id))
            }
            cols = read_columns(
                sess,
                [
                    ("sample_id", Projection.sample_id, "int"),
                    ("x", Projection.x, "float"),
                    ("y", Projection.y, "float"),
                    ("label_id", func.coalesce(Sample.label_id, 0), "int"),
                    ("split", Sample.split, "text"),
                ],
                froms=join(Projection, Sample, Sample.id == Projection.sample_id),
                where=where,
            )
        label_ids = cols["label_id"]
        assert isinstance(label_ids, np.ndarray)
        return ProjectionRecord(
            dataset=dataset,
            family=family,
            method=method,
            input_key=head.input_key,
            computed_at=_utc(head.computed_at),
            sample_ids=np.asarray(cols["sample_id"], dtype=np.int64),
            x=np.asarray(cols["x"], dtype=np.float32),
            y=np.asarray(cols["y"], dtype=np.float32),
            label=[names.get(i) for i in label_ids.tolist()],
            split=list(cols["split"]),
        )


def _finding_row(finding: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stored values of one finding, or raise :class:`ValidationError`."""
    kind = _name(finding.get("kind"), "finding kind", _KIND_LENGTH)
    label = finding.get("label")
    if label is not None:
        label = _name(label, "finding label", MAX_NAME)
    ids = validate_ids(finding.get("sample_ids", ()))
    detail = finding.get("detail") or {}
    if not isinstance(detail, Mapping):
        raise ValidationError("finding detail must be key/value pairs")
    return {
        "kind": kind,
        "label": label,
        "sample_ids": list(ids),
        "n_samples": len(ids),
        "detail": _json(dict(detail), "finding detail"),
    }


def _csv_text(value: str) -> str:
    """Quote one text field for CSV COPY."""
    return '"' + value.replace('"', '""') + '"'


def _copy_projection(
    sess: Session,
    ds_id: int,
    family: str,
    method: str,
    input_key: str,
    computed_at: dt.datetime,
    ids: Sequence[int],
    points: np.ndarray,
) -> None:
    """COPY a map's points into ``projections`` inside the session's transaction."""
    prefix = ",".join(
        (str(ds_id), _csv_text(family), _csv_text(method), _csv_text(input_key), computed_at.isoformat())
    )
    lines = [f"{prefix},{i},{x!r},{y!r}\n" for i, (x, y) in zip(ids, points.tolist(), strict=True)]
    # The session's own DBAPI connection: the COPY commits or rolls back with the DELETE.
    raw = sess.connection().connection.dbapi_connection
    assert raw is not None  # a checked-out connection
    cur = raw.cursor()
    try:
        cur.copy_expert(
            "COPY projections (dataset_id, family, method, input_key, computed_at, sample_id, x, y) "
            "FROM STDIN WITH (FORMAT csv)",
            io.StringIO("".join(lines)),
        )
    finally:
        cur.close()


__all__ = [
    "InsightMixin",
    "QUALITY_COLUMNS",
    "MEASURE_COLUMNS",
    "FLOAT_QUALITY_COLUMNS",
    "quality_values",
]
