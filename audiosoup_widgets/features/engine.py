"""The feature engine's public API: every registered feature for one clip or a batch.

This module owns the entry points. With default
:class:`~audiosoup_widgets.features.params.FeatureParams` each feature equals what
librosa returns for that clip with its own defaults (see :func:`compute_features`),
but the work is shared and batched (see :mod:`~audiosoup_widgets.features.batch`):

* one STFT feeds the power and mel spectrograms, spectral contrast and chroma;
* one log-mel spectrogram feeds the MFCCs, the mel deltas, the onset envelope and
  the beat tracker;
* one onset envelope feeds both tempograms;
* the constant-Q transform behind tonnetz is computed for a whole batch at once,
  with each clip's own tuning, and its filters are cached per tuning
  (see :mod:`~audiosoup_widgets.features.constantq`).

Where librosa treats a batch jointly (tuning estimation, the ``top_db`` floor of
``power_to_db``, beat tracking of silent clips) the engine works per clip, so a clip
gets the same values whatever it is batched with. Here each clip also gets a status
(silent, too short, out of range, not finite), and bad clips never spoil the others.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterable, Iterator

import numpy as np

from .. import jitcache
from ..errors import FeatureError
from .adapt import Plan, plan_for
from .batch import COMPUTE, RAGGED, Batch
from .constantq import cqt_plan
from .filters import chroma_filters
from .params import MAX_PEAK, NOT_COMPUTED, SILENCE_PEAK, FeatureParams, FeatureResult
from .registry import FEATURES, get_feature

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = [
    "compute_features",
    "compute_features_with_status",
    "unpad",
    "warm_up",
]

_CHUNK = 64  # clips per internal batch: big enough to amortise, small enough for caches


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
            with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    self._saved.__exit__(None, None, None)
                    self._saved = None


_quiet = _Quiet()


def _as_batch(y: object) -> tuple[np.ndarray, bool]:
    array = np.asarray(y)
    if not np.issubdtype(array.dtype, np.floating):
        raise FeatureError(f"Audio must be floating-point samples, not {array.dtype}.", code="invalid_audio")
    if array.ndim == 1:
        return array[np.newaxis], True
    if array.ndim == 2:
        return array, False
    raise FeatureError(f"Audio must have shape (n,) or (clips, n), not {array.shape}.", code="invalid_audio")


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


def _compute(
    batch: np.ndarray, sr: float, names: list[str], params: FeatureParams, plan: Plan
) -> dict[str, np.ndarray]:
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with _quiet():
        for start in range(0, len(batch), _CHUNK):
            intermediates = Batch(batch[start : start + _CHUNK], sr, params, plan)
            for name in names:
                chunks[name].append(COMPUTE[name](intermediates))
    out = {}
    for name, parts in chunks.items():
        if name in RAGGED and len(parts) > 1:
            width = max(p.shape[-1] for p in parts)
            parts = [
                np.pad(p, [(0, 0)] * (p.ndim - 1) + [(0, width - p.shape[-1])], constant_values=np.nan)
                for p in parts
            ]
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
    clips with samples beyond :data:`~audiosoup_widgets.features.params.MAX_PEAK`
    (``out_of_range``) are not computed and their arrays are all NaN. Other clips
    are unaffected.

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
        entry of :data:`~audiosoup_widgets.features.params.STATUSES` per clip, and the ``adaptations`` made.

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
    plan = plan_for(rate, batch.shape[-1], params)
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
    mel_delta           ``librosa.feature.delta(log_mel)`` with ``log_mel =
                        librosa.power_to_db(melspectrogram(y=y, sr=sr))``
    mel_delta2          ``librosa.feature.delta(log_mel, order=2)``
    stack_memory        ``librosa.feature.stack_memory(librosa.util.sync(chroma,
                        beats, aggregate=np.median))`` with ``beats`` from
                        ``librosa.beat.beat_track(y=y, sr=sr)``
    ==================  =====================================================

    Values do not depend on what a clip is batched with (bit for bit). On silence
    the values are librosa's, computed without warnings; a clip where the beat
    tracker finds no beat gets one segment for ``stack_memory`` (librosa's ``sync``
    would return no column and ``stack_memory`` would raise).

    except where librosa would refuse the input, in which case the engine adapts
    and records it in
    :attr:`~audiosoup_widgets.features.params.FeatureResult.adaptations`: fewer
    contrast bands or CQT octaves below 16 kHz, and a narrower delta filter on
    clips of fewer than 9 frames (a width of the largest odd number of frames, or
    ``mode='nearest'`` below 3 frames).

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
        any clip has samples beyond :data:`~audiosoup_widgets.features.params.MAX_PEAK` (use
        :func:`compute_features_with_status` to compute the others),
        ``unknown_feature``, ``invalid_audio`` or ``invalid_params``.
    """
    result = compute_features_with_status(y, sr, names, params=params)
    bad = [b for b, s in enumerate(result.status) if s == "non_finite"]
    if bad:
        where = "The clip contains" if np.ndim(y) == 1 else f"Clips {bad[:10]} contain"
        raise FeatureError(f"{where} NaN or infinite samples; features not computed.", code="non_finite")
    huge = [b for b, s in enumerate(result.status) if s == "out_of_range"]
    if huge:
        where = "The clip has" if np.ndim(y) == 1 else f"Clips {huge[:10]} have"
        raise FeatureError(
            f"{where} samples beyond {MAX_PEAK:.3g}, far above full scale (1.0); features not computed.",
            code="out_of_range",
        )
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


def warm_up(sr: float = 16000, *, params: FeatureParams | None = None, all_tunings: bool = True) -> None:
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
        n_bins = plan_for(float(sr), len(t), params).cqt_n_octaves * bpo
        dtype = np.dtype(librosa.util.dtype_r2c(clip.dtype)).str
        for tuning in tunings:
            chroma_filters(float(sr), params.n_fft, float(tuning))
            cqt_plan(float(sr), float(tuning), params.hop_length, n_bins, bpo, dtype)
