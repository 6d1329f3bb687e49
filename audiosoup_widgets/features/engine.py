"""The feature engine: every registered feature for one clip or a batch, equal to librosa.

This module owns the computation. With default :class:`FeatureParams` each feature
equals what librosa returns for that clip with its own defaults (see
:func:`compute_features`), but the work is shared and batched:

* one STFT feeds the power and mel spectrograms, spectral contrast and chroma;
* one log-mel spectrogram feeds the MFCCs, the onset envelope and the beat tracker;
* one onset envelope feeds both tempograms;
* the constant-Q transform behind tonnetz is computed for a whole batch at once,
  with each clip's own tuning, and its filters are cached per tuning.

Where librosa treats a batch jointly (tuning estimation, the ``top_db`` floor of
``power_to_db``, beat tracking of silent clips) the engine works per clip, so a clip
gets the same values whatever it is batched with.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from importlib import metadata

import numpy as np
import scipy.fft
import scipy.signal
import scipy.sparse
import soxr

from .. import jitcache
from ..errors import FeatureError
from .registry import FEATURES, get_feature

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = [
    "ENGINE_VERSION",
    "MAX_PEAK",
    "NOT_COMPUTED",
    "STATUSES",
    "FeatureParams",
    "FeatureResult",
    "compute_features",
    "compute_features_with_status",
    "feature_coords",
    "unpad",
    "warm_up",
]

ENGINE_VERSION = "2"
"""Bumped whenever the engine's values change for the same parameters."""

STATUSES: tuple[str, ...] = ("ok", "silent", "too_short", "out_of_range", "non_finite")
"""Per-clip statuses, from best to worst; a clip gets the worst that applies.

``out_of_range`` and ``non_finite`` clips are not computed (see :data:`NOT_COMPUTED`).
"""

NOT_COMPUTED: frozenset[str] = frozenset({"out_of_range", "non_finite"})
"""Statuses of clips whose features are not computed: their arrays are all NaN."""

MAX_PEAK = 2.0**31
"""Largest sample magnitude the engine analyses; a clip beyond it is ``out_of_range``.

Full scale is 1.0. ``2**31`` is the largest integer code of any PCM encoding, so a
float file that holds integer codes (a common export mistake) is still analysed;
every feature is finite up to this level, while samples such as ``1e30`` overflow
float32 powers (``inf``) and would make librosa refuse the whole batch.
"""

SILENCE_PEAK = 10.0 ** (-90.0 / 20.0)
"""Peak amplitude under which a clip counts as silent (-90 dBFS, one 16-bit step)."""

_CHUNK = 64  # clips per internal batch: big enough to amortise, small enough for caches
_LIBROSA_MINOR = ".".join(metadata.version("librosa").split(".")[:2])
_TOP_DB = 80.0  # librosa's power_to_db default, applied per clip


