"""Filter banks and windows of the engine, built once and cached.

This module owns the matrices the engine multiplies spectra by: the mel and chroma
filter banks of the STFT features, one octave of constant-Q filters in the
frequency domain (as librosa builds them, with cached windows), and the chroma
folding and tonnetz projection matrices. Each is cached per argument set, since
a batch asks for the same few again and again.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse

from .. import jitcache

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = [
    "chroma_filters",
    "filter_fft",
    "hann",
    "mel_filters",
    "relative_bandwidth",
    "tonnetz_matrices",
]


@functools.lru_cache(maxsize=16)
def mel_filters(
    sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> scipy.sparse.csr_matrix:
    """``librosa.filters.mel`` as a sparse matrix (each filter is a short triangle)."""
    return scipy.sparse.csr_matrix(
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    )


@functools.lru_cache(maxsize=256)
def chroma_filters(sr: float, n_fft: int, tuning: float) -> np.ndarray:
    """``librosa.filters.chroma`` with 12 pitch classes, for one tuning."""
    basis: np.ndarray = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=12)
    return basis


def relative_bandwidth(freqs: np.ndarray) -> np.ndarray:
    """Return the bandwidth each CQT bin needs to touch its neighbours.

    As ``librosa.filters._relative_bandwidth`` (private in librosa).
    """
    bpo = np.empty_like(freqs)
    logf = np.log2(freqs)
    bpo[0] = 1 / (logf[1] - logf[0])
    bpo[-1] = 1 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
    return (2.0 ** (2 / bpo) - 1) / (2.0 ** (2 / bpo) + 1)


@functools.lru_cache(maxsize=4096)
def hann(n: int) -> np.ndarray:
    """Return a read-only Hann window of ``n`` samples, as ``librosa.filters.get_window``."""
    # librosa asks scipy for the same few hundred window lengths for every tuning.
    window: np.ndarray = librosa.filters.get_window("hann", n)
    window.flags.writeable = False
    return window


def filter_fft(
    freqs: np.ndarray, alpha: np.ndarray, sr: float, dtype: np.dtype
) -> tuple[scipy.sparse.csr_matrix, int]:
    """One octave of CQT filters in the frequency domain, as librosa builds them.

    The same arithmetic as ``librosa.filters.wavelet`` followed by librosa's
    ``__vqt_filter_fft`` and ``util.sparsify_rows(quantile=0.01)``, but with cached
    windows and a vectorised sparsification: building filters for a new tuning was
    ~90 ms, which a batch of clips with many tunings paid many times.

    Returns
    -------
    fft_basis : scipy.sparse.csr_matrix [shape=(len(freqs), n_fft // 2 + 1)]
    n_fft : int
    """
    lengths, _ = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0, alpha=alpha
    )
    n_fft = int(2.0 ** (np.ceil(np.log2(max(lengths)))))
    basis = np.zeros((len(freqs), n_fft), dtype=np.complex64)
    for row, (ilen, freq) in enumerate(zip(lengths, freqs, strict=True)):
        sig = librosa.util.phasor(np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * freq / sr)
        sig *= hann(len(sig))
        sig /= np.sum(np.abs(sig).astype(float), axis=0, keepdims=True)
        lpad = int((n_fft - len(sig)) // 2)
        basis[row, lpad : lpad + len(sig)] = sig
    basis *= lengths[:, np.newaxis] / float(n_fft)
    fft_basis = librosa.get_fftlib().fft(basis, n=n_fft, axis=1)[:, : (n_fft // 2) + 1]
    # sparsify_rows: per row, drop the smallest magnitudes that sum to 1% of the row.
    mags = np.abs(fft_basis)
    mag_sort = np.sort(mags, axis=1)
    cumulative = np.cumsum(mag_sort / np.sum(mags, axis=1, keepdims=True), axis=1)
    cut = mag_sort[np.arange(len(mags)), np.argmin(cumulative < 0.01, axis=1)]
    keep = mags >= cut[:, np.newaxis]
    keep &= fft_basis != 0  # lil_matrix stores no explicit zeros
    rows, cols = np.nonzero(keep)
    matrix = scipy.sparse.csr_matrix(
        (fft_basis[rows, cols].astype(dtype), (rows, cols)), shape=fft_basis.shape
    )
    return matrix, n_fft


@functools.lru_cache(maxsize=16)
def tonnetz_matrices(n_bins: int, bins_per_octave: int) -> tuple[np.ndarray, np.ndarray]:
    """Return librosa's chroma folding matrix and tonnetz projection.

    ``librosa.filters.cq_to_chroma`` as ``librosa.feature.chroma_cqt`` builds it, and
    ``librosa.feature.tonnetz``'s projection: fifths, minor thirds and major thirds
    as sin/cos pairs.

    Returns
    -------
    cq_to_chroma : np.ndarray [shape=(12, n_bins)]
    phi : np.ndarray [shape=(6, 12)]
    """
    cq_to_chroma = librosa.filters.cq_to_chroma(n_bins, bins_per_octave=bins_per_octave, n_chroma=12)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    angles = np.multiply.outer(scale, np.linspace(0, 12, num=12, endpoint=False))
    angles[::2] -= 0.5
    radius = np.array([1, 1, 1, 1, 0.5, 0.5])
    return cq_to_chroma, radius[:, np.newaxis] * np.cos(np.pi * angles)
