"""Per-clip tuning estimation, batched: librosa's ``estimate_tuning`` for many clips at once.

Chroma and the constant-Q transform are computed at each clip's own tuning, the
deviation from A440 that ``librosa.estimate_tuning`` finds. This module finds it
for every clip of a batch together, with librosa's steps and precision.
"""

from __future__ import annotations

import numpy as np

from .. import jitcache

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["estimate_tunings"]


def estimate_tunings(S: np.ndarray, sr: float, *, bins_per_octave: int) -> np.ndarray:
    """Per-clip ``librosa.estimate_tuning(S=S[b], sr=sr, bins_per_octave=...)``, batched.

    Follows ``librosa.piptrack`` (fmin=150 Hz, fmax=4 kHz, threshold=0.1) step by
    step and in the same floating-point precision, but only on the bins between
    fmin and fmax and only at spectral peaks: the full-size ``piptrack`` was a
    third of the engine's time.

    Parameters
    ----------
    S : np.ndarray [shape=(B, 1 + n_fft // 2, t)]
        Magnitude or power spectrogram of each clip.
    sr : float
    bins_per_octave : int

    Returns
    -------
    np.ndarray [shape=(B,)]
        Tuning of each clip in fractions of a bin; 0 where no peak is found.
    """
    n_fft = 2 * (S.shape[-2] - 1)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    band = np.flatnonzero((150.0 <= freqs) & (freqs < min(4000.0, float(sr) / 2)))
    out = np.zeros(S.shape[0])
    if band.size == 0:
        return out
    # The band never holds the first or last bin, so every stencil has both neighbours.
    lo, hi = int(band[0]), int(band[-1]) + 1
    window = S[:, lo - 1 : hi + 1, :]
    ref = 0.1 * S.max(axis=-2, keepdims=True)
    thresholded = window * (window > ref)
    mid = thresholded[:, 1:-1]
    peaks = np.nonzero((mid > thresholded[:, :-2]) & (mid >= thresholded[:, 2:]))
    clip, row, col = peaks
    x0 = window[:, 1:-1][peaks]
    below = window[:, :-2][peaks]
    above = window[:, 2:][peaks]
    # librosa's numba stencil adds the float32 neighbours in float32, then works in float64.
    a = (above + below).astype(np.float64) - 2 * x0.astype(np.float64)
    b = (above - below).astype(np.float64) / 2
    safe = np.abs(b) < np.abs(a)
    shift = np.zeros(a.shape, dtype=S.dtype)
    shift[safe] = -b[safe] / a[safe]
    gradient = (above - below) / 2.0
    mags = x0 + 0.5 * gradient * shift
    pitches = ((row + lo + shift) * float(sr) / n_fft).astype(S.dtype)
    return _pitch_tunings(pitches, mags, clip, S.shape[0], bins_per_octave=bins_per_octave)


def _pitch_tunings(
    pitches: np.ndarray, mags: np.ndarray, clip: np.ndarray, n_clips: int, *, bins_per_octave: int
) -> np.ndarray:
    """Per clip ``librosa.pitch_tuning(pitches[m >= median(m)], resolution=0.01)``, at once.

    ``clip`` (sorted) says which clip each peak belongs to. The median, the residuals
    and the histogram are librosa's, computed for every clip together: the per-clip
    calls cost more than the rest of the tuning estimate.
    """
    out = np.zeros(n_clips)
    n = np.bincount(clip, minlength=n_clips)
    if not n.any():
        return out  # librosa warns and returns 0 on silence
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    # np.median per clip: the middle of the sorted magnitudes, or the float mean of
    # the two middle ones, which (a + b) / 2 gives in the same precision.
    by_mag = mags[np.lexsort((mags, clip))]
    has = n > 0
    lo = (start + (n - 1) // 2)[has]
    hi = (start + n // 2)[has]
    median = np.zeros(n_clips, dtype=mags.dtype)
    median[has] = (by_mag[lo] + by_mag[hi]) / mags.dtype.type(2)
    keep = (mags >= median[clip]) & (pitches > 0)
    freqs, owner = pitches[keep], clip[keep]
    residual = np.mod(bins_per_octave * librosa.hz_to_octs(freqs), 1.0)
    residual[residual >= 0.5] -= 1.0
    # np.histogram over explicit edges: edge[i] <= x < edge[i + 1], the last bin closed.
    edges = np.linspace(-0.5, 0.5, 101)
    index = np.searchsorted(edges, residual.astype(np.float64), side="right") - 1
    index[index == len(edges) - 1] = len(edges) - 2
    counts = np.bincount(owner * (len(edges) - 1) + index, minlength=n_clips * (len(edges) - 1)).reshape(
        n_clips, -1
    )
    found = np.bincount(owner, minlength=n_clips) > 0
    out[found] = edges[np.argmax(counts[found], axis=1)]
    return out