@dataclass(frozen=True)
class FeatureParams:
    """The tunable parameters of the engine, with librosa's defaults.

    Parameters
    ----------
    n_fft, hop_length : int
        STFT size and hop in samples (Hann window, centred frames).
    n_mels, mel_fmin, mel_fmax : int, float, float or None
        Mel filter bank; ``mel_fmax=None`` means ``sr / 2``.
    n_mfcc : int
        Number of MFCCs kept.
    contrast_fmin, n_bands, contrast_quantile : float, int, float
        Spectral contrast: lowest band edge in Hz, number of octave bands, and
        the quantile defining peaks and valleys.
    tuning : float or None
        Deviation from A440 in fractions of a semitone; None estimates it per clip
        (as librosa does for chroma and the CQT).
    cqt_n_octaves, cqt_bins_per_octave : int
        The constant-Q transform behind tonnetz (librosa's ``chroma_cqt`` defaults).
    tempo_win_length : int
        Window of both tempograms, in onset frames.
    delta_width : int
        Odd width of the delta filter, in frames.
    start_bpm, tightness : float
        Beat tracker prior tempo and tightness.
    stack_n_steps, stack_delay : int
        Memory of the beat-synchronous chroma.
    """

    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    mel_fmin: float = 0.0
    mel_fmax: float | None = None
    n_mfcc: int = 20
    contrast_fmin: float = 200.0
    n_bands: int = 6
    contrast_quantile: float = 0.02
    tuning: float | None = None
    cqt_n_octaves: int = 7
    cqt_bins_per_octave: int = 36
    tempo_win_length: int = 384
    delta_width: int = 9
    start_bpm: float = 120.0
    tightness: float = 100.0
    stack_n_steps: int = 2
    stack_delay: int = 1

    def __post_init__(self) -> None:
        # Normalise types so that 2048 and 2048.0 give the same cache key.
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            kind = int if f.type == "int" else float
            try:
                normalised = kind(value)
            except (TypeError, ValueError):
                raise FeatureError(
                    f"Parameter {f.name} must be a number, not {value!r}.", code="invalid_params"
                ) from None
            if kind is int and normalised != value:
                raise FeatureError(
                    f"Parameter {f.name} must be an integer, not {value!r}.",
                    code="invalid_params",
                )
            object.__setattr__(self, f.name, normalised)
        self._check()

    def _check(self) -> None:
        problems = []
        for name in ("n_fft", "hop_length", "n_mels", "n_mfcc", "n_bands", "cqt_n_octaves",
                     "cqt_bins_per_octave", "tempo_win_length", "stack_n_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer")
        if self.cqt_bins_per_octave % 12:
            problems.append("cqt_bins_per_octave must be a multiple of 12")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            problems.append("delta_width must be an odd integer >= 3")
        if self.stack_delay == 0:
            problems.append("stack_delay must be a non-zero integer")
        if not 0.0 < self.contrast_quantile < 1.0:
            problems.append("contrast_quantile must lie strictly between 0 and 1")
        if self.contrast_fmin <= 0:
            problems.append("contrast_fmin must be positive")
        if self.mel_fmin < 0 or (self.mel_fmax is not None and self.mel_fmax <= self.mel_fmin):
            problems.append("mel_fmin must be >= 0 and below mel_fmax")
        if self.start_bpm <= 0 or self.tightness <= 0:
            problems.append("start_bpm and tightness must be positive")
        if self.tuning is not None and not -0.5 <= self.tuning <= 0.5:
            problems.append("tuning must lie between -0.5 and 0.5 semitones")
        if problems:
            raise FeatureError("Invalid feature parameters: " + "; ".join(problems) + ".",
                               code="invalid_params")

    def as_dict(self) -> dict[str, int | float | None]:
        """Return every parameter by name (JSON-serialisable)."""
        return asdict(self)

    def key_for(self, feature_id: str) -> str:
        """Return a short stable hash of what determines one feature's values.

        The hash covers the engine version, librosa's major.minor version and
        exactly the parameters listed in the feature's
        :attr:`~audiosoup_widgets.features.registry.FeatureSpec.params`; not the
        sample rate, which a clip fixes.

        Parameters
        ----------
        feature_id : str
            A registered feature id.

        Returns
        -------
        str
            16 hexadecimal characters.
        """
        spec = get_feature(feature_id)
        material = {"engine": ENGINE_VERSION, "librosa": _LIBROSA_MINOR}
        material.update({name: getattr(self, name) for name in spec.params})
        blob = json.dumps(material, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FeatureResult:
    """Features of a batch with a status per clip.

    Unpacks like a ``(values, status)`` tuple; ``adaptations`` is by name only.

    Attributes
    ----------
    values : dict of str to numpy.ndarray
        Feature id to array, shaped as :func:`compute_features` returns them.
        Arrays of clips whose status is in :data:`NOT_COMPUTED` are all NaN.
    status : tuple of str
        One entry of :data:`STATUSES` per clip (one entry for a single clip).
    adaptations : dict of str to dict
        Per feature id, the parameters the engine changed to make it computable
        at this sample rate or length (for example ``{'spectral_contrast':
        {'n_bands': 5}}`` at 8 kHz), with the reason under ``'reason'``.
    """

    values: dict[str, np.ndarray]
    status: tuple[str, ...]
    adaptations: dict[str, dict[str, object]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[object]:
        """Unpack as ``values, status = compute_features_with_status(...)``."""
        return iter((self.values, self.status))


# -- Adaptation to sample rate and length ------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    """The parameters actually used for one (sample rate, clip length)."""

    n_frames: int
    n_bands: int
    cqt_n_octaves: int
    delta_width: int
    delta_mode: str
    adaptations: dict[str, dict[str, object]]


def _cqt_cutoff(sr: float, n_octaves: int, bins_per_octave: int, tuning: float) -> float:
    freqs = librosa.interval_frequencies(
        n_bins=n_octaves * bins_per_octave,
        fmin=librosa.note_to_hz("C1") * 2.0 ** (tuning / bins_per_octave),
        intervals="equal", bins_per_octave=bins_per_octave,
    )
    _, cutoff = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0, alpha=_relative_bw(freqs)
    )
    return float(cutoff)


@functools.lru_cache(maxsize=128)
def _plan(sr: float, n_samples: int, params: FeatureParams) -> _Plan:
    adaptations: dict[str, dict[str, object]] = {}
    nyquist = sr / 2.0

    # librosa refuses a contrast band starting at or above Nyquist: drop top bands,
    # keeping every remaining band at the same frequencies as at higher rates.
    n_bands = params.n_bands
    while n_bands > 1 and params.contrast_fmin * 2.0 ** (n_bands - 1) >= nyquist:
        n_bands -= 1
    if params.contrast_fmin >= nyquist:
        raise FeatureError(
            f"Spectral contrast cannot start at {params.contrast_fmin:g} Hz with a "
            f"{sr:g} Hz sample rate.", code="invalid_params",
        )
    if n_bands != params.n_bands:
        adaptations["spectral_contrast"] = {
            "n_bands": n_bands,
            "reason": f"bands above {nyquist:g} Hz (half the sample rate) do not exist",
        }

    # The CQT's top filter must stay under Nyquist (at 8 kHz, 7 octaves above C1 do
    # not): drop top octaves.  Decided for the worst tuning so a batch keeps one shape.
    bpo = params.cqt_bins_per_octave
    # (an estimated tuning is within half a CQT bin; an explicit one is in semitones)
    worst = 0.5 if params.tuning is None else params.tuning * bpo / 12
    n_octaves = params.cqt_n_octaves
    while n_octaves > 1 and _cqt_cutoff(sr, n_octaves, bpo, worst) > nyquist:
        n_octaves -= 1
    if _cqt_cutoff(sr, n_octaves, bpo, worst) > nyquist:
        raise FeatureError(f"Sample rate {sr:g} Hz is too low for a constant-Q transform.",
                           code="invalid_params")
    if n_octaves != params.cqt_n_octaves:
        adaptations["tonnetz"] = {
            "cqt_n_octaves": n_octaves,
            "reason": f"the top CQT octave would reach above {nyquist:g} Hz (half the sample "
                      "rate)",
        }

    # Deltas need width <= frames in librosa's 'interp' mode: narrow the filter on
    # short clips, and below 3 frames (no odd width fits) extend edges ('nearest').
    n_frames = 1 + n_samples // params.hop_length
    width, mode = params.delta_width, "interp"
    if n_frames < width:
        if n_frames >= 3:
            width = n_frames if n_frames % 2 else n_frames - 1
        else:
            width, mode = 3, "nearest"
        change = {"delta_width": width, "delta_mode": mode,
                  "reason": f"the clip has only {n_frames} frames"}
        adaptations["mfcc_delta"] = dict(change)
        adaptations["mfcc_delta2"] = dict(change)
    return _Plan(n_frames, n_bands, n_octaves, width, mode, adaptations)


# -- Cached filter banks ------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _mel_filters(sr: float, n_fft: int, n_mels: int, fmin: float,
                 fmax: float | None) -> scipy.sparse.csr_matrix:
    return scipy.sparse.csr_matrix(
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax))


