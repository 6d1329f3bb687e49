"""AugmentViews: an augmentation preview drawn: both versions' feature on one scale, their difference.

The augmentation tab hears and sees one clip before and after a chain of transforms.
The augmentation service returns both versions as arrays; this module turns them into
what the tab draws, with the comparison view's arithmetic
(:mod:`audiosoup_widgets.analysis.compare`):

* the chosen feature of the original and of the result, prepared on one colour scale
  (for a decibel feature one reference: the louder of the two), with shared extents;
* their difference, result minus original, on a diverging scale centred on zero;
* both waveforms' min/max envelopes, and each version as a WAV for the A/B player.

Nothing is stored: a preview is a question about audio in memory.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass

import numpy as np

from .. import features as feature_api
from ..analysis import compare as cmp
from ..audio.peaks import waveform_peaks
from ..errors import FeatureError, ValidationError
from ..features import FeatureSpec
from ..features.display import ColourScale, Display, prepare
from ..features.params import TOP_DB
from .audio import MAX_FEATURE_SECONDS, MAX_PLAY_SECONDS
from .compare import CompareService
from .features import FeatureService

__all__ = ["AugmentViews", "AugmentView", "PEAK_BINS"]

#: Stretches of a preview's waveform envelope.
PEAK_BINS = 1200


@dataclass(frozen=True)
class AugmentView:
    """One preview, ready to draw (:meth:`AugmentViews.views`).

    Attributes
    ----------
    spec : FeatureSpec
    original, augmented : Display
        The feature of each version on one scale.
    difference : Display
        Result minus original, on a diverging scale.
    x_extent, y_extent : tuple of float
        Axes shared by both versions' panels.
    waves : tuple of (ndarray, float)
        Each version's min/max envelope, shape ``(2, n)``, and its length in seconds.
    notes : tuple of str
        What a reader should know about the pictures.
    """

    spec: FeatureSpec
    original: Display
    augmented: Display
    difference: Display
    x_extent: tuple[float, float]
    y_extent: tuple[float, float]
    waves: tuple[tuple[np.ndarray, float], tuple[np.ndarray, float]]
    notes: tuple[str, ...] = ()


def _mono(y: np.ndarray) -> np.ndarray:
    a = np.asarray(y, dtype=np.float32)
    if a.ndim == 2:  # (channels, samples) from a transform that kept channels
        a = a.mean(axis=0)
    if a.ndim != 1:
        raise ValidationError("A preview must be one clip of audio.")
    return np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)


def _as_power(spec: FeatureSpec, matrices: list[np.ndarray]) -> list[np.ndarray]:
    if spec.db == "amplitude":
        return [np.square(m) for m in matrices]
    return matrices


class AugmentViews:
    """Feature pictures, waveforms and WAVs of an augmentation preview.

    Parameters
    ----------
    features : FeatureService
        Whose engine parameters the pictures use (the review's spectrogram's).
    """

    def __init__(self, features: FeatureService) -> None:
        self._features = features

    def _matrix(self, y: np.ndarray, sr: int, spec: FeatureSpec) -> np.ndarray:
        if y.size == 0:
            raise FeatureError("The result holds no audio samples.", code="invalid_audio")
        result = feature_api.compute_features_with_status(y, sr, [spec.id], params=self._features.params)
        status = result.status[0] if result.status else "ok"
        if status in ("non_finite", "out_of_range"):
            raise FeatureError("The result holds invalid samples; its features cannot be drawn.", code=status)
        values = result.values[spec.id]
        values = np.abs(values) if np.iscomplexobj(values) else np.asarray(values)
        return np.asarray(values, dtype=np.float64)

    def views(self, original: np.ndarray, augmented: np.ndarray, sr: int, feature: str) -> AugmentView:
        """Return both versions' ``feature`` on one scale, their difference and their waveforms.

        Parameters
        ----------
        original, augmented : ndarray
            The clip before and after the chain (mono, or channels first).
        sr : int
            Their sample rate.
        feature : str
            A registered feature id.

        Raises
        ------
        ValidationError
            An unknown feature or a bad sample rate.
        FeatureError
            Audio the engine cannot use.
        """
        spec = CompareService.spec(feature)
        if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
            raise ValidationError("invalid sample rate")
        sr = int(sr)
        limit = int(MAX_FEATURE_SECONDS * sr)
        a, b = _mono(original)[:limit], _mono(augmented)[:limit]
        va, vb = self._matrix(a, sr, spec), self._matrix(b, sr, spec)
        scale, (sa, sb), _, _ = CompareService._scale(spec, [va, vb], [])
        if spec.db:
            scale = dataclasses.replace(scale, value_label="dB below the loudest point of the two")
        params = self._features.params
        da = prepare(spec, sa, sr=sr, params=params, scale=scale)
        db = prepare(spec, sb, sr=sr, params=params, scale=scale)
        if spec.db:
            (xa, xb), floor, _ = cmp.db_scale(_as_power(spec, [vb, va]), top_db=TOP_DB)
            diff = cmp.difference(xa, xb, floor=floor)
            lim = cmp.symmetric_limit(diff, quantile=0.995)
        else:
            diff = cmp.difference(vb, va, floor=float("nan"))
            lim = cmp.symmetric_limit(diff, quantile=0.995, minimum=1e-9)
        unit = "dB" if spec.db else spec.value_unit
        label = f"{unit} difference, result − original" if unit else "difference, result − original"
        dscale = ColourScale(-lim, lim, "diverging", label, unit="dB" if spec.db else "", pool="mean")
        dd = prepare(spec, np.asarray(diff, dtype=np.float64), sr=sr, params=params, scale=dscale)
        x_extent = (min(da.x_extent[0], db.x_extent[0]), max(da.x_extent[1], db.x_extent[1]))
        if spec.kind == "line":
            y_extent = (scale.vmin, scale.vmax)
        else:
            y_extent = (min(da.y_extent[0], db.y_extent[0]), max(da.y_extent[1], db.y_extent[1]))
        notes = []
        if spec.db:
            notes.append("One colour scale for both: 0 dB is the loudest point of the two.")
        if len(a) != len(b):
            notes.append(
                "The two versions differ in length: after the shorter one ends it counts as silence."
            )
        return AugmentView(
            spec=spec,
            original=da,
            augmented=db,
            difference=dd,
            x_extent=(float(x_extent[0]), float(x_extent[1])),
            y_extent=(float(y_extent[0]), float(y_extent[1])),
            waves=(self.envelope(a, sr), self.envelope(b, sr)),
            notes=tuple(notes),
        )

    @staticmethod
    def envelope(y: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
        """Return the min/max envelope of ``y`` (shape ``(2, n)``) and its length in seconds."""
        a = _mono(y)
        n = len(a)
        peaks = waveform_peaks(a, n_bins=max(1, min(PEAK_BINS, n))) if n else np.zeros((2, 1))
        return peaks, n / sr if sr else 0.0

    @staticmethod
    def wav(y: np.ndarray, sr: int) -> bytes:
        """Return ``y`` (at most :data:`MAX_PLAY_SECONDS`) as a 16-bit mono WAV for the browser."""
        import soundfile as sf

        a = np.clip(_mono(y)[: int(MAX_PLAY_SECONDS * sr)], -1.0, 1.0)
        buf = io.BytesIO()
        sf.write(buf, a, int(sr), format="WAV", subtype="PCM_16")
        return buf.getvalue()
