"""Bars of a histogram of one measure over a dataset: round widths, outliers apart, thresholds as bounds.

:func:`bin_values` turns a column of values (NaN: not measured) into bars a person can
read and click: each value's bar is returned with the bars, so the values behind a
bar are exactly the ones it counts. Its rules:

* ``discrete`` values (a sample rate, a channel count), and any column with at most
  :data:`MAX_DISCRETE` distinct values, get one bar per value;
* ``linear`` and ``auto`` columns get about :data:`TARGET_BARS` bars of a round width
  (1, 2, 2.5 or 5 times a power of ten) over the 0.5th to 99.5th percentile, narrowed
  to Tukey's far-out fences (three interquartile ranges beyond the quartiles), and one
  more bar on each side for what lies beyond, so a few outliers (digital silence at
  -120 dBFS) do not squash the rest; an ``auto`` column spread over more than a
  factor of :data:`LOG_SPREAD` gets 1-2-5 logarithmic bars instead;
* ``zero_log`` columns (a clipping ratio: mostly exactly zero) get a bar for zero and
  1-3 logarithmic bars above it; ``percent`` columns get 5 % bars from 0 to 100.

The bounds of a flagged range (the thresholds of a quality check) are always bar
bounds, so each bar is wholly flagged or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ValidationError

__all__ = ["Bars", "bin_values", "SCALES", "MAX_DISCRETE", "TARGET_BARS", "LOG_SPREAD", "format_bound"]

#: How a column is binned (see the module's notes).
SCALES = ("auto", "discrete", "linear", "zero_log", "percent")
#: A column with at most this many distinct values gets one bar per value.
MAX_DISCRETE = 12
#: About this many bars of equal width for a continuous column.
TARGET_BARS = 24
#: An ``auto`` column whose 99.5th percentile exceeds the 0.5th by this factor is binned on a log scale.
LOG_SPREAD = 20.0


@dataclass(frozen=True)
class Bars:
    """A column's histogram.

    Attributes
    ----------
    counts : np.ndarray [shape=(n_bars,)], int64
        Values in each bar.
    lows, highs : np.ndarray [shape=(n_bars,)], float64
        Each bar's bounds; ``-inf``/``inf`` for the bars of what lies beyond the
        others; equal for a bar of one value.
    labels : tuple of str
        Each bar's range in words, with the unit ("0.95 to 1 s", "below -60 dBFS").
    flagged : np.ndarray [shape=(n_bars,)], bool
        Bars inside the flagged range.
    discrete : bool
        One bar per value (else bars of ranges, in order).
    index : np.ndarray [shape=(n_values,)], int32
        Each value's bar; -1 for NaN.
    """

    counts: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    labels: tuple[str, ...]
    flagged: np.ndarray
    discrete: bool
    index: np.ndarray


def bin_values(
    values: np.ndarray,
    *,
    scale: str,
    unit: str = "",
    flag: tuple[float, float] | None = None,
    right_closed: bool = False,
    open_top: bool = False,
) -> Bars:
    """Return the bars of ``values`` (NaN values are in no bar).

    Parameters
    ----------
    values : np.ndarray [shape=(n,)]
        The column, in the units the bars show.
    scale : str
        One of :data:`SCALES`.
    unit : str
        Unit of the labels ("" for none).
    flag : (float, float), optional
        The range a check flags, in the same units.
    right_closed : bool
        The flag's low end is excluded (flagged *above* it): bars are ``(low, high]``
        instead of ``[low, high)``.
    open_top : bool
        The flag's high end is the column's own maximum (100 %): no limit.
    """
    if scale not in SCALES:
        raise ValidationError(f"unknown histogram scale {scale!r}")
    raw = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(raw)
    v = raw[finite]
    index = np.full(len(raw), -1, dtype=np.int32)
    distinct = np.unique(v)
    discrete = (scale == "discrete" and len(distinct) <= 2 * MAX_DISCRETE) or (
        scale in ("auto", "linear") and len(distinct) <= MAX_DISCRETE
    )
    if v.size == 0:
        lows = highs = np.zeros(0)
        labels: list[str] = []
        counts = np.zeros(0, dtype=np.int64)
    elif discrete:
        index[finite] = np.searchsorted(distinct, v)
        lows = highs = distinct
        labels = [_with_unit(format_bound(x), unit) for x in distinct]
        counts = np.bincount(index[finite], minlength=len(distinct)).astype(np.int64)
    else:
        lows, highs, labels, counts, idx = _binned(v, scale=scale, unit=unit, flag=flag, right=right_closed)
        index[finite] = idx
    return Bars(
        counts=counts,
        lows=np.asarray(lows, dtype=np.float64),
        highs=np.asarray(highs, dtype=np.float64),
        labels=tuple(labels),
        flagged=_flagged(lows, highs, flag, right=right_closed, open_top=open_top),
        discrete=bool(discrete and v.size),
        index=index,
    )


def format_bound(x: float) -> str:
    """Format a bar bound: at most four significant digits, never an exponent."""
    if x == 0:
        return "0"
    text = np.format_float_positional(x, precision=4, unique=True, fractional=False, trim="-")
    return text.rstrip(".")


def _with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def _nice_step(span: float, target: int) -> float:
    """Return a round step (1, 2, 2.5 or 5 times a power of ten) giving about ``target`` bars."""
    raw = span / target
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * power * 1.0000001:
            return m * power
    return 10.0 * power


def _series(lo: float, hi: float, mults: tuple[float, ...]) -> np.ndarray:
    """Return edges ``m * 10**k`` (``m`` in ``mults``) from the one at or below ``lo`` to above ``hi``."""
    out = [
        m * 10.0**k
        for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2)
        for m in mults
    ]
    edges = np.array(sorted(out))
    first = max(int(np.searchsorted(edges, lo, side="right")) - 1, 0)
    last = min(int(np.searchsorted(edges, hi, side="right")), len(edges) - 1)
    return edges[first : last + 1]


def _regular_edges(v: np.ndarray, scale: str, flag: tuple[float, float] | None) -> tuple[np.ndarray, str]:
    """Return the edges of the regular bars and the scale they follow."""
    if scale == "percent":
        return np.round(np.arange(0.0, 100.0 + 2.5, 5.0), 9), "percent"
    if scale == "zero_log":
        positive = v[v > 0]
        low = float(np.percentile(positive, 0.5)) if positive.size else 1e-3
        if flag is not None:
            low = min(low, flag[0] / 10)
        # Just below the lowest value, so no bar bound falls on it.
        edges = _series(max(low * 0.999, 1e-4), 100.0, (1.0, 3.0))
        return edges[edges <= 100.0], "zero_log"
    lo, q25, q75, hi = (float(x) for x in np.percentile(v, [0.5, 25, 75, 99.5]))
    iqr = q75 - q25
    if iqr > 0:  # Tukey's far-out fences: a 1 % of digital silences must not squash the rest
        lo, hi = max(lo, q25 - 3 * iqr), min(hi, q75 + 3 * iqr)
    span = hi - lo
    # Keep the whole range when the extremes are near the rest: no bars for a handful of outliers.
    vmin, vmax = float(v.min()), float(v.max())
    if vmin >= lo - 0.25 * span:
        lo = vmin
    if vmax <= hi + 0.25 * span:
        hi = vmax
    if scale == "auto" and lo > 0 and hi / lo > LOG_SPREAD:
        return _series(lo, hi, (1.0, 2.0, 5.0)), "log"
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 0.01
    step = _nice_step(hi - lo, TARGET_BARS)
    anchor = flag[0] if flag is not None else 0.0
    k0 = math.floor((lo - anchor) / step)
    k1 = math.floor((hi - anchor) / step) + 1
    edges = anchor + np.arange(k0, k1 + 1) * step
    # Round away float noise (0.30000000000000004) so labels and comparisons are clean.
    return np.round(edges, max(0, 12 - math.floor(math.log10(step)))), "linear"


def _binned(
    v: np.ndarray, *, scale: str, unit: str, flag: tuple[float, float] | None, right: bool
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Return bars of ranges: (lows, highs, labels, counts, each value's bar)."""
    edges, scale = _regular_edges(v, scale, flag)
    if flag is not None:
        # Custom thresholds off the grid still get an edge of their own.
        inside = [b for b in flag if edges[0] < b < edges[-1] and not np.isclose(edges, b).any()]
        edges = np.union1d(edges, inside) if inside else edges
    m = len(edges) - 1
    zero_bar = scale == "zero_log"
    pos = v > 0 if zero_bar else np.ones(len(v), dtype=bool)
    # Regular bar of each value: -1 below the first edge, m at or beyond the last.
    reg = np.searchsorted(edges, v, side="left" if right else "right") - 1
    if scale in ("percent", "zero_log"):  # the top edge (100 %) closes the last bar
        reg[v == edges[-1]] = m - 1
    under = bool((pos & (reg < 0)).any())
    over = bool((reg >= m).any())
    offset = int(zero_bar) + int(under)
    idx = reg + offset
    if zero_bar:
        idx[~pos] = 0
    if under:
        idx[pos & (reg < 0)] = int(zero_bar)
    lows: list[float] = []
    highs: list[float] = []
    labels: list[str] = []
    u = unit
    if zero_bar:
        lows.append(0.0)
        highs.append(0.0)
        labels.append(_with_unit("0", u))
    if under:
        lows.append(0.0 if zero_bar else -math.inf)
        highs.append(float(edges[0]))
        labels.append(
            f"above 0 and up to {_with_unit(format_bound(edges[0]), u)}"
            if zero_bar
            else f"below {_with_unit(format_bound(edges[0]), u)}"
        )
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        lows.append(float(a))
        highs.append(float(b))
        labels.append(f"{format_bound(a)} to {_with_unit(format_bound(b), u)}")
    if over:
        lows.append(float(edges[-1]))
        highs.append(math.inf)
        labels.append(f"{_with_unit(format_bound(edges[-1]), u)} or more")
    n = len(lows)
    counts = np.bincount(idx, minlength=n).astype(np.int64)
    return np.array(lows), np.array(highs), labels, counts, idx.astype(np.int32)


def _flagged(
    lows: np.ndarray, highs: np.ndarray, flag: tuple[float, float] | None, *, right: bool, open_top: bool
) -> np.ndarray:
    """Return which bars lie inside the flagged range."""
    lows, highs = np.asarray(lows, dtype=np.float64), np.asarray(highs, dtype=np.float64)
    if flag is None or lows.size == 0:
        return np.zeros(len(lows), dtype=bool)
    lo, hi = flag
    top = math.inf if open_top else hi
    tol = 1e-9 * max(1.0, abs(lo))
    point = lows == highs
    if right:
        in_point = (lows > lo) & (lows <= top)
    else:
        in_point = (lows >= lo) & (lows <= top)
    in_range = (lows >= lo - tol) & (highs <= top + tol)
    return np.where(point, in_point, in_range)
