"""Adapting the parameters to a sample rate and clip length: what the engine actually uses.

librosa refuses some inputs that are legitimate for a dataset: spectral-contrast
bands or CQT octaves above Nyquist at low sample rates, or a delta filter wider
than a short clip. :func:`plan_for` decides, per (sample rate, clip length), the
parameters the engine uses instead, and records each change with its reason (see
:attr:`~audiosoup_widgets.features.params.FeatureResult.adaptations`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import FeatureError
from .constantq import cqt_cutoff
from .params import FeatureParams

__all__ = ["Plan", "plan_for"]


@dataclass(frozen=True)
class Plan:
    """The parameters actually used for one (sample rate, clip length)."""

    n_frames: int
    n_bands: int
    cqt_n_octaves: int
    delta_width: int
    delta_mode: str
    adaptations: dict[str, dict[str, object]]


@functools.lru_cache(maxsize=128)
def plan_for(sr: float, n_samples: int, params: FeatureParams) -> Plan:
    """Return the parameters used for clips of ``n_samples`` samples at ``sr`` Hz.

    Raises
    ------
    FeatureError
        ``invalid_params`` if no adaptation makes a feature computable at this rate.
    """
    adaptations: dict[str, dict[str, object]] = {}
    nyquist = sr / 2.0

    # librosa refuses a contrast band starting at or above Nyquist: drop top bands,
    # keeping every remaining band at the same frequencies as at higher rates.
    n_bands = params.n_bands
    while n_bands > 1 and params.contrast_fmin * 2.0 ** (n_bands - 1) >= nyquist:
        n_bands -= 1
    if params.contrast_fmin >= nyquist:
        raise FeatureError(
            f"Spectral contrast cannot start at {params.contrast_fmin:g} Hz with a {sr:g} Hz sample rate.",
            code="invalid_params",
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
    while n_octaves > 1 and cqt_cutoff(sr, n_octaves, bpo, worst) > nyquist:
        n_octaves -= 1
    if cqt_cutoff(sr, n_octaves, bpo, worst) > nyquist:
        raise FeatureError(
            f"Sample rate {sr:g} Hz is too low for a constant-Q transform.", code="invalid_params"
        )
    if n_octaves != params.cqt_n_octaves:
        adaptations["tonnetz"] = {
            "cqt_n_octaves": n_octaves,
            "reason": f"the top CQT octave would reach above {nyquist:g} Hz (half the sample rate)",
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
        change = {"delta_width": width, "delta_mode": mode, "reason": f"the clip has only {n_frames} frames"}
        for name in ("mfcc_delta", "mfcc_delta2", "mel_delta", "mel_delta2"):
            adaptations[name] = dict(change)
    return Plan(n_frames, n_bands, n_octaves, width, mode, adaptations)
