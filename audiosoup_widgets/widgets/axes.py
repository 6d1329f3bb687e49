"""Axes of the plots: tick labels and their room, title fitting, whole-number beat ticks.

bqplot draws a left axis's title at a fixed distance from the axis line
(``label_offset``) and the tick labels in between; it measures neither, so long
tick labels (octave bands such as ``200-400 Hz``, tonnetz dimensions such as
``minor thirds x``, ``C# (prev)``) run into the title. Here tick labels are
measured from their text with the advance widths of DejaVu Sans, the widest of
the sans-serif fonts a browser commonly falls back to (Arial, Helvetica and
Roboto are narrower), so the estimate errs towards room, never overlap.

Beat axes count whole beats: :func:`whole_ticks` picks integer ticks for the
visible range, so zooming never shows "1.5 beats".
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["TICK_PX", "fit_label", "js_key", "text_width", "tick_texts", "y_room", "whole_ticks"]

#: Font size (px) of the y tick labels (set in the figures' ``tick_style``).
TICK_PX = 11
#: Font size (px) of bqplot's axis titles (its stylesheet: ``14px sans-serif``).
TITLE_PX = 14
# DejaVu Sans advance widths in em, by character class; anything else counts as wide.
_WIDTHS = (
    (" .,:;'|!ijlI", 0.32),
    ("()[]{}frt-/", 0.40),
    ("0123456789$?_sczJ", 0.64),
    ("abdeghknopquvxyL", 0.64),
    ("ABCDEFKPRSTVXYZ", 0.72),
    ("GHNOQU", 0.78),
)
_WIDE = 1.0
# Between the axis line and the widest tick label: d3's tick (6 px) and padding (3 px).
_TICK_GAP = 9
# Clear space between the widest tick label and the title's lowest glyphs.
_CLEAR = 8
# Parts of the rotated title's font size below (descent) and above (ascent) its baseline.
_DESCENT, _ASCENT = 0.25, 0.80


def text_width(text: str, px: float) -> float:
    """Estimate the width in pixels of ``text`` set in a sans-serif font of ``px`` pixels."""
    total = 0.0
    for ch in text:
        for chars, em in _WIDTHS:
            if ch in chars:
                total += em
                break
        else:
            total += _WIDE
    return total * px


def tick_texts(lo: float, hi: float, *, count: int = 10) -> list[str]:
    """Return the labels of automatic ticks on ``[lo, hi]``, as d3 chooses and prints them.

    d3 picks about ``count`` ticks at 1, 2 or 5 times a power of ten; bqplot prints
    them with the decimals that step needs.
    """
    lo, hi = (float(lo), float(hi)) if lo <= hi else (float(hi), float(lo))
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [f"{lo:g}"]
    raw = span / count
    power = math.floor(math.log10(raw))
    error = raw / 10**power
    step = 10**power * (10 if error >= 50**0.5 else 5 if error >= 10**0.5 else 2 if error >= 2**0.5 else 1)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first, last = math.ceil(lo / step), math.floor(hi / step)
    values = [k * step for k in range(first, last + 1)] or [lo]
    return [f"{v:.{decimals}f}" for v in values]


def y_room(labels: Iterable[object], *, px: float = TICK_PX) -> tuple[int, int]:
    """Return ``(label_offset, left_margin)`` in pixels for a left axis with these tick labels.

    The title's baseline sits ``label_offset`` left of the axis line, clear of the
    widest label; the margin holds the title's full height beyond it.
    """
    widest = max((text_width(str(t), px) for t in labels), default=0.0)
    offset = math.ceil(_TICK_GAP + widest + _CLEAR + _DESCENT * TITLE_PX)
    # Never tighter than the plots' usual layout, so plots with short labels keep it.
    offset = max(offset, 52)
    return offset, max(78, offset + math.ceil(_ASCENT * TITLE_PX) + 6)


def whole_ticks(lo: float, hi: float, *, most: int = 8) -> np.ndarray:
    """Return integer tick values inside ``[lo, hi]``, at most ``most`` of them (1, 2, 5, 10... apart).

    Empty when the range holds no integer (zoomed inside one beat).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.zeros(0)
    lo, hi = min(lo, hi), max(lo, hi)
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if last < first:
        return np.zeros(0)
    step = 1
    while (last - first) // step + 1 > most:
        step = _next_step(step)
    start = math.ceil(first / step) * step
    return np.arange(start, last + 1, step, dtype=float)


def _next_step(step: int) -> int:
    """1, 2, 5, 10, 20, 50, ..."""
    digits = int(str(step)[0])
    return step * 2 if digits in (1, 5) else step * 5 // 2


def fit_label(label: str, pixels: int) -> str:
    """Drop a label's parenthesised unit if the label would not fit along ``pixels``."""
    if text_width(label, TITLE_PX) <= pixels or "(" not in label:
        return label
    return label.split("(")[0].strip()


def js_key(value: float) -> str:
    """Format a number the way JavaScript's ``String(x)`` does (bqplot's tick label keys)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)