@functools.lru_cache(maxsize=256)
def _chroma_filters(sr: float, n_fft: int, tuning: float) -> np.ndarray:
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=12)


def _relative_bw(freqs: np.ndarray) -> np.ndarray:
    # As librosa.filters._relative_bandwidth (private): the bandwidth each CQT bin
    # needs to touch its neighbours.
    bpo = np.empty_like(freqs)
    logf = np.log2(freqs)
    bpo[0] = 1 / (logf[1] - logf[0])
    bpo[-1] = 1 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
    return (2.0 ** (2 / bpo) - 1) / (2.0 ** (2 / bpo) + 1)


def _num_two_factors(x: int) -> int:
    count = 0
    while x > 0 and x % 2 == 0:
        count += 1
        x //= 2
    return count


@functools.lru_cache(maxsize=4096)
def _hann(n: int) -> np.ndarray:
    # librosa asks scipy for the same few hundred window lengths for every tuning.
    window = librosa.filters.get_window("hann", n)
    window.flags.writeable = False
    return window


def _filter_fft(freqs: np.ndarray, alpha: np.ndarray, sr: float,
                dtype: np.dtype) -> tuple[scipy.sparse.csr_matrix, int]:
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
    lengths, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann",
                                                 filter_scale=1, gamma=0, alpha=alpha)
    n_fft = int(2.0 ** (np.ceil(np.log2(max(lengths)))))
    basis = np.zeros((len(freqs), n_fft), dtype=np.complex64)
    for row, (ilen, freq) in enumerate(zip(lengths, freqs, strict=True)):
        sig = librosa.util.phasor(
            np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * freq / sr
        )
        sig *= _hann(len(sig))
        sig /= np.sum(np.abs(sig).astype(float), axis=0, keepdims=True)
        lpad = int((n_fft - len(sig)) // 2)
        basis[row, lpad:lpad + len(sig)] = sig
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


@dataclass(frozen=True)
class _CqtPlan:
    """Everything of librosa's CQT that depends on the tuning, for one tuning."""

    downsample: int
    octaves: tuple[tuple[scipy.sparse.csr_matrix, int], ...]  # (FFT basis, n_fft) per octave
    lengths: np.ndarray


@functools.lru_cache(maxsize=1024)
def _cqt_plan(sr: float, tuning: float, hop_length: int, n_bins: int, bpo: int,
              dtype: str) -> _CqtPlan:
    # Mirrors librosa.vqt (intervals='equal', gamma=0, the chroma_cqt defaults) step by
    # step. Building these filters is ~85% of a single-clip CQT, so caching them per
    # tuning is what makes a batch with per-clip tunings fast.
    n_octaves = int(np.ceil(n_bins / bpo))
    n_filters = min(bpo, n_bins)
    fmin = librosa.note_to_hz("C1") * 2.0 ** (tuning / bpo)
    freqs = librosa.interval_frequencies(n_bins=n_bins, fmin=fmin, intervals="equal",
                                         bins_per_octave=bpo, sort=True)
    alpha = _relative_bw(freqs)
    _, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann",
                                                filter_scale=1, gamma=0, alpha=alpha)
    nyquist = sr / 2.0
    count1 = max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1)
    count2 = max(0, _num_two_factors(hop_length) - n_octaves + 1)
    downsample = min(count1, count2)
    sr_ds = sr / float(2**downsample) if downsample > 0 else sr
    my_sr, my_hop = sr_ds, hop_length // 2**downsample
    octaves = []
    for i in range(n_octaves):
        sl = slice(-n_filters, None) if i == 0 else slice(-n_filters * (i + 1), -n_filters * i)
        fft_basis, n_fft = _filter_fft(freqs[sl], alpha[sl], my_sr, np.dtype(dtype))
        fft_basis.data *= np.sqrt(sr_ds / my_sr)
        octaves.append((fft_basis, n_fft))
        if my_hop % 2 == 0:
            my_hop //= 2
            my_sr /= 2.0
    lengths, _ = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr_ds, window="hann",
                                                 filter_scale=1, gamma=0, alpha=alpha)
    return _CqtPlan(downsample, tuple(octaves), lengths)


def _cqt_magnitude(y: np.ndarray, sr: float, tunings: np.ndarray, *, hop_length: int,
                   n_bins: int, bins_per_octave: int) -> np.ndarray:
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
    plans = [_cqt_plan(float(sr), float(t), hop_length, n_bins, bins_per_octave, dtype.str)
             for t in tunings]
    out: np.ndarray | None = None
    by_downsample: dict[int, list[int]] = {}
    for b, plan in enumerate(plans):
        by_downsample.setdefault(plan.downsample, []).append(b)
    for downsample, members in by_downsample.items():
        part = _cqt_group(y[members], [plans[b] for b in members], downsample=downsample,
                          hop_length=hop_length, n_bins=n_bins, dtype=dtype)
        if out is None:
            out = np.empty((len(plans),) + part.shape[1:], dtype=part.dtype)
        out[members] = part
    assert out is not None
    return out


