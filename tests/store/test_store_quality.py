"""store.measures: quality measures written without touching edit versions, resumable batches, columns out."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from signals import noise, tone
from sqlalchemy import text

from audiosoup_widgets import ValidationError
from audiosoup_widgets.audio.quality import QualityMeasures, measure_quality
from audiosoup_widgets.store import MEASURE_COLUMNS, QUALITY_COLUMNS, SampleQuery, Store, quality_values
from audiosoup_widgets.store.columns import read_columns
from audiosoup_widgets.store.models import Sample
from audiosoup_widgets.testing import sample_row, seed_synthetic


def _ids(store: Store, dataset: str = "d") -> list[int]:
    return store.sample_ids(SampleQuery(dataset))


def test_columns_follow_quality_measures_fields():
    fields = [f.name for f in dataclasses.fields(QualityMeasures)]
    assert list(MEASURE_COLUMNS) == fields
    assert tuple(MEASURE_COLUMNS.values()) == QUALITY_COLUMNS


def test_quality_values_maps_a_measured_clip():
    m = measure_quality(tone(16000, level=0.5), sr=16000)
    values = quality_values(m.as_row())
    assert list(values) == list(QUALITY_COLUMNS)
    assert values["rms_db"] == m.rms_dbfs and values["peak_dbfs"] == m.peak_dbfs
    assert values["leading_silence"] == m.leading_silence_s
    assert values["trailing_silence"] == m.trailing_silence_s
    assert values["pcm_hash"] == m.pcm_sha256 and len(values["pcm_hash"]) == 64
    # a full-scale half sine: -6.02 dBFS peak, -9.03 dBFS RMS
    assert values["peak_dbfs"] == pytest.approx(20 * math.log10(0.5), abs=1e-3)
    assert values["rms_db"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=1e-3)
    # column names are accepted too; NaN becomes NULL; a missing measure is None
    assert quality_values({"rms_db": -20.0, "snr_db": float("nan")}) == {
        **dict.fromkeys(QUALITY_COLUMNS),
        "rms_db": -20.0,
    }
    with pytest.raises(ValidationError):
        quality_values({"loudness": 1.0})
    with pytest.raises(ValidationError):
        quality_values({"snr_db": "loud"})
    with pytest.raises(ValidationError):
        quality_values({"pcm_sha256": "x" * 65})


def test_missing_quality_pages_by_id_and_resumes(store: Store):
    seed_synthetic(store, dataset="d", n=7)
    seed_synthetic(store, dataset="other", n=3)
    ids = _ids(store)
    assert store.count_missing_quality("d", version=1) == 7
    first = store.samples_missing_quality("d", version=1, limit=3)
    assert [i for i, _, _ in first] == ids[:3]
    assert all(isinstance(p, str) and b is None for _, p, b in first)
    rest = store.samples_missing_quality("d", version=1, after_id=first[-1][0], limit=100)
    assert [i for i, _, _ in rest] == ids[3:]
    # measured at version 1: done for version 1, missing again for version 2
    assert store.write_quality([{"sample_id": i, "rms_db": -10.0} for i in ids[:4]], version=1) == 4
    assert [i for i, _, _ in store.samples_missing_quality("d", version=1)] == ids[4:]
    assert store.count_missing_quality("d", version=1) == 3
    assert store.count_missing_quality("d", version=2) == 7
    assert store.count_missing_quality("other", version=1) == 3


def test_missing_quality_hands_back_undecodable_path_bytes(store: Store):
    ds = store.ensure_dataset("d", root="/x", layout="folders")
    raw = b"caf\xe9.wav"
    store.insert_samples([sample_row(ds, "caf\\xe9.wav", path_bytes=raw)])
    [(_, path, path_bytes)] = store.samples_missing_quality("d", version=1)
    assert path == "caf\\xe9.wav" and path_bytes == raw and isinstance(path_bytes, bytes)


def test_write_quality_round_trips_through_quality_columns(store: Store):
    seed_synthetic(store, dataset="d", n=4, labels=("yes", "no"))
    ids = _ids(store)
    before = store.quality_columns("d")
    m1 = measure_quality(tone(16000, level=0.9), sr=16000)
    m2 = measure_quality(noise(16000, level=0.1), sr=16000)
    rows = [
        {"sample_id": ids[0], **m1.as_row()},
        {"sample_id": ids[1], **m2.as_row()},
        {"sample_id": ids[2], "quality_error": "decode: truncated file"},
        {"sample_id": 10**9, **m1.as_row()},  # gone since: updates nothing
    ]
    assert store.write_quality(rows, version=3) == 3
    cols = store.quality_columns("d")
    assert cols["sample_id"].dtype == np.int64 and cols["sample_id"].tolist() == ids
    assert cols["label"] == ["yes", "no", "yes", "no"]
    assert cols["split"] == ["train"] * 4 and cols["status"] == ["ok"] * 4
    assert cols["path"] == before["path"] and all(isinstance(p, str) for p in cols["path"])
    assert cols["duration"].tolist() == [1.0] * 4 and cols["sample_rate"].tolist() == [16000] * 4
    assert cols["channels"].tolist() == [1] * 4
    for column in QUALITY_COLUMNS:
        if column == "pcm_hash":
            continue
        got = cols[column]
        assert isinstance(got, np.ndarray) and got.dtype == np.float64, column
        expected = [quality_values(m1.as_row())[column], quality_values(m2.as_row())[column]]
        np.testing.assert_allclose(got[:2], expected, rtol=1e-12, err_msg=column)
        if column != "rms_db":
            # the failed clip and the one never measured have no measures
            assert np.isnan(got[2]) and np.isnan(got[3]), column
    # rms_db written at ingest stays for the failed clip and the one not measured
    assert cols["rms_db"][2:].tolist() == before["rms_db"][2:].tolist()
    assert not np.isnan(before["rms_db"]).any()
    assert cols["pcm_hash"] == [m1.pcm_sha256, m2.pcm_sha256, None, None]
    assert np.isnan(before["quality_version"]).all()
    assert cols["quality_version"][:3].tolist() == [3.0, 3.0, 3.0] and np.isnan(cols["quality_version"][3])
    # the failed clip is not retried at the same version, only at a newer one
    assert [i for i, _, _ in store.samples_missing_quality("d", version=3)] == [ids[3]]
    assert ids[2] in [i for i, _, _ in store.samples_missing_quality("d", version=4)]


def test_quality_columns_of_an_empty_dataset(store: Store):
    store.ensure_dataset("empty", root="/x", layout="folders")
    cols = store.quality_columns("empty")
    assert cols["sample_id"].dtype == np.int64 and len(cols["sample_id"]) == 0
    assert cols["snr_db"].dtype == np.float64 and cols["pcm_hash"] == []


def test_writing_measures_leaves_edit_versions_alone(store: Store):
    seed_synthetic(store, dataset="d", n=2, labels=("yes", "no"))
    sample = store.get_sample(_ids(store)[0])
    assert sample.version == 1
    # a reviewer opened the clip (version 1); the backfill measures it meanwhile
    m = measure_quality(tone(16000), sr=16000)
    assert store.write_quality([{"sample_id": sample.id, **m.as_row()}], version=1) == 1
    after = store.get_sample(sample.id)
    assert after.version == 1 and after.updated_by is None and after.updated_at is None
    # ... and saves with the version they read: no false conflict
    saved = store.update_sample(sample.id, version=1, reviewer="ana", label="no")
    assert saved.version == 2 and saved.label == "no"
    # the edit did not wipe the measures
    cols = store.quality_columns("d")
    assert cols["pcm_hash"][0] == m.pcm_sha256


def test_write_quality_refuses_bad_rows_before_writing(store: Store):
    seed_synthetic(store, dataset="d", n=2)
    ids = _ids(store)
    good = {"sample_id": ids[0], "rms_db": -3.0}
    for bad in ({"rms_db": -3.0}, {"sample_id": "1"}, {"sample_id": True}, {"sample_id": ids[1], "x": 1.0}):
        with pytest.raises(ValidationError):
            store.write_quality([good, bad], version=1)
    for version in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            store.write_quality([good], version=version)  # type: ignore[arg-type]
    assert store.count_missing_quality("d", version=1) == 2
    assert store.write_quality([], version=1) == 0


def test_insert_samples_stores_quality_columns(store: Store):
    ds = store.ensure_dataset("d", root="/x", layout="folders")
    m = measure_quality(tone(16000, level=0.25), sr=16000)
    measured = sample_row(ds, "a.wav", **quality_values(m.as_row()), quality_version=2)
    assert store.insert_samples([measured, sample_row(ds, "b.wav")]) == 2
    cols = store.quality_columns("d")
    assert cols["pcm_hash"] == [m.pcm_sha256, None]
    assert cols["quality_version"][0] == 2.0 and np.isnan(cols["quality_version"][1])
    assert cols["snr_db"][0] == m.snr_db and cols["bandwidth_hz"][0] == m.bandwidth_hz
    assert cols["leading_silence"][0] == m.leading_silence_s and np.isnan(cols["clip_ratio"][1])
    assert store.count_missing_quality("d", version=2) == 1


def test_quality_columns_stay_aligned_whatever_order_rows_are_stored_in(store: Store):
    seed_synthetic(store, dataset="d", n=40, labels=("a", "b", "c"))
    records = {r.id: r for r in store.page_samples(SampleQuery("d"), page_size=40)}
    ids = sorted(records)
    shuffled = np.random.default_rng(7).permutation(ids).tolist()
    # updated rows move in the table, so a plain scan now meets them in this order
    for i in shuffled:
        store.write_quality([{"sample_id": i, "snr_db": float(i), "pcm_sha256": f"{i:064x}"}], version=1)
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_indexscan = off; SET enable_bitmapscan = off")
            scanned = [r[0] for r in conn.exec_driver_sql("SELECT id FROM samples")]
        assert scanned != ids  # the packed read has to put them back in order
    cols = store.quality_columns("d")
    assert cols["sample_id"].tolist() == ids
    assert cols["snr_db"].tolist() == [float(i) for i in ids]
    assert cols["pcm_hash"] == [f"{i:064x}" for i in ids]
    assert cols["path"] == [records[i].path for i in ids]
    assert cols["label"] == [records[i].label for i in ids]
    assert cols["speaker"] == [records[i].speaker for i in ids]
    assert cols["split"] == [records[i].split for i in ids]
    # the same read forced onto a plain scan of the table
    with store.session() as sess:
        if store.dialect == "postgresql":
            sess.execute(text("SET LOCAL enable_indexscan = off"))
            sess.execute(text("SET LOCAL enable_bitmapscan = off"))
        scan = read_columns(
            sess,
            [("id", Sample.id, "int"), ("snr", Sample.snr_db, "float"), ("hash", Sample.pcm_hash, "text")],
            froms=Sample,
            where=[Sample.path != ""],
        )
    assert scan["id"].tolist() == ids and scan["snr"].tolist() == [float(i) for i in ids]
    assert scan["hash"] == [f"{i:064x}" for i in ids]
