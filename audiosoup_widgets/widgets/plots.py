"""Feature and waveform plots: turning engine matrices into bqplot figures a person can read.

This module is the viewer side of the feature engine. The engine returns raw
values (power, magnitudes, coefficients); here they become pictures:

* :func:`prepare` converts a matrix for display: decibels relative to the clip's
  own loudest point for power and amplitude features (the engine never does),
  rows re-sampled onto the axis the spec asks for (mel, log, linear, categorical),
  columns pooled so a 30-s clip stays light, and colour limits chosen per kind;
* :class:`FeaturePlot` draws it with bqplot: a colour-mapped ``bqplot.Image``
  (one palette PNG, not one DOM element per cell) or ``Lines``, labelled axes in
  real units, a colour bar, and pan/zoom; :meth:`FeaturePlot.readout` answers a
  hover position with the value under the pointer;
* :class:`WaveformPlot` draws the review view's large waveform.

Nothing here reads a file or the database.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

import bqplot as bq
import ipywidgets as ipw
import numpy as np

from .. import jitcache
from .axes import axis_label, fit_label, js_key, spaced_ticks, tick_texts, whole_ticks, y_room

__all__ = ["Display", "prepare", "FeaturePlot", "WaveformPlot", "png_indexed", "colour_lut",
           "CMAPS", "axis_label", "MAX_COLUMNS", "MAX_ROWS"]

#: Most columns (time frames) drawn; longer clips are pooled.
MAX_COLUMNS = 800
#: Most rows drawn; taller matrices (a 1025-bin power spectrogram) are pooled.
MAX_ROWS = 256
#: Floor of the dB display, below the clip's loudest point (librosa's ``top_db``).
TOP_DB = 80.0
#: Figure margins above and below the plot area (the colour bar beside it matches them).
PLOT_TOP, PLOT_BOTTOM = 10, 44

# Evenly spaced anchors, interpolated linearly in RGB by colour_lut for the picture
# and by the browser's CSS gradient for the colour bar, so the two match.
CMAPS = {
    "magma": ("#000004", "#1c1044", "#51127c", "#822681", "#b73779", "#e75263", "#fc8961",
              "#fec287", "#fcfdbf"),
    "viridis": ("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
                "#addc30", "#fde725"),
    "diverging": ("#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582",
                  "#d6604d", "#b2182b"),
}
_NAN_COLOUR = (230, 230, 230)
_SIGNED = ("mfcc", "mfcc_delta", "mfcc_delta2", "tonnetz")


def colour_lut(name: str, n: int = 255) -> np.ndarray:
    """Return ``n`` RGB colours (uint8, shape ``(n, 3)``) interpolated between a map's anchors."""
    anchors = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in CMAPS[name]], float)
    pos = np.linspace(0, len(anchors) - 1, n)
    lo = np.floor(pos).astype(int).clip(0, len(anchors) - 2)
    frac = (pos - lo)[:, None]
    return np.rint(anchors[lo] * (1 - frac) + anchors[lo + 1] * frac).astype(np.uint8)