def _cqt_group(y: np.ndarray, plans: list[_CqtPlan], *, downsample: int, hop_length: int,
               n_bins: int, dtype: np.dtype) -> np.ndarray:
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
            cqt[..., end - n_oct:end, :] = r[..., :max_col]
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
    spec = scipy.fft.rfft(frames.astype(np.float64), axis=-1)
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


def _estimate_tunings(S: np.ndarray, sr: float, *, bins_per_octave: int) -> np.ndarray:
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
    window = S[:, lo - 1:hi + 1, :]
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


def _pitch_tunings(pitches: np.ndarray, mags: np.ndarray, clip: np.ndarray, n_clips: int, *,
                   bins_per_octave: int) -> np.ndarray:
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
    counts = np.bincount(owner * (len(edges) - 1) + index,
                         minlength=n_clips * (len(edges) - 1)).reshape(n_clips, -1)
    found = np.bincount(owner, minlength=n_clips) > 0
    out[found] = edges[np.argmax(counts[found], axis=1)]
    return out


# -- Shared intermediates of one batch -----------------------------------------------------
class _Batch:
    """Lazily computed intermediates of one batch of equal-length clips, shape (B, n)."""

    def __init__(self, y: np.ndarray, sr: float, params: FeatureParams, plan: _Plan) -> None:
        self.y = y
        self.sr = sr
        self.p = params
        self.plan = plan

    @cached_property
    def stft(self) -> np.ndarray:
        return librosa.stft(self.y, n_fft=self.p.n_fft, hop_length=self.p.hop_length)

    @cached_property
    def magnitude(self) -> np.ndarray:
        return np.abs(self.stft)

    @cached_property
    def power(self) -> np.ndarray:
        return self.magnitude**2

    @cached_property
    def mel(self) -> np.ndarray:
        # librosa.feature.melspectrogram(S=power) is one einsum over the whole batch,
        # and BLAS may round a clip differently depending on how many clips share the
        # call. Each mel filter is a short triangle, so a sparse product (which
        # computes every output column on its own) does the same sums without the
        # ~98% of multiplications by zero.
        basis = _mel_filters(float(self.sr), self.p.n_fft, self.p.n_mels, self.p.mel_fmin,
                             self.p.mel_fmax)
        power = self.power
        b, f, t = power.shape
        columns = np.moveaxis(power, 0, 1).reshape(f, b * t)
        return np.ascontiguousarray(np.moveaxis(basis.dot(columns).reshape(-1, b, t), 1, 0))

    @cached_property
    def log_mel(self) -> np.ndarray:
        return _db_per_clip(self.mel)

    @cached_property
    def onset(self) -> np.ndarray:
        return librosa.onset.onset_strength(
            S=self.log_mel, sr=self.sr, n_fft=self.p.n_fft, hop_length=self.p.hop_length
        )

    @cached_property
    def onset_median(self) -> np.ndarray:
        # beat_track(y=...) builds its envelope with a median over mel bands.
        return librosa.onset.onset_strength(
            S=self.log_mel, sr=self.sr, n_fft=self.p.n_fft, hop_length=self.p.hop_length,
            aggregate=np.median,
        )

    @cached_property
    def mfcc(self) -> np.ndarray:
        return librosa.feature.mfcc(S=self.log_mel, n_mfcc=self.p.n_mfcc)

    @cached_property
    def chroma(self) -> np.ndarray:
        if self.p.tuning is not None:
            tunings = np.full(len(self.y), self.p.tuning)
        else:
            tunings = _estimate_tunings(self.power, self.sr, bins_per_octave=12)
        # One clip at a time, as librosa.feature.chroma_stft does it: a batched einsum
        # may sum in another order depending on the batch size.
        raw = np.stack([
            _chroma_filters(float(self.sr), self.p.n_fft, float(tuning)) @ power
            for tuning, power in zip(tunings, self.power, strict=True)
        ])
        return librosa.util.normalize(raw, norm=np.inf, axis=-2)

    @cached_property
    def cqt_tunings(self) -> np.ndarray:
        bpo = self.p.cqt_bins_per_octave
        if self.p.tuning is not None:
            return np.full(len(self.y), self.p.tuning * bpo / 12)
        # librosa estimates the CQT's tuning from a 2048/512 magnitude STFT whatever
        # the other parameters: reuse ours when it is that one.
        if self.p.n_fft == 2048 and self.p.hop_length == 512:
            magnitude = self.magnitude
        else:
            magnitude = np.abs(librosa.stft(self.y, n_fft=2048, hop_length=512))
        return _estimate_tunings(magnitude, self.sr, bins_per_octave=bpo)

    @cached_property
    def beats(self) -> list[np.ndarray]:
        envelope = self.onset_median
        # beat_track returns no beats for an all-zero envelope, but only when the whole
        # batch is zero: track the active clips together and give silent ones none.
        active = np.flatnonzero(envelope.any(axis=-1))
        beats = [np.array([], dtype=int) for _ in range(len(envelope))]
        if active.size:
            from .tempo import beat_tempo

            # librosa's tempo estimate builds an 8-s-window tempogram whole: beyond a
            # size (long or high-rate clips) estimate it in blocks, the same way.
            bpm = beat_tempo(envelope[active], sr=self.sr, hop_length=self.p.hop_length,
                             start_bpm=self.p.start_bpm)
            _, dense = librosa.beat.beat_track(
                onset_envelope=envelope[active], sr=self.sr, hop_length=self.p.hop_length,
                start_bpm=self.p.start_bpm, tightness=self.p.tightness, bpm=bpm,
                sparse=False,
            )
            for j, b in enumerate(active):
                beats[b] = np.flatnonzero(dense[j])
        return beats


