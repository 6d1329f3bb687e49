"""store.summaries: packing (float32 bytes, row counts, status length), inserts then replaces."""

from __future__ import annotations

import numpy as np

from audiosoup_widgets.store import SampleQuery, Store, SummaryRecord
from audiosoup_widgets.store.summaries import STATUS_LENGTH, pack_summary
from audiosoup_widgets.testing import seed_synthetic


def test_pack_summary_is_float32_little_endian_with_its_row_count():
    row = pack_summary(SummaryRecord(7, "mfcc", "k1", "ok", np.arange(6, dtype=np.float64), 9))
    assert (row["n_rows"], row["n_frames"], row["status"]) == (3, 9, "ok")
    np.testing.assert_array_equal(np.frombuffer(row["data"], dtype="<f4"), np.arange(6))
    failed = pack_summary(SummaryRecord(7, "mfcc", "k1", "a_very_long_reason_code"))
    assert failed["status"] == "a_very_long_reason_code"[:STATUS_LENGTH]
    assert (failed["n_rows"], failed["n_frames"], failed["data"]) == (0, 0, b"")


def test_saved_records_read_back_and_failures_count_as_known_bad(store: Store):
    seed_synthetic(store, dataset="d", n=3)
    ids = [r.id for r in store.page_samples(SampleQuery("d"))]
    values = {sid: np.array([sid, 2.0 * sid, 0.5, 0.25], np.float32) for sid in ids[:2]}
    records = [SummaryRecord(sid, "mfcc", "k1", "ok", v, 5) for sid, v in values.items()]
    records.append(SummaryRecord(ids[2], "mfcc", "k1", "unreadable_by_any_decoder"))
    assert store.save_summaries(records) == 3
    got_ids, matrix = store.summary_matrix("d", "mfcc", "k1")
    assert list(got_ids) == ids[:2]
    np.testing.assert_array_equal(matrix, [values[sid] for sid in ids[:2]])
    assert store.failed_samples("d", {"mfcc": "k1"}) == [
        (ids[2], "unreadable_by_any_decoder"[:STATUS_LENGTH])
    ]
    assert store.samples_needing("d", {"mfcc": "k1"}) == []


def test_summary_writes_insert_then_replace(store: Store):
    # The first write of a batch goes straight in; writing the same keys again (a
    # recomputation) replaces the rows instead of failing or duplicating them.
    import numpy as np

    seed_synthetic(store, dataset="d", n=3)
    ids = [r.id for r in store.page_samples(SampleQuery("d"))]

    def rows(scale: float) -> list[dict]:
        return [
            {
                "sample_id": sid,
                "feature": f,
                "param_key": "k1",
                "status": "ok",
                "n_rows": 2,
                "n_frames": 7,
                "data": (scale * np.arange(4, dtype="<f4") + sid).tobytes(),
            }
            for sid in ids
            for f in ("mfcc", "chroma")
        ]

    assert store.write_summaries(rows(1.0)) == 6
    store.write_summaries(
        rows(2.0)
        + [
            {
                "sample_id": ids[0],
                "feature": "tonnetz",
                "param_key": "k1",
                "status": "silent",
                "n_rows": 0,
                "n_frames": 0,
                "data": b"",
            }
        ]
    )
    got_ids, values = store.summary_matrix("d", "mfcc", "k1")
    assert list(got_ids) == ids
    np.testing.assert_array_equal(values, [2.0 * np.arange(4) + sid for sid in ids])
    assert store.samples_needing("d", {"mfcc": "k1", "chroma": "k1"}) == []
    assert len(store.samples_needing("d", {"tonnetz": "k1"})) == 2


def test_features_written_apart_share_one_vector_and_failures_drop_their_values(store: Store):
    from sqlalchemy import text

    seed_synthetic(store, dataset="d", n=2)
    a, b = [r.id for r in store.page_samples(SampleQuery("d"))]
    mfcc = np.arange(4, dtype=np.float32)
    store.save_summaries([SummaryRecord(a, "mfcc", "k1", "ok", mfcc, 5)])
    store.save_summaries([SummaryRecord(a, "chroma", "k1", "ok", mfcc + 10, 5)])
    store.save_summaries([SummaryRecord(a, "mfcc", "k2", "ok", mfcc + 20, 5)])  # another key: kept beside
    store.save_summaries([SummaryRecord(b, "chroma", "k1", "ok", mfcc + 30, 5)])
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM summary_vectors")).scalar_one() == 2
    blocks = store.summary_blocks("d", [("chroma", "k1"), ("mfcc", "k1")])
    by_ids = {tuple(blk.sample_ids.tolist()): blk for blk in blocks}
    np.testing.assert_array_equal(by_ids[(a,)].values, [np.concatenate([mfcc + 10, mfcc])])
    assert by_ids[(a,)].features == ("chroma", "mfcc") and by_ids[(b,)].features == ("chroma",)
    np.testing.assert_array_equal(store.summary_matrix("d", "mfcc", "k2")[1], [mfcc + 20])
    # only the asked ids are read
    assert [blk.sample_ids.tolist() for blk in store.summary_blocks("d", [("chroma", "k1")], ids=[b])] == [
        [b]
    ]
    # a failure replaces the values it stands for; the other summaries stay
    store.save_summaries([SummaryRecord(a, "chroma", "k1", "unreadable")])
    assert store.summary_matrix("d", "chroma", "k1")[0].tolist() == [b]
    assert store.summary_matrix("d", "mfcc", "k1")[0].tolist() == [a]
    assert store.clear_summaries("d", ["chroma", "mfcc"]) == 4
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM summary_vectors")).scalar_one() == 0
    assert store.count_samples_without_summaries("d") == 2
