"""MapService: stored maps and their staleness, colour groups, lassos, the nearest point, checks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from audiosoup_widgets.errors import FeatureError, ValidationError
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.services.maps import NO_FINDING, OTHERS, MapPoints
from audiosoup_widgets.testing import seed_summaries, seed_synthetic


def points_at(xy, ids=None, labels=None) -> MapPoints:
    xy = np.asarray(xy, dtype=np.float32)
    n = len(xy)
    return MapPoints(
        dataset="d",
        family="all",
        method="pca",
        ids=np.asarray(ids if ids is not None else np.arange(1, n + 1), dtype=np.int64),
        x=xy[:, 0].copy(),
        y=xy[:, 1].copy(),
        labels=np.asarray(labels if labels is not None else np.zeros(n), dtype=np.int32),
        label_names=("a", "b", "c"),
        splits=np.zeros(n, np.int32),
        split_names=("train",),
    )


@pytest.fixture
def mapped(store):
    seed_synthetic(store, dataset="d", n=40, labels=("yes", "no", "up", "down"))
    seed_summaries(store, "d", rows={"mfcc": 4})
    return ReviewServices(store), store


def test_points_are_read_once_and_updated_on_request(mapped, calls):
    services, store = mapped
    maps = services.maps
    assert maps.points("d") is None  # nothing stored yet; nothing computed by asking
    counted = calls(store, "load_projection", "summary_blocks")
    fresh = maps.update("d")
    assert fresh.stale is False and len(fresh) == 40 and maps.is_current("d")
    assert counted["summary_blocks"] > 0
    assert maps.points("d") is fresh  # the update filled the cache
    maps.forget()
    stored = maps.points("d")
    assert stored is not None and stored.stale is None and not maps.is_current("d")
    reads = counted["load_projection"]
    assert maps.points("d") is stored and counted["load_projection"] == reads
    np.testing.assert_array_equal(stored.x, fresh.x)
    table = {sid: label for sid, _, label, _ in store.sample_table("d")}
    assert [stored.label_names[c] for c in stored.labels] == [table[i] for i in stored.ids.tolist()]


def test_an_update_without_summaries_says_what_to_run(store):
    seed_synthetic(store, dataset="bare", n=3)
    with pytest.raises(FeatureError, match="audiosoup features compute"):
        ReviewServices(store).maps.update("bare")


@pytest.mark.parametrize("family, method", [("timbre", "pca"), ("all", "tsne"), (None, 3), (["all"], "pca")])
def test_unknown_maps_are_refused(sqlite_store, family, method):
    with pytest.raises(ValidationError):
        ReviewServices(sqlite_store).maps.points("d", family=family, method=method)


def test_relabelled_points_follow_an_edit(mapped):
    services, store = mapped
    points = services.maps.update("d")
    sid = int(points.ids[0])
    record = services.samples.get(sid)
    services.samples.update(record, reviewer="t", label="zebra", create_label=True)
    again = services.maps.relabelled(points)
    assert again.label_names[again.labels[0]] == "zebra"
    np.testing.assert_array_equal(again.x, points.x)
    assert again.stale is False


def test_groups_count_labels_and_merge_the_smallest_into_others(sqlite_store):
    seed_synthetic(sqlite_store, dataset="d", n=50, labels=tuple("abcdefg"))
    seed_summaries(sqlite_store, "d", rows={"mfcc": 2})
    maps = ReviewServices(sqlite_store).maps
    points = maps.update("d")
    groups = maps.groups(points, "label")
    names, counts = np.unique([points.label_names[c] for c in points.labels], return_counts=True)
    want = dict(zip(names.tolist(), counts.tolist(), strict=True))
    assert dict(zip(groups.names, groups.counts, strict=True)) == want
    assert list(groups.counts) == sorted(groups.counts, reverse=True)
    for i, name in enumerate(groups.names):
        assert {points.label_names[c] for c in points.labels[groups.codes == i]} == {name}
    few = maps.groups(points, "label", limit=3)
    assert few.names[-1] == OTHERS and len(few.names) == 3 and sum(few.counts) == 50
    assert few.counts[-1] == (few.codes == 2).sum()
    split = maps.groups(points, "split")
    assert set(split.names) == {"train", "validation", "test"}
    with pytest.raises(ValidationError):
        maps.groups(points, "speaker")
    with pytest.raises(ValidationError):
        maps.groups(points, "label", limit=1)


def test_finding_groups_come_from_the_latest_qc_run(mapped):
    services, store = mapped
    maps = services.maps
    points = maps.update("d")
    ids = points.ids.tolist()
    assert maps.groups(points, "finding").names == (NO_FINDING,)
    store.save_findings(
        "d",
        findings=[
            {"kind": "clipped", "label": None, "sample_ids": ids[:3]},
            {"kind": "near_duplicate", "label": None, "sample_ids": ids[2:5]},
            {"kind": "clipped", "label": None, "sample_ids": ids[10:12]},
        ],
        params={},
        started_at=dt.datetime.now(dt.UTC),
    )
    assert maps.groups(points, "finding").names == (NO_FINDING,)  # cached until told
    maps.forget_findings("d")
    groups = maps.groups(points, "finding")
    named = dict(zip(groups.names, groups.counts, strict=True))
    # A clip in two findings counts once, under the first kind of the run.
    assert named == {"clipped": 5, "near_duplicate": 2, NO_FINDING: 33}
    assert groups.names[-1] == NO_FINDING
    kinds = maps.findings("d")
    assert kinds["clipped"].tolist() == sorted(ids[:3] + ids[10:12])


def test_ids_of_a_selection_are_exact_and_bad_selections_are_refused(sqlite_store):
    svc = ReviewServices(sqlite_store).maps
    pts = points_at(np.random.default_rng(0).normal(size=(10, 2)), ids=[5, 9, 11, 20, 21, 22, 30, 31, 40, 41])
    assert svc.ids_in(pts, [3, 0, 3, 9]).tolist() == [5, 20, 41]
    # Plot positions 1 and 2 of a plot holding the points in reverse: points 8 and 7.
    assert svc.ids_in(pts, np.array([1, 2], np.uint32), order=np.arange(10)[::-1]).tolist() == [31, 40]
    assert svc.ids_in(pts, None).tolist() == [] and svc.ids_in(pts, []).tolist() == []
    for bad in ([10], [-1], [[1, 2]], [1.5], ["1"], "12", [True, 1.0]):
        with pytest.raises(ValidationError):
            svc.ids_in(pts, bad)
    with pytest.raises(ValidationError):
        svc.ids_in(pts, [1], order=[0, 1])
    assert svc.indices_of(pts, [9, 41, 999]).tolist() == [1, 9]


def test_inside_a_lasso_matches_a_brute_force_check(sqlite_store):
    svc = ReviewServices(sqlite_store).maps
    rng = np.random.default_rng(1)
    xy = rng.uniform(-1, 1, size=(5000, 2))
    pts = points_at(xy)
    square = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]
    got = svc.inside(pts, square)
    want = np.flatnonzero((np.abs(pts.x) < 0.5) & (np.abs(pts.y) < 0.5))
    assert got.tolist() == want.tolist()
    # A concave "L": the square less its top-right quarter.
    ell = [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.0], [0.0, 0.0], [0.0, 0.5], [-0.5, 0.5]]
    quarter = (pts.x > 0) & (pts.y > 0)
    want = np.flatnonzero((np.abs(pts.x) < 0.5) & (np.abs(pts.y) < 0.5) & ~quarter)
    assert svc.inside(pts, ell).tolist() == want.tolist()
    # A triangle, against barycentric coordinates.
    a, b, c = np.array([-1.0, -1.0]), np.array([1.0, -0.2]), np.array([0.1, 0.9])
    m = np.column_stack([b - a, c - a])
    uv = np.linalg.solve(m, (np.column_stack([pts.x, pts.y]) - a).T).T
    want = np.flatnonzero((uv[:, 0] > 0) & (uv[:, 1] > 0) & (uv.sum(axis=1) < 1))
    assert svc.inside(pts, [a, b, c]).tolist() == want.tolist()
    for bad in ([[0, 0], [1, 1]], [[0, 0, 0]] * 3, [[0, np.nan], [1, 0], [1, 1]], "abc", [[0, 0]] * 6000):
        with pytest.raises(ValidationError):
            svc.inside(pts, bad)


def test_the_nearest_point_is_found_within_the_radius_only(sqlite_store):
    svc = ReviewServices(sqlite_store).maps
    pts = points_at([[0.0, 0.0], [10.0, 0.0], [0.0, 1.0]])
    assert svc.nearest(pts, 0.1, 0.2, rx=1.0, ry=1.0) == 0
    assert svc.nearest(pts, 0.1, 0.8, rx=1.0, ry=1.0) == 2
    assert svc.nearest(pts, 5.0, 0.0, rx=1.0, ry=1.0) is None
    # Radii are per axis: 4 units along x are close on a wide axis.
    assert svc.nearest(pts, 6.5, 0.0, rx=4.0, ry=0.1) == 1
    for bad in ((np.nan, 0.0), ("1", 0.0), (True, 0.0)):
        with pytest.raises(ValidationError):
            svc.nearest(pts, *bad, rx=1.0, ry=1.0)


def test_the_first_view_leaves_a_few_far_off_points_out_and_says_so(sqlite_store):
    svc = ReviewServices(sqlite_store).maps
    rng = np.random.default_rng(2)
    xy = np.vstack([rng.normal(size=(200, 2)), [[80.0, 0.0], [0.0, -90.0]]])
    pts = points_at(xy)
    whole = svc.extent(pts, whole=True)
    assert whole.x0 < -1 and whole.x1 > 80 and whole.y0 < -90 and whole.n_outside == 0
    view = svc.extent(pts)
    assert view.n_outside == 2 and view.x1 < 20 and view.y0 > -20
    inside = (pts.x >= view.x0) & (pts.x <= view.x1) & (pts.y >= view.y0) & (pts.y <= view.y1)
    assert inside.sum() == 200
    # When many points are far out, they are the map's shape, not oddities: show all.
    spread = points_at(np.vstack([rng.normal(size=(100, 2)), rng.normal(50, 1, size=(20, 2))]))
    assert svc.extent(spread).n_outside == 0


def test_describe_names_the_clip(mapped):
    services, store = mapped
    sid, path, label, _ = store.sample_table("d")[0]
    assert services.maps.describe("d", sid) == (path.rsplit("/", 1)[-1], label)
    with pytest.raises(ValidationError):
        services.maps.describe("d", "7")
