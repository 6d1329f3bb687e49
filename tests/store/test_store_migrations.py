"""store migrations: a store made at 0001 or 0002 upgrades to head keeping its rows, and back down."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from backends import BACKENDS, PG_ADMIN_URL, schema_diff
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row

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
NEW_TABLES = {
    "qc_runs",
    "qc_findings",
    "projections",
    "annotation_votes",
    "annotation_tags",
    "annotation_flags",
    "annotation_regions",
    "annotation_notes",
    "annotation_edits",
    "text_vectors",
    "aug_recipes",
}
#: Columns of ``samples`` after 0002 (derived clips, 0008).
DERIVED_SAMPLE_COLUMNS = {"parent_id", "recipe_id", "aug_variant", "aug_seed"}


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
    assert store.current_revision() == store.head_revision() == "0008"
    assert _counts(store) == before
    assert schema_diff(store) == []
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
    # a derived clip (0008): the downgrade removes it with its columns, the originals stay
    recipe = store.save_recipe("d", "r", {"seed": 1, "steps": [{"Gain": {}}]}, reviewer="ana")
    derived = sample_row(1, "_aug/1_v0.wav", parent_id=1, recipe_id=recipe.id, aug_variant=0, aug_seed=5)
    assert store.insert_derived([derived]) == 1
    assert store.count_samples(SampleQuery("d", origin="derived")) == 1

    store.downgrade("0001")
    assert store.current_revision() == "0001"
    # nothing lost on the way down: on SQLite, copying ``samples`` to drop columns
    # would have deleted the summaries and edits through their ON DELETE CASCADE
    assert _counts(store) == before
    names = {c["name"] for c in inspect(store.engine).get_columns("samples")}
    assert not names & (NEW_SAMPLE_COLUMNS | DERIVED_SAMPLE_COLUMNS) and "rms_db" in names
    assert not NEW_TABLES & set(inspect(store.engine).get_table_names())
    store.upgrade()
    assert store.current_revision() == "0008" and _counts(store) == before


def _summaries_at_0002(store: Store) -> dict[tuple[int, str], bytes]:
    """Write summary rows with their values in ``feature_summaries.data`` (as 0002 stored them)."""
    from audiosoup_widgets.features.params import FeatureParams

    fp = FeatureParams()
    rng = np.random.default_rng(3)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # Sample 3 has a shorter chroma (as band-limited features at a low sample rate) and
    # sample 2 a failed chroma; sample 1 also has mfcc under another parameter key.
    shapes = {
        (1, "mfcc"): 4,
        (1, "chroma"): 3,
        (2, "mfcc"): 4,
        (2, "chroma"): 0,
        (3, "mfcc"): 4,
        (3, "chroma"): 2,
    }
    stored = {}
    with store.engine.begin() as conn:
        for (sid, feature), n_rows in shapes.items():
            data = rng.standard_normal(2 * n_rows).astype("<f4").tobytes()
            stored[(sid, feature)] = data
            conn.execute(
                text(
                    "INSERT INTO feature_summaries (sample_id, feature, param_key, status, n_rows, n_frames,"
                    " data, computed_at) VALUES (:sid, :f, :k, :status, :n, 32, :data, :now)"
                ),
                {
                    "sid": sid,
                    "f": feature,
                    "k": fp.key_for(feature),
                    "status": "ok" if n_rows else "unreadable",
                    "n": n_rows,
                    "data": data,
                    "now": now,
                },
            )
        conn.execute(
            text(
                "INSERT INTO feature_summaries (sample_id, feature, param_key, status, n_rows, n_frames,"
                " data, computed_at) VALUES (1, 'mfcc', 'older', 'ok', 1, 32, :data, :now)"
            ),
            {"data": np.array([7.0, 8.0], "<f4").tobytes(), "now": now},
        )
    return stored


def test_upgrade_from_0002_moves_summaries_into_vectors_and_back(empty_store: Store):
    from audiosoup_widgets import feature_frame
    from audiosoup_widgets.features.params import FeatureParams

    store = empty_store
    store.upgrade("0002")
    _fill_at_0001(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM feature_summaries"))
    stored = _summaries_at_0002(store)
    keys = {f: FeatureParams().key_for(f) for f in ("mfcc", "chroma")}

    store.upgrade()
    assert store.current_revision() == store.head_revision()
    assert schema_diff(store) == []
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM summary_vectors")).scalar_one() == 3
    frame = feature_frame("d", ["mfcc", "chroma"], db=store).set_index("sample_id")
    for sid in (1, 2, 3):
        mfcc = np.frombuffer(stored[(sid, "mfcc")], "<f4")
        np.testing.assert_array_equal(frame.loc[sid, [f"mfcc_mean_{i}" for i in range(4)]], mfcc[:4])
        np.testing.assert_array_equal(frame.loc[sid, [f"mfcc_std_{i}" for i in range(4)]], mfcc[4:])
    chroma = frame[[c for c in frame.columns if c.startswith("chroma_")]]
    assert chroma.shape[1] == 6 and chroma.loc[2].isna().all()  # the failure has no values
    np.testing.assert_array_equal(chroma.loc[1], np.frombuffer(stored[(1, "chroma")], "<f4"))
    three = np.frombuffer(stored[(3, "chroma")], "<f4")
    np.testing.assert_array_equal(chroma.loc[3], [three[0], three[1], np.nan, three[2], three[3], np.nan])
    # the older parameter key's values are kept beside the current ones
    np.testing.assert_array_equal(store.summary_matrix("d", "mfcc", "older")[1], [[7.0, 8.0]])
    # the state rows still say what is done and what failed
    assert store.samples_needing("d", keys) == []
    assert [sid for sid, _ in store.failed_samples("d", keys)] == [2]
    assert store.count_samples_without_summaries("d") == 0
    # written after the upgrade: merged into the stored vectors
    assert store.clear_summaries("d", ["chroma"]) == 3
    assert [r[0] for r in store.samples_needing("d", keys)] == [1, 2, 3]
    np.testing.assert_array_equal(store.summary_matrix("d", "mfcc", keys["mfcc"])[0], [1, 2, 3])

    store.downgrade("0002")
    with store.engine.connect() as conn:
        back = {
            (sid, f): bytes(d)
            for sid, f, d in conn.execute(
                text("SELECT sample_id, feature, data FROM feature_summaries WHERE param_key != 'older'")
            )
        }
        older = conn.execute(
            text("SELECT data FROM feature_summaries WHERE param_key = 'older'")
        ).scalar_one()
    assert back == {k: v for k, v in stored.items() if k[1] == "mfcc"}
    assert bytes(older) == np.array([7.0, 8.0], "<f4").tobytes()
