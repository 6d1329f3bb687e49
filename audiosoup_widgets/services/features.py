"""FeatureService: full feature matrices of one sample, computed on demand and cached; warm-up.

Storing full matrices for a whole dataset would take tens of GB, so the review
computes them for the sample in view (its first :data:`MAX_FEATURE_SECONDS`) and
keeps the last few, keyed by content, family and parameters: an edit of the
metadata never invalidates them. The first computation in a process loads and
compiles the engine; :meth:`FeatureService.warm_up` pays that once, early.

The registry names the widgets need (:data:`FAMILIES`, :data:`FEATURES`,
:func:`features_in`) are re-exported here from the public ``features`` API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import features as feature_api
from ..errors import FeatureError
from ..features import FAMILIES, FEATURES, FeatureParams, FeatureSpec, features_in, get_feature
from ..store.records import SampleRecord
from .audio import MAX_FEATURE_SECONDS, AudioService
from .cache import LRUCache

log = logging.getLogger(__name__)

__all__ = [
    "FeatureService",
    "FeatureSet",
    "MAX_FEATURE_SECONDS",
    "FAMILIES",
    "FEATURES",
    "FeatureParams",
    "FeatureSpec",
    "features_in",
    "get_feature",
]

#: Serialises warm-ups (the app's start-up thread and a first feature view may ask at once).
_WARM_LOCK = threading.Lock()
#: Set once this process has warmed the feature engine (loaded, compiled, filters built).
_ENGINE_WARM = threading.Event()
#: Families computed whole at least once in this process: their first-use cost is paid.
_FAMILIES_USED: set[str] = set()


@dataclass(frozen=True)
class FeatureSet:
    """One family of features of one sample, as the engine computed them.

    Attributes
    ----------
    sample_id : int
    family : str
    sr : int
        Sample rate of the analysed audio.
    seconds : float
        Length of the analysed audio.
    truncated : bool
        Whether only the first :data:`MAX_FEATURE_SECONDS` were analysed.
    values : dict of str to np.ndarray
        Feature id to matrix ``(rows, frames)`` (``(frames,)`` for a line feature).
    status : str
        The engine's clip status (``ok``, ``silent``, ``too_short``).
    adaptations : dict
        Parameters the engine changed for this clip, by feature id.
    """

    sample_id: int
    family: str
    sr: int
    seconds: float
    truncated: bool
    values: dict[str, np.ndarray]
    status: str = "ok"
    adaptations: dict[str, dict[str, Any]] = field(default_factory=dict)


class FeatureService:
    """Feature matrices of the sample in view, with their cache.

    Parameters
    ----------
    audio : AudioService
        Where the audio comes from.
    params : FeatureParams, optional
        Feature engine parameters (librosa's defaults by default).
    """

    def __init__(self, audio: AudioService, *, params: FeatureParams | None = None) -> None:
        self._audio = audio
        self.params: FeatureParams = params or FeatureParams()
        self._features: LRUCache[FeatureSet] = LRUCache(8)

    @property
    def params_key(self) -> tuple[tuple[str, Any], ...]:
        """The parameters as a hashable key (for caches of things derived from features)."""
        return tuple(sorted(self.params.as_dict().items()))

    def _key(self, record: SampleRecord, family: str, ids: Sequence[str]) -> tuple[Any, ...]:
        return (record.id, record.content_hash, self.params_key, family, tuple(ids))

    def compute(self, record: SampleRecord, family: str, *, names: Sequence[str] | None = None) -> FeatureSet:
        """Compute (or fetch from the cache) one family of features of a sample.

        Parameters
        ----------
        record : SampleRecord
        family : {'spectral', 'rhythmic', 'deltas'}
        names : sequence of str, optional
            Only these features of the family (the review's spectrogram needs one).

        Returns
        -------
        FeatureSet

        Raises
        ------
        FeatureError
            For an unknown family or audio the engine cannot use (NaN samples).
        DecodeError
            If the audio cannot be read.
        """
        ids = [spec.id for spec in features_in(family)]
        if names is not None:
            ids = [n for n in ids if n in set(names)]

        def compute() -> FeatureSet:
            y, sr = self._audio.decode(record, max_seconds=MAX_FEATURE_SECONDS)
            if y.size == 0:
                raise FeatureError("This clip holds no audio samples.", code="invalid_audio")
            result = feature_api.compute_features_with_status(y, sr, ids, params=self.params)
            status = result.status[0] if result.status else "ok"
            if status == "non_finite":
                raise FeatureError(
                    "This clip contains invalid (NaN or infinite) samples; its features cannot be computed.",
                    code="non_finite",
                )
            if status == "out_of_range":
                raise FeatureError(
                    "This clip has samples far beyond full scale; its features cannot be computed.",
                    code="out_of_range",
                )
            values = {k: np.abs(v) if np.iscomplexobj(v) else np.asarray(v) for k, v in result.values.items()}
            if names is None:
                _FAMILIES_USED.add(family)
            return FeatureSet(
                sample_id=record.id,
                family=family,
                sr=sr,
                seconds=len(y) / sr,
                truncated=record.duration > MAX_FEATURE_SECONDS + 1e-6,
                values=values,
                status=status,
                adaptations=dict(result.adaptations),
            )

        return self._features.get(self._key(record, family, ids), compute)

    def is_cached(self, record: SampleRecord, family: str) -> bool:
        """Whether :meth:`compute` (for the whole family) would answer from the cache."""
        return self._key(record, family, [s.id for s in features_in(family)]) in self._features

    def family_ready(self, family: str) -> bool:
        """Whether computing ``family`` no longer pays a first use (loading and compiling the engine).

        True after a warm-up, or once the family has been computed in this process.
        """
        return _ENGINE_WARM.is_set() or family in _FAMILIES_USED

    def warm_up(self) -> None:
        """Compile the feature engine's numba code so the first user does not wait.

        Runs once per process; a second caller waits for a warm-up in progress
        instead of starting another one.
        """
        with _WARM_LOCK:
            if _ENGINE_WARM.is_set():
                return
            try:
                feature_api.warm_up()
            except Exception:  # noqa: BLE001 - warming is an optimisation, never a failure
                log.warning("feature engine warm-up failed", exc_info=True)
            # Set after a failure too: computing will report a real problem plainly.
            _ENGINE_WARM.set()
