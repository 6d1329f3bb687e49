"""Display math of features: engine matrices turned into pictures a person can read.

The engine returns raw values (power, magnitudes, coefficients); this module
prepares them for a viewer, with numpy only (no UI library):

* :func:`prepare` converts a matrix for display: decibels relative to the clip's
  own loudest point for power and amplitude features (the engine never does),
  floored at :data:`~audiosoup_widgets.features.params.TOP_DB`; rows re-sampled onto
  the axis the spec asks for (mel, log, linear, categorical), columns pooled so a
  30-s clip stays light, and colour limits chosen per kind;
* a :class:`ColourScale` given to :func:`prepare` draws several pictures on one scale
  (a comparison of clips: one dB reference, one colour bar): the values are then
  taken as already in display units;
* :func:`colour_lut`, :func:`palette` and :data:`CMAPS` are the colour maps, and
  :func:`colour_bar` describes the bar drawn beside a picture;
* :func:`axis_label`, :func:`spaced_ticks`, :func:`format_value`, :func:`hz_to_mel`
  and :func:`mel_to_hz` give axis titles, ticks and readout text in real units.

The bqplot figures that draw a :class:`Display` live in
:mod:`audiosoup_widgets.widgets.plots`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .. import jitcache
from .params import TOP_DB, FeatureParams
from .registry import Axis, FeatureSpec

__all__ = [
    "CMAPS",
    "ColourScale",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "PLOT_BOTTOM",
    "PLOT_TOP",
    "SIGNED",
    "Display",
    "axis_label",
    "colour_bar",
    "colour_lut",
    "format_value",
    "hz_to_mel",
    "mel_to_hz",
    "palette",
    "prepare",
    "spaced_ticks",
]

#: Most columns (time frames) drawn; longer clips are pooled.
MAX_COLUMNS = 800
#: Most rows drawn; taller matrices (a 1025-bin power spectrogram) are pooled.
MAX_ROWS = 256
#: Figure margins above and below the plot area (the colour bar beside it matches them).
PLOT_TOP, PLOT_BOTTOM = 10, 44

# Evenly spaced anchors, interpolated linearly in RGB by colour_lut for the picture
# and by the browser's CSS gradient for the colour bar, so the two match.
CMAPS = {
    "magma": (
        "#000004",
        "#1c1044",
        "#51127c",
        "#822681",
        "#b73779",
        "#e75263",
        "#fc8961",
        "#fec287",
        "#fcfdbf",
    ),
    "viridis": (
        "#440154",
        "#472d7b",
        "#3b528b",
        "#2c728e",
        "#21918c",
        "#28ae80",
        "#5ec962",
        "#addc30",
        "#fde725",
    ),
    "diverging": (
        "#2166ac",
        "#4393c3",
        "#92c5de",
        "#d1e5f0",
        "#f7f7f7",
        "#fddbc7",
        "#f4a582",
        "#d6604d",
        "#b2182b",
    ),
}
_NAN_COLOUR = (230, 230, 230)
#: Features whose values are signed around zero: drawn with the diverging map, symmetric limits.
SIGNED = ("mfcc", "mfcc_delta", "mfcc_delta2", "mel_delta", "mel_delta2", "tonnetz")


def colour_lut(name: str, n: int = 255) -> np.ndarray:
    """Return ``n`` RGB colours (uint8, shape ``(n, 3)``) interpolated between a map's anchors."""
    anchors = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in CMAPS[name]], float)
    pos = np.linspace(0, len(anchors) - 1, n)
    lo = np.floor(pos).astype(int).clip(0, len(anchors) - 2)
    frac = (pos - lo)[:, None]
    lut: np.ndarray = np.rint(anchors[lo] * (1 - frac) + anchors[lo + 1] * frac).astype(np.uint8)
    return lut


