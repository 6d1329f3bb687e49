"""Quality findings of a whole dataset: duplicates, split leaks, clipping, silence, levels, imbalance.

This module owns the findings of a quality scan (:data:`KINDS`, :class:`Finding`), the
thresholds behind them (:class:`QcThresholds`), the one computation
(:func:`find_issues`) and the ranges the quality panel shades (:func:`flagged_ranges`).
It works on a plain table of per-clip quality measures, one row per clip, whose columns
mean what ``QualityMeasures`` of :mod:`audiosoup_widgets.audio.quality` says, and on an
optional matrix of feature summaries; the job that reads both from the store calls it.
A measure that is NaN (a clip not measured) is not judged; nothing is guessed for it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .neighbours import near_duplicate_groups

__all__ = ["KINDS", "LEAK_VIA", "COLUMNS", "QcThresholds", "Finding", "find_issues", "flagged_ranges"]

#: Every kind of finding, in the order findings are listed.
KINDS = (
    "exact_duplicate",
    "near_duplicate",
    "split_leak",
    "clipping",
    "silence",
    "level_outlier",
    "class_imbalance",
)
#: How a ``split_leak`` crosses splits (its ``detail["via"]``): one speaker, identical
#: audio (same PCM hash), or near-duplicate features.
LEAK_VIA = ("speaker", "same_audio", "near_audio")
#: The columns :func:`find_issues` reads from its table (others, such as ``path``,
#: ``duration`` or ``snr_db``, may be there and are ignored).
COLUMNS = (
    "sample_id", "label", "split", "speaker", "sample_rate", "channels", "rms_dbfs",
    "clip_ratio", "silence_ratio", "pcm_sha256",
)  # fmt: skip
# The hash of no samples at all: empty clips are alike, not copies of one another.
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class QcThresholds:
    """When a measure becomes a finding; the defaults suit speech and sound-event datasets.

    Attributes
    ----------
    near_duplicate : float
        Two clips are near duplicates when the Euclidean distance of their standardised
        feature summaries is below this fraction of the median nearest-neighbour
        distance of the dataset, in [0, 1]; 0 turns the check off. It is the rule and
        the default (0.13, over the 10 nearest neighbours) of cleanlab's
        ``NearDuplicateIssueManager`` (``cleanlab/datalab/internal/issue_manager/
        duplicate.py``: ``distances < threshold * median``). A fraction of the typical
        spacing, not an absolute distance, so it needs no tuning per feature set.
        cleanlab takes the plain median and floors it at a tiny epsilon; here the
        median is over distinct feature rows (see :func:`find_issues`).
    clip_ratio : float
        A clip is clipped when more than this share of its samples lie in full-scale
        runs (``clip_ratio`` of the measures, runs of 3 or more), in [0, 1). 0.001
        (one sample in a thousand, 16 per second at 16 kHz) is audible distortion, while
        a single limiter overshoot of a well-mastered file stays below it.
    silence_ratio : float
        A clip is silent when at least this share of its 20 ms frames is silent, in
        (0, 1]. 0.95 rather than 1.0 so an empty recording with a click or a burst of
        noise still counts; a short word in a long pause (one second of speech in
        twenty) does too, which is worth a look anyway.
    level_z : float
        A clip's RMS level is an outlier when its robust z-score within its label,
        ``(level - median) / (1.4826 * MAD)``, exceeds this in absolute value, > 0.
        1.4826 makes the MAD a standard deviation for normal data, so 5.0 is a
        five-sigma event that a normal spread of levels almost never produces.
    level_min_db : float
        ... and when its level is also more than this many dB from the median, >= 0.
        A label recorded at a tightly controlled level has a tiny MAD, where a z of 5
        is a fraction of a dB; 12 dB (four times the amplitude) is a difference anyone
        hears.
    min_label_size : int
        Labels with at least this many measured clips (not silent) are judged against
        their own median and MAD, >= 2; smaller labels and unlabelled clips against the
        whole dataset's. 20 clips give a MAD that is stable enough to trust.
    imbalance : float
        A label is under-represented when its clip count is below this fraction of
        the mean clip count per label, in [0, 1]; 0 turns the check off. 0.1: a class
        with a tenth of the average size gives a classifier too few examples to learn.
    """

    near_duplicate: float = 0.13
    clip_ratio: float = 0.001
    silence_ratio: float = 0.95
    level_z: float = 5.0
    level_min_db: float = 12.0
    min_label_size: int = 20
    imbalance: float = 0.1

    def __post_init__(self) -> None:
        for name, (low, low_in, high, high_in) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValidationError(f"{name} must be a finite number, not {value!r}")
            ok = (value >= low if low_in else value > low) and (
                high is None or (value <= high if high_in else value < high)
            )
            if not ok:
                rule = _describe(low, low_in, high, high_in)
                raise ValidationError(f"{name} must be {rule}, not {value!r}")
        if not isinstance(self.min_label_size, int):
            raise ValidationError(f"min_label_size must be a whole number, not {self.min_label_size!r}")

    def as_dict(self) -> dict[str, float]:
        """Return the thresholds as a plain dict, keyed by the attribute names."""
        return asdict(self)


# (low, low inclusive, high or None, high inclusive) of each threshold.
_RANGES: dict[str, tuple[float, bool, float | None, bool]] = {
    "near_duplicate": (0.0, True, 1.0, True),
    "clip_ratio": (0.0, True, 1.0, False),
    "silence_ratio": (0.0, False, 1.0, True),
    "level_z": (0.0, False, None, False),
    "level_min_db": (0.0, True, None, False),
    "min_label_size": (2.0, True, None, False),
    "imbalance": (0.0, True, 1.0, True),
}


def _describe(low: float, low_in: bool, high: float | None, high_in: bool) -> str:
    lo = f"{'at least' if low_in else 'above'} {low:g}"
    if high is None:
        return lo
    if low_in and high_in:
        return f"between {low:g} and {high:g}"
    return f"{lo} and {'at most' if high_in else 'below'} {high:g}"


@dataclass(frozen=True)
class Finding:
    """One problem of the dataset, and every clip involved in it.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    sample_ids : tuple of int
        Every clip involved, sorted.
    label : str or None
        The label all those clips share, or None (unlabelled, or several labels).
    detail : dict
        Plain JSON values: always ``label`` and a one-line ``summary``; the threshold
        used; per-clip lists aligned with ``sample_ids`` (``labels``, ``splits``, the
        measured values); ``via`` (one of :data:`LEAK_VIA`) for a ``split_leak``.
        Values that are not finite are None.
    """

    kind: str
    sample_ids: tuple[int, ...]
    label: str | None
    detail: dict[str, Any]

    def to_json(self, paths: Mapping[int, str]) -> dict[str, Any]:
        """Return the finding as plain JSON values, with the clips' paths.

        Parameters
        ----------
        paths : Mapping[int, str]
            Path of each sample id; a missing id gives None.

        Returns
        -------
        dict
            ``kind``, ``sample_ids`` (list), ``paths`` (in the order of ``sample_ids``)
            and ``detail``.
        """
        ids = list(self.sample_ids)
        listed = [paths.get(i) for i in ids]
        return {"kind": self.kind, "sample_ids": ids, "paths": listed, "detail": self.detail}


def flagged_ranges(thresholds: QcThresholds) -> dict[str, tuple[float, float]]:
    """Return the range of each thresholded measure that :func:`find_issues` flags.

    Parameters
    ----------
    thresholds : QcThresholds
        The thresholds of the scan.

    Returns
    -------
    dict of str to (float, float)
        ``clip_ratio`` and ``silence_ratio``: the (low, high) range a histogram shades.
        The low end of ``clip_ratio`` is excluded (a clip is clipped above it), that of
        ``silence_ratio`` included (silent at or above it).
    """
    return {"clip_ratio": (thresholds.clip_ratio, 1.0), "silence_ratio": (thresholds.silence_ratio, 1.0)}


def find_issues(
    table: pd.DataFrame,
    *,
    features: np.ndarray | None = None,
    thresholds: QcThresholds = QcThresholds(),
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Find the quality problems of a dataset.

    Parameters
    ----------
    table : pd.DataFrame
        One row per clip with at least the columns :data:`COLUMNS` (the quality
        measures of ``QualityMeasures``, and the clip's id, label, split, speaker,
        sample rate and channels); ``label``, ``split``, ``speaker`` and ``pcm_sha256``
        may be None/NA, the measures NaN.
    features : np.ndarray, shape (n, d), optional
        Feature summaries aligned with the rows of ``table``, for near duplicates.
        NaN cells take their column's median; rows with values in fewer than half
        the columns (no features) are left out, as are columns that are all NaN or
        constant.
    thresholds : QcThresholds
        When a measure becomes a finding.
    progress : callable, optional
        ``progress(message)`` during the near-duplicate search, the slow part.

    Returns
    -------
    list of Finding
        In the order of :data:`KINDS`, then by label (None first), then by first id.

    Raises
    ------
    ValidationError
        When a column is missing, sample ids repeat or are missing, or ``features``
        does not have one row per clip.

    Notes
    -----
    Exact duplicates share a PCM hash, channel count and sample rate (the hash covers
    the samples alone); the hash of an empty clip matches nothing. Near duplicates come
    from :func:`~audiosoup_widgets.analysis.neighbours.near_duplicate_groups`: pairs of
    clips closer than ``thresholds.near_duplicate`` times the median nearest-neighbour
    distance over distinct feature rows, joined into connected groups; a group whose
    clips are all one exact duplicate group is reported only as that. Silent clips are
    neither level outliers nor part of the levels they are compared with.
    """
    clips = _Clips(table)
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] != len(clips.ids):
            raise ValidationError(
                f"features must have one row per clip ({len(clips.ids)}), not shape {features.shape}"
            )
    t = thresholds
    found: list[Finding] = []
    exact = clips.exact_groups()
    found += [clips.group_finding("exact_duplicate", g, {"pcm_sha256": clips.hashes[g[0]]}) for g in exact]
    near: list[np.ndarray] = []
    if features is not None and t.near_duplicate > 0:
        keys = clips.exact_keys()
        scan = near_duplicate_groups(features, threshold=t.near_duplicate, progress=progress)
        for group, link in zip(scan.groups, scan.links, strict=True):
            if keys[group[0]] is None or any(keys[i] != keys[group[0]] for i in group):
                near.append(group)
                extra = {"distance": link, "radius": scan.radius, "median_nn_distance": scan.median}
                extra |= {"threshold": t.near_duplicate, "dimensions": scan.dimensions}
                found.append(clips.group_finding("near_duplicate", group, extra))
    found += clips.speaker_leaks()
    for via, groups in (("same_audio", exact), ("near_audio", near)):
        for g in groups:
            splits = {clips.splits[i] for i in g} - {None}
            if len(splits) > 1:
                found.append(clips.group_finding("split_leak", g, {"via": via}))
    found += clips.over_threshold("clipping", clips.clip_ratio > t.clip_ratio, "clip_ratio", t.clip_ratio)
    silent = clips.silence_ratio >= t.silence_ratio
    found += clips.over_threshold("silence", silent, "silence_ratio", t.silence_ratio)
    found += clips.level_outliers(silent, t)
    found += clips.small_classes(t.imbalance)
    return sorted(found, key=_order)