def _contrast(batch: _Batch) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=magnitude)`` for every clip, batched.

    librosa's steps, band by band, but on frames laid out along the last axis so each
    band's sort runs over contiguous memory, and with the ``power_to_db`` floor
    (80 dB under the maximum) taken per clip: librosa takes it over the whole input.
    """
    p, sr = batch.p, batch.sr
    n_bands = batch.plan.n_bands
    freq = librosa.fft_frequencies(sr=sr, n_fft=p.n_fft)
    octa = np.zeros(n_bands + 2)
    octa[1:] = p.contrast_fmin * (2.0 ** np.arange(0, n_bands + 1))
    frames = np.ascontiguousarray(np.swapaxes(batch.magnitude, -1, -2))  # (B, t, f)
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
        q = max(int(np.rint(p.contrast_quantile * count)), 1)
        ordered = np.sort(frames[..., lo:hi], axis=-1)
        valley[..., k] = np.mean(ordered[..., :q], axis=-1)
        peak[..., k] = np.mean(ordered[..., -q:], axis=-1)
    contrast = _db_per_clip(peak) - _db_per_clip(valley)
    return np.ascontiguousarray(np.swapaxes(contrast, -1, -2))


def _db_per_clip(power: np.ndarray) -> np.ndarray:
    # librosa.power_to_db(ref=1.0, amin=1e-10, top_db=80) floors at (max - 80 dB) over
    # the whole array, which in a batch is the loudest clip's max: floor each clip
    # (axis 0) at its own max instead.
    log = 10.0 * np.log10(np.maximum(1e-10, power))
    np.maximum(log, log.max(axis=(-2, -1), keepdims=True) - _TOP_DB, out=log)
    return log


def _tonnetz(batch: _Batch) -> np.ndarray:
    """``tonnetz(chroma=chroma_cqt(C=|cqt|))`` for every clip, batched.

    librosa's steps with its defaults (threshold 0, max-norm chroma, then L1-norm
    before the projection). ``np.matmul`` multiplies clip by clip with the same
    matrix shapes, so a clip's values do not depend on its batch.
    """
    bpo = batch.p.cqt_bins_per_octave
    n_bins = batch.plan.cqt_n_octaves * bpo
    cqt = _cqt_magnitude(batch.y, batch.sr, batch.cqt_tunings, hop_length=batch.p.hop_length,
                         n_bins=n_bins, bins_per_octave=bpo)
    cq_to_chroma, phi = _tonnetz_matrices(n_bins, bpo)
    chroma = np.matmul(cq_to_chroma, cqt)
    chroma[chroma < 0.0] = 0.0
    chroma = librosa.util.normalize(chroma, norm=np.inf, axis=-2)
    return np.matmul(phi, librosa.util.normalize(chroma, norm=1, axis=-2))


@functools.lru_cache(maxsize=16)
def _tonnetz_matrices(n_bins: int, bins_per_octave: int) -> tuple[np.ndarray, np.ndarray]:
    # librosa.feature.chroma_cqt's folding matrix and librosa.feature.tonnetz's
    # projection (fifths, minor thirds, major thirds as sin/cos pairs).
    cq_to_chroma = librosa.filters.cq_to_chroma(n_bins, bins_per_octave=bins_per_octave,
                                                n_chroma=12)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    angles = np.multiply.outer(scale, np.linspace(0, 12, num=12, endpoint=False))
    angles[::2] -= 0.5
    radius = np.array([1, 1, 1, 1, 0.5, 0.5])
    return cq_to_chroma, radius[:, np.newaxis] * np.cos(np.pi * angles)


def _tempogram(envelope: np.ndarray, win_length: int, sr: float, hop_length: int) -> np.ndarray:
    """``librosa.feature.tempogram(onset_envelope=envelope, win_length=...)``, batched.

    librosa pads the envelope with ``np.pad(mode="linear_ramp")``, which on a batch
    rounds every row differently as soon as one row's edge value is 0: pad row by
    row here, then let librosa frame, autocorrelate and normalise.
    """
    n = envelope.shape[-1]
    half = win_length // 2
    ramp = np.arange(half, dtype=envelope.dtype)
    left = ramp * (envelope[..., :1] / half)
    right = (ramp * (envelope[..., -1:] / half))[..., ::-1]
    padded = np.concatenate([left, envelope, right], axis=-1)
    return librosa.feature.tempogram(onset_envelope=padded, sr=sr, hop_length=hop_length,
                                     win_length=win_length, center=False)[..., :n]


def _delta(batch: _Batch, order: int) -> np.ndarray:
    return librosa.feature.delta(batch.mfcc, width=batch.plan.delta_width, order=order,
                                 mode=batch.plan.delta_mode)


def _stack_memory(batch: _Batch) -> np.ndarray:
    # With no beats librosa's sync() takes the empty index list for a list of slices
    # and returns no columns, which stack_memory refuses: use one segment instead
    # (frame 0 is always a segment boundary, so this is what sync does with beats).
    n_steps, delay = batch.p.stack_n_steps, batch.p.stack_delay
    stacks = []
    for chroma, beats in zip(batch.chroma, batch.beats, strict=True):
        if delay > 0:
            stacks.append(_stack(_sync_median(chroma, beats), n_steps, delay))
        else:  # librosa's edge handling for non-causal stacking
            stacks.append(librosa.feature.stack_memory(
                librosa.util.sync(chroma, beats.tolist() or [0], aggregate=np.median),
                n_steps=n_steps, delay=delay))
    return _pad_stack(stacks)


def _sync_median(data: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``librosa.util.sync(data, beats, aggregate=np.median)`` without its generic checks.

    The segments are librosa's: frame 0, the beats, and the end, deduplicated.
    """
    n = data.shape[-1]
    bounds = np.unique(np.clip(np.concatenate([[0, n], beats]), 0, n)).astype(int)
    out = np.empty(data.shape[:-1] + (len(bounds) - 1,), dtype=data.dtype)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        out[..., i] = np.median(data[..., a:b], axis=-1)
    return out


