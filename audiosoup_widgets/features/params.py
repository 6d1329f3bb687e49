"""The engine's parameters, statuses and the constants every layer agrees on.

This module owns :class:`FeatureParams` (what a user may tune, with librosa's
defaults, and the cache key of each feature), :class:`FeatureResult` (values with a
status per clip), the per-clip statuses and the thresholds behind them, the engine
version and :data:`TOP_DB`, the one 80 dB floor of both the engine's decibels and the
viewer's. It computes nothing and does not import librosa.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata

import numpy as np

from ..errors import FeatureError
from .registry import get_feature

__all__ = [
    "ENGINE_VERSION",
    "MAX_FEATURE_SECONDS",
    "MAX_PEAK",
    "NOT_COMPUTED",
    "SILENCE_PEAK",
    "STATUSES",
    "TOP_DB",
    "FeatureParams",
    "FeatureResult",
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

TOP_DB = 80.0
"""Floor of every decibel scale, below the clip's own loudest point (librosa's ``top_db``).

The engine floors its log-mel spectrogram and spectral contrast here, per clip; the
viewer floors its decibel pictures here too.
"""

_LIBROSA_MINOR = ".".join(metadata.version("librosa").split(".")[:2])


#: Longest stretch of a clip whose full feature matrices are computed (dashboard view,
#: full exports); summaries cover whole clips, analysed in segments.
MAX_FEATURE_SECONDS = 60.0


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
        for name in (
            "n_fft",
            "hop_length",
            "n_mels",
            "n_mfcc",
            "n_bands",
            "cqt_n_octaves",
            "cqt_bins_per_octave",
            "tempo_win_length",
            "stack_n_steps",
        ):
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
            raise FeatureError(
                "Invalid feature parameters: " + "; ".join(problems) + ".", code="invalid_params"
            )

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
