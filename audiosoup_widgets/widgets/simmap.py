"""SimilarityMap: the dataset's clips as points on a 2-D map of their features.

Every clip with stored feature summaries is one point (PCA of all features by
default, or of one family, or UMAP), coloured by label, split or quality finding,
drawn in Python as one picture of the plot area (:class:`~.mapfigure.MapFigure`), so
100,000 points reach the browser as fast as a hundred. The pointer reads the nearest
clip's name and label; a click opens its review; a lasso or a box selects clips, and
the selection becomes the grid's filter ("showing N clips from the map selection").

The stored map is drawn as soon as the view is shown, then checked against the
summaries in a worker thread (:class:`~.background.LatestJob`) and redrawn only if
they changed (recomputed and aligned, so points keep their place). Nothing is read
until the map view is first shown. What the browser sends (pointer positions, the
lasso's or the box's vertices, the plot's size) is input like any event:
checked before use.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from ipywidgets import DOMWidget, widget_serialization
from traitlets import Dict, Instance, Int, List, Unicode

from ..errors import AudiosoupError, ValidationError
from ..services import COLOUR_BY, MAP_FAMILIES, MAP_METHODS, MapPoints, Services
from ..state import ReviewState
from .background import Job, LatestJob, running_loop
from .base import SafeTemplate, fmt_when, handler
from .mapfigure import MODES, PALETTE, QUIET, MapFigure

log = logging.getLogger(__name__)

__all__ = ["SimilarityMap", "MAP_SOURCE"]

#: What the grid says a map selection is ("showing N clips from the map selection").
MAP_SOURCE = "the map selection"
_QUIET_NAMES = frozenset({"others", "(no label)", "(no split)", "no finding"})

FAMILY_TITLES = {"all": "All features", "spectral": "Spectral", "rhythmic": "Rhythmic", "deltas": "Deltas"}
METHOD_TITLES = {"pca": "PCA", "umap": "UMAP"}
COLOUR_TITLES = {"label": "Label", "split": "Split", "finding": "Quality finding"}
MODE_TITLES = dict(zip(MODES, ("Lasso", "Box", "Pan and zoom"), strict=True))
_STAGES = {
    "reading": "Reading the feature summaries",
    "projecting": "Computing the map",
    "saving": "Saving the map",
}
#: Longest wait, in seconds, for the browser to say the stored map is drawn before the
#: summaries are read to check it.
DRAW_WAIT = 5.0
#: Pixels from a point within which the pointer reads it (and a click opens it).
HOVER_PIXELS = 8.0
_MAX_PIXELS = 20_000.0


def _number(value: Any, *, name: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo <= value <= hi):
        raise ValidationError(f"invalid {name}")
    return float(value)


class SimilarityMap(SafeTemplate):
    """The similarity map view: pickers, the plot, its legend and the selection's actions.

    Parameters
    ----------
    state : ReviewState
        Shared state; the map reads ``dataset``, ``view``, ``revision`` and the id filter,
        filters the grid with :meth:`ReviewState.filter_to`, checks clips with
        :meth:`ReviewState.select` and opens a clip with :meth:`ReviewState.open_review`.
    services : Services
        Where the points come from (``services.maps``).
    """

    template_file = (__file__, "simmap.vue")

    figure = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    family = Unicode("all").tag(sync=True)
    method = Unicode("pca").tag(sync=True)
    colour_by = Unicode("label").tag(sync=True)
    mode = Unicode("lasso").tag(sync=True)
    family_items = List(Dict()).tag(sync=True)
    method_items = List(Dict()).tag(sync=True)
    colour_items = List(Dict()).tag(sync=True)
    mode_items = List(Dict()).tag(sync=True)
    legend = List(Dict()).tag(sync=True)
    n_points = Int(0).tag(sync=True)
    n_selected = Int(0).tag(sync=True)
    note = Unicode("").tag(sync=True)
    message = Unicode("").tag(sync=True)
    busy = Dict().tag(sync=True)
    hover = Dict().tag(sync=True)
    draws = Int(0).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.family_items = [{"value": f, "title": FAMILY_TITLES[f]} for f in MAP_FAMILIES]
        self.method_items = [{"value": m, "title": METHOD_TITLES[m]} for m in MAP_METHODS]
        self.colour_items = [{"value": c, "title": COLOUR_TITLES[c]} for c in COLOUR_BY]
        self.mode_items = [{"value": m, "title": t} for m, t in MODE_TITLES.items()]
        self._points: MapPoints | None = None
        # Mark position -> position in self._points (quiet groups are drawn first, underneath).
        self._order = np.zeros(0, np.int64)
        self._selected_ids = np.zeros(0, np.int64)
        self._shown: tuple[str, str, str] | None = None
        self._labels_dirty = False
        self._off_view = 0  # far-off points left out of the first view
        # Reading the stored map is quick; checking it (or a UMAP fit) is slow: one worker each,
        # so a long check never holds up the stored map of another family or method.
        self._reader = LatestJob("audiosoup-map-read")
        self._checker = LatestJob("audiosoup-map-check")
        self._pending: tuple[str, str, str] | None = None  # a check waiting for the first draw
        self._timer: asyncio.TimerHandle | None = None
        self._plot: MapFigure | None = None  # made when the map is first shown
        state.observe(self._on_view, names=["view"])
        state.observe(self._on_dataset, names=["dataset"])
        state.observe(self._on_revision, names=["revision"])
        state.observe(self._on_id_filter, names=["id_filter", "id_filter_source"])
        self._on_view({})

    # -- the figure ---------------------------------------------------------------------

    @property
    def plot(self) -> MapFigure:
        """The figure, made on first use: a page that never opens the map loads no plot."""
        if self._plot is None:
            self._plot = MapFigure(mode=self.mode)
            self.figure = self._plot.fig
        return self._plot

    # -- state -> view ------------------------------------------------------------------

    def _on_view(self, change: dict[str, Any]) -> None:
        if self.state.view != "map":
            return
        _ = self.plot  # the figure joins the page when the map is first shown
        if self._shown != self._key():
            self._load()
        elif self._labels_dirty:
            self._relabel()

    def _on_dataset(self, change: dict[str, Any]) -> None:
        self._reader.cancel()
        self._checker.cancel()
        self._cancel_timer()
        self._clear_plot()
        self._on_view({})

    def _on_revision(self, change: dict[str, Any]) -> None:
        if self._points is None:
            return
        self._labels_dirty = True
        if self.state.view == "map":
            self._relabel()

    def _on_id_filter(self, change: dict[str, Any]) -> None:
        s = self.state
        ours = s.id_filter_source == MAP_SOURCE and s.id_filter == tuple(self._selected_ids.tolist())
        if self.n_selected and not ours:
            # The grid's filter changed elsewhere (cleared, or another view's): drop the highlight.
            self._forget_selection()

    def _key(self) -> tuple[str, str, str]:
        return (self.state.dataset, self.family, self.method)

    # -- loading ------------------------------------------------------------------------

    def _load(self, *, recompute: bool = False) -> None:
        dataset, family, method = key = self._key()
        self._shown = key
        self.message = ""
        if not dataset:
            self._clear_plot()
            self.message = "There is no dataset to map yet."
            return
        if (
            self._points is not None
            and (self._points.dataset, self._points.family, self._points.method) != key
        ):
            self._clear_plot()
        self._checker.cancel()  # a check of the previous map must not draw over this one
        self._cancel_timer()
        if recompute:
            self._check(key, recompute=True)
            return
        maps = self.services.maps
        self.busy = {"stage": "Reading the stored map", "done": 0, "total": 0}
        self._reader.submit(
            lambda job: maps.points(dataset, family=family, method=method),
            on_done=lambda points: self._stored(key, points),
            on_error=self._failed,
        )

    def _stored(self, key: tuple[str, str, str], points: MapPoints | None) -> None:
        """Draw the stored map, then check it once the browser has drawn it (or soon)."""
        if points is None:
            self._check(key)
            return
        self._safe_draw(points)
        self.busy = {"stage": "Checking the map against the feature summaries", "done": 0, "total": 0}
        loop = running_loop()
        if loop is None:
            self._check(key)  # no browser here: at once
            return
        # Reading 100,000 clips' summaries would slow the first draw: wait for the browser to say
        # it has drawn (vue_drawn), or DRAW_WAIT seconds at most.
        self._pending = key
        self._timer = loop.call_later(DRAW_WAIT, self._check_pending)

    def _check_pending(self) -> None:
        self._cancel_timer()
        key, self._pending = self._pending, None
        if key is not None:
            self._check(key)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self, key: tuple[str, str, str], *, recompute: bool = False) -> None:
        """Bring the map ``key`` up to date with the summaries, off the main thread."""
        if key != self._key():
            return  # the view has moved on
        dataset, family, method = key
        maps = self.services.maps

        def work(job: Job) -> MapPoints:
            def report(stage: str, done: int, total: int) -> None:
                job.progress((stage, done, total))

            return maps.update(dataset, family=family, method=method, recompute=recompute, progress=report)

        if recompute or self._points is None:
            self.busy = {"stage": "Reading the feature summaries", "done": 0, "total": 0}
        self._checker.submit(work, on_done=self._loaded, on_error=self._failed, on_progress=self._progressed)

    def _progressed(self, info: Any) -> None:
        stage, done, total = info
        text = _STAGES.get(stage, stage)
        if stage == "projecting":
            text = f"Computing the {METHOD_TITLES[self.method]} map" + (
                " (UMAP takes minutes for a large dataset)" if self.method == "umap" else ""
            )
        self.busy = {"stage": text, "done": int(done), "total": int(total)}

    def _loaded(self, points: MapPoints | None) -> None:
        self.busy = {}
        if points is None:
            return
        self._labels_dirty = False
        self._safe_draw(points)

    def _safe_draw(self, points: MapPoints) -> None:
        try:
            self._draw(points)
        except Exception as exc:  # noqa: BLE001 - a job callback must report, not raise
            self.message = self.state.report(exc, context="drawing the similarity map")

    @handler("drawing the map")
    def vue_drawn(self, data: Any = None) -> None:
        """Note that the browser has drawn the points: the check against the summaries may start."""
        self._check_pending()

    def _failed(self, exc: BaseException) -> None:
        self.busy = {}
        if isinstance(exc, AudiosoupError) and exc.code == "not_computed":
            # Expected on a fresh dataset: said in the view, not as an error.
            self._clear_plot()
            self.message = exc.message
            return
        self.message = self.state.report(exc, context="drawing the similarity map")

    def _relabel(self) -> None:
        points = self._points
        if points is None:
            return
        maps = self.services.maps
        self._labels_dirty = False
        self._reader.submit(lambda job: maps.relabelled(points), on_done=self._loaded, on_error=self._failed)

    # -- drawing ------------------------------------------------------------------------

    def _clear_plot(self) -> None:
        self._points = None
        self._order = np.zeros(0, np.int64)
        if self._plot is None:
            return
        self._forget_selection()
        self._plot.clear()
        self.legend, self.n_points, self.note, self.hover = [], 0, "", {}

    def _draw(self, points: MapPoints) -> None:
        """Show ``points`` coloured by ``colour_by``; keep the selection and the zoom if they still apply."""
        previous = self._points
        same_place = (
            previous is not None
            and previous.computed_at == points.computed_at
            and np.array_equal(previous.ids, points.ids)
        )
        self._points = points
        groups = self.services.maps.groups(points, self.colour_by, limit=len(PALETTE) + 1)
        quiet = np.array([name in _QUIET_NAMES for name in groups.names], dtype=bool)
        colours, k = [], 0
        for name in groups.names:
            if name in _QUIET_NAMES:
                colours.append(QUIET)
            else:
                colours.append(PALETTE[k % len(PALETTE)])
                k += 1
        # Quiet points first, so they are drawn underneath the groups that matter.
        order = np.argsort(~quiet[groups.codes], kind="stable") if len(points) else np.zeros(0, np.int64)
        self._order = order.astype(np.int64)
        plot = self.plot
        with plot.fig.hold_sync():
            plot.draw(points.x[order], points.y[order], groups.codes[order], colours)
            if not same_place:
                self._off_view = self._reset_zoom(whole=False)
                axis = "UMAP " if points.method == "umap" else "principal component "
                plot.label_axes(f"{axis}1", f"{axis}2")
            self._show_selection()
        self.legend = [
            {"name": name, "colour": colour, "count": count}
            for name, colour, count in zip(groups.names, colours, groups.counts, strict=True)
        ]
        self.n_points = len(points)
        self._describe(points)
        self.draws += 1

    def _describe(self, points: MapPoints) -> None:
        what = FAMILY_TITLES.get(points.family, points.family).lower()
        parts = [
            f"{len(points):,} {'clip' if len(points) == 1 else 'clips'}",
            f"{METHOD_TITLES.get(points.method, points.method)} of {what}",
        ]
        if points.computed_at is not None:
            parts.append(f"computed {fmt_when(points.computed_at)}")
        if points.n_missing:
            parts.append(f"{points.n_missing:,} clips without feature summaries are not shown")
        if self._off_view:
            far = "1 far-off clip is" if self._off_view == 1 else f"{self._off_view:,} far-off clips are"
            parts.append(f"{far} outside this view (Whole map shows every clip)")
        self.note = " · ".join(parts)

    def _reset_zoom(self, *, whole: bool = True) -> int:
        """Show the map (all of it, or without a few far-off points); return how many are off view."""
        if self._points is None:
            return 0
        view = self.services.maps.extent(self._points, whole=whole)
        self.plot.view(view.x0, view.x1, view.y0, view.y1)
        return view.n_outside

    # -- the selection ------------------------------------------------------------------

    def _set_marked(self, positions: np.ndarray | None) -> None:
        self.plot.mark_points(positions)

    def _show_selection(self) -> None:
        """Mark the selected clips again after a redraw (their positions may have moved)."""
        if not len(self._selected_ids) or self._points is None:
            self._set_marked(None)
            return
        where = self.services.maps.indices_of(self._points, self._selected_ids)
        rank = np.empty_like(self._order)
        rank[self._order] = np.arange(len(self._order))
        self._set_marked(np.sort(rank[where]))

    def _forget_selection(self) -> None:
        self._selected_ids = np.zeros(0, np.int64)
        self.n_selected = 0
        self._set_marked(None)

    def _filter(self, ids: np.ndarray) -> None:
        """Make ``ids`` the map selection and the grid's filter."""
        if np.array_equal(ids, self._selected_ids):
            return
        self._selected_ids = ids
        self.state.filter_to(ids.tolist(), source=MAP_SOURCE)
        self.n_selected = len(ids)

    # -- events from the browser --------------------------------------------------------

    @handler("choosing what the map is made of")
    def vue_set_family(self, data: Any) -> None:
        """Map all features or one family (``data``: one of :data:`MAP_FAMILIES`)."""
        if data not in MAP_FAMILIES:
            raise ValidationError(f"unknown feature family; choose one of {', '.join(MAP_FAMILIES)}")
        if data != self.family:
            self.family = data
            self._load()

    @handler("choosing the map's method")
    def vue_set_method(self, data: Any) -> None:
        """Project with ``data`` (``pca`` or ``umap``)."""
        if data not in MAP_METHODS:
            raise ValidationError(f"unknown map method; choose one of {', '.join(MAP_METHODS)}")
        if data != self.method:
            self.method = data
            self._load()

    @handler("colouring the map")
    def vue_set_colour(self, data: Any) -> None:
        """Colour the points by ``data`` (label, split or finding)."""
        if data not in COLOUR_BY:
            raise ValidationError(f"unknown colouring; choose one of {', '.join(COLOUR_BY)}")
        self.colour_by = data
        if data == "finding":
            self.services.maps.forget_findings(self.state.dataset)  # a QC run may have finished since
        if self._points is not None:
            self._draw(self._points)

    @handler("changing the map tool")
    def vue_set_mode(self, data: Any) -> None:
        """Use the lasso, the box or pan and zoom."""
        if data not in MODE_TITLES:
            raise ValidationError(f"unknown map tool; choose one of {', '.join(MODE_TITLES)}")
        self.mode = data
        if self._plot is not None:
            self._plot.use(data)

    @handler("recomputing the map")
    def vue_recompute(self, data: Any = None) -> None:
        """Compute the map again from the stored summaries (in the background)."""
        self._load(recompute=True)

    @handler("clearing the map selection")
    def vue_clear_selection(self, data: Any = None) -> None:
        """Drop the map selection, and the grid's filter if it is the map's."""
        ours = self.state.id_filter_source == MAP_SOURCE
        self._forget_selection()
        if ours:
            self.state.clear_id_filter()

    @handler("checking the clips selected on the map")
    def vue_check_selection(self, data: Any = None) -> None:
        """Add the map selection to the checked clips (the selection bar's actions)."""
        if not len(self._selected_ids):
            raise ValidationError("Nothing is selected on the map.")
        self.state.select(self._selected_ids.tolist(), mode="add")

    @handler("showing the map selection")
    def vue_show_clips(self, data: Any = None) -> None:
        """Switch to the clips view (which shows the map selection)."""
        self.state.show("clips")

    @handler("sizing the map")
    def vue_resized(self, data: Any) -> None:
        """Draw the picture for the plot area's size: ``{w, h, ratio}`` (CSS pixels; device pixels each)."""
        if not isinstance(data, dict):
            raise ValidationError("invalid plot size")
        w = _number(data.get("w"), name="plot size", lo=1.0, hi=_MAX_PIXELS)
        h = _number(data.get("h"), name="plot size", lo=1.0, hi=_MAX_PIXELS)
        ratio = _number(data.get("ratio", 1.0), name="pixel ratio", lo=0.1, hi=16.0)
        self.plot.resize(w, h, ratio)

    @handler("resetting the zoom")
    def vue_reset_zoom(self, data: Any = None) -> None:
        """Show the whole map again."""
        self._off_view = 0
        self._reset_zoom()
        if self._points is not None:
            self._describe(self._points)

    def _pointer(self, data: Any) -> tuple[MapPoints, int | None] | None:
        """Find the point under a pointer ``{fx, fy, w, h}`` (fractions of the plot area; its pixels)."""
        if not isinstance(data, dict):
            raise ValidationError("invalid pointer position")
        if data.get("fx") is None or self._points is None:
            return None
        fx = _number(data.get("fx"), name="pointer position", lo=0.0, hi=1.0)
        fy = _number(data.get("fy"), name="pointer position", lo=0.0, hi=1.0)
        w = _number(data.get("w"), name="plot size", lo=1.0, hi=_MAX_PIXELS)
        h = _number(data.get("h"), name="plot size", lo=1.0, hi=_MAX_PIXELS)
        x, y = self.plot.to_map(fx, fy)
        rx, ry = self.plot.radii(HOVER_PIXELS, width=w, height=h)
        return self._points, self.services.maps.nearest(self._points, float(x), float(y), rx=rx, ry=ry)

    @handler("reading the map")
    def vue_hover_at(self, data: Any) -> None:
        """Name the clip under the pointer (or nothing); ``data`` as :meth:`_pointer` takes it."""
        found = self._pointer(data)
        if found is None or found[1] is None:
            if self.hover:
                self.hover = {}
            return
        points, i = found
        sid = int(points.ids[i])
        name, label = self.services.maps.describe(points.dataset, sid)
        self.hover = {"id": sid, "name": name, "label": label}

    @handler("selecting on the map")
    def vue_lasso(self, data: Any) -> None:
        """Select the clips inside a lasso (or a box: four vertices) and filter the grid to them.

        ``data``: ``{"points": [[fx, fy], ...], "add": bool}``, the vertices as fractions
        of the plot area (y from the top); ``add`` keeps the clips already selected (shift
        held).
        """
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise ValidationError("invalid lasso")
        points = self._points
        if points is None:
            return
        try:
            frac = np.asarray(data["points"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError("invalid lasso") from None
        if frac.ndim != 2 or frac.shape[1:] != (2,) or not np.isfinite(frac).all() or np.abs(frac).max() > 10:
            raise ValidationError("invalid lasso")
        polygon = np.column_stack(self.plot.to_map(frac[:, 0], frac[:, 1]))
        inside = self.services.maps.inside(points, polygon)
        ids = self.services.maps.ids_in(points, inside)
        if data.get("add") is True and len(self._selected_ids):
            ids = np.union1d(self._selected_ids, ids)
        if not len(ids):
            return  # a lasso around nothing changes nothing
        self._filter(ids)
        self._show_selection()

    @handler("opening a clip from the map")
    def vue_open_at(self, data: Any) -> None:
        """Open the review of the clip under a click (nothing if none is that close)."""
        found = self._pointer(data)
        if found is None or found[1] is None:
            return
        points, i = found
        self.state.open_review(int(points.ids[i]))

    def close(self) -> None:
        """Stop the background work and close the figure."""
        self._cancel_timer()
        self._reader.close()
        self._checker.close()
        if self._plot is not None:
            self._plot.close()
        super().close()
