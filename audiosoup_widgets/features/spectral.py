"""Spectral features of a batch: per-clip decibels, spectral contrast and tonnetz.

Each function takes the batch's arrays (clips on axis 0) and returns what librosa
returns for each clip on its own, whatever else shares the batch: the decibel
floor (:data:`~audiosoup_widgets.features.params.TOP_DB`) is taken per clip, not
over the whole input as ``librosa.power_to_db`` would.
"""

from __future__ import annotations

import numpy as np

from .. import jitcache
from .constantq import cqt_magnitude
from .filters import tonnetz_matrices
from .params import TOP_DB

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["db_per_clip", "spectral_contrast", "tonnetz"]


def db_per_clip(power: np.ndarray) -> np.ndarray:
    """``librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80)`` clip by clip.

    librosa floors at (max - 80 dB) over the whole array, which in a batch is the
    loudest clip's max: floor each clip (axis 0) at its own max instead.

    Parameters
    ----------
    power : np.ndarray [shape=(B, rows, t)]

    Returns
    -------
    np.ndarray [shape=(B, rows, t)]
    """
    log: np.ndarray = 10.0 * np.log10(np.maximum(1e-10, power))
    np.maximum(log, log.max(axis=(-2, -1), keepdims=True) - TOP_DB, out=log)
    return log


def spectral_contrast(
    magnitude: np.ndarray, sr: float, *, n_fft: int, fmin: float, n_bands: int, quantile: float
) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=magnitude)`` for every clip, batched.

    librosa's steps, band by band, but on frames laid out along the last axis so each
    band's sort runs over contiguous memory, and with the ``power_to_db`` floor
    (80 dB under the maximum) taken per clip: librosa takes it over the whole input.

    Parameters
    ----------
    magnitude : np.ndarray [shape=(B, 1 + n_fft // 2, t)]
    sr : float
    n_fft : int
    fmin : float
        Lowest band edge in Hz.
    n_bands : int
        Number of octave bands (as planned for this sample rate).
    quantile : float
        The quantile defining peaks and valleys.

    Returns
    -------
    np.ndarray [shape=(B, n_bands + 1, t)]
    """
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    frames = np.ascontiguousarray(np.swapaxes(magnitude, -1, -2))  # (B, t, f)
    valley = np.empty(frames.shape[:-1] + (n_bands + 1,))
    peak = np.empty_like(valley)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:], strict=True)):
        # librosa's band mask is one run of bins: as a slice, without the copy.
        idx = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        lo = idx[0] - 1 if k > 0 else idx[0]
        hi = len(freq) if k == n_bands else idx[-1] + 1
        count = hi - lo
        if k < n_bands:
            hi -= 1
        q = max(int(np.rint(quantile * count)), 1)
        ordered = np.sort(frames[..., lo:hi], axis=-1)
        valley[..., k] = np.mean(ordered[..., :q], axis=-1)
        peak[..., k] = np.mean(ordered[..., -q:], axis=-1)
    contrast = db_per_clip(peak) - db_per_clip(valley)
    return np.ascontiguousarray(np.swapaxes(contrast, -1, -2))


def tonnetz(
    y: np.ndarray, sr: float, tunings: np.ndarray, *, hop_length: int, n_bins: int, bins_per_octave: int
) -> np.ndarray:
    """``tonnetz(chroma=chroma_cqt(C=|cqt|))`` for every clip, batched.

    librosa's steps with its defaults (threshold 0, max-norm chroma, then L1-norm
    before the projection). ``np.matmul`` multiplies clip by clip with the same
    matrix shapes, so a clip's values do not depend on its batch.

    Parameters
    ----------
    y : np.ndarray [shape=(B, n)]
    sr : float
    tunings : np.ndarray [shape=(B,)]
        Tuning of each clip in fractions of a CQT bin.
    hop_length, n_bins, bins_per_octave : int
        The CQT's hop, number of bins (as planned for this sample rate) and bins
        per octave.

    Returns
    -------
    np.ndarray [shape=(B, 6, t)]
    """
    cqt = cqt_magnitude(y, sr, tunings, hop_length=hop_length, n_bins=n_bins, bins_per_octave=bins_per_octave)
    cq_to_chroma, phi = tonnetz_matrices(n_bins, bins_per_octave)
    chroma = np.matmul(cq_to_chroma, cqt)
    chroma[chroma < 0.0] = 0.0
    chroma = librosa.util.normalize(chroma, norm=np.inf, axis=-2)
    tz: np.ndarray = np.matmul(phi, librosa.util.normalize(chroma, norm=1, axis=-2))
    return tz
