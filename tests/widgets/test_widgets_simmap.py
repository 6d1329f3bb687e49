"""SimilarityMap driven as the browser drives it: lasso and box to the grid's filter, colours, pointer.

The app is built on real stores with synthetic clips and summaries; events are the
``vue_*`` calls the browser would send (a box arrives as a lasso of four corners).
What the browser is shown is the picture's PNG, read back here.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from audiosoup_widgets.testing import seed_summaries, seed_synthetic
from audiosoup_widgets.widgets.mapfigure import DEFAULT_SIZE, FADED, OPACITY, PALETTE, QUIET
from audiosoup_widgets.widgets.raster import blend
from audiosoup_widgets.widgets.simmap import MAP_SOURCE

ROWS = {"mfcc": 4, "chroma": 2}


def seeded(store, n=60, labels=("yes", "no", "up")):
    seed_synthetic(store, dataset="d", n=n, labels=labels)
    seed_summaries(store, "d", rows=ROWS)
    return store


def shown(make_app, store):
    app = make_app(store, dataset="d")
    app.state.show("map")  # no event loop in tests: the map loads at once
    return app, app.similarity_map


def fractions(smap, xs, ys):
    """Data coordinates as fractions of the plot area (y from the top), as the browser sends them."""
    x0, x1, y0, y1 = (
        smap.plot.x_scale.min,
        smap.plot.x_scale.max,
        smap.plot.y_scale.min,
        smap.plot.y_scale.max,
    )
    return (np.asarray(xs) - x0) / (x1 - x0), (y1 - np.asarray(ys)) / (y1 - y0)


def picture(smap):
    """The map's picture as the browser gets it: RGBA pixels, row 0 at the top."""
    return np.asarray(Image.open(io.BytesIO(smap.plot.picture.value)).convert("RGBA"))


def pixel_of(smap, x, y):
    """The picture's pixel (row, column) under the map point (x, y)."""
    rgba = picture(smap)
    fx, fy = fractions(smap, x, y)
    return rgba[int(fy * rgba.shape[0]), int(fx * rgba.shape[1])]


def box(smap, x0, x1, y0, y1, *, add=False):
    """Drag a box from (x0, y0) to (x1, y1), map coordinates, as the template sends it."""
    fx, fy = fractions(smap, [x0, x1], [y0, y1])
    corners = [[fx[0], fy[0]], [fx[1], fy[0]], [fx[1], fy[1]], [fx[0], fy[1]]]
    smap.vue_lasso({"points": np.asarray(corners, dtype=float).tolist(), "add": add})


def box_around(smap, positions_in_points):
    """A box just around some points."""
    pts = smap._points
    xs, ys = pts.x[positions_in_points].astype(float), pts.y[positions_in_points].astype(float)
    pad = 1e-4 * float(np.ptp(pts.x))
    box(smap, xs.min() - pad, xs.max() + pad, ys.min() - pad, ys.max() + pad)