def _order(f: Finding) -> tuple[Any, ...]:
    return (KINDS.index(f.kind), f.label is not None, f.label or "", f.sample_ids, f.detail.get("via", ""))


def _plain(x: Any) -> Any:
    """Return a JSON-able plain value: numpy scalars as Python ones, non-finite floats as None."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _texts(values: Iterable[Any]) -> list[str | None]:
    return [None if v is None or (not isinstance(v, str) and bool(pd.isna(v))) else str(v) for v in values]


def _clips_of(n: int, label: str | None) -> str:
    """Return "1 clip of 'dog' is", "2 unlabelled clips are"."""
    clips = "clip is" if n == 1 else "clips are"
    return f"{n} unlabelled {clips}" if label is None else f"{n} {clips.replace(' ', f' of {label!r} ')}"


class _Clips:
    """The table as plain arrays, and the findings that come from it alone."""

    def __init__(self, table: pd.DataFrame) -> None:
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValidationError(f"the quality table lacks the columns {', '.join(missing)}")
        ids = pd.to_numeric(table["sample_id"], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(ids).any() or (ids != np.round(ids)).any():
            raise ValidationError("every clip of the quality table needs a whole-number sample_id")
        if len(np.unique(ids)) != len(ids):
            raise ValidationError("sample ids repeat in the quality table")
        self.ids = ids.astype(np.int64)
        self.labels = _texts(table["label"])
        self.splits = _texts(table["split"])
        self.speakers = _texts(table["speaker"])
        self.hashes = _texts(table["pcm_sha256"])

        def num(c: str) -> np.ndarray:
            out: np.ndarray = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=np.float64)
            return out

        self.clip_ratio, self.silence_ratio = num("clip_ratio"), num("silence_ratio")
        self.rms, self.rates, self.channels = num("rms_dbfs"), num("sample_rate"), num("channels")

    def exact_keys(self) -> list[tuple[str, float, float] | None]:
        """Per clip, what exact duplicates share (None: no hash, or no samples)."""
        return [
            None if h is None or h == _EMPTY_SHA256 else (h, _key(c), _key(r))
            for h, c, r in zip(self.hashes, self.channels, self.rates, strict=True)
        ]

    def exact_groups(self) -> list[np.ndarray]:
        """Row positions of each group of 2+ clips with the same exact key."""
        by_key: dict[tuple[str, float, float], list[int]] = {}
        for i, k in enumerate(self.exact_keys()):
            if k is not None:
                by_key.setdefault(k, []).append(i)
        return [np.array(g) for g in by_key.values() if len(g) > 1]

    def _sorted(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return rows[np.argsort(self.ids[rows], kind="stable")]

    def _finding(self, kind: str, rows: np.ndarray, label: str | None, detail: dict[str, Any]) -> Finding:
        detail = {"label": label, **{k: _plain(v) for k, v in detail.items()}}
        return Finding(kind, tuple(int(i) for i in self.ids[rows]), label, detail)

    def group_finding(self, kind: str, rows: Sequence[int] | np.ndarray, extra: dict[str, Any]) -> Finding:
        """Return the finding of a duplicate group or a leak through one: labels and splits of every clip."""
        rows = self._sorted(rows)
        labels = [self.labels[i] for i in rows]
        splits = [self.splits[i] for i in rows]
        distinct = sorted(set(labels) - {None})
        label = distinct[0] if len(distinct) == 1 and None not in labels else None
        what = {
            "exact_duplicate": "have identical audio",
            "near_duplicate": "are near duplicates in feature space",
        }
        if kind == "split_leak":
            shown = sorted(set(splits) - {None})
            how = "identical audio" if extra["via"] == "same_audio" else "near-duplicate audio"
            summary = f"{how} in splits {', '.join(shown)} ({len(rows)} clips)"
        else:
            summary = f"{len(rows)} clips {what[kind]}"
            summary += f", labelled {', '.join(map(repr, distinct))}" if distinct else ", unlabelled"
        conflict = len(distinct) > 1
        detail = {"summary": summary, "labels": labels, "splits": splits, "conflicting_labels": conflict}
        return self._finding(kind, rows, label, {**detail, **extra})

    def speaker_leaks(self) -> list[Finding]:
        """One ``split_leak`` per speaker whose clips sit in 2+ splits."""
        rows: dict[str, list[int]] = {}
        for i, (spk, split) in enumerate(zip(self.speakers, self.splits, strict=True)):
            if spk is not None and split is not None:
                rows.setdefault(spk, []).append(i)
        out = []
        for spk, r in rows.items():
            counts = pd.Series([self.splits[i] for i in r]).value_counts().sort_index()
            if len(counts) > 1:
                where = " and ".join(f"{s} ({n})" for s, n in counts.items())
                f = self.group_finding("split_leak", r, {"via": "speaker", "speaker": spk})
                detail = {**f.detail, "split_counts": {str(s): int(n) for s, n in counts.items()}}
                detail["summary"] = f"speaker {spk!r} has clips in {where}"
                out.append(Finding(f.kind, f.sample_ids, f.label, detail))
        return out

    def _by_label(self, mask: np.ndarray) -> dict[str | None, np.ndarray]:
        rows: dict[str | None, list[int]] = {}
        for i in np.flatnonzero(mask):
            rows.setdefault(self.labels[i], []).append(int(i))
        return {k: self._sorted(v) for k, v in rows.items()}

    def over_threshold(self, kind: str, mask: np.ndarray, column: str, threshold: float) -> list[Finding]:
        """One finding per label of the clips in ``mask`` (NaN compares False: not judged)."""
        values = self.clip_ratio if column == "clip_ratio" else self.silence_ratio
        out = []
        for label, rows in self._by_label(mask).items():
            what = "clipped" if kind == "clipping" else "silent"
            rule = "more than" if kind == "clipping" else "at least"
            part = "of samples at full scale" if kind == "clipping" else "of frames silent"
            summary = f"{_clips_of(len(rows), label)} {what} ({rule} {threshold:.3g} {part})"
            detail = {"summary": summary, column: [_plain(values[i]) for i in rows], "threshold": threshold}
            out.append(self._finding(kind, rows, label, detail))
        return out

    def level_outliers(self, silent: np.ndarray, t: QcThresholds) -> list[Finding]:
        """One finding per label of the clips far from their label's (or the dataset's) median level."""
        usable = np.isfinite(self.rms) & ~silent
        if not usable.any():
            return []
        overall = _robust(self.rms[usable])
        out = []
        for label, rows in self._by_label(usable).items():
            own = label is not None and len(rows) >= t.min_label_size
            med, scale = _robust(self.rms[rows]) if own else overall
            dev = self.rms[rows] - med
            with np.errstate(divide="ignore", invalid="ignore"):  # a MAD of 0 makes any deviation infinite
                z = np.where(dev == 0, 0.0, dev / scale)
            hit = (np.abs(z) > t.level_z) & (np.abs(dev) > t.level_min_db)
            if not hit.any():
                continue
            ref = "label" if own else "dataset"
            summary = f"{_clips_of(int(hit.sum()), label)} far from the {ref}'s median level ({med:.1f} dBFS)"
            detail = {
                "summary": summary,
                "rms_dbfs": [float(v) for v in self.rms[rows[hit]]],
                "z": [_plain(float(v)) for v in z[hit]],
                "median_dbfs": med,
                "mad_db": scale / 1.4826,
                "reference": ref,
                "level_z": t.level_z,
                "level_min_db": t.level_min_db,
            }
            out.append(self._finding("level_outlier", rows[hit], label, detail))
        return out

    def small_classes(self, imbalance: float) -> list[Finding]:
        """One finding per label under ``imbalance`` times the mean label size."""
        labelled = np.array([lab is not None for lab in self.labels], dtype=bool)
        by_label = self._by_label(labelled)
        if len(by_label) < 2:
            return []
        mean = float(labelled.sum()) / len(by_label)
        out = []
        for label, rows in by_label.items():
            if len(rows) < imbalance * mean:
                n = f"{len(rows)} clip{'s' * (len(rows) != 1)}"
                summary = f"{label!r} has {n}, under {imbalance:.0%} of the mean class size ({mean:.1f})"
                detail = {"summary": summary, "count": len(rows), "mean_size": mean, "threshold": imbalance}
                out.append(self._finding("class_imbalance", rows, label, detail))
        return out


def _key(x: float) -> float:
    # NaN never equals itself: an unknown rate or channel count is one value, -1.
    return -1.0 if math.isnan(x) else float(x)


def _robust(x: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 times the MAD) of ``x``."""
    med = float(np.median(x))
    return med, 1.4826 * float(np.median(np.abs(x - med)))
