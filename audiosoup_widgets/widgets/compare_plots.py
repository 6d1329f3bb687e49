"""The comparison view's figures: clip panels on shared axes, profiles and two-group histograms.

* :class:`ComparePlot` is a :class:`~.plots.FeaturePlot` whose axes show a range
  shared by every panel of a comparison (the longest clip, the widest frequency
  range) instead of its own clip's; :func:`link_axes` links panels' scales in the
  browser, so zooming one zooms them all;
* :class:`ProfilePlot` draws each clip's mean over time of every row beside a class
  template's;
* :class:`DistributionPlot` draws one summary column's histograms of two groups,
  overlaid, as densities (groups of different sizes read alike).

Nothing here reads a file or the database.
"""

from __future__ import annotations

from collections.abc import Sequence

import bqplot as bq
import ipywidgets as ipw
import numpy as np

from ..features.display import PLOT_BOTTOM, PLOT_TOP
from .plots import FeaturePlot

__all__ = ["ComparePlot", "ProfilePlot", "DistributionPlot", "link_axes", "CLIP_COLOURS", "GROUP_COLOURS"]

#: Line colours of the compared clips (colour-blind friendly, in panel order); the template is black.
CLIP_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: Colours of group A and group B in the effect-size view.
GROUP_COLOURS = ("#1f6fbf", "#e07b00")


class ComparePlot(FeaturePlot):
    """A feature panel of a comparison: drawn on the comparison's shared axes."""

    #: ``((x0, x1), (y0, y1))`` every panel shows, or None for the clip's own extent.
    shared: tuple[tuple[float, float], tuple[float, float]] | None = None

    def _set_domain(self) -> None:
        d = self.display
        if self.shared is None or d is None:
            super()._set_domain()
            return
        (x0, x1), (y0, y1) = self.shared
        self.x_scale.min, self.x_scale.max = float(x0), float(x1)
        if d.kind == "image":
            self.y_scale.min, self.y_scale.max = float(y0), float(y1)
        else:
            pad = 0.05 * ((y1 - y0) or 1.0)
            self.y_scale.min, self.y_scale.max = float(y0), float(y1 + pad)


def link_axes(first: FeaturePlot, other: FeaturePlot) -> list[ipw.widgets.widget_link.Link]:
    """Link ``other``'s scales to ``first``'s in the browser (pan and zoom move both)."""
    return [
        ipw.jslink((first.x_scale, "min"), (other.x_scale, "min")),
        ipw.jslink((first.x_scale, "max"), (other.x_scale, "max")),
        ipw.jslink((first.y_scale, "min"), (other.y_scale, "min")),
        ipw.jslink((first.y_scale, "max"), (other.y_scale, "max")),
    ]


def _padded(rows: Sequence[np.ndarray | None], width: int) -> np.ndarray:
    out = np.full((max(1, len(rows)), width), np.nan)
    for i, r in enumerate(rows):
        if r is not None:
            out[i, : min(width, r.size)] = r[:width]
    return out