def _stack(data: np.ndarray, n_steps: int, delay: int) -> np.ndarray:
    """``librosa.feature.stack_memory(data, n_steps, delay)`` for ``delay > 0``.

    Step ``k`` holds the data ``k * delay`` frames earlier, zeros before the start.
    """
    d, t = data.shape[-2], data.shape[-1]
    out = np.zeros(data.shape[:-2] + (d * n_steps, t), dtype=data.dtype)
    for k in range(n_steps):
        shift = k * delay
        if shift < t:
            out[..., k * d:(k + 1) * d, shift:] = data[..., :t - shift]
    return out


def _pad_stack(arrays: list[np.ndarray]) -> np.ndarray:
    # Clips have different numbers of beats: pad on the right with all-NaN columns.
    width = max(a.shape[-1] for a in arrays)
    out = np.full((len(arrays),) + arrays[0].shape[:-1] + (width,), np.nan,
                  dtype=np.result_type(arrays[0].dtype, np.float32))
    for b, a in enumerate(arrays):
        out[b, ..., : a.shape[-1]] = a
    return out


_COMPUTE: dict[str, Callable[[_Batch], np.ndarray]] = {
    "mel_spectrogram": lambda b: b.mel,
    "power_spectrogram": lambda b: b.power,
    "spectral_contrast": _contrast,
    "chroma": lambda b: b.chroma,
    "tonnetz": _tonnetz,
    "onset_strength": lambda b: b.onset,
    "tempogram": lambda b: _tempogram(b.onset, b.p.tempo_win_length, b.sr, b.p.hop_length),
    "fourier_tempogram": lambda b: np.abs(librosa.feature.fourier_tempogram(
        onset_envelope=b.onset, sr=b.sr, hop_length=b.p.hop_length,
        win_length=b.p.tempo_win_length)),
    "mfcc": lambda b: b.mfcc,
    "mfcc_delta": lambda b: _delta(b, 1),
    "mfcc_delta2": lambda b: _delta(b, 2),
    "stack_memory": _stack_memory,
}
RAGGED = frozenset({"stack_memory"})
"""Features whose clips differ in width; a batch pads them with all-NaN columns."""
assert set(_COMPUTE) == set(FEATURES), "every registered feature needs a computation"


