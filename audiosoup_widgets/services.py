"""The review widgets' small service layer: audio for playback, feature matrices, counts.

Widgets hold a :class:`ReviewServices` (built once by the composition root) and
never a database session or an audio array of their own. This module owns the
caches that make the dashboard fast:

* decoded audio of the last few samples (playback, waveform, features);
* full feature matrices per sample, family and parameters, computed on demand
  (storing them for a whole dataset would take tens of GB);
* sample counts per filter and revision, and label and dataset lists per revision,
  so flipping pages never counts the table again.

Every public method validates its inputs and raises
:class:`~audiosoup_widgets.errors.AudiosoupError` subclasses with plain messages.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DecodeError, FeatureError, ValidationError

log = logging.getLogger(__name__)

__all__ = ["LRUCache", "FeatureSet", "ReviewServices", "EXPORT_FORMATS", "MAX_PLAY_SECONDS",
           "MAX_FEATURE_SECONDS"]

#: Longest stretch of a clip sent to the browser for playback (a 60-s 48 kHz WAV is 5.8 MB).
MAX_PLAY_SECONDS = 60.0
#: Longest stretch of a clip whose full feature matrices are computed for viewing.
MAX_FEATURE_SECONDS = 60.0
EXPORT_FORMATS = ("csv", "yaml", "json", "txt", "parquet")
#: Serialises warm-ups (the app's start-up thread and a first feature view may ask at once).
_WARM_LOCK = threading.Lock()
#: Set once this process has warmed the feature engine (loaded, compiled, filters built).
_ENGINE_WARM = threading.Event()
#: Families computed whole at least once in this process: their first-use cost is paid.
_FAMILIES_USED: set[str] = set()
_MIME = {
    "csv": "text/csv", "yaml": "application/yaml", "json": "application/json",
    "txt": "text/plain", "parquet": "application/vnd.apache.parquet",
}


class LRUCache:
    """A small thread-safe least-recently-used cache.

    Parameters
    ----------
    maxsize : int
        Entries kept; the least recently used one is dropped first.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value of ``key``, computing and storing it on a miss."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
        self.misses += 1
        value = compute()
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()


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


