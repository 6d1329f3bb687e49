"""MapFigure: the bqplot figure of a similarity map, and the arithmetic of its plot area.

One WebGL scatter (``bqplot_gl.ScatterGL``: 100,000 points as one draw call) coloured
through a colour scale made of flat steps, so each group's code lands on its own
colour; axes without ticks (map coordinates have no unit); bqplot's box selector and
pan/zoom. The lasso is not here: bqplot's ``LassoSelector`` asks each point in turn,
which the WebGL scatter does not answer, so the view's template draws it and Python
decides which points it holds. Pointer positions arrive as fractions of the plot area
and become map coordinates here.
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import numpy as np
from bqplot.interacts import BrushSelector, Interaction, PanZoom
from bqplot_gl import ScatterGL

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
#: The map's tools: the template's lasso, bqplot's box, bqplot's pan and zoom.
MODES = ("lasso", "box", "pan")


def marker_size(n: int) -> int:
    """Marker area in square pixels: large for a few clips, small for 100,000."""
    if n <= 500:
        return 48
    if n <= 5_000:
        return 24
    if n <= 30_000:
        return 12
    return 6


class MapFigure:
    """The figure: scales, the WebGL scatter, axes, box selector and pan/zoom.

    Parameters
    ----------
    mode : {'lasso', 'box', 'pan'}
        The tool in use at first.
    """

    def __init__(self, *, mode: str = "lasso") -> None:
        self.x_scale = bq.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.y_scale = bq.LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.colour_scale = bq.ColorScale(colors=[QUIET, QUIET], min=-0.25, max=0.25)
        self.scatter = ScatterGL(
            x=np.zeros(0, np.float32),
            y=np.zeros(0, np.float32),
            color=np.zeros(0, np.float32),
            scales={"x": self.x_scale, "y": self.y_scale, "color": self.colour_scale},
            default_size=24,
            opacities=[0.85],
            stroke=None,
            stroke_width=0.0,  # no outline: fewer pixels per point to fill
            unselected_style={"opacity": 0.25},
            selected_style={"opacity": 1.0},
        )
        self.x_axis = bq.Axis(
            scale=self.x_scale, label="", num_ticks=0, grid_lines="none", label_offset="22px"
        )
        self.y_axis = bq.Axis(
            scale=self.y_scale, side="left", label="", num_ticks=0, grid_lines="none", label_offset="22px"
        )
        self.panzoom = PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.brush = BrushSelector(
            x_scale=self.x_scale, y_scale=self.y_scale, marks=[self.scatter], color="#1f6fbf"
        )
        self.fig = bq.Figure(
            marks=[self.scatter],
            axes=[self.x_axis, self.y_axis],
            interaction=self.interaction(mode),
            fig_margin={"top": 10, "bottom": 36, "left": 36, "right": 10},
            animation_duration=0,
            min_aspect_ratio=0.2,
            max_aspect_ratio=5.0,
            background_style={"fill": "#ffffff"},
            layout={"width": "100%", "height": "540px"},
        )
        self.fig.add_class("as-map-figure")

    def interaction(self, mode: str) -> Interaction | None:
        """Return bqplot's interaction for a tool (None for the lasso, which the template draws)."""
        return {"lasso": None, "box": self.brush, "pan": self.panzoom}[mode]

    def use(self, mode: str) -> None:
        """Switch the figure to the tool ``mode``."""
        self.fig.interaction = self.interaction(mode)

    def draw(self, x: np.ndarray, y: np.ndarray, codes: np.ndarray, colours: Sequence[str]) -> None:
        """Show points ``(x, y)`` with colour ``colours[code]``, in the order given (last on top)."""
        n = len(colours)
        with self.fig.hold_sync(), self.scatter.hold_sync(), self.colour_scale.hold_sync():
            # Each colour twice: flat steps, with code k in the middle of the k-th step.
            self.colour_scale.colors = [c for c in colours for _ in (0, 1)] or [QUIET, QUIET]
            self.colour_scale.min, self.colour_scale.max = -0.25, max(n, 1) - 0.75
            self.scatter.default_size = marker_size(len(x))
            self.scatter.x = np.asarray(x, dtype=np.float32)
            self.scatter.y = np.asarray(y, dtype=np.float32)
            self.scatter.color = np.asarray(codes, dtype=np.float32)

    def clear(self) -> None:
        """Show no points."""
        empty = np.zeros(0, np.float32)
        with self.scatter.hold_sync():
            self.scatter.x, self.scatter.y, self.scatter.color = empty, empty, empty

    def label_axes(self, x: str, y: str) -> None:
        """Name the axes."""
        self.x_axis.label, self.y_axis.label = x, y

    def view(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show the map coordinates ``[x0, x1] x [y0, y1]``."""
        with self.x_scale.hold_sync(), self.y_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = x0, x1
            self.y_scale.min, self.y_scale.max = y0, y1

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

    def clear_box(self) -> None:
        """Remove a drawn box."""
        if self.brush.selected_x is not None or self.brush.selected_y is not None:
            # Toggling ``clear`` makes the browser drop the drawn box.
            self.brush.clear = True
            self.brush.clear = False

    def close(self) -> None:
        """Close every widget of the figure."""
        for w in (self.fig, self.scatter, self.brush, self.panzoom, self.x_axis, self.y_axis):
            w.close()
        for w in (self.x_scale, self.y_scale, self.colour_scale):
            w.close()