def test_nothing_is_read_until_the_map_is_shown(sqlite_store, make_app, monkeypatch):
    seeded(sqlite_store)
    counted = {"load_projection": 0, "summary_matrix": 0}
    for name in counted:
        real = getattr(sqlite_store, name)

        def count(*args, _name=name, _real=real, **kwargs):
            counted[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(sqlite_store, name, count)
    app = make_app(sqlite_store, dataset="d")
    smap = app.similarity_map
    assert smap.figure is None and smap.n_points == 0
    assert counted["load_projection"] == 0 and counted["summary_matrix"] == 0
    app.state.show("map")
    assert smap.figure is smap.plot.fig and smap.n_points == 60 and app.state.error == ""
    assert len(smap.plot.x) == len(smap.plot.y) == len(smap.plot.codes) == 60
    assert "60 clips · PCA of all features · computed" in smap.note and smap.busy == {}
    stored = sqlite_store.load_projection("d", family="all", method="pca")
    assert stored is not None and sorted(smap.plot.x.tolist()) == sorted(stored.x.tolist())
    # The browser gets one picture of the plot area: transparent where no clip is, and each
    # clip's label colour under it (the last drawn of a few overlapping ones).
    rgba = picture(smap)
    assert rgba.shape[:2] == DEFAULT_SIZE[::-1] and rgba[0, 0, 3] == 0
    pts, order = smap._points, smap._order
    last = smap.plot.x.size - 1
    top = pixel_of(smap, smap.plot.x[last], smap.plot.y[last])
    assert tuple(top[:3]) == blend(PALETTE[int(smap.plot.codes[last])], OPACITY) and top[3] == 255
    assert list(smap.plot.mark.x) == [smap.plot.x_scale.min, smap.plot.x_scale.max]
    assert pts.ids[order].size == 60


def test_a_lasso_filters_the_grid_to_exactly_the_clips_inside(store, make_app):
    seeded(store)
    app, smap = shown(make_app, store)
    pts = smap._points
    # A triangle in map coordinates around part of the map; expected clips by brute force.
    cx, cy = float(np.median(pts.x)), float(np.median(pts.y))
    tri = np.array([[cx - 3, cy - 3], [cx + 3, cy - 3], [cx, cy + 3]])
    a, b, c = tri
    uv = np.linalg.solve(np.column_stack([b - a, c - a]), (np.column_stack([pts.x, pts.y]) - a).T).T
    want = pts.ids[(uv[:, 0] > 0) & (uv[:, 1] > 0) & (uv.sum(axis=1) < 1)]
    assert 0 < len(want) < 60
    fx, fy = fractions(smap, tri[:, 0], tri[:, 1])
    smap.vue_lasso({"points": np.column_stack([fx, fy]).tolist(), "add": False})
    st = app.state
    assert st.id_filter == tuple(sorted(want.tolist())) and st.id_filter_source == MAP_SOURCE
    assert smap.n_selected == len(want) and st.error == ""
    assert (
        app.grid.id_filter_note == f"{len(want)} clip{'s' if len(want) != 1 else ''} from the map selection"
    )
    assert st.total == len(want)
    # The picture highlights the same clips (positions in its own drawing order): at full
    # colour, the others faded.
    marked = smap.plot.marked
    assert sorted(pts.ids[smap._order[marked]].tolist()) == sorted(want.tolist())
    inside = int(np.flatnonzero(np.isin(pts.ids, want))[0])
    colour = PALETTE[int(pts.labels[inside])]
    assert tuple(pixel_of(smap, pts.x[inside], pts.y[inside])[:3]) == blend(colour, OPACITY)
    outside = np.flatnonzero(~np.isin(pts.ids, want))
    far = int(outside[np.argmax(np.hypot(pts.x[outside] - cx, pts.y[outside] - cy))])
    assert tuple(pixel_of(smap, pts.x[far], pts.y[far])[:3]) == blend(PALETTE[int(pts.labels[far])], FADED)
    # Shift adds a second lasso; a lasso around nothing changes nothing.
    whole = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    smap.vue_lasso({"points": whole, "add": True})
    assert smap.n_selected == 60 and len(st.id_filter) == 60
    smap.vue_lasso({"points": [[0.0, 0.0], [0.001, 0.0], [0.0, 0.001]], "add": False})
    assert smap.n_selected == 60
    smap.vue_clear_selection()
    assert st.id_filter is None and smap.n_selected == 0 and smap.plot.marked is None


def test_a_box_selection_from_the_browser_becomes_the_filter(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    smap.vue_set_mode("box")
    assert smap.plot.fig.interaction is None  # the template draws the box
    pts = smap._points
    x0, x1 = np.quantile(pts.x, [0.2, 0.7])
    y0, y1 = np.quantile(pts.y, [0.1, 0.8])
    box(smap, x1, x0, y1, y0)  # dragged from the bottom right to the top left
    want = sorted(pts.ids[(pts.x > x0) & (pts.x < x1) & (pts.y > y0) & (pts.y < y1)].tolist())
    assert 0 < len(want) < 60
    assert list(app.state.id_filter) == want and smap.n_selected == len(want)
    assert sorted(pts.ids[smap._order[smap.plot.marked]].tolist()) == want
    smap.vue_set_mode("pan")
    assert smap.plot.fig.interaction is smap.plot.panzoom
    smap.vue_set_mode("lasso")
    assert smap.plot.fig.interaction is None  # the template draws the lasso


def test_the_grid_clearing_its_filter_clears_the_map_selection(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    smap.vue_set_mode("box")
    box_around(smap, np.argsort(smap._points.x)[:3])
    assert smap.n_selected == 3
    smap.vue_check_selection()
    assert len(app.state.selection) == 3
    smap.vue_show_clips()
    assert app.state.view == "clips"
    app.grid.vue_clear_id_filter()
    assert smap.n_selected == 0 and smap.plot.marked is None
    smap.vue_check_selection()
    assert app.state.error == "Nothing is selected on the map." and len(app.state.selection) == 3
    app.state.filter_to([1, 2], source="the selection")  # another view's filter stays
    smap.vue_clear_selection()
    assert app.state.id_filter == (1, 2)


def test_colour_modes_and_their_legends(sqlite_store, make_app):
    seeded(sqlite_store, labels=("yes", "no", "up", "down"))
    app, smap = shown(make_app, sqlite_store)
    legend = {g["name"]: g for g in smap.legend}
    assert {n: g["count"] for n, g in legend.items()} == {"yes": 15, "no": 15, "up": 15, "down": 15}
    assert [g["colour"] for g in smap.legend] == list(PALETTE[:4])
    # Each point's colour code names its own label.
    pts, order = smap._points, smap._order
    names = [smap.legend[int(c)]["name"] for c in smap.plot.codes]
    assert names == [pts.label_names[pts.labels[i]] for i in order]
    smap.vue_set_colour("split")
    assert {g["name"] for g in smap.legend} == {"train", "validation", "test"}
    ids = pts.ids.tolist()
    sqlite_store.save_findings(
        "d",
        findings=[{"kind": "silent", "label": None, "sample_ids": ids[:4]}],
        params={},
        started_at=dt.datetime.now(dt.UTC),
    )
    smap.vue_set_colour("finding")
    assert [(g["name"], g["count"], g["colour"]) for g in smap.legend] == [
        ("silent", 4, PALETTE[0]),
        ("no finding", 56, QUIET),
    ]
    # Clips without a finding are drawn first, underneath the four that matter.
    assert sorted(pts.ids[smap._order[-4:]].tolist()) == ids[:4]
    assert smap.plot.codes[-4:].tolist() == [0] * 4
    assert app.state.error == ""


def test_hover_names_the_clip_and_a_click_opens_its_review(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    pts = smap._points
    i = 17
    fx, fy = fractions(smap, pts.x[i], pts.y[i])
    at = {"fx": float(fx), "fy": float(fy), "w": 900, "h": 500}
    smap.vue_hover_at(at)
    record = app.services.samples.get(int(pts.ids[i]))
    assert smap.hover == {"id": record.id, "name": record.file_name, "label": record.label}
    smap.vue_hover_at({"fx": None})
    assert smap.hover == {}
    smap.vue_open_at(at)
    assert app.state.selected_sample_id == record.id and app.state.panel == "review"
    # Far from every point a click opens nothing.
    app.state.panel = ""
    corner = {"fx": 0.0, "fy": 0.0, "w": 900, "h": 500}
    smap.vue_open_at(corner)
    assert app.state.panel == ""


@pytest.mark.parametrize(
    "event, data",
    [
        ("vue_set_family", "timbre"),
        ("vue_set_method", 3),
        ("vue_set_colour", None),
        ("vue_set_mode", "magic"),
        ("vue_lasso", {"points": "x"}),
        ("vue_lasso", {"points": [[0, 0], [1, float("nan")], [1, 1]]}),
        ("vue_lasso", {"points": [[0, 0], [1, 1]]}),
        ("vue_lasso", [[0, 0], [1, 0], [1, 1]]),
        ("vue_hover_at", {"fx": 2.0, "fy": 0.5, "w": 100, "h": 100}),
        ("vue_hover_at", {"fx": 0.5, "fy": 0.5, "w": -1, "h": 100}),
        ("vue_open_at", {"fx": "0.5", "fy": 0.5, "w": 100, "h": 100}),
        ("vue_open_at", "here"),
        ("vue_resized", {"w": 0, "h": 400}),
        ("vue_resized", {"w": 800, "h": 400, "ratio": "2"}),
        ("vue_resized", [800, 400]),
    ],
)
def test_bad_events_are_refused_and_change_nothing(sqlite_store, make_app, event, data):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    smap.vue_set_mode("box")
    box_around(smap, np.argsort(smap._points.x)[:2])
    app.state.clear_selection()
    before = (app.state.id_filter, smap.family, smap.method, smap.colour_by, smap.mode, app.state.panel)
    getattr(smap, event)(data)
    assert app.state.error
    after = (app.state.id_filter, smap.family, smap.method, smap.colour_by, smap.mode, app.state.panel)
    assert after == before and smap.plot.size == DEFAULT_SIZE


def test_the_picture_follows_the_plot_size_and_the_view(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    renders = smap.plot.renders
    smap.vue_resized({"w": 640, "h": 300, "ratio": 2})
    assert picture(smap).shape[:2] == (600, 1280) and smap.plot.renders == renders + 1
    smap.vue_resized({"w": 640, "h": 300, "ratio": 2})  # the same size draws nothing again
    assert smap.plot.renders == renders + 1
    # A pan or zoom from the browser (the scales move) draws the new view, where it now is.
    i = 11
    x, y = float(smap._points.x[i]), float(smap._points.y[i])
    with smap.plot.x_scale.hold_trait_notifications(), smap.plot.y_scale.hold_trait_notifications():
        smap.plot.x_scale.min, smap.plot.x_scale.max = x - 0.5, x + 0.5
        smap.plot.y_scale.min, smap.plot.y_scale.max = y - 0.5, y + 0.5
    assert list(smap.plot.mark.x) == [x - 0.5, x + 0.5] and list(smap.plot.mark.y) == [y - 0.5, y + 0.5]
    rgba = picture(smap)
    assert rgba[300, 640, 3] == 255  # the clip at the centre of the zoomed view
    assert app.state.error == ""


def test_a_family_without_summaries_says_what_to_run_without_an_error(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    smap.vue_set_family("rhythmic")
    assert "audiosoup features compute --dataset d" in smap.message
    assert app.state.error == "" and smap.n_points == 0 and len(smap.plot.x) == 0
    assert picture(smap)[..., 3].max() == 0  # nothing drawn
    smap.vue_set_family("deltas")
    assert smap.message == "" and smap.n_points == 60 and "PCA of deltas" in smap.note


def test_a_label_edit_recolours_the_map(sqlite_store, make_app):
    seeded(sqlite_store)
    app, smap = shown(make_app, sqlite_store)
    sid = int(smap._points.ids[0])
    record = app.services.samples.get(sid)
    app.services.samples.update(record, reviewer="t", label="zebra", create_label=True)
    app.state.revision += 1
    assert {g["name"]: g["count"] for g in smap.legend}["zebra"] == 1


@pytest.mark.slow  # UMAP compiles its numba code on first use
def test_recompute_and_umap_run_through_the_same_path(sqlite_store, make_app):
    seeded(sqlite_store, n=40)
    app, smap = shown(make_app, sqlite_store)
    first = smap._points.computed_at
    smap.vue_recompute()
    assert smap._points.computed_at > first and smap.busy == {} and app.state.error == ""
    smap.vue_set_method("umap")
    assert smap.n_points == 40 and "UMAP of all features" in smap.note
    assert smap.plot.x_axis.label == "UMAP 1"
