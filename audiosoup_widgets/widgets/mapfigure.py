"""MapFigure: the bqplot figure of a similarity map, and the arithmetic of its plot area.

The points are drawn in Python into one palette PNG of the plot area
(:func:`~.raster.splat`) and shown by a ``bqplot.Image`` mark under the figure's
scales: 100,000 points cost the browser one small picture, not 100,000 shapes or a
WebGL context (which a browser without a graphics card draws in software, seconds
per frame). Pan and zoom move the picture at once, and a sharp one replaces it when
the pointer rests. Axes carry no ticks (map coordinates have no unit). The lasso and
the box are drawn by the view's template, and Python decides which points they hold,
as it does for hover and click. Pointer positions arrive as fractions of the plot area
and become map coordinates here.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from typing import Any

import bqplot as bq
import ipywidgets as ipw
import numpy as np
from bqplot.interacts import Interaction, PanZoom

from .background import running_loop
from .plots import png_indexed
from .raster import blend, splat

__all__ = ["MapFigure", "PALETTE", "QUIET", "MODES"]

#: Group colours, in order (colour-blind-safe first: Okabe-Ito, then a few more).
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#8c564b",
    "#f0c400",
    "#6a3d9a",
    "#17becf",
    "#b2182b",
)
#: The colour of groups that are not a category of their own (others, no label, no finding).
QUIET = "#b6bcc4"
#: The map's tools: the template's lasso and box, bqplot's pan and zoom.
MODES = ("lasso", "box", "pan")
#: Opacity of points, and of points outside the selection while there is one.
OPACITY, FADED = 0.85, 0.25
#: The plot area's size in CSS pixels until the browser says otherwise (the figure is 540 px high).
DEFAULT_SIZE = (900, 494)
#: Seconds the view must rest after a pan or zoom before the picture is drawn again.
SETTLE = 0.12
_MAX_SIDE = 4096  # pixels: a bound on the picture whatever the browser reports


def marker_size(n: int) -> int:
    """Marker area in square pixels: large for a few clips, small for 100,000."""
    if n <= 500:
        return 48
    if n <= 5_000:
        return 24
    if n <= 30_000:
        return 12
    return 6


def _png(index: np.ndarray, palette: list[tuple[int, int, int]]) -> bytes:
    return png_indexed(index, np.asarray(palette, dtype=np.uint8).reshape(-1, 3), transparent=0)


class MapFigure:
    """The figure: scales, the points' picture, axes and pan/zoom.

    Parameters
    ----------
    mode : {'lasso', 'box', 'pan'}
        The tool in use at first.

    Attributes
    ----------
    x, y, codes : np.ndarray
        The points drawn, in drawing order (the last on top), and each one's colour code.
    marked : np.ndarray or None
        Positions (in drawing order) of the selected points, drawn on top at full
        colour while the others fade; None when nothing is selected.
    renders : int
        How many pictures have been drawn (one per change that shows).
    """

    def __init__(self, *, mode: str = "lasso") -> None:
        self.x_scale = bq.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.y_scale = bq.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.x = np.zeros(0, np.float64)
        self.y = np.zeros(0, np.float64)
        self.codes = np.zeros(0, np.int64)
        self.colours: list[str] = []
        self.marked: np.ndarray | None = None
        self.size = DEFAULT_SIZE
        self.ratio = 1.0
        self.renders = 0
        self._handle: asyncio.TimerHandle | None = None
        self._quiet = False  # True while Python itself moves the scales
        self.picture = ipw.Image(value=_png(np.zeros((1, 1), np.uint8), [(255, 255, 255)]), format="png")
        self.mark = bq.Image(
            image=self.picture, scales={"x": self.x_scale, "y": self.y_scale}, x=[-1.0, 1.0], y=[-1.0, 1.0]
        )
        self.x_axis = bq.Axis(
            scale=self.x_scale, label="", num_ticks=0, grid_lines="none", label_offset="22px"
        )
        self.y_axis = bq.Axis(
            scale=self.y_scale, side="left", label="", num_ticks=0, grid_lines="none", label_offset="22px"
        )
        self.panzoom = PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.fig = bq.Figure(
            marks=[self.mark],
            axes=[self.x_axis, self.y_axis],
            interaction=self.interaction(mode),
            fig_margin={"top": 10, "bottom": 36, "left": 36, "right": 10},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            min_aspect_ratio=0.2,
            max_aspect_ratio=5.0,
            background_style={"fill": "#ffffff"},
            layout={"width": "100%", "height": "540px"},
        )
        self.fig.add_class("as-map-figure")
        for scale in (self.x_scale, self.y_scale):
            scale.observe(self._on_scale, names=["min", "max"])

    def interaction(self, mode: str) -> Interaction | None:
        """Return bqplot's interaction for a tool (None for the lasso and box: the template draws them)."""
        return {"lasso": None, "box": None, "pan": self.panzoom}[mode]

    def use(self, mode: str) -> None:
        """Switch the figure to the tool ``mode``."""
        self.fig.interaction = self.interaction(mode)

    # -- what is drawn ------------------------------------------------------------------

    def draw(self, x: np.ndarray, y: np.ndarray, codes: np.ndarray, colours: Sequence[str]) -> None:
        """Show points ``(x, y)`` with colour ``colours[code]``, in the order given (last on top)."""
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.codes = np.asarray(codes, dtype=np.int64)
        self.colours = list(colours)
        self.marked = None
        self.request()

    def mark_points(self, positions: np.ndarray | None) -> None:
        """Emphasise the points at ``positions`` (drawing order); None shows all alike."""
        self.marked = None if positions is None else np.asarray(positions, dtype=np.int64)
        self.request()

    def clear(self) -> None:
        """Show no points."""
        self.draw(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), [])

    def resize(self, width: float, height: float, ratio: float = 1.0) -> None:
        """Draw for a plot area of ``width`` x ``height`` CSS pixels at ``ratio`` device pixels each."""
        size = (max(1, int(round(width))), max(1, int(round(height))))
        ratio = min(max(float(ratio), 1.0), 2.0)  # sharper than 2x costs time and shows nothing more
        if (size, ratio) != (self.size, self.ratio):
            self.size, self.ratio = size, ratio
            self.request()

    # -- drawing ------------------------------------------------------------------------

    def _on_scale(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.request(SETTLE)  # a pan or zoom from the browser: draw when it rests

    def request(self, delay: float = 0.0) -> None:
        """Draw the picture again: at once outside a kernel, else once after this message (or ``delay`` s)."""
        loop = running_loop()
        if loop is None:
            self.render()
            return
        if self._handle is not None:
            self._handle.cancel()
        # In the context of the message that asked, so the picture's update keeps its parent.
        self._handle = loop.call_later(delay, self.render, context=contextvars.copy_context())

    def render(self) -> None:
        """Draw the points of the current view into the picture, now."""
        self._handle = None
        x0, x1 = float(self.x_scale.min), float(self.x_scale.max)
        y0, y1 = float(self.y_scale.min), float(self.y_scale.max)
        width = min(int(round(self.size[0] * self.ratio)), _MAX_SIDE)
        height = min(int(round(self.size[1] * self.ratio)), _MAX_SIDE)
        n = len(self.colours)
        # Palette: 0 the transparent background, 1..n the groups, n+1..2n the groups faded.
        palette = [(255, 255, 255)]
        palette += [blend(c, OPACITY) for c in self.colours]
        palette += [blend(c, FADED) for c in self.colours]
        values = self.codes + 1
        order = np.arange(len(self.x))
        if self.marked is not None and len(self.x):
            chosen = np.zeros(len(self.x), dtype=bool)
            chosen[self.marked[(self.marked >= 0) & (self.marked < len(self.x))]] = True
            values = np.where(chosen, values, values + n)
            order = np.concatenate([np.flatnonzero(~chosen), np.flatnonzero(chosen)])  # chosen on top
        span_x = (x1 - x0) or 1.0
        span_y = (y1 - y0) or 1.0
        px = (self.x[order] - x0) / span_x * width - 0.5
        py = (y1 - self.y[order]) / span_y * height - 0.5
        radius = np.sqrt(marker_size(len(self.x)) / np.pi) * self.ratio
        index = splat(px, py, values[order], width=width, height=height, radius=radius)
        # A new picture widget each time: bqplot's Image mark redraws when its ``image`` changes,
        # not when the value of the picture it holds does.
        old, self.picture = self.picture, ipw.Image(value=_png(index, palette), format="png")
        with self.mark.hold_sync():
            self.mark.image = self.picture
            self.mark.x, self.mark.y = [x0, x1], [y0, y1]
        old.close()
        self.renders += 1

    def label_axes(self, x: str, y: str) -> None:
        """Name the axes."""
        self.x_axis.label, self.y_axis.label = x, y

    def view(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show the map coordinates ``[x0, x1] x [y0, y1]``."""
        self._quiet = True
        try:
            with self.x_scale.hold_sync(), self.y_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = x0, x1
                self.y_scale.min, self.y_scale.max = y0, y1
        finally:
            self._quiet = False
        self.request()

    def to_map(self, fx: np.ndarray | float, fy: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of positions given as fractions of the plot area (``fy`` from the top)."""
        x0, x1 = float(self.x_scale.min), float(self.x_scale.max)
        y0, y1 = float(self.y_scale.min), float(self.y_scale.max)
        return x0 + np.asarray(fx) * (x1 - x0), y1 - np.asarray(fy) * (y1 - y0)

    def radii(self, pixels: float, *, width: float, height: float) -> tuple[float, float]:
        """Return ``pixels`` in map units along x and y, for a plot area of that size."""
        return (
            pixels * abs(float(self.x_scale.max) - float(self.x_scale.min)) / width,
            pixels * abs(float(self.y_scale.max) - float(self.y_scale.min)) / height,
        )

    def close(self) -> None:
        """Stop a pending draw and close every widget of the figure."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for w in (self.fig, self.mark, self.picture, self.panzoom, self.x_axis, self.y_axis):
            w.close()
        for w in (self.x_scale, self.y_scale):
            w.close()
