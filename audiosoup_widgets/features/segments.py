"""Summaries of long clips in bounded memory: fixed-size segments, combined exactly.

The engine holds every intermediate of a clip at once (spectrograms, the constant-Q
transform, tempograms): about 150 to 250 bytes per sample, so a 2-hour 16 kHz file
needed 9 GB. A clip longer than one segment is therefore analysed segment by segment:

* **Segments.** A clip of ``n`` samples longer than :func:`segment_samples` (2**21
  samples with default parameters: 131 s at 16 kHz, 44 s at 48 kHz) is cut into the
  fewest equal segments that fit, each starting on a multiple of ``hop_length`` so
  that its frames fall on the same time grid as the whole clip's (see
  :func:`segment_bounds`). The size is a number of samples, not seconds, so memory
  does not depend on the sample rate; a finer hop or a larger FFT shrinks it so that a
  segment's spectrogram keeps the same size.
* **Each segment is a clip.** The engine computes every feature of a segment exactly
  as for a clip of that length (same code, same values as librosa on that segment).
* **Exact combination.** A feature's summary is the mean and the standard deviation
  of each row over *all frames of all segments*. Per segment and row the count, mean
  and sum of squared deviations are kept in float64 and merged with Chan's pairwise
  formula, which equals computing the mean and std over the concatenated frames (to
  float64 rounding) without holding them. ``n_frames`` is the total of the segments'
  frames.

How boundaries affect the values: every segment is padded at its two ends as a clip
is (STFT frames are centred), so a long clip has one frame more per boundary than a
whole-clip analysis would, and the few frames nearest a boundary see zero padding
(two STFT frames, the CQT's longest filter, half the tempogram window of about 6 s
with default parameters). Per-clip decisions are made per segment: the tuning
estimate (chroma, tonnetz), the 80 dB floor under the loudest value (mel-based
features, spectral contrast) and the beat tracker's tempo and beats
(``stack_memory``). Measured on a 10-minute signal in 5 segments
(``bench/bench_long.py --compare-whole``): the spectrogram summaries moved by less than
0.01 % of the feature's spread, the others by 1 to 9 % (most where digital silence
meets a floor set per segment).

Statuses combine as for a clip: a clip is ``non_finite`` or ``out_of_range`` if any
segment is (it is then not computed, and reading stops at that segment), ``silent``
only if every segment is, and ``ok`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import FeatureError
from .engine import compute_features_with_status
from .params import MAX_FEATURE_SECONDS, NOT_COMPUTED, STATUSES, FeatureParams
from .summaries import _rows_last

__all__ = [
    "MAX_FEATURE_SECONDS",
    "SEGMENT_SAMPLES",
    "LongSummary",
    "SummaryAccumulator",
    "combine_statuses",
    "segment_bounds",
    "segment_samples",
    "summarize_segments",
]


SEGMENT_SAMPLES = 2**21
"""Samples per segment with default parameters (a worker peaks at 0.6 to 0.9 GB at any rate)."""

_DEFAULT_BINS_PER_HOP = (2048 // 2 + 1) / 512  # spectrogram values per sample by default


def segment_samples(params: FeatureParams | None = None) -> int:
    """Return the most samples one segment holds for ``params``.

    :data:`SEGMENT_SAMPLES` with default parameters; shrunk in proportion when the
    spectrogram has more values per sample (``(n_fft // 2 + 1) / hop_length``), and
    never under 16 FFT frames. Always a multiple of ``hop_length``.
    """
    p = params or FeatureParams()
    per_sample = (p.n_fft // 2 + 1) / p.hop_length
    size = int(SEGMENT_SAMPLES * min(1.0, _DEFAULT_BINS_PER_HOP / per_sample))
    size = max(size, 16 * p.n_fft, p.hop_length)
    return size - size % p.hop_length


def segment_bounds(
    n_samples: int, *, params: FeatureParams | None = None, size: int | None = None
) -> list[tuple[int, int]]:
    """Cut ``n_samples`` into the fewest near-equal segments of at most ``size`` samples.

    Parameters
    ----------
    n_samples : int
        Length of the clip.
    params : FeatureParams, optional
        Gives ``hop_length`` (boundaries are multiples of it) and the default size.
    size : int, optional
        Most samples per segment (default :func:`segment_samples`); rounded down to a
        multiple of ``hop_length``.

    Returns
    -------
    list of (start, stop)
        Contiguous ranges covering ``[0, n_samples)``; one range for a clip that fits.
        Every segment but the last is a multiple of ``hop_length`` long and no
        segment is longer than ``size``.
    """
    p = params or FeatureParams()
    hop = p.hop_length
    size = segment_samples(p) if size is None else max(hop, size - size % hop)
    if n_samples <= size:
        return [(0, n_samples)]
    # Count in hops (the last one may be partial) and share them out evenly: no
    # segment gets more than size // hop of them.
    units = -(-n_samples // hop)
    count = -(-units // (size // hop))
    cuts = [hop * ((k * units) // count) for k in range(count)] + [n_samples]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]


def combine_statuses(statuses: Sequence[str]) -> str:
    """Return a long clip's status from its segments' statuses.

    The worst status that is not ``silent`` wins; ``silent`` only if every segment is
    silent (a quiet stretch does not make a recording silent); else ``ok``.
    """
    rank = {s: i for i, s in enumerate(STATUSES)}
    loud = [s for s in statuses if s != "silent"]
    if not loud:
        return "silent" if statuses else "ok"
    return max(loud, key=rank.__getitem__)


@dataclass
class _Moments:
    """Per-row count, mean and sum of squared deviations (float64)."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, frames: np.ndarray) -> _Moments:
        valid = ~np.isnan(frames)
        count = valid.sum(axis=-1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid, frames, 0.0).sum(axis=-1) / count
            dev = np.where(valid, frames - mean[:, np.newaxis], 0.0)
        return cls(count, np.where(count > 0, mean, 0.0), (dev * dev).sum(axis=-1))

    def merge(self, other: _Moments) -> None:
        # Chan, Golub and LeVeque's pairwise update: exact in exact arithmetic and
        # stable in floating point, unlike sum-of-squares minus squared sum.
        total = self.count + other.count
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = other.mean - self.mean
            share = np.where(total > 0, other.count / total, 0.0)
            self.mean = self.mean + delta * share
            self.m2 = self.m2 + other.m2 + delta * delta * self.count * share
        self.count = total

    def summary(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.count > 0, self.mean, np.nan)
            std = np.sqrt(self.m2 / self.count)
        return np.concatenate([mean, std]).astype(np.float32)


class SummaryAccumulator:
    """Merge features of consecutive segments into one clip's summaries.

    ``add`` one segment's values at a time (as :func:`compute_features` returns them
    for one clip); ``summaries`` returns what :func:`~audiosoup_widgets.features.
    summarize` would give for the frames of all segments side by side.
    """

    def __init__(self) -> None:
        self._moments: dict[str, _Moments] = {}
        self.frames: dict[str, int] = {}

    def add(self, values: dict[str, np.ndarray]) -> None:
        """Add one segment's feature values (one clip, no batch axis)."""
        for name, array in values.items():
            batch, is_batch = _rows_last(name, np.asarray(array))
            if is_batch:
                raise ValueError(f"{name}: add one segment at a time, not a batch")
            frames = batch[0]
            if np.iscomplexobj(frames):
                frames = np.abs(frames)
            moments = _Moments.of(frames.astype(np.float64, copy=False))
            if name in self._moments:
                if self._moments[name].count.shape != moments.count.shape:
                    raise ValueError(f"{name}: segments differ in rows")
                self._moments[name].merge(moments)
            else:
                self._moments[name] = moments
            self.frames[name] = self.frames.get(name, 0) + int(frames.shape[-1])

    def summaries(self) -> dict[str, np.ndarray]:
        """Return per feature the float32 ``[means..., stds...]`` over all frames added."""
        return {name: m.summary() for name, m in self._moments.items()}


@dataclass
class LongSummary:
    """Summaries of one clip analysed in segments.

    Attributes
    ----------
    status : str
        The clip's status (see :func:`combine_statuses`).
    summaries : dict of str to np.ndarray
        Per feature the float32 ``[means..., stds...]``; empty if the clip was not
        computed (status in :data:`~audiosoup_widgets.features.params.NOT_COMPUTED`).
    frames : dict of str to int
        Frames (columns) analysed per feature, over all segments.
    n_segments : int
        Segments analysed (up to the first bad one).
    n_samples : int
        Samples analysed.
    peak : float
        Largest finite absolute sample seen.
    adaptations : dict
        As :attr:`~audiosoup_widgets.features.params.FeatureResult.adaptations`.
    """

    status: str
    summaries: dict[str, np.ndarray]
    frames: dict[str, int]
    n_segments: int
    n_samples: int
    peak: float
    adaptations: dict[str, dict[str, object]] = field(default_factory=dict)


def summarize_segments(
    segments: Iterable[np.ndarray],
    sr: float,
    names: Iterable[str] | None = None,
    *,
    params: FeatureParams | None = None,
) -> LongSummary:
    """Compute features segment by segment and combine them into one clip's summaries.

    Parameters
    ----------
    segments : iterable of np.ndarray [shape=(n_k,)]
        The clip's consecutive segments, typically from :func:`segment_bounds` and a
        decoder reading one segment at a time; only one is held at once.
    sr : float
        Sample rate in Hz.
    names : iterable of str, optional
        Feature ids (default: all).
    params : FeatureParams, optional

    Returns
    -------
    LongSummary

    Raises
    ------
    FeatureError
        As :func:`~audiosoup_widgets.features.compute_features_with_status`, or
        ``invalid_audio`` if there is no segment.
    """
    params = params or FeatureParams()
    names = None if names is None else list(names)
    acc = SummaryAccumulator()
    statuses: list[str] = []
    adaptations: dict[str, dict[str, object]] = {}
    n_samples, peak = 0, 0.0
    for segment in segments:
        y = np.asarray(segment)
        finite = np.isfinite(y)
        peak = max(peak, float(np.abs(np.where(finite, y, 0.0)).max(initial=0.0)))
        n_samples += y.shape[-1]
        result = compute_features_with_status(y, sr, names, params=params)
        statuses.append(result.status[0])
        if result.status[0] in NOT_COMPUTED:
            break  # the whole clip is not computed: no need to read further
        acc.add(result.values)
        for k, v in result.adaptations.items():
            adaptations.setdefault(k, v)
    if not statuses:
        raise FeatureError("The clip has no samples.", code="invalid_audio")
    status = combine_statuses(statuses)
    summaries = {} if status in NOT_COMPUTED else acc.summaries()
    return LongSummary(status, summaries, dict(acc.frames), len(statuses), n_samples, peak, adaptations)
