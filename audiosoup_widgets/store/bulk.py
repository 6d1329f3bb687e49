"""Bulk writes for the loader: datasets, labels, run records and COPY-speed inserts.

On PostgreSQL, samples go through ``COPY`` into a temporary staging table and
then ``INSERT ... ON CONFLICT DO NOTHING`` into ``samples``: one round trip per
batch, idempotent against rows already present. SQLite uses ``executemany``
with ``ON CONFLICT DO NOTHING`` in one transaction per batch. Either way the
count of rows added comes from the insert itself (the statement's row count, or
``RETURNING`` on SQLite), never from counting the table, so loads running at
the same time report totals that add up to the rows written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import NotFoundError
from .engine import BaseStore
from .models import Dataset, Label, LoadFailure, LoadRun, Sample

SAMPLE_COLUMNS = (
    "dataset_id",
    "label_id",
    "path",
    "path_bytes",
    "content_hash",
    "format",
    "subtype",
    "sample_rate",
    "channels",
    "frames",
    "duration",
    "split",
    "speaker",
    "text",
    "meta",
    "status",
    "flags",
    "peaks",
    "peak_abs",
    "rms_db",
    "load_run_id",
    "version",
    "created_at",
    # Quality measures (see store.insight), when ingest measures a clip as it loads it.
    "peak_dbfs",
    "clip_ratio",
    "silence_ratio",
    "leading_silence",
    "trailing_silence",
    "dc_offset",
    "snr_db",
    "bandwidth_hz",
    "pcm_hash",
    "quality_version",
)
#: The columns of a derived (augmented) clip, written with the others by ``insert_derived``.
DERIVED_COLUMNS = ("parent_id", "recipe_id", "aug_variant", "aug_seed")


class BulkMixin(BaseStore):
    """Loader-side write methods of :class:`audiosoup_widgets.store.Store`."""

    def ensure_dataset(self, name: str, *, root: str, layout: str, source_url: str | None = None) -> int:
        """Return the id of dataset ``name``, creating it if needed.

        An existing dataset keeps its root: loading the same name from another
        folder is refused, because stored paths are relative to that root.
        """
        ins = self._insert(Dataset).values(
            name=name, root=root, layout=layout, source_url=source_url, created_at=dt.datetime.now(dt.UTC)
        )
        with self.session() as sess:
            sess.execute(ins.on_conflict_do_nothing(index_elements=["name"]))
            dataset_id = sess.scalar(select(Dataset.id).where(Dataset.name == name))
            assert dataset_id is not None  # inserted above or there already
            return dataset_id

    def dataset_root(self, name: str) -> str:
        """Return a dataset's root folder."""
        with self.session() as sess:
            root = sess.scalar(select(Dataset.root).where(Dataset.name == name))
            if root is None:
                raise NotFoundError(f"no dataset named {name!r}")
            return root

    def ensure_labels(self, dataset_id: int, names: Iterable[str]) -> dict[str, int]:
        """Create missing labels and return a name -> id map for all of them."""
        names = sorted(set(names))
        with self.session() as sess:
            if names:
                now = dt.datetime.now(dt.UTC)
                sess.execute(
                    self._insert(Label)
                    .values([{"dataset_id": dataset_id, "name": n, "created_at": now} for n in names])
                    .on_conflict_do_nothing(index_elements=["dataset_id", "name"])
                )
            rows = sess.execute(select(Label.name, Label.id).where(Label.dataset_id == dataset_id)).all()
            return {n: i for n, i in rows}

    def existing_paths(self, dataset_id: int) -> set[str]:
        """Return the relative paths already stored for a dataset."""
        with self.session() as sess:
            return set(sess.scalars(select(Sample.path).where(Sample.dataset_id == dataset_id)))

    def dataset_hashes(self, dataset_id: int) -> set[str]:
        """Return the content hashes already stored for a dataset."""
        with self.session() as sess:
            return set(sess.scalars(select(Sample.content_hash).where(Sample.dataset_id == dataset_id)))

    def start_load_run(self, dataset_id: int, *, root: str, layout: str, n_found: int) -> int:
        """Record the start of a load run and return its id."""
        with self.session() as sess:
            # A run still marked "running" was killed: say so rather than leave it open.
            sess.execute(
                update(LoadRun)
                .where(LoadRun.dataset_id == dataset_id, LoadRun.status == "running")
                .values(status="interrupted")
            )
            run = LoadRun(
                dataset_id=dataset_id,
                root=root,
                layout=layout,
                n_found=n_found,
                status="running",
                started_at=dt.datetime.now(dt.UTC),
            )
            sess.add(run)
            sess.flush()
            return run.id

    def record_failures(self, run_id: int, failures: Sequence[tuple[str, str, str]]) -> None:
        """Store skipped files as ``(path, reason, message)`` for a run."""
        if not failures:
            return
        with self.session() as sess:
            sess.execute(
                self._insert(LoadFailure).values(
                    [
                        {"run_id": run_id, "path": _no_nul(p), "reason": r, "message": _no_nul(m)}
                        for p, r, m in failures
                    ]
                )
            )

    def finish_load_run(
        self, run_id: int, *, status: str, n_loaded: int, n_existing: int, n_skipped: int
    ) -> None:
        """Close a load run with its counts."""
        with self.session() as sess:
            sess.execute(
                update(LoadRun)
                .where(LoadRun.id == run_id)
                .values(
                    status=status,
                    n_loaded=n_loaded,
                    n_existing=n_existing,
                    n_skipped=n_skipped,
                    finished_at=dt.datetime.now(dt.UTC),
                )
            )

    def insert_samples(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert sample rows, ignoring any whose (dataset, path) exists.

        Returns
        -------
        int
            The number of rows actually added.
        """
        return self._insert_sample_rows(rows, SAMPLE_COLUMNS, conflict=("dataset_id", "path"))

    def _insert_sample_rows(
        self, rows: Sequence[dict[str, Any]], columns: Sequence[str], *, conflict: Sequence[str] | None
    ) -> int:
        """Insert rows of ``columns``, skipping those that hit the unique key ``conflict``.

        ``conflict`` None skips a row that hits any unique key (a derived clip's path or
        its (parent, recipe, variant)).
        """
        if not rows:
            return 0
        now = dt.datetime.now(dt.UTC)
        full = [
            {
                **{c: None for c in columns},
                "version": 1,
                "created_at": now,
                "status": "ok",
                "meta": {},
                "flags": [],
                **r,
            }
            for r in rows
        ]
        if self.dialect == "postgresql":
            target = f"({', '.join(conflict)}) " if conflict else ""
            return self._copy_upsert(
                "samples",
                columns,
                ([_pg_csv(r[c], c) for c in columns] for r in full),
                f"ON CONFLICT {target}DO NOTHING",
            )
        with self.session() as sess:
            # RETURNING yields only the rows this statement inserted: right even
            # while another process loads into the same file.
            added = sess.execute(
                sqlite_insert(Sample)
                .on_conflict_do_nothing(index_elements=list(conflict) if conflict else None)
                .returning(Sample.id),
                full,
            ).all()
            return len(added)

    def _copy_upsert(
        self, table: str, columns: Sequence[str], rows: Iterable[list[Any]], on_conflict: str
    ) -> int:
        """COPY rows (CSV-encoded here) into ``table`` through its staging twin; see :meth:`_copy_in`."""
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        return self._copy_in(table, columns, buf.getvalue(), fmt="csv", on_conflict=on_conflict)

    def _copy_in(
        self,
        table: str,
        columns: Sequence[str],
        payload: str | bytes,
        *,
        fmt: str,
        on_conflict: str,
        direct_first: bool = False,
    ) -> int:
        """COPY ``payload`` into a temporary twin of ``table``, then insert it in one statement.

        With ``direct_first``, COPY straight into ``table`` first and take the staging
        route only if that hits a stored key: right when conflicts are rare, since it
        writes every row once instead of twice.

        ``table``, ``columns`` and ``on_conflict`` are constants of this package, never
        user input; the values travel in COPY's data stream, not in SQL text.

        Returns
        -------
        int
            Rows the final statement wrote (all of them on the direct route).
        """
        from psycopg2 import errors as psycopg2_errors

        cols = ", ".join(columns)

        # Text goes through psycopg2, which encodes it in the connection's encoding.
        def stream(data: str | bytes) -> io.StringIO | io.BytesIO:
            return io.StringIO(data) if isinstance(data, str) else io.BytesIO(data)

        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if direct_first:
                try:
                    cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT {fmt})", stream(payload))
                    added = cur.rowcount
                    raw.commit()
                    return added
                except psycopg2_errors.UniqueViolation:
                    raw.rollback()
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {table}_stage "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cur.copy_expert(f"COPY {table}_stage ({cols}) FROM STDIN WITH (FORMAT {fmt})", stream(payload))
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {table}_stage {on_conflict}")
            added = cur.rowcount
            raw.commit()
            return added
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()

    def _insert(self, table: type[Any]) -> Any:
        """Return an INSERT for ``table`` in this dialect (for ON CONFLICT clauses)."""
        return (pg_insert if self.dialect == "postgresql" else sqlite_insert)(table)


_NULL = None


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL; show it escaped rather than fail the report.
    return text.replace("\x00", "\\x00")


def _pg_csv(value: Any, column: str) -> Any:
    """Encode one value for PostgreSQL's CSV COPY (empty unquoted field = NULL)."""
    if value is None:
        return _NULL
    if column in ("meta", "flags"):
        return json.dumps(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        # COPY reads NUL as end of string; it cannot be stored in PostgreSQL text.
        return value.replace("\x00", "\ufffd")
    return value
