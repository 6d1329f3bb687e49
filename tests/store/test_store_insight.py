"""store.insight: QC runs and their findings, 2-D maps, on both databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import func, select

from audiosoup_widgets import NotFoundError, ValidationError
from audiosoup_widgets.store import FindingRecord, SampleQuery, Store
from audiosoup_widgets.store.models import Projection, QcRun
from audiosoup_widgets.testing import seed_synthetic

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _ids(store: Store, dataset: str = "d") -> list[int]:
    return store.sample_ids(SampleQuery(dataset))


def test_findings_replace_the_previous_runs_and_keep_its_record(store: Store):
    seed_synthetic(store, dataset="d", n=6, labels=("yes", "no"))
    seed_synthetic(store, dataset="other", n=2)
    ids = _ids(store)
    assert store.latest_qc_run("d") is None and store.list_findings("d") == []
    first = store.save_findings(
        "d",
        findings=[
            {"kind": "duplicate", "label": None, "sample_ids": ids[:2], "detail": {"pcm_hash": "ab" * 32}},
            {"kind": "clipping", "label": "yes", "sample_ids": np.array(ids[2:5]), "detail": {"ratio": 0.1}},
        ],
        params={"clip_ratio": 0.01, "version": 1},
        started_at=T0,
    )
    other = store.save_findings(
        "other", findings=[{"kind": "silence", "label": None, "sample_ids": []}], params={}, started_at=T0
    )
    found = store.list_findings("d")
    assert [f.kind for f in found] == ["duplicate", "clipping"]
    dup = found[0]
    assert isinstance(dup, FindingRecord) and dup.run_id == first
    assert dup.sample_ids == tuple(ids[:2]) and dup.n_samples == 2
    assert dup.detail == {"pcm_hash": "ab" * 32} and dup.label is None
    assert found[1].label == "yes" and found[1].sample_ids == tuple(ids[2:5])
    assert found[1].started_at == T0 and found[1].finished_at is not None and found[1].finished_at >= T0
    run = store.latest_qc_run("d")
    assert run is not None and run.id == first and run.dataset == "d"
    assert run.params == {"clip_ratio": 0.01, "version": 1}
    assert (run.n_samples, run.n_findings) == (6, 2)
    # a finding is a grid filter
    assert store.count_samples(SampleQuery("d", ids=found[1].sample_ids)) == 3

    second = store.save_findings(
        "d",
        findings=[{"kind": "silence", "label": "no", "sample_ids": [ids[5]], "detail": {}}],
        params={"version": 2},
        started_at=T0 + dt.timedelta(hours=1),
        n_samples=5,
    )
    assert second > first
    found = store.list_findings("d")
    assert [(f.run_id, f.kind, f.sample_ids) for f in found] == [(second, "silence", (ids[5],))]
    run = store.latest_qc_run("d")
    assert run is not None and (run.id, run.n_samples, run.n_findings) == (second, 5, 1)
    with store.session() as sess:  # runs are history: both kept
        assert sess.scalar(select(func.count()).select_from(QcRun)) == 3
    # the other dataset's findings are its own
    assert [f.run_id for f in store.list_findings("other")] == [other]
    # a run with nothing found clears the findings
    store.save_findings("d", findings=[], params={}, started_at=T0)
    assert store.list_findings("d") == []


def test_findings_are_validated_before_anything_is_written(store: Store):
    seed_synthetic(store, dataset="d", n=2)
    good = {"kind": "duplicate", "label": None, "sample_ids": _ids(store), "detail": {}}
    store.save_findings("d", findings=[good], params={}, started_at=T0)
    bad_findings = [
        {**good, "kind": ""},
        {**good, "kind": "k" * 33},
        {**good, "sample_ids": ["1"]},
        {**good, "detail": {"score": float("nan")}},
        {**good, "detail": {"when": T0}},
        {**good, "label": 3},
    ]
    for bad in bad_findings:
        with pytest.raises(ValidationError):
            store.save_findings("d", findings=[good, bad], params={}, started_at=T0)
    with pytest.raises(ValidationError):
        store.save_findings("d", findings=[good], params={"x": float("inf")}, started_at=T0)
    with pytest.raises(NotFoundError):
        store.save_findings("missing", findings=[good], params={}, started_at=T0)
    assert len(store.list_findings("d")) == 1


def test_projection_round_trip_replace_and_colours(store: Store):
    seed_synthetic(store, dataset="d", n=8, labels=("yes", "no"))
    ids = np.array(_ids(store), dtype=np.int64)
    assert store.load_projection("d", family="mel", method="pca") is None
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(8, 2)).astype(np.float32)
    order = rng.permutation(8)  # given in any order, returned by sample id
    store.save_projection(
        "d", family="mel", method="pca", input_key="k1", sample_ids=ids[order], xy=xy[order]
    )
    store.save_projection("d", family="all", method="pca", input_key="k2", sample_ids=ids[:2], xy=xy[:2])
    got = store.load_projection("d", family="mel", method="pca")
    assert got is not None and len(got) == 8
    assert got.input_key == "k1" and got.computed_at.tzinfo is not None
    assert got.sample_ids.dtype == np.int64 and got.sample_ids.tolist() == ids.tolist()
    assert got.x.dtype == np.float32 and got.y.dtype == np.float32
    np.testing.assert_array_equal(got.x, xy[:, 0])
    np.testing.assert_array_equal(got.y, xy[:, 1])
    assert got.label == ["yes", "no"] * 4 and got.split == ["train"] * 8
    # replacing one map leaves the other alone
    store.save_projection("d", family="mel", method="pca", input_key="k3", sample_ids=ids[:3], xy=xy[:3] * 2)
    again = store.load_projection("d", family="mel", method="pca")
    assert again is not None and again.input_key == "k3" and again.sample_ids.tolist() == ids[:3].tolist()
    np.testing.assert_array_equal(again.x, xy[:3, 0] * 2)
    other = store.load_projection("d", family="all", method="pca")
    assert other is not None and other.input_key == "k2" and len(other) == 2
    # the colours follow edits
    s = store.get_sample(int(ids[0]))
    store.update_sample(s.id, version=s.version, reviewer="ana", label="no", split="test")
    again = store.load_projection("d", family="mel", method="pca")
    assert again is not None and (again.label[0], again.split[0]) == ("no", "test")


def test_projection_points_go_with_their_samples(store: Store):
    seed_synthetic(store, dataset="d", n=3)
    ids = np.array(_ids(store))
    store.save_projection(
        "d", family="mel", method="pca", input_key="k", sample_ids=ids, xy=np.zeros((3, 2), np.float32)
    )
    with store.session() as sess:
        sess.execute(Projection.__table__.delete().where(Projection.sample_id == -1))  # nothing
        from audiosoup_widgets.store.models import Sample

        sess.execute(Sample.__table__.delete().where(Sample.id == int(ids[1])))
    got = store.load_projection("d", family="mel", method="pca")
    assert got is not None and got.sample_ids.tolist() == [ids[0], ids[2]]


def test_projection_is_validated(store: Store):
    seed_synthetic(store, dataset="d", n=3)
    seed_synthetic(store, dataset="other", n=1)
    ids = np.array(_ids(store))
    foreign = np.array(_ids(store, "other"))
    xy = np.zeros((3, 2))
    kw = {"family": "mel", "method": "pca", "input_key": "k"}
    for bad_ids, bad_xy in (
        (ids, np.zeros((2, 2))),
        (ids, np.full((3, 2), np.nan)),
        (ids.astype(float), xy),
        (np.array([ids[0], ids[0], ids[1]]), xy),
        (np.array([ids[0], ids[1], foreign[0]]), xy),
    ):
        with pytest.raises(ValidationError):
            store.save_projection("d", sample_ids=bad_ids, xy=bad_xy, **kw)
    for field, value in (("family", "f" * 33), ("method", ""), ("input_key", "k" * 65)):
        with pytest.raises(ValidationError):
            store.save_projection("d", sample_ids=ids, xy=xy, **{**kw, field: value})
    assert store.load_projection("d", family="mel", method="pca") is None
    # an empty map clears the stored one
    store.save_projection("d", sample_ids=ids, xy=xy, **kw)
    store.save_projection("d", sample_ids=np.array([], dtype=np.int64), xy=np.zeros((0, 2)), **kw)
    assert store.load_projection("d", family="mel", method="pca") is None
