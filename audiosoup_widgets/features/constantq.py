"""The constant-Q transform behind tonnetz, for a whole batch at once.

This module owns librosa's CQT (``librosa.cqt`` with the ``chroma_cqt`` defaults),
rebuilt so a batch shares its work: the filters that depend on a clip's tuning are
planned and cached per tuning (:func:`cqt_plan`), while resampling and the
per-octave STFTs, which do not depend on the tuning, run once for the batch
(:func:`cqt_magnitude`). :func:`cqt_cutoff` tells how high a CQT reaches, so the
engine can drop octaves above Nyquist.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.sparse
import soxr

from .. import jitcache
from .filters import filter_fft, relative_bandwidth

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["CqtPlan", "cqt_cutoff", "cqt_magnitude", "cqt_plan"]


def cqt_cutoff(sr: float, n_octaves: int, bins_per_octave: int, tuning: float) -> float:
    """Return the highest frequency (Hz) the top filter of such a CQT reaches.

    ``tuning`` is in fractions of a CQT bin.
    """
    freqs = librosa.interval_frequencies(
        n_bins=n_octaves * bins_per_octave,
        fmin=librosa.note_to_hz("C1") * 2.0 ** (tuning / bins_per_octave),
        intervals="equal",
        bins_per_octave=bins_per_octave,
    )
    _, cutoff = librosa.filters.wavelet_lengths(
        freqs=freqs,
        sr=sr,
        window="hann",
        filter_scale=1,
        gamma=0,
        alpha=relative_bandwidth(freqs),
    )
    return float(cutoff)


def _num_two_factors(x: int) -> int:
    count = 0
    while x > 0 and x % 2 == 0:
        count += 1
        x //= 2
    return count


@dataclass(frozen=True)
class CqtPlan:
    """Everything of librosa's CQT that depends on the tuning, for one tuning."""

    downsample: int
    octaves: tuple[tuple[scipy.sparse.csr_matrix, int], ...]  # (FFT basis, n_fft) per octave
    lengths: np.ndarray


@functools.lru_cache(maxsize=1024)
def cqt_plan(sr: float, tuning: float, hop_length: int, n_bins: int, bpo: int, dtype: str) -> CqtPlan:
    """Build (once per argument set) the filters of a CQT at one tuning.

    Mirrors ``librosa.vqt`` (``intervals='equal'``, ``gamma=0``, the ``chroma_cqt``
    defaults) step by step. Building these filters is ~85% of a single-clip CQT, so
    caching them per tuning is what makes a batch with per-clip tunings fast.

    Parameters
    ----------
    sr : float
    tuning : float
        In fractions of a CQT bin.
    hop_length, n_bins, bpo : int
        Hop, number of bins and bins per octave.
    dtype : str
        The complex dtype of the filters, as ``np.dtype(...).str``.
    """
    n_octaves = int(np.ceil(n_bins / bpo))
    n_filters = min(bpo, n_bins)
    fmin = librosa.note_to_hz("C1") * 2.0 ** (tuning / bpo)
    freqs = librosa.interval_frequencies(
        n_bins=n_bins, fmin=fmin, intervals="equal", bins_per_octave=bpo, sort=True
    )
    alpha = relative_bandwidth(freqs)
    _, cutoff = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0, alpha=alpha
    )
    nyquist = sr / 2.0
    count1 = max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1)
    count2 = max(0, _num_two_factors(hop_length) - n_octaves + 1)
    downsample = min(count1, count2)
    sr_ds = sr / float(2**downsample) if downsample > 0 else sr
    my_sr, my_hop = sr_ds, hop_length // 2**downsample
    octaves = []
    for i in range(n_octaves):
        sl = slice(-n_filters, None) if i == 0 else slice(-n_filters * (i + 1), -n_filters * i)
        fft_basis, n_fft = filter_fft(freqs[sl], alpha[sl], my_sr, np.dtype(dtype))
        fft_basis.data *= np.sqrt(sr_ds / my_sr)
        octaves.append((fft_basis, n_fft))
        if my_hop % 2 == 0:
            my_hop //= 2
            my_sr /= 2.0
    lengths, _ = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr_ds, window="hann", filter_scale=1, gamma=0, alpha=alpha
    )
    return CqtPlan(downsample, tuple(octaves), lengths)


