"""What one card of the grid shows: plain values from a sample record, and its waveform as an SVG path.

A card of a label suspect carries a badge, "maybe <suggested> · 83%": the model's
probability of the label it suggests (the tooltip says so, and gives the probability of
the clip's own label). A clip whose text a model of the texts reads as another label
carries "text says <label> · 91%" once that model has run ("strong suspect: ..." when
the audio model doubts the label too).

Cards are plain dictionaries rendered by the grid's one template; nothing here is a
widget. The waveform path holds only digits, spaces and two letters, so it is safe to
bind into the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..services import SampleRecord, SuspectRecord, TextCheck
from .base import fmt_db, fmt_duration, fmt_rate

__all__ = ["wave_path", "suspect_badge", "text_badge", "MAX_TEXT_ON_CARD"]

_WAVE_W, _WAVE_H, _WAVE_BINS = 2000, 500, 100
#: Longest text shown on a card (the rest is cut with an ellipsis).
MAX_TEXT_ON_CARD = 240


def wave_path(
    peaks: np.ndarray, *, width: int = _WAVE_W, height: int = _WAVE_H, n_bins: int = _WAVE_BINS
) -> str:
    """Build the SVG path of a filled waveform thumbnail from min/max peaks.

    Parameters
    ----------
    peaks : np.ndarray, shape (2, n)
        Minima and maxima in [-1, 1] (already normalised for display).
    width, height : int
        The SVG ``viewBox`` size in integer units; the path is centred vertically.
    n_bins : int
        Horizontal resolution of the path (peaks are re-binned, keeping extremes).

    Returns
    -------
    str
        ``M`` followed by integer coordinate pairs (implicit line-tos) and ``Z``:
        only digits, spaces and those two letters.
    """
    p = np.nan_to_num(np.asarray(peaks, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    if p.ndim != 2 or p.shape[0] != 2 or p.shape[1] == 0:
        p = np.zeros((2, 1))
    n = p.shape[1]
    if n > n_bins:
        starts = (np.arange(n_bins) * n) // n_bins
        lo, hi = np.minimum.reduceat(p[0], starts), np.maximum.reduceat(p[1], starts)
    else:
        lo, hi = p[0], p[1]
    lo, hi = np.clip(lo, -1, 1), np.clip(hi, -1, 1)
    mid, amp = height / 2.0, height / 2.0 - height / 50.0
    # At least a sliver of ink, so a silent clip still shows its (flat) line.
    ink = max(1.0, height / 100.0)
    top = np.minimum(mid - hi * amp, mid - ink)
    bottom = np.maximum(mid - lo * amp, mid + ink)
    xs = np.linspace(0.0, float(width), len(hi))
    pts = np.empty((2 * len(hi), 2))
    pts[: len(hi), 0], pts[: len(hi), 1] = xs, top
    pts[len(hi) :, 0], pts[len(hi) :, 1] = xs[::-1], bottom[::-1]
    # Integers format far faster than floats; the viewBox is fine enough for them.
    return "M" + " ".join(map(str, np.rint(pts).astype(np.int64).ravel().tolist())) + "Z"


def suspect_badge(s: SuspectRecord | None) -> tuple[str, str]:
    """Return a suspect's badge text and tooltip (both empty for a clip the model does not doubt).

    The percentage is the model's probability of the suggested label (its top label).
    """
    if s is None:
        return "", ""
    probs = dict(s.top3)
    p_suggested = probs.get(s.suggested, 1.0 - s.score)
    p_label = 1.0 - s.score
    text = f"maybe {s.suggested} · {p_suggested:.0%}"
    title = (
        f"The model (run {s.run_id}) gives {s.suggested!r} {p_suggested:.0%} "
        f"and this clip's label {s.label!r} {p_label:.0%}. Open the review to see why."
    )
    return text, title


def text_badge(c: TextCheck | None) -> tuple[str, str]:
    """Return the badge of a clip whose text disagrees with its label, and its tooltip (or empty)."""
    if c is None:
        return "", ""
    text = f"{'strong suspect: ' if c.strong else ''}text says {c.suggested} · {c.confidence:.0%}"
    title = (
        f"A model of the clips' texts gives {c.suggested!r} {c.confidence:.0%}, not its label {c.label!r}"
        + (", and the audio model doubts the label too." if c.strong else ".")
    )
    return text, title


def _card(
    r: SampleRecord,
    thumbnail: tuple[np.ndarray, float] | None,
    suspect: SuspectRecord | None = None,
    text_check: TextCheck | None = None,
) -> dict[str, Any]:
    """Turn a sample record (its thumbnail peaks and gain, its suspicion) into what one card shows."""
    badge, badge_title = suspect_badge(suspect)
    text_mark, text_title = text_badge(text_check)
    scaled, gain = thumbnail if thumbnail is not None else (np.zeros((2, 1)), 0.0)
    wave = wave_path(scaled)
    text = r.text or ""
    if len(text) > MAX_TEXT_ON_CARD:
        text = text[: MAX_TEXT_ON_CARD - 1] + "…"
    return {
        "id": r.id,
        "name": r.file_name,
        "path": r.path,
        "label": r.label or "",
        "split": r.split or "",
        "speaker": r.speaker or "",
        "duration": fmt_duration(r.duration),
        "rate": fmt_rate(r.sample_rate),
        "channels": "mono" if r.channels == 1 else f"{r.channels} ch",
        "text": text,
        "status": r.status,
        "flags": [str(f) for f in r.flags],
        "gain": fmt_db(gain) if gain >= 0.5 else "",
        "wave": wave,
        "has_peaks": bool(r.peaks),
        "suspect": badge,
        "suspect_title": badge_title,
        "text_mark": text_mark,
        "text_title": text_title,
    }