class _Quiet:
    """Silence warnings while any engine computation runs, then restore the filters.

    librosa warns on legitimate inputs (a 1-s clip in the CQT's low octaves, a clip
    shorter than the FFT); statuses report what matters. ``catch_warnings`` alone is
    not thread-safe: two threads interleaving enter/exit can restore each other's
    state and leave every warning ignored for good. Here the first computation to
    start saves the filters and the last to finish restores them, under a lock.
    While any computation runs, warnings from other threads are hidden too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: warnings.catch_warnings | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved = warnings.catch_warnings()
                self._saved.__enter__()
                warnings.simplefilter("ignore")
            self._depth += 1
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore",
                             under="ignore"):
                yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    self._saved.__exit__(None, None, None)
                    self._saved = None


_quiet = _Quiet()


# -- Public API ---------------------------------------------------------------------------
def _as_batch(y: object) -> tuple[np.ndarray, bool]:
    array = np.asarray(y)
    if not np.issubdtype(array.dtype, np.floating):
        raise FeatureError(
            f"Audio must be floating-point samples, not {array.dtype}.", code="invalid_audio"
        )
    if array.ndim == 1:
        return array[np.newaxis], True
    if array.ndim == 2:
        return array, False
    raise FeatureError(
        f"Audio must have shape (n,) or (clips, n), not {array.shape}.", code="invalid_audio"
    )


def _statuses(batch: np.ndarray, n_fft: int) -> list[str]:
    finite = np.isfinite(batch).all(axis=-1)
    peak = np.abs(np.where(np.isfinite(batch), batch, 0.0)).max(axis=-1, initial=0.0)
    out = []
    for b in range(len(batch)):
        if not finite[b]:
            out.append("non_finite")
        elif peak[b] > MAX_PEAK:
            out.append("out_of_range")
        elif batch.shape[-1] < n_fft:
            out.append("too_short")
        elif peak[b] < SILENCE_PEAK:
            out.append("silent")
        else:
            out.append("ok")
    return out


def _names(names: Iterable[str] | str | None) -> list[str]:
    if names is None:
        return list(FEATURES)
    if isinstance(names, str):
        names = [names]
    return [get_feature(name).id for name in dict.fromkeys(names)]


def _compute(batch: np.ndarray, sr: float, names: list[str], params: FeatureParams,
             plan: _Plan) -> dict[str, np.ndarray]:
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with _quiet():
        for start in range(0, len(batch), _CHUNK):
            intermediates = _Batch(batch[start:start + _CHUNK], sr, params, plan)
            for name in names:
                chunks[name].append(_COMPUTE[name](intermediates))
    out = {}
    for name, parts in chunks.items():
        if name in RAGGED and len(parts) > 1:
            width = max(p.shape[-1] for p in parts)
            parts = [np.pad(p, [(0, 0)] * (p.ndim - 1) + [(0, width - p.shape[-1])],
                            constant_values=np.nan) for p in parts]
        out[name] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return out


def compute_features_with_status(
    y: np.ndarray,
    sr: float,
    names: Iterable[str] | str | None = None,
    *,
    params: FeatureParams | None = None,
) -> FeatureResult:
    """Compute features and say, per clip, whether they can be trusted.

    Never raises for a bad clip: silent and too-short clips are computed as librosa
    would (without warnings) and flagged; non-finite clips (NaN or inf samples) and
    clips with samples beyond :data:`MAX_PEAK` (``out_of_range``) are not computed
    and their arrays are all NaN. Other clips are unaffected.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (B, n)]
        One clip, or a batch of equal-length clips, as floating-point samples.
    sr : float
        Sample rate in Hz (8 kHz to 48 kHz tested).
    names : str or iterable of str, optional
        Feature ids to compute; all registered features by default.
    params : FeatureParams, optional
        Parameters; librosa's defaults by default.

    Returns
    -------
    FeatureResult
        ``values`` as :func:`compute_features` returns them, ``status`` with one
        entry of :data:`STATUSES` per clip, and the ``adaptations`` made.

    Raises
    ------
    FeatureError
        ``unknown_feature``, ``invalid_audio`` (not float, wrong shape, no samples)
        or ``invalid_params``.
    """
    params = params or FeatureParams()
    wanted = _names(names)
    batch, single = _as_batch(y)
    if batch.shape[-1] == 0:
        raise FeatureError("The clip has no samples.", code="invalid_audio")
    try:
        rate = float(sr)
    except (TypeError, ValueError):
        rate = float("nan")
    if not np.isfinite(rate) or rate <= 0:
        raise FeatureError(f"Sample rate must be positive, not {sr!r}.", code="invalid_audio")
    status = _statuses(batch, params.n_fft)
    bad = [b for b, s in enumerate(status) if s in NOT_COMPUTED]
    if bad:
        # Compute zeros in their place (no leakage between clips) and blank them after.
        batch = batch.copy()
        batch[bad] = 0.0
    elif len(batch) == 0:
        batch = np.zeros((1, batch.shape[-1]), dtype=batch.dtype)
    plan = _plan(rate, batch.shape[-1], params)
    values = _compute(batch, rate, wanted, params, plan)
    if len(status) == 0:
        values = {name: v[:0] for name, v in values.items()}
    for name, value in values.items():
        if bad:
            if not np.issubdtype(value.dtype, np.floating):
                value = value.astype(np.float32)
            value[bad] = np.nan
        values[name] = value[0] if single else value
    adaptations = {k: dict(v) for k, v in plan.adaptations.items() if k in wanted}
    return FeatureResult(values=values, status=tuple(status), adaptations=adaptations)


def compute_features(
    y: np.ndarray,
    sr: float,
    names: Iterable[str] | str | None = None,
    *,
    params: FeatureParams | None = None,
) -> dict[str, np.ndarray]:
    """Compute audio features of one clip or a batch, equal to librosa's.

    With default ``params`` each value equals (to float rounding) librosa with its
    defaults on that clip:

    ==================  =====================================================
    mel_spectrogram     ``librosa.feature.melspectrogram(y=y, sr=sr)``
    power_spectrogram   ``abs(librosa.stft(y)) ** 2``
    spectral_contrast   ``librosa.feature.spectral_contrast(y=y, sr=sr)``
    chroma              ``librosa.feature.chroma_stft(y=y, sr=sr)``
    tonnetz             ``librosa.feature.tonnetz(y=y, sr=sr)``
    onset_strength      ``librosa.onset.onset_strength(y=y, sr=sr)``
    tempogram           ``librosa.feature.tempogram(y=y, sr=sr)``
    fourier_tempogram   ``abs(librosa.feature.fourier_tempogram(y=y, sr=sr))``
    mfcc                ``librosa.feature.mfcc(y=y, sr=sr)``
    mfcc_delta          ``librosa.feature.delta(mfcc)``
    mfcc_delta2         ``librosa.feature.delta(mfcc, order=2)``
    stack_memory        ``librosa.feature.stack_memory(librosa.util.sync(chroma,
                        beats, aggregate=np.median))`` with ``beats`` from
                        ``librosa.beat.beat_track(y=y, sr=sr)``
    ==================  =====================================================

    Values do not depend on what a clip is batched with (bit for bit). On silence
    the values are librosa's, computed without warnings; a clip where the beat
    tracker finds no beat gets one segment for ``stack_memory`` (librosa's ``sync``
    would return no column and ``stack_memory`` would raise).

    except where librosa would refuse the input, in which case the engine adapts
    and records it in :attr:`FeatureResult.adaptations`: fewer contrast bands or
    CQT octaves below 16 kHz, and a narrower delta filter on clips of fewer than
    9 frames (a width of the largest odd number of frames, or ``mode='nearest'``
    below 3 frames).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (B, n)]
        One clip, or a batch of equal-length clips, as floating-point samples.
    sr : float
        Sample rate in Hz.
    names : str or iterable of str, optional
        Feature ids to compute; all registered features by default.
    params : FeatureParams, optional
        Parameters; librosa's defaults by default.

    Returns
    -------
    dict of str to np.ndarray
        Per feature id, shape ``(rows, frames)`` for one clip (``(frames,)`` for
        ``onset_strength``), with a leading batch axis ``B`` for a batch.
        ``stack_memory`` has one column per beat segment; in a batch, clips with
        fewer segments are padded on the right with all-NaN columns (see
        :func:`unpad`).

    Raises
    ------
    FeatureError
        ``non_finite`` if any clip holds NaN or inf samples, ``out_of_range`` if
        any clip has samples beyond :data:`MAX_PEAK` (use
        :func:`compute_features_with_status` to compute the others),
        ``unknown_feature``, ``invalid_audio`` or ``invalid_params``.
    """
    result = compute_features_with_status(y, sr, names, params=params)
    bad = [b for b, s in enumerate(result.status) if s == "non_finite"]
    if bad:
        where = "The clip contains" if np.ndim(y) == 1 else f"Clips {bad[:10]} contain"
        raise FeatureError(f"{where} NaN or infinite samples; features not computed.",
                           code="non_finite")
    huge = [b for b, s in enumerate(result.status) if s == "out_of_range"]
    if huge:
        where = "The clip has" if np.ndim(y) == 1 else f"Clips {huge[:10]} have"
        raise FeatureError(f"{where} samples beyond {MAX_PEAK:.3g}, far above full scale "
                           "(1.0); features not computed.", code="out_of_range")
    return result.values


def unpad(values: np.ndarray) -> np.ndarray:
    """Drop the all-NaN padding columns of one clip's ragged feature.

    Parameters
    ----------
    values : np.ndarray [shape=(rows, frames)]
        One clip's ``stack_memory`` from a batch.

    Returns
    -------
    np.ndarray [shape=(rows, frames')]
    """
    keep = ~np.isnan(values).all(axis=tuple(range(values.ndim - 1)))
    if not keep.any():
        return values
    return values[..., : int(np.flatnonzero(keep)[-1]) + 1]


def feature_coords(
    feature_id: str, *, sr: float, n_frames: int, params: FeatureParams | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Return the coordinates of a feature's rows and columns, for axes.

    Parameters
    ----------
    feature_id : str
        A registered feature id.
    sr : float
        Sample rate in Hz.
    n_frames : int
        Number of columns of the feature.
    params : FeatureParams, optional

    Returns
    -------
    rows : np.ndarray [shape=(rows,)] or None
        Row positions in the unit of the spec's ``y_axis`` (Hz, BPM, index;
        lower band edges for spectral contrast); None for a line feature.
        The first tempogram row (lag 0) is ``inf`` BPM.
    columns : np.ndarray [shape=(n_frames,)]
        Frame centres in seconds, or beat-segment indices for ``stack_memory``.
    """
    spec = get_feature(feature_id)
    p = params or FeatureParams()
    plan = _plan(float(sr), p.n_fft, p)
    columns = librosa.frames_to_time(np.arange(n_frames), sr=sr, hop_length=p.hop_length)
    rows: dict[str, Callable[[], np.ndarray | None]] = {
        "mel_spectrogram": lambda: librosa.mel_frequencies(
            n_mels=p.n_mels, fmin=p.mel_fmin, fmax=p.mel_fmax or sr / 2.0),
        "power_spectrogram": lambda: librosa.fft_frequencies(sr=sr, n_fft=p.n_fft),
        "spectral_contrast": lambda: np.concatenate(
            ([0.0], p.contrast_fmin * 2.0 ** np.arange(plan.n_bands))),
        "tempogram": lambda: librosa.tempo_frequencies(
            p.tempo_win_length, sr=sr, hop_length=p.hop_length),
        "fourier_tempogram": lambda: librosa.fourier_tempo_frequencies(
            sr=sr, win_length=p.tempo_win_length, hop_length=p.hop_length),
        "onset_strength": lambda: None,
        "mfcc": lambda: np.arange(p.n_mfcc, dtype=float),
        "mfcc_delta": lambda: np.arange(p.n_mfcc, dtype=float),
        "mfcc_delta2": lambda: np.arange(p.n_mfcc, dtype=float),
    }
    if spec.id == "stack_memory":
        columns = np.arange(n_frames, dtype=float)
    compute = rows.get(spec.id)
    if compute is None:  # categorical axes: pitch classes, tonnetz dims, memory steps
        n_rows = {"chroma": 12, "tonnetz": 6}.get(spec.id, 12 * p.stack_n_steps)
        return np.arange(n_rows, dtype=float), columns
    return compute(), columns


def warm_up(sr: float = 16000, *, params: FeatureParams | None = None,
            all_tunings: bool = True) -> None:
    """Compile librosa's numba code and build filter caches, so a user does not wait.

    The beat tracker is compiled by numba on its first call, which can take
    seconds in a fresh process. Constant-Q and chroma filters depend on each clip's
    estimated tuning, one of 100 values: building them takes about 10 ms per new
    tuning, which ``all_tunings`` pays up front (about 1 s and 10 MB per sample
    rate). Call this at start-up, for example in a pre-heated kernel.

    Parameters
    ----------
    sr : float
        Sample rate whose filters to build.
    params : FeatureParams, optional
        Parameters whose filters to build; defaults otherwise.
    all_tunings : bool
        Also build the filters of every tuning ``librosa.estimate_tuning`` can return.
    """
    params = params or FeatureParams()
    t = np.arange(int(sr * 0.5)) / sr
    clicks = np.zeros_like(t)
    clicks[:: int(sr * 0.125)] = 1.0
    clip = (0.2 * np.sin(2 * np.pi * 440.0 * t) + clicks).astype(np.float32)
    compute_features(np.stack([clip, 0.5 * clip]), sr, params=params)
    if all_tunings and params.tuning is None:
        # The values pitch_tuning returns: the left edges of its 0.01-wide histogram bins.
        tunings = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / 0.01)) + 1)[:-1]
        bpo = params.cqt_bins_per_octave
        n_bins = _plan(float(sr), len(t), params).cqt_n_octaves * bpo
        dtype = np.dtype(librosa.util.dtype_r2c(clip.dtype)).str
        for tuning in tunings:
            _chroma_filters(float(sr), params.n_fft, float(tuning))
            _cqt_plan(float(sr), float(tuning), params.hop_length, n_bins, bpo, dtype)