def cqt_magnitude(
    y: np.ndarray, sr: float, tunings: np.ndarray, *, hop_length: int, n_bins: int, bins_per_octave: int
) -> np.ndarray:
    """``abs(librosa.cqt(y[b], tuning=tunings[b]))`` for every clip, batched.

    Parameters
    ----------
    y : np.ndarray [shape=(B, n)]
    tunings : np.ndarray [shape=(B,)]
        Tuning of each clip in fractions of a CQT bin.

    Returns
    -------
    np.ndarray [shape=(B, n_bins, t)]
    """
    dtype = np.dtype(librosa.util.dtype_r2c(y.dtype))
    plans = [cqt_plan(float(sr), float(t), hop_length, n_bins, bins_per_octave, dtype.str) for t in tunings]
    out: np.ndarray | None = None
    by_downsample: dict[int, list[int]] = {}
    for b, plan in enumerate(plans):
        by_downsample.setdefault(plan.downsample, []).append(b)
    for downsample, members in by_downsample.items():
        part = _cqt_group(
            y[members],
            [plans[b] for b in members],
            downsample=downsample,
            hop_length=hop_length,
            n_bins=n_bins,
            dtype=dtype,
        )
        if out is None:
            out = np.empty((len(plans),) + part.shape[1:], dtype=part.dtype)
        out[members] = part
    assert out is not None
    return out


def _cqt_group(
    y: np.ndarray, plans: list[CqtPlan], *, downsample: int, hop_length: int, n_bins: int, dtype: np.dtype
) -> np.ndarray:
    # Resampling and the per-octave STFTs do not depend on the tuning: do them once
    # for the batch; only the projection onto each clip's filters is per clip.
    my_y, my_hop = y, hop_length
    if downsample > 0:
        factor = 2**downsample
        my_hop //= factor
        my_y = _downsample(y, factor)
    responses = []
    for octave in range(len(plans[0].octaves)):
        by_nfft: dict[int, list[int]] = {}
        for b, plan in enumerate(plans):
            by_nfft.setdefault(plan.octaves[octave][1], []).append(b)
        rows: list[np.ndarray] = [np.empty(0)] * len(plans)
        for n_fft, members in by_nfft.items():
            spec = _stft_ones(my_y[members], n_fft, my_hop)
            for j, b in enumerate(members):
                rows[b] = plans[b].octaves[octave][0].dot(spec[j])
        response = np.stack(rows)
        responses.append(response)
        if my_hop % 2 == 0:
            my_hop //= 2
            my_y = _downsample(my_y, 2)
    # As librosa's __trim_stack: octaves are stacked from the top down.
    max_col = min(r.shape[-1] for r in responses)
    cqt = np.empty((len(plans), n_bins, max_col), dtype=dtype, order="F")
    end = n_bins
    for r in responses:
        n_oct = r.shape[-2]
        if end < n_oct:
            cqt[..., :end, :] = r[..., -end:, :max_col]
        else:
            cqt[..., end - n_oct : end, :] = r[..., :max_col]
        end -= n_oct
    cqt /= np.sqrt(np.stack([p.lengths for p in plans]))[:, :, np.newaxis]
    return np.abs(cqt)


def _stft_ones(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``librosa.stft(y, n_fft, hop_length, window="ones", pad_mode="constant")``.

    The CQT's per-octave STFT without the product by a window of ones and librosa's
    general framing, which cost more than the FFTs of these short frames.
    """
    pad = n_fft // 2
    padded = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(pad, pad)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop_length, :]
    # In float64 as librosa does: after the CQT's max- and L1-normalisation, float32
    # rounding in a quiet frame shows at the 1e-5 level of the loud ones.
    spec: np.ndarray = scipy.fft.rfft(frames.astype(np.float64), axis=-1)
    return np.swapaxes(spec, -1, -2).astype(librosa.util.dtype_r2c(y.dtype))


def _downsample(y: np.ndarray, factor: int) -> np.ndarray:
    """``librosa.resample(y, orig_sr=factor, target_sr=1, res_type="soxr_hq", scale=True)``.

    librosa calls soxr once per clip; soxr takes the clips as channels of one call,
    which gives the same values (each channel is filtered on its own) in half the time.
    """
    ratio = 1.0 / factor
    out = soxr.resample(np.ascontiguousarray(y).T, factor, 1, quality="soxr_hq").T
    out = librosa.util.fix_length(out, size=int(np.ceil(y.shape[-1] * ratio)), axis=-1)
    out /= np.sqrt(ratio)
    return np.ascontiguousarray(out, dtype=y.dtype)