def png_indexed(index: np.ndarray, palette: np.ndarray) -> bytes:
    """Encode an 8-bit palette PNG.

    Parameters
    ----------
    index : np.ndarray, shape (height, width), uint8
        Palette index of each pixel; row 0 is the top of the picture.
    palette : np.ndarray, shape (n <= 256, 3), uint8
        RGB colours.

    Returns
    -------
    bytes
    """
    idx = np.ascontiguousarray(index, dtype=np.uint8)
    h, w = idx.shape
    raw = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 (none) per row
    raw[:, 1:] = idx

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def _hz_text(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


@dataclass
class Display:
    """A feature ready to draw, and what is needed to read values back.

    Attributes
    ----------
    kind : {'image', 'line'}
    values : np.ndarray
        The full-resolution values in display units (dB where that applies),
        shape ``(rows, frames)`` or ``(frames,)``: hover readouts use these.
    image : np.ndarray or None
        Palette indices of the picture (``(height, width)``, top row first).
    x_extent, y_extent : tuple of float
        Where the picture's edges fall on the axes (in axis coordinates).
    y_scale : {'linear', 'log', 'mel', 'categorical'}
    row_coords : np.ndarray or None
        Axis coordinate of each row of ``values`` (mel for a mel axis).
    col_coords : np.ndarray
        Time (or beat index) of each column of ``values``.
    vmin, vmax : float
        Colour (or y) limits.
    cmap : str
    value_label : str
    x_label, y_label : str
    y_ticks : dict
        Tick value -> label, for mel and categorical axes.
    pixelated : bool
        Draw cells as blocks (few rows) rather than smoothly.
    """

    kind: str
    values: np.ndarray
    col_coords: np.ndarray
    x_label: str
    y_label: str
    value_label: str
    vmin: float
    vmax: float
    image: np.ndarray | None = None
    x_extent: tuple[float, float] = (0.0, 1.0)
    y_extent: tuple[float, float] = (0.0, 1.0)
    y_scale: str = "linear"
    row_coords: np.ndarray | None = None
    cmap: str = "viridis"
    y_ticks: dict[float, str] = field(default_factory=dict)
    pixelated: bool = False
    row_names: tuple[str, ...] = ()
    unit: str = ""
    note: str = ""


def colour_bar(display: Display, *, plot_height: int) -> dict:
    """Describe the HTML colour bar drawn beside an image plot.

    bqplot's own vertical colour axis does not lay out reliably inside the dialog,
    so the templates draw the bar: a CSS gradient of the same anchors and a few
    ticks, aligned with the plot area.

    Parameters
    ----------
    display : Display
    plot_height : int
        Height of the whole figure in pixels.

    Returns
    -------
    dict
        ``gradient`` (CSS), ``ticks`` (``pos`` in percent from the bottom, ``text``),
        ``label``, ``top`` and ``height`` in pixels. Empty for a line plot.
    """
    if display.kind != "image":
        return {}
    stops = ", ".join(CMAPS[display.cmap])
    lo, hi = display.vmin, display.vmax
    ticks = []
    for frac in np.linspace(0.0, 1.0, 5):
        value = lo + frac * (hi - lo)
        ticks.append({"pos": round(float(frac) * 100, 2), "text": _tick_text(value, hi - lo)})
    return {"gradient": f"linear-gradient(to top, {stops})", "ticks": ticks,
            "label": display.value_label, "top": PLOT_TOP,
            "height": max(20, plot_height - PLOT_TOP - PLOT_BOTTOM)}


def _tick_text(value: float, span: float) -> str:
    if abs(value) < abs(span) * 1e-9:
        value = 0.0  # float noise such as -1.3e-16 reads as zero
    if span >= 20:
        return f"{value:.0f}"
    if span >= 2:
        return f"{value:.1f}"
    return f"{value:.2g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def _pool_columns(z: np.ndarray, how: str) -> np.ndarray:
    n = z.shape[1]
    if n <= MAX_COLUMNS:
        return z
    starts = (np.arange(MAX_COLUMNS) * n) // MAX_COLUMNS
    if how == "max":
        return np.maximum.reduceat(z, starts, axis=1)
    sums = np.add.reduceat(np.nan_to_num(z), starts, axis=1)
    counts = np.diff(np.append(starts, n))
    return sums / counts


def _resample_rows(z: np.ndarray, coords: np.ndarray, grid: np.ndarray, how: str) -> np.ndarray:
    """Re-sample rows at ``coords`` (ascending) onto ``grid`` cell centres (ascending).

    Each output row takes the max (or mean) of the input rows inside its cell, or
    the nearest input row when the cell holds none (low frequencies on a log axis).
    """
    edges = np.concatenate(([grid[0] - (grid[1] - grid[0]) / 2],
                            (grid[1:] + grid[:-1]) / 2,
                            [grid[-1] + (grid[-1] - grid[-2]) / 2]))
    lo = np.searchsorted(coords, edges[:-1], side="left")
    hi = np.searchsorted(coords, edges[1:], side="left")
    nearest = np.abs(coords[None, :] - grid[:, None]).argmin(axis=1)
    out = z[nearest].copy()
    for i in np.flatnonzero(hi > lo):
        block = z[lo[i]:hi[i]]
        out[i] = block.max(axis=0) if how == "max" else block.mean(axis=0)
    return out


def _to_index(z: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((z - vmin) / span, 0.0, 1.0) * 254.0
    idx = np.rint(np.nan_to_num(scaled, nan=0.0)).astype(np.uint8)
    idx[~np.isfinite(z)] = 255
    return idx


def palette(cmap: str) -> np.ndarray:
    """Return the 256-entry palette of a colour map (index 255 is the no-data grey)."""
    return np.vstack([colour_lut(cmap, 255), np.array([_NAN_COLOUR], dtype=np.uint8)])


def prepare(spec, values: np.ndarray, *, sr: float, params, n_bands: int | None = None) -> Display:
    """Turn one engine matrix into a :class:`Display` for its registry spec.

    Parameters
    ----------
    spec : FeatureSpec
        The registry entry (axes, kind, decibel kind).
    values : np.ndarray
        The engine's output for one clip: ``(rows, frames)`` or ``(frames,)``.
    sr : float
        Sample rate of the analysed audio.
    params : FeatureParams
        Engine parameters (hop length, mel range, ...).
    n_bands : int, optional
        Spectral contrast bands actually used (the engine may use fewer at low rates).

    Returns
    -------
    Display
    """
    from ..features.engine import feature_coords

    values = np.asarray(values, dtype=np.float64)
    n_frames = values.shape[-1]
    rows, cols = feature_coords(spec.id, sr=sr, n_frames=n_frames, params=params)
    x_label = axis_label(spec.x_axis)
    hop_s = params.hop_length / sr
    if spec.id == "stack_memory":
        x_extent = (-0.5, n_frames - 0.5)
    else:
        x_extent = (-hop_s / 2, (n_frames - 0.5) * hop_s)

    if spec.kind == "line":
        v = np.where(np.isfinite(values), values, np.nan)
        finite = v[np.isfinite(v)]
        top = float(finite.max()) if finite.size else 1.0
        return Display(kind="line", values=v, col_coords=cols, x_label=x_label,
                       y_label=axis_label(spec.y_axis), value_label=spec.value_unit,
                       vmin=min(0.0, float(finite.min()) if finite.size else 0.0),
                       vmax=top if top > 0 else 1.0, x_extent=x_extent, unit=spec.y_axis.unit)

    z = values
    unit = spec.value_unit
    note = ""
    if spec.db:
        factor = 10.0 if spec.db == "power" else 20.0
        amin = 1e-10 if spec.db == "power" else 1e-5
        ref = float(np.nanmax(z)) if np.isfinite(z).any() else 1.0
        ref = ref if ref > amin else amin
        z = factor * np.log10(np.maximum(z, amin) / ref)
        z = np.maximum(z, -TOP_DB)
        vmin, vmax, cmap = -TOP_DB, 0.0, "magma"
        value_label = "dB below the loudest point"
        unit = "dB"
    elif spec.id in _SIGNED:
        body = z
        if spec.id.startswith("mfcc") and z.shape[0] > 1:
            # MFCC 0 follows loudness and dwarfs the others: scale colours on the rest.
            body = z[1:]
            note = ("Coefficient 0 (loudness) is much larger than the others; it is drawn "
                    "at the ends of the colour scale. Point at it to read its value.")
        finite = np.abs(body[np.isfinite(body)])
        lim = float(np.percentile(finite, 99)) if finite.size else 1.0
        lim = lim if lim > 0 else 1.0
        vmin, vmax, cmap = -lim, lim, "diverging"
        value_label = spec.value_unit
    else:
        finite = z[np.isfinite(z)]
        vmin = float(finite.min()) if finite.size else 0.0
        vmax = float(finite.max()) if finite.size else 1.0
        if vmax <= vmin:
            vmax = vmin + 1.0
        cmap = "viridis"
        value_label = spec.value_unit

    scale = spec.y_axis.scale
    how = "max" if spec.db else "mean"
    y_ticks: dict[float, str] = {}
    row_names: tuple[str, ...] = ()
    pixelated = False
    y_label = axis_label(spec.y_axis)
    shown = z
    if scale == "mel":
        mel = _hz_to_mel(rows)
        step = float(np.mean(np.diff(mel))) if len(mel) > 1 else 1.0
        row_coords = mel
        y_extent = (float(mel[0] - step / 2), float(mel[-1] + step / 2))
        y_ticks = spaced_ticks([f for f in (100, 200, 500, 1000, 2000, 4000, 8000, 16000)
                                 if rows[0] <= f <= rows[-1]],
                                lambda f: round(float(_hz_to_mel(np.array([f]))[0]), 3),
                                y_extent, _hz_text)
        y_label = "frequency (Hz)"
    elif scale == "log":
        keep = np.isfinite(rows) & (rows > 0)
        r, zz = rows[keep], z[keep]
        order = np.argsort(r)
        r, zz = r[order], zz[order]
        logs = np.log(r)
        n_out = min(MAX_ROWS, max(2, len(r)))
        grid = np.linspace(logs[0], logs[-1], n_out)
        shown = _resample_rows(zz, logs, grid, how)
        step = grid[1] - grid[0]
        row_coords = r
        z = zz
        y_extent = (float(np.exp(grid[0] - step / 2)), float(np.exp(grid[-1] + step / 2)))
        y_ticks = {float(t): f"{t:g}" for t in (10, 30, 60, 120, 240, 480, 960, 1920)
                   if y_extent[0] <= t <= y_extent[1]}
    elif scale == "categorical":
        n = z.shape[0]
        row_coords = np.arange(n, dtype=float)
        y_extent = (-0.5, n - 0.5)
        names = spec.y_axis.ticks
        if spec.id == "spectral_contrast":
            edges = rows[: n] if rows is not None else np.arange(n)
            names = tuple(_band_name(i, edges, n) for i in range(n))
        if len(names) == n:
            row_names = tuple(names)
            every = 1 if n <= 14 else 2
            y_ticks = {float(i): names[i] for i in range(0, n, every)}
        pixelated = True
    else:  # linear: Hz, BPM, coefficient number
        r = rows if rows is not None else np.arange(z.shape[0], dtype=float)
        row_coords = np.asarray(r, dtype=float)
        step = float(row_coords[1] - row_coords[0]) if len(row_coords) > 1 else 1.0
        y_extent = (float(row_coords[0] - step / 2), float(row_coords[-1] + step / 2))
        if z.shape[0] > MAX_ROWS:
            starts = (np.arange(MAX_ROWS) * z.shape[0]) // MAX_ROWS
            if how == "max":
                shown = np.maximum.reduceat(z, starts, axis=0)
            else:
                counts = np.diff(np.append(starts, z.shape[0]))[:, None]
                shown = np.add.reduceat(z, starts, axis=0) / counts
        pixelated = z.shape[0] <= 40
    shown = _pool_columns(shown, how)
    image = _to_index(shown, vmin, vmax)[::-1]
    return Display(kind="image", values=z, image=image, col_coords=cols, x_label=x_label,
                   y_label=y_label, value_label=value_label, vmin=vmin, vmax=vmax,
                   x_extent=x_extent, y_extent=y_extent, y_scale=scale, row_coords=row_coords,
                   cmap=cmap, y_ticks=y_ticks, pixelated=pixelated, row_names=row_names, unit=unit,
                   note=note)


def _band_name(i: int, edges: np.ndarray, n: int) -> str:
    if i == n - 1:
        return f">{_hz_text(edges[i])} Hz" if i < len(edges) else "top"
    lo, hi = edges[i], edges[i + 1] if i + 1 < len(edges) else edges[i] * 2
    return f"{_hz_text(lo)}-{_hz_text(hi)} Hz"


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    librosa = jitcache.import_librosa()
    return np.asarray(librosa.hz_to_mel(np.asarray(hz, dtype=float)), dtype=float)


def _mel_to_hz(mel: float) -> float:
    librosa = jitcache.import_librosa()
    return float(librosa.mel_to_hz(mel))


def _fmt_number(x: float) -> str:
    if not math.isfinite(x):
        return "no data"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 0.01 or x == 0:
        return f"{x:.3g}" if ax < 1 else f"{x:.2f}"
    return f"{x:.2e}"


class FeaturePlot:
    """A bqplot figure for one registry feature, reused across samples.

    Parameters
    ----------
    spec : FeatureSpec
        The feature it draws.
    height : int
        Figure height in pixels.
    """

    def __init__(self, spec, *, height: int = 230) -> None:
        self.spec = spec
        self.height = height
        self.left = 78
        self.display: Display | None = None
        self.x_scale = bq.LinearScale()
        log_y = spec.kind == "image" and spec.y_axis.scale == "log"
        self.y_scale = bq.LogScale() if log_y else bq.LinearScale()
        self.x_axis = bq.Axis(scale=self.x_scale, label=axis_label(spec.x_axis), grid_lines="none",
                              label_offset="32px")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left",
                              label=axis_label(spec.y_axis), grid_lines="none", label_offset="52px",
                              tick_style={"font-size": "11px"})
        axes = [self.x_axis, self.y_axis]
        if spec.kind == "image":
            self.picture = ipw.Image(value=png_indexed(np.zeros((1, 1), np.uint8), palette("viridis")),
                                     format="png")
            self.mark = bq.Image(image=self.picture, scales={"x": self.x_scale, "y": self.y_scale},
                                 x=[0.0, 1.0], y=[0.0, 1.0])
            margin = {"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12}
        else:
            self.mark = bq.Lines(x=np.zeros(2), y=np.zeros(2),
                                 scales={"x": self.x_scale, "y": self.y_scale},
                                 colors=["#1f6fbf"], stroke_width=1.5, fill="bottom",
                                 fill_colors=["#1f6fbf"], fill_opacities=[0.15])
            margin = {"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12}
        if spec.id == "stack_memory":  # columns are beats: whole numbers at any zoom
            self.x_axis.tick_format = "d"
            self.x_scale.observe(self._whole_beats, names=["min", "max"])
        self.zoom = bq.PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale]})
        self.figure = bq.Figure(
            marks=[self.mark], axes=axes, interaction=self.zoom, fig_margin=margin,
            padding_x=0.0, padding_y=0.0, animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    def show(self, display: Display) -> None:
        """Draw ``display`` (one sync round for all the figure's widgets)."""
        self.display = display
        spec = self.spec
        with self.figure.hold_sync(), self.x_scale.hold_sync(), self.y_scale.hold_sync(), \
                self.x_axis.hold_sync(), self.y_axis.hold_sync(), self.mark.hold_sync():
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
                lo, hi = (display.y_extent if spec.kind == "image"
                          else (display.vmin, display.vmax * 1.05))
                texts = tick_texts(lo, hi)
            # The title clear of the widest tick label, and a margin that holds both.
            offset, self.left = y_room(texts)
            self.y_axis.label_offset = f"{offset}px"
            self.figure.fig_margin = {**self.figure.fig_margin, "left": self.left}
            if spec.kind == "image":
                self.picture.value = png_indexed(display.image, palette(display.cmap))
                self.mark.x = np.array(display.x_extent, dtype=float)
                self.mark.y = np.array(display.y_extent, dtype=float)
                self.mark.pixelated = display.pixelated
            else:
                y = np.nan_to_num(display.values, nan=0.0)
                self.mark.x = display.col_coords.astype(float)
                self.mark.y = y.astype(float)
            self._set_domain()

    def _whole_beats(self, change=None) -> None:
        ticks = whole_ticks(float(self.x_scale.min if self.x_scale.min is not None else 0.0),
                            float(self.x_scale.max if self.x_scale.max is not None else 1.0))
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
        where = (f"beat {j}" if self.spec.id == "stack_memory" else f"{cols[j]:.2f} s")
        if d.kind == "line":
            return f"{where} · {self.spec.title.lower()} {_fmt_number(float(d.values[j]))}" + (
                f" {d.unit}" if d.unit and d.unit != "dB increase" else "")
        if not (min(d.y_extent) <= y <= max(d.y_extent)):
            return ""
        rows = d.row_coords
        if d.y_scale == "mel":
            i = int(np.abs(rows - y).argmin())
            row_text = f"{_mel_to_hz(rows[i]):,.0f} Hz"
        elif d.y_scale == "log":
            i = int(np.abs(np.log(rows) - math.log(max(y, 1e-9))).argmin())
            row_text = f"{rows[i]:,.0f} BPM"
        elif d.y_scale == "categorical":
            i = int(min(max(round(y), 0), len(rows) - 1))
            row_text = d.row_names[i] if d.row_names else f"row {i}"
        else:
            i = int(np.abs(rows - y).argmin())
            unit = self.spec.y_axis.unit
            row_text = (f"coefficient {i}" if unit == "index"
                        else f"{rows[i]:,.0f} {unit}")
        value = float(d.values[i, j])
        unit = f" {d.unit}" if d.unit in ("dB",) else ""
        return f"{where} · {row_text} · {_fmt_number(value)}{unit}"


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
        self.mark = bq.Lines(x=np.zeros(2), y=np.zeros((2, 2)),
                             scales={"x": self.x_scale, "y": self.y_scale}, fill="between",
                             colors=["#3f7fd1", "#3f7fd1"], fill_colors=["#3f7fd1"],
                             fill_opacities=[0.85], stroke_width=0.5)
        self.x_axis = bq.Axis(scale=self.x_scale, label="time (s)", grid_lines="none",
                              label_offset="32px")
        self.y_axis = bq.Axis(scale=self.y_scale, side="left", label="amplitude",
                              grid_lines="dashed", num_ticks=3, label_offset="52px")
        self.figure = bq.Figure(
            marks=[self.mark], axes=[self.x_axis, self.y_axis],
            interaction=bq.PanZoom(scales={"x": [self.x_scale]}),
            fig_margin={"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12},
            padding_x=0.0, padding_y=0.0, animation_duration=0,
            layout=ipw.Layout(width="100%", height=f"{height}px"),
        )

    def show(self, y: np.ndarray, sr: int, *, n_bins: int = 1200) -> float:
        """Draw audio samples ``y`` at rate ``sr``; return the peak level in dBFS."""
        from ..audio.peaks import waveform_peaks

        y = np.nan_to_num(np.asarray(y, dtype=np.float32))
        n = len(y)
        peaks = waveform_peaks(y, n_bins=max(1, min(n_bins, n))) if n else np.zeros((2, 1))
        t = (np.arange(peaks.shape[1]) + 0.5) * (n / sr) / peaks.shape[1] if n else np.zeros(1)
        peak = float(np.abs(peaks).max()) if peaks.size else 0.0
        lim = max(peak * 1.05, 1e-4)
        with self.mark.hold_sync(), self.x_scale.hold_sync(), self.y_scale.hold_sync():
            self.mark.x = t.astype(float)
            self.mark.y = np.vstack([peaks[1], peaks[0]]).astype(float)
            self.x_scale.min, self.x_scale.max = 0.0, float(max(n / sr, 1e-3))
            self.y_scale.min, self.y_scale.max = -lim, lim
        # Explicit ticks: bqplot's own middle tick can read "-1e-16" instead of 0.
        top = float(f"{max(peak, 1e-4):.2g}")
        self.y_axis.tick_values = np.array([-top, 0.0, top])
        self.y_axis.tick_format = ".2g"
        return 20 * math.log10(peak) if peak > 0 else float("-inf")