def _hz_text(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


@dataclass(frozen=True)
class ColourScale:
    """Colour (or, for a line, y) limits shared by several pictures drawn side by side.

    Given to :func:`prepare`, it replaces the clip's own limits, and the values are
    taken as already in display units (decibels converted with one reference for
    every clip, or a difference), so no per-clip conversion happens.

    Attributes
    ----------
    vmin, vmax : float
        Limits of the colour map (of the y axis for a line feature).
    cmap : str
        One of :data:`CMAPS`.
    value_label : str
        The colour bar's title.
    unit : str
        Unit of the values in hover readouts (``dB``), or empty.
    pool : {'max', 'mean'}
        How rows and columns are pooled when a matrix is too large to draw: ``max``
        keeps peaks of levels, ``mean`` suits signed values and differences.
    """

    vmin: float
    vmax: float
    cmap: str
    value_label: str
    unit: str = ""
    pool: str = "mean"


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


def colour_bar(display: Display, *, plot_height: int) -> dict[str, object]:
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
    return {
        "gradient": f"linear-gradient(to top, {stops})",
        "ticks": ticks,
        "label": display.value_label,
        "top": PLOT_TOP,
        "height": max(20, plot_height - PLOT_TOP - PLOT_BOTTOM),
    }


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
    edges = np.concatenate(
        (
            [grid[0] - (grid[1] - grid[0]) / 2],
            (grid[1:] + grid[:-1]) / 2,
            [grid[-1] + (grid[-1] - grid[-2]) / 2],
        )
    )
    lo = np.searchsorted(coords, edges[:-1], side="left")
    hi = np.searchsorted(coords, edges[1:], side="left")
    nearest = np.abs(coords[None, :] - grid[:, None]).argmin(axis=1)
    out: np.ndarray = z[nearest].copy()
    for i in np.flatnonzero(hi > lo):
        block = z[lo[i] : hi[i]]
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


def prepare(
    spec: FeatureSpec,
    values: np.ndarray,
    *,
    sr: float,
    params: FeatureParams,
    n_bands: int | None = None,
    scale: ColourScale | None = None,
) -> Display:
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
    scale : ColourScale, optional
        Shared limits for pictures drawn side by side; ``values`` are then already
        in display units (no decibel conversion here).

    Returns
    -------
    Display
    """
    # Imported here: the coordinates need librosa, which a dashboard kernel should load
    # only when a feature view first draws, not when the page opens.
    from .coords import feature_coords

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
        low = min(0.0, float(finite.min()) if finite.size else 0.0)
        return Display(
            kind="line",
            values=v,
            col_coords=cols,
            x_label=x_label,
            y_label=axis_label(spec.y_axis),
            value_label=spec.value_unit,
            vmin=scale.vmin if scale else low,
            vmax=scale.vmax if scale else (top if top > 0 else 1.0),
            x_extent=x_extent,
            unit=spec.y_axis.unit,
        )

    z = values
    unit = spec.value_unit
    note = ""
    if scale is not None:
        vmin, vmax, cmap, value_label = scale.vmin, scale.vmax, scale.cmap, scale.value_label
        unit = scale.unit
    elif spec.db:
        factor = 10.0 if spec.db == "power" else 20.0
        amin = 1e-10 if spec.db == "power" else 1e-5
        ref = float(np.nanmax(z)) if np.isfinite(z).any() else 1.0
        ref = ref if ref > amin else amin
        z = factor * np.log10(np.maximum(z, amin) / ref)
        z = np.maximum(z, -TOP_DB)
        vmin, vmax, cmap = -TOP_DB, 0.0, "magma"
        value_label = "dB below the loudest point"
        unit = "dB"
    elif spec.id in SIGNED:
        body = z
        if spec.id.startswith("mfcc") and z.shape[0] > 1:
            # MFCC 0 follows loudness and dwarfs the others: scale colours on the rest.
            body = z[1:]
            note = (
                "Coefficient 0 (loudness) is much larger than the others; it is drawn "
                "at the ends of the colour scale. Point at it to read its value."
            )
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

    how = scale.pool if scale is not None else ("max" if spec.db else "mean")
    axis_scale = spec.y_axis.scale
    y_ticks: dict[float, str] = {}
    row_names: tuple[str, ...] = ()
    pixelated = False
    y_label = axis_label(spec.y_axis)
    shown = z
    if axis_scale == "mel":
        assert rows is not None  # a mel axis has Hz rows (only line features have none)
        mel = hz_to_mel(rows)
        step = float(np.mean(np.diff(mel))) if len(mel) > 1 else 1.0
        row_coords = mel
        y_extent = (float(mel[0] - step / 2), float(mel[-1] + step / 2))
        y_ticks = spaced_ticks(
            [f for f in (100, 200, 500, 1000, 2000, 4000, 8000, 16000) if rows[0] <= f <= rows[-1]],
            lambda f: round(float(hz_to_mel(np.array([f]))[0]), 3),
            y_extent,
            _hz_text,
        )
        y_label = "frequency (Hz)"
    elif axis_scale == "log":
        assert rows is not None  # a log axis has BPM rows
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
        y_ticks = {
            float(t): f"{t:g}"
            for t in (10, 30, 60, 120, 240, 480, 960, 1920)
            if y_extent[0] <= t <= y_extent[1]
        }
    elif axis_scale == "categorical":
        n = z.shape[0]
        row_coords = np.arange(n, dtype=float)
        y_extent = (-0.5, n - 0.5)
        names = spec.y_axis.ticks
        if spec.id == "spectral_contrast":
            edges = rows[:n] if rows is not None else np.arange(n)
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
    return Display(
        kind="image",
        values=z,
        image=image,
        col_coords=cols,
        x_label=x_label,
        y_label=y_label,
        value_label=value_label,
        vmin=vmin,
        vmax=vmax,
        x_extent=x_extent,
        y_extent=y_extent,
        y_scale=axis_scale,
        row_coords=row_coords,
        cmap=cmap,
        y_ticks=y_ticks,
        pixelated=pixelated,
        row_names=row_names,
        unit=unit,
        note=note,
    )


def _band_name(i: int, edges: np.ndarray, n: int) -> str:
    if i == n - 1:
        return f">{_hz_text(edges[i])} Hz" if i < len(edges) else "top"
    lo, hi = edges[i], edges[i + 1] if i + 1 < len(edges) else edges[i] * 2
    return f"{_hz_text(lo)}-{_hz_text(hi)} Hz"


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Return ``librosa.hz_to_mel`` of ``hz`` as a float array."""
    librosa = jitcache.import_librosa()
    return np.asarray(librosa.hz_to_mel(np.asarray(hz, dtype=float)), dtype=float)


def mel_to_hz(mel: float) -> float:
    """Return ``librosa.mel_to_hz`` of one mel value, in Hz."""
    librosa = jitcache.import_librosa()
    return float(librosa.mel_to_hz(mel))


def format_value(x: float) -> str:
    """Format a value for a hover readout: a few significant digits, ``no data`` for NaN."""
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


def axis_label(axis: Axis, *, override: str | None = None) -> str:
    """Return a plot label for a registry :class:`Axis`: ``frequency (Hz)``, ``time (s)``."""
    if override:
        return override
    if axis.unit == "index":
        return f"{axis.name} number"
    if not axis.unit or axis.unit == axis.name:
        return axis.name
    return f"{axis.name} ({axis.unit})"


def spaced_ticks(
    values: Iterable[float],
    to_axis: Callable[[float], float],
    extent: tuple[float, float],
    label: Callable[[float], str],
    *,
    min_gap: float = 0.07,
) -> dict[float, str]:
    """Keep tick values (from the top down) at least ``min_gap`` of the axis apart."""
    span = (extent[1] - extent[0]) or 1.0
    out: dict[float, str] = {}
    last = None
    for value in sorted(values, reverse=True):
        pos = to_axis(value)
        if last is None or (last - pos) / span >= min_gap:
            out[pos] = label(value)
            last = pos
    return out
