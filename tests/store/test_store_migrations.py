"""store migrations: a store made at revision 0001 upgrades to head keeping its rows, and back down."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from backends import BACKENDS, PG_ADMIN_URL
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.store.models import Base

NEW_SAMPLE_COLUMNS = {
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
}
NEW_TABLES = {"qc_runs", "qc_findings", "projections"}


@pytest.fixture(params=BACKENDS)
def empty_store(request, tmp_path) -> Iterator[Store]:
    """A store on an empty database (no schema at all), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        yield s
        s.dispose()
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"audiosoup_migrate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    s = Store(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield s
    finally:
        s.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fill_at_0001(store: Store) -> None:
    """Write rows with the 0001 columns only (the models already have the new ones)."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO datasets (id, name, root, layout, created_at) "
                "VALUES (1, 'd', '/data', 'folders', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text("INSERT INTO labels (id, dataset_id, name, created_at) VALUES (1, 1, 'yes', :now)"),
            {"now": now},
        )
        for i in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO samples (id, dataset_id, label_id, path, content_hash, format, sample_rate,"
                    " channels, frames, duration, split, meta, status, flags, rms_db, version, created_at)"
                    " VALUES (:id, 1, 1, :path, :hash, 'WAV', 16000, 1, 16000, 1.0, 'train', '{}', 'ok',"
                    " '[]', -20.5, 1, :now)"
                ),
                {"id": i, "path": f"yes/{i}.wav", "hash": f"{i:064x}", "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO feature_summaries (sample_id, feature, param_key, status, n_rows, n_frames,"
                " data, computed_at) VALUES (1, 'mel', 'k', 'ok', 1, 32, :data, :now)"
            ),
            {"data": b"\x00" * 8, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO sample_edits (sample_id, reviewer, at, field, old, new, version, undone, kind)"
                " VALUES (2, 'ana', :now, 'split', '\"test\"', '\"train\"', 2, false, 'edit')"
            ),
            {"now": now},
        )
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            # Rows were written with explicit ids: move the sequences past them.
            for table in ("datasets", "labels", "samples"):
                conn.execute(text(f"SELECT setval('{table}_id_seq', 10)"))


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("datasets", "labels", "samples", "feature_summaries", "sample_edits")
        }


def test_upgrade_from_0001_keeps_rows_and_downgrade_returns(empty_store: Store):
    store = empty_store
    store.upgrade("0001")
    assert store.current_revision() == "0001"
    _fill_at_0001(store)
    before = _counts(store)
    assert before == {"datasets": 1, "labels": 1, "samples": 3, "feature_summaries": 1, "sample_edits": 1}

    store.upgrade()
    assert store.current_revision() == store.head_revision() == "0004"
    assert _counts(store) == before
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert NEW_TABLES <= set(inspect(store.engine).get_table_names())
    cols = store.quality_columns("d")
    assert cols["sample_id"].tolist() == [1, 2, 3] and cols["label"] == ["yes"] * 3
    assert cols["rms_db"].tolist() == [-20.5] * 3  # written at ingest, kept
    for name in NEW_SAMPLE_COLUMNS - {"pcm_hash"}:
        assert all(v != v for v in cols[name]), name  # NaN: NULL
    assert cols["pcm_hash"] == [None] * 3
    assert store.count_missing_quality("d", version=1) == 3
    # the upgraded store works: edits, measures, findings, maps
    s = store.get_sample(1)
    assert s.version == 1 and store.count_samples(SampleQuery("d", ids=(1, 3))) == 2
    assert store.write_quality([{"sample_id": 1, "snr_db": 30.0, "pcm_sha256": "ab" * 32}], version=1) == 1
    store.save_findings(
        "d", findings=[{"kind": "x", "sample_ids": [1]}], params={}, started_at=dt.datetime.now(dt.UTC)
    )
    store.save_projection(
        "d", family="all", method="pca", input_key="k", sample_ids=np.array([1, 2]), xy=np.zeros((2, 2))
    )

    store.downgrade("0001")
    assert store.current_revision() == "0001"
    # nothing lost on the way down: on SQLite, copying ``samples`` to drop columns
    # would have deleted the summaries and edits through their ON DELETE CASCADE
    assert _counts(store) == before
    names = {c["name"] for c in inspect(store.engine).get_columns("samples")}
    assert not names & NEW_SAMPLE_COLUMNS and "rms_db" in names
    assert not NEW_TABLES & set(inspect(store.engine).get_table_names())
    store.upgrade()
    assert store.current_revision() == "0004" and _counts(store) == before
