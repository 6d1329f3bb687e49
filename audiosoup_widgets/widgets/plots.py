"""Feature and waveform plots: bqplot figures of prepared features and of audio.

This module is the viewer side of the feature engine. The display math (decibels,
axes, pooling, colour maps) is :mod:`audiosoup_widgets.features.display`; here a
prepared :class:`~audiosoup_widgets.features.display.Display` is drawn:

* :class:`FeaturePlot` draws it with bqplot: a colour-mapped ``bqplot.Image``
  (one palette PNG, not one DOM element per cell, encoded by :func:`png_indexed`
  with Pillow) or ``Lines``, labelled axes in real units, and pan/zoom;
  :meth:`FeaturePlot.readout` answers a hover position with the value under the
  pointer;
* :class:`WaveformPlot` draws the review view's large waveform.

Nothing here reads a file or the database.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import bqplot as bq
import ipywidgets as ipw
import numpy as np
from PIL import Image

from ..features.display import (
    PLOT_BOTTOM,
    PLOT_TOP,
    Display,
    axis_label,
    format_value,
    mel_to_hz,
    palette,
)
from .axes import fit_label, js_key, tick_texts, whole_ticks, y_room

if TYPE_CHECKING:
    from ..services import FeatureSpec

__all__ = ["FeaturePlot", "WaveformPlot", "png_indexed"]


def png_indexed(index: np.ndarray, palette: np.ndarray, *, transparent: int | None = None) -> bytes:
    """Encode an 8-bit palette PNG.

    Parameters
    ----------
    index : np.ndarray, shape (height, width), uint8
        Palette index of each pixel; row 0 is the top of the picture.
    palette : np.ndarray, shape (n <= 256, 3), uint8
        RGB colours.
    transparent : int, optional
        A palette index drawn fully transparent (the picture's background).

    Returns
    -------
    bytes
    """
    idx = np.ascontiguousarray(index, dtype=np.uint8)
    picture = Image.frombytes("P", (idx.shape[1], idx.shape[0]), idx.tobytes())
    picture.putpalette(np.ascontiguousarray(palette, dtype=np.uint8).tobytes(), rawmode="RGB")
    out = io.BytesIO()
    options = {} if transparent is None else {"transparency": int(transparent)}
    picture.save(out, format="PNG", compress_level=6, **options)
    return out.getvalue()


class FeaturePlot:
    """A bqplot figure for one registry feature, reused across samples.

    Parameters
    ----------
    spec : FeatureSpec
        The feature it draws.
    height : int
        Figure height in pixels.
    """

    def __init__(self, spec: FeatureSpec, *, height: int = 230) -> None:
        self.spec = spec
        self.height = height
        self.left = 78
        self.display: Display | None = None
        self.x_scale = bq.LinearScale()
        log_y = spec.kind == "image" and spec.y_axis.scale == "log"
        self.y_scale = bq.LogScale() if log_y else bq.LinearScale()
        self.x_axis = bq.Axis(
            scale=self.x_scale, label=axis_label(spec.x_axis), grid_lines="none", label_offset="32px"
        )
        self.y_axis = bq.Axis(
            scale=self.y_scale,
            side="left",
            label=axis_label(spec.y_axis),
            grid_lines="none",
            label_offset="52px",
            tick_style={"font-size": "11px"},
        )
        axes = [self.x_axis, self.y_axis]
        if spec.kind == "image":
            self.picture = ipw.Image(
                value=png_indexed(np.zeros((1, 1), np.uint8), palette("viridis")), format="png"
            )
            self.mark = bq.Image(
                image=self.picture, scales={"x": self.x_scale, "y": self.y_scale}, x=[0.0, 1.0], y=[0.0, 1.0]
            )
            margin = {"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12}
        else:
            self.mark = bq.Lines(
                x=np.zeros(2),
                y=np.zeros(2),
                scales={"x": self.x_scale, "y": self.y_scale},
                colors=["#1f6fbf"],
                stroke_width=1.5,
                fill="bottom",
                fill_colors=["#1f6fbf"],
                fill_opacities=[0.15],
            )
            margin = {"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12}
        if spec.id == "stack_memory":  # columns are beats: whole numbers at any zoom
            self.x_axis.tick_format = "d"
            self.x_scale.observe(self._whole_beats, names=["min", "max"])
        self.zoom = bq.PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.figure = bq.Figure(
            marks=[self.mark],
            axes=axes,
            interaction=self.zoom,
            fig_margin=margin,
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    def show(self, display: Display) -> None:
        """Draw ``display`` (one sync round for all the figure's widgets)."""
        self.display = display
        spec = self.spec
        with (
            self.figure.hold_sync(),
            self.x_scale.hold_sync(),
            self.y_scale.hold_sync(),
            self.x_axis.hold_sync(),
            self.y_axis.hold_sync(),
            self.mark.hold_sync(),
        ):
            self.x_axis.label = display.x_label
            self.y_axis.label = fit_label(display.y_label, self.height - PLOT_TOP - PLOT_BOTTOM)
            ticks = display.y_ticks
            if ticks:
                self.y_axis.tick_values = np.array(list(ticks), dtype=float)
                self.y_axis.tick_labels = {js_key(k): lab for k, lab in ticks.items()}
                texts = list(ticks.values())
            else:
                self.y_axis.tick_values = None
                self.y_axis.tick_labels = None
                lo, hi = display.y_extent if spec.kind == "image" else (display.vmin, display.vmax * 1.05)
                texts = tick_texts(lo, hi)
            # The title clear of the widest tick label, and a margin that holds both.
            offset, self.left = y_room(texts)
            self.y_axis.label_offset = f"{offset}px"
            self.figure.fig_margin = {**self.figure.fig_margin, "left": self.left}
            if spec.kind == "image":
                assert display.image is not None  # an image display has its picture
                # A new picture widget: bqplot's Image mark redraws when its ``image`` changes, not
                # when the value of the picture it holds does (the browser kept the first clip's).
                old, self.picture = (
                    self.picture,
                    ipw.Image(value=png_indexed(display.image, palette(display.cmap)), format="png"),
                )
                self.mark.image = self.picture
                old.close()
                self.mark.x = np.array(display.x_extent, dtype=float)
                self.mark.y = np.array(display.y_extent, dtype=float)
                self.mark.pixelated = display.pixelated
            else:
                y = np.nan_to_num(display.values, nan=0.0)
                self.mark.x = display.col_coords.astype(float)
                self.mark.y = y.astype(float)
            self._set_domain()

    def _whole_beats(self, change: Any = None) -> None:
        ticks = whole_ticks(
            float(self.x_scale.min if self.x_scale.min is not None else 0.0),
            float(self.x_scale.max if self.x_scale.max is not None else 1.0),
        )
        # bqplot falls back to fractional automatic ticks for an empty list; num_ticks=1
        # with one value draws none (zoomed inside a single beat).
        self.x_axis.num_ticks = None if len(ticks) else 1
        self.x_axis.tick_values = ticks if len(ticks) else np.zeros(1)

    def align_left(self, left: int) -> None:
        """Use a left margin of ``left`` px (at least this plot's own), to line up plots."""
        self.figure.fig_margin = {**self.figure.fig_margin, "left": max(left, self.left)}

    def _set_domain(self) -> None:
        d = self.display
        if d is None:
            return
        self.x_scale.min, self.x_scale.max = float(d.x_extent[0]), float(d.x_extent[1])
        if d.kind == "image":
            self.y_scale.min, self.y_scale.max = float(d.y_extent[0]), float(d.y_extent[1])
        else:
            pad = 0.05 * (d.vmax - d.vmin or 1.0)
            self.y_scale.min, self.y_scale.max = float(d.vmin), float(d.vmax + pad)

    def reset_zoom(self) -> None:
        """Show the whole feature again."""
        with self.x_scale.hold_sync(), self.y_scale.hold_sync():
            self._set_domain()

    def data_point(self, fx: float, fy: float) -> tuple[float, float]:
        """Map a pointer position (fractions of the plot area, y from the top) to axis values."""
        xs, ys = self.x_scale, self.y_scale
        x0, x1 = float(xs.min), float(xs.max)
        y0, y1 = float(ys.min), float(ys.max)
        x = x0 + fx * (x1 - x0)
        if isinstance(ys, bq.LogScale) and y0 > 0 and y1 > 0:
            y = math.exp(math.log(y1) - fy * (math.log(y1) - math.log(y0)))
        else:
            y = y1 - fy * (y1 - y0)
        return x, y

    def readout(self, fx: float, fy: float) -> str:
        """Describe the value under the pointer in plain units.

        Parameters
        ----------
        fx, fy : float
            Pointer position as fractions of the plot area (0..1; ``fy`` from the top).

        Returns
        -------
        str
            For example ``"0.42 s · 1.2k Hz · -32.0 dB"``; empty outside the data.
        """
        d = self.display
        if d is None or not (0.0 <= fx <= 1.0 and 0.0 <= fy <= 1.0):
            return ""
        x, y = self.data_point(fx, fy)
        cols = d.col_coords
        if len(cols) == 0:
            return ""
        j = int(np.abs(cols - x).argmin())
        if not (d.x_extent[0] <= x <= d.x_extent[1]):
            return ""
        where = f"beat {j}" if self.spec.id == "stack_memory" else f"{cols[j]:.2f} s"
        if d.kind == "line":
            return f"{where} · {self.spec.title.lower()} {format_value(float(d.values[j]))}" + (
                f" {d.unit}" if d.unit and d.unit != "dB increase" else ""
            )
        if not (min(d.y_extent) <= y <= max(d.y_extent)):
            return ""
        rows = d.row_coords
        assert rows is not None  # an image display has row coordinates
        if d.y_scale == "mel":
            i = int(np.abs(rows - y).argmin())
            row_text = f"{mel_to_hz(rows[i]):,.0f} Hz"
        elif d.y_scale == "log":
            i = int(np.abs(np.log(rows) - math.log(max(y, 1e-9))).argmin())
            row_text = f"{rows[i]:,.0f} BPM"
        elif d.y_scale == "categorical":
            i = int(min(max(round(y), 0), len(rows) - 1))
            row_text = d.row_names[i] if d.row_names else f"row {i}"
        else:
            i = int(np.abs(rows - y).argmin())
            unit = self.spec.y_axis.unit
            row_text = f"coefficient {i}" if unit == "index" else f"{rows[i]:,.0f} {unit}"
        value = float(d.values[i, j])
        unit = f" {d.unit}" if d.unit in ("dB",) else ""
        return f"{where} · {row_text} · {format_value(value)}{unit}"


class WaveformPlot:
    """The review view's waveform: min/max envelope over time, with pan and zoom on time.

    Parameters
    ----------
    height : int
        Figure height in pixels.
    """

    def __init__(self, *, height: int = 150) -> None:
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale(min=-1.0, max=1.0)
        self.mark = bq.Lines(
            x=np.zeros(2),
            y=np.zeros((2, 2)),
            scales={"x": self.x_scale, "y": self.y_scale},
            fill="between",
            colors=["#3f7fd1", "#3f7fd1"],
            fill_colors=["#3f7fd1"],
            fill_opacities=[0.85],
            stroke_width=0.5,
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label="time (s)", grid_lines="none", label_offset="32px")
        self.y_axis = bq.Axis(
            scale=self.y_scale,
            side="left",
            label="amplitude",
            grid_lines="dashed",
            num_ticks=3,
            label_offset="52px",
        )
        self.figure = bq.Figure(
            marks=[self.mark],
            axes=[self.x_axis, self.y_axis],
            interaction=bq.PanZoom(scales={"x": [self.x_scale]}),
            fig_margin={"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    def show(self, peaks: np.ndarray, duration: float) -> float:
        """Draw a clip's envelope ``peaks`` (shape (2, n): min, max) spanning ``duration`` s.

        Returns the peak level in dBFS.
        """
        n = peaks.shape[1]
        t = (np.arange(n) + 0.5) * duration / n if duration > 0 else np.zeros(1)
        peak = float(np.abs(peaks).max()) if peaks.size else 0.0
        lim = max(peak * 1.05, 1e-4)
        with self.mark.hold_sync(), self.x_scale.hold_sync(), self.y_scale.hold_sync():
            self.mark.x = t.astype(float)
            self.mark.y = np.vstack([peaks[1], peaks[0]]).astype(float)
            self.x_scale.min, self.x_scale.max = 0.0, float(max(duration, 1e-3))
            self.y_scale.min, self.y_scale.max = -lim, lim
        # Explicit ticks: bqplot's own middle tick can read "-1e-16" instead of 0.
        top = float(f"{max(peak, 1e-4):.2g}")
        self.y_axis.tick_values = np.array([-top, 0.0, top])
        self.y_axis.tick_format = ".2g"
        return 20 * math.log10(peak) if peak > 0 else float("-inf")