class ProfilePlot:
    """Each clip's mean over time of every row, with a class template's, on one axis.

    Parameters
    ----------
    height : int
        Figure height in pixels.
    """

    def __init__(self, *, height: int = 240) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.clips = bq.Lines(
            x=np.zeros(2), y=np.zeros((1, 2)), scales=scales, stroke_width=1.5, marker_size=16
        )
        self.template = bq.Lines(
            x=np.zeros(2), y=np.zeros(2), scales=scales, colors=["#111111"], stroke_width=3.5, marker_size=24
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label="row", grid_lines="none", label_offset="32px")
        self.y_axis = bq.Axis(
            scale=self.y_scale, side="left", label="mean over time", grid_lines="dashed", label_offset="52px"
        )
        self.figure = bq.Figure(
            marks=[self.clips, self.template],
            axes=[self.x_axis, self.y_axis],
            fig_margin={"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12},
            padding_x=0.02,
            padding_y=0.05,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    def show(
        self,
        clips: Sequence[np.ndarray | None],
        template: np.ndarray | None,
        *,
        x_label: str,
        y_label: str,
        ticks: Sequence[str] = (),
        skip: int = 0,
    ) -> None:
        """Draw the clips' profiles (in panel order) and the template's, one value per row.

        The y range leaves out the first ``skip`` rows (MFCC 0, loudness, dwarfs the others).
        """
        rows = max([r.size for r in clips if r is not None] + [template.size if template is not None else 1])
        # bqplot squeezes a one-column array: a single row (a line feature) gets a blank second one.
        width = max(rows, 2)
        x = np.arange(width, dtype=float)
        few = width <= 40
        with self.clips.hold_sync(), self.template.hold_sync(), self.x_axis.hold_sync():
            self.clips.x = x
            self.clips.y = _padded(clips, width)
            self.clips.colors = list(CLIP_COLOURS[: max(1, len(clips))])
            self.clips.marker = "circle" if few else None
            self.template.x = x
            self.template.y = _padded([template], width)[0]
            self.template.visible = template is not None
            self.template.marker = "circle" if few else None
            self.x_axis.label = x_label
            self.y_axis.label = y_label
            if ticks and len(ticks) == rows:
                self.x_axis.tick_values = x
                self.x_axis.tick_labels = {str(i): t for i, t in enumerate(ticks)}
            else:
                self.x_axis.tick_values = None
                self.x_axis.tick_labels = None
        values = np.concatenate(
            [r[skip:][np.isfinite(r[skip:])] for r in [*clips, template] if r is not None] or [np.zeros(1)]
        )
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        self.x_scale.min, self.x_scale.max = -0.5, rows - 0.5
        self.y_scale.min, self.y_scale.max = lo, hi if hi > lo else lo + 1.0


class DistributionPlot:
    """Histograms of one column in two groups, overlaid as densities.

    Parameters
    ----------
    height : int
        Figure height in pixels.
    """

    def __init__(self, *, height: int = 230) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale(min=0.0)
        self.mark = bq.Lines(
            x=np.zeros(2),
            y=np.zeros((2, 2)),
            scales={"x": self.x_scale, "y": self.y_scale},
            colors=list(GROUP_COLOURS),
            fill="bottom",
            fill_colors=list(GROUP_COLOURS),
            fill_opacities=[0.3, 0.3],
            stroke_width=1.5,
            interpolation="step-after",
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label="value", grid_lines="none", label_offset="32px")
        self.y_axis = bq.Axis(
            scale=self.y_scale, side="left", label="share of clips", grid_lines="dashed", label_offset="52px"
        )
        self.figure = bq.Figure(
            marks=[self.mark],
            axes=[self.x_axis, self.y_axis],
            fig_margin={"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    @staticmethod
    def histograms(a: np.ndarray, b: np.ndarray, *, max_bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Return shared bin edges and each group's share of clips per bin, shape ``(2, bins)``."""
        both = np.concatenate([a, b])
        if both.size == 0:
            return np.array([0.0, 1.0]), np.zeros((2, 1))
        lo, hi = float(both.min()), float(both.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        n_bins = int(min(max_bins, max(5, np.sqrt(both.size) * 2)))
        edges = np.linspace(lo, hi, n_bins + 1)
        shares = np.vstack(
            [np.histogram(g, bins=edges)[0] / g.size if g.size else np.zeros(n_bins) for g in (a, b)]
        )
        return edges, shares

    def show(self, a: np.ndarray, b: np.ndarray, *, x_label: str) -> None:
        """Draw group A's and group B's values of one column."""
        edges, shares = self.histograms(a, b)
        # A step line needs the last bin's right edge: repeat the last share there.
        y = np.hstack([shares, shares[:, -1:]])
        with self.mark.hold_sync(), self.x_scale.hold_sync(), self.y_scale.hold_sync():
            self.mark.x = edges.astype(float)
            self.mark.y = y.astype(float)
            self.x_scale.min, self.x_scale.max = float(edges[0]), float(edges[-1])
            self.y_scale.min, self.y_scale.max = 0.0, float(max(shares.max(), 1e-9) * 1.08)
        self.x_axis.label = x_label