class ReviewServices:
    """Audio, features and counts for the review widgets, with their caches.

    Parameters
    ----------
    store : Store
        The open store.
    params : FeatureParams, optional
        Feature engine parameters (librosa's defaults by default).
    """

    def __init__(self, store, *, params=None) -> None:
        from .features.engine import FeatureParams

        self.store = store
        self.params = params or FeatureParams()
        self._audio = LRUCache(4)
        self._features = LRUCache(8)
        self._counts = LRUCache(128)
        self._lists = LRUCache(32)
        self._roots: dict[str, str] = {}

    # -- samples and lists -------------------------------------------------------

    def sample(self, sample_id: object, *, dataset: str | None = None):
        """Return a sample record after checking the id (and its dataset).

        Parameters
        ----------
        sample_id : object
            Anything a front end sent; must be a positive integer.
        dataset : str, optional
            Refuse a sample of another dataset.

        Returns
        -------
        SampleRecord

        Raises
        ------
        ValidationError, NotFoundError
        """
        sid = as_sample_id(sample_id)
        return self.store.get_sample(sid, dataset=dataset)

    def datasets(self, revision: int = 0) -> list:
        """Return every dataset (cached per revision)."""
        return self._lists.get(("datasets", revision), self.store.list_datasets)

    def labels(self, dataset: str, revision: int = 0) -> list:
        """Return the labels of ``dataset`` with counts (cached per revision)."""
        return self._lists.get(("labels", dataset, revision),
                               lambda: self.store.list_labels(dataset))

    def count(self, query, revision: int = 0) -> int:
        """Return the number of samples matching ``query`` (cached per filter and revision)."""
        return self._counts.get((query, revision), lambda: self.store.count_samples(query))

    def forget_lists(self) -> None:
        """Drop cached counts and lists (after a change made elsewhere)."""
        self._counts.clear()
        self._lists.clear()

    def dataset_root(self, dataset: str) -> str:
        """Return the root folder of a dataset (audio must stay inside it)."""
        if dataset not in self._roots:
            self._roots[dataset] = self.store.dataset_root(dataset)
        return self._roots[dataset]

    # -- audio ------------------------------------------------------------------------

    def audio(self, record, *, max_seconds: float = MAX_FEATURE_SECONDS) -> tuple[np.ndarray, int]:
        """Decode (the start of) a sample's audio as mono float32, cached.

        Parameters
        ----------
        record : SampleRecord
            A record returned by :meth:`sample`.
        max_seconds : float
            Seconds decoded at most.

        Returns
        -------
        y : np.ndarray, shape (n,), float32
        sr : int

        Raises
        ------
        DecodeError
            If the file is missing, outside its dataset's folder or unreadable.
        """
        from .audio.decode import decode

        key = (record.id, record.content_hash, float(max_seconds))

        def load():
            path = self.store.sample_file(record.id)
            root = self.dataset_root(record.dataset)
            try:
                y, sr = decode(path, sr=None, mono=True, duration=max_seconds, root=root)
            except DecodeError as exc:
                # Say which clip, in words; the decoder's reason never names server paths.
                raise DecodeError(f"The audio of {record.file_name} cannot be used: {exc.message}",
                                  code=exc.code) from exc
            return np.ascontiguousarray(y, dtype=np.float32), int(sr)

        return self._audio.get(key, load)

    def wav_bytes(self, record, *, max_seconds: float = MAX_PLAY_SECONDS) -> bytes:
        """Return (the start of) a sample as a 16-bit mono WAV file for the browser.

        Parameters
        ----------
        record : SampleRecord
        max_seconds : float
            Seconds sent at most; longer clips are cut (the player says so).

        Returns
        -------
        bytes
        """
        import soundfile as sf

        y, sr = self.audio(record, max_seconds=max_seconds)
        buf = io.BytesIO()
        y = np.clip(np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    # -- features --------------------------------------------------------------------

    def features(self, record, family: str, *, names: Sequence[str] | None = None) -> FeatureSet:
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
        from .features.engine import compute_features_with_status
        from .features.registry import features_in

        ids = [spec.id for spec in features_in(family)]
        if names is not None:
            ids = [n for n in ids if n in set(names)]
        key = (record.id, record.content_hash, self._params_key(), family, tuple(ids))

        def compute() -> FeatureSet:
            y, sr = self.audio(record, max_seconds=MAX_FEATURE_SECONDS)
            if y.size == 0:
                raise FeatureError("This clip holds no audio samples.", code="invalid_audio")
            result = compute_features_with_status(y, sr, ids, params=self.params)
            status = result.status[0] if result.status else "ok"
            if status == "non_finite":
                raise FeatureError("This clip contains invalid (NaN or infinite) samples; "
                                   "its features cannot be computed.", code="non_finite")
            if status == "out_of_range":
                raise FeatureError("This clip has samples far beyond full scale; its features "
                                   "cannot be computed.", code="out_of_range")
            values = {k: np.abs(v) if np.iscomplexobj(v) else np.asarray(v)
                      for k, v in result.values.items()}
            if names is None:
                _FAMILIES_USED.add(family)
            return FeatureSet(
                sample_id=record.id, family=family, sr=sr, seconds=len(y) / sr,
                truncated=record.duration > MAX_FEATURE_SECONDS + 1e-6, values=values,
                status=status, adaptations=dict(result.adaptations))

        return self._features.get(key, compute)

    def family_ready(self, family: str) -> bool:
        """Whether computing ``family`` no longer pays a first use (loading and compiling the engine).

        True after a warm-up, or once the family has been computed in this process.
        """
        return _ENGINE_WARM.is_set() or family in _FAMILIES_USED

    def has_features(self, record, family: str) -> bool:
        """Whether :meth:`features` (for the whole family) would answer from the cache."""
        from .features.registry import features_in

        ids = tuple(spec.id for spec in features_in(family))
        return (record.id, record.content_hash, self._params_key(), family, ids) in self._features

    def _params_key(self) -> tuple:
        return tuple(sorted(self.params.as_dict().items()))

    def export(self, record, names: Sequence[str], fmt: str) -> tuple[str, bytes, str]:
        """Write one sample's full feature matrices in ``fmt`` and return the file.

        Parameters
        ----------
        record : SampleRecord
        names : sequence of str
            Feature ids (validated against the registry).
        fmt : {'csv', 'yaml', 'json', 'txt', 'parquet'}

        Returns
        -------
        file_name : str
        data : bytes
        mime : str
        """
        from .features.registry import FAMILIES, FEATURES, get_feature

        if fmt not in EXPORT_FORMATS:
            raise ValidationError(f"unknown export format {fmt!r}; choose one of "
                                  f"{', '.join(EXPORT_FORMATS)}")
        names = [n for n in dict.fromkeys(names)]
        if not names:
            raise ValidationError("select at least one feature to export")
        for n in names:
            get_feature(n)
        values: dict[str, np.ndarray] = {}
        for family in FAMILIES:
            wanted = [n for n in names if FEATURES[n].family == family]
            if wanted:
                fs = self.features(record, family)
                values.update({n: fs.values[n] for n in wanted})
        rec: dict[str, Any] = {"sample_id": record.id, "path": record.path,
                               "label": record.label, "split": record.split}
        for n in names:
            # The export module turns arrays into {"shape", "values"} records itself.
            rec[n] = np.asarray(values[n], dtype=np.float64)
        from .jobs.provenance import sample_provenance
        prov = sample_provenance(record, names, self.params)
        from .features.export import write_export

        # A private folder, removed with everything in it: a CSV or text export also
        # writes its provenance beside it, which a one-file download leaves out
        # (JSON, YAML and Parquet carry it inside).
        with tempfile.TemporaryDirectory(prefix="audiosoup-export-") as folder:
            tmp = os.path.join(folder, f"export.{fmt}")
            write_export([rec], provenance=prov, fmt=fmt, path=tmp)
            with open(tmp, "rb") as f:
                data = f.read()
        stem = os.path.splitext(record.file_name)[0]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "sample"
        return f"features_{record.id}_{safe}.{fmt}", data, _MIME[fmt]

    def _provenance(self, record, names: Sequence[str]) -> dict[str, Any]:
        import datetime as dt

        import librosa

        from . import __version__

        return {
            "dataset": record.dataset,
            "features": list(names),
            "content": "full matrices of one sample",
            "sample_id": record.id,
            "parameters": self.params.as_dict(),
            "param_keys": {n: self.params.key_for(n) for n in names},
            "librosa_version": librosa.__version__,
            "audiosoup_version": __version__,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "analysed_seconds": min(record.duration, MAX_FEATURE_SECONDS),
        }

    def warm_up(self) -> None:
        """Compile the feature engine's numba code so the first user does not wait.

        Runs once per process; a second caller waits for a warm-up in progress
        instead of starting another one.
        """
        with _WARM_LOCK:
            if _ENGINE_WARM.is_set():
                return
            from .features.engine import warm_up

            try:
                warm_up()
            except Exception:  # noqa: BLE001 - warming is an optimisation, never a failure
                log.warning("feature engine warm-up failed", exc_info=True)
            # Set after a failure too: computing will report a real problem plainly.
            _ENGINE_WARM.set()


def as_sample_id(value: object) -> int:
    """Return ``value`` as a sample id, or raise :class:`ValidationError`.

    Front ends send JSON: accept an int (or an integral float such as ``3.0``),
    refuse booleans, strings and anything out of range.
    """
    if isinstance(value, bool):
        raise ValidationError("invalid sample id")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not (0 < value < 2**63):
        raise ValidationError("invalid sample id")
    return value
