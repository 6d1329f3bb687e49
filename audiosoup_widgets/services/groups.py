"""GroupService: what a group of clips looks like: class templates and effect sizes between groups.

A group is a label of a dataset or a list of its sample ids (a selection). This
module owns the comparison view's group questions and their caches:

* :meth:`GroupService.template`: a label's class template, the mean of its stored
  summaries and, for the mel spectrogram, the mean spectrogram of up to
  :data:`TEMPLATE_MAX_CLIPS` clips of the label's most common length, from their audio;
* :meth:`GroupService.effect_sizes` and :meth:`GroupService.distributions`: Cohen's d
  of every stored summary column between two groups, sorted, and one column's values
  in both groups (the click on an effect size).

The arithmetic is :mod:`audiosoup_widgets.analysis.compare`; summaries come from the
store. Answers are cached under a key holding the label counts the sample service keeps
current, so a relabel through the services is never served stale.
:class:`~audiosoup_widgets.services.compare.CompareService` is the face widgets call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis import compare as cmp
from ..errors import AudiosoupError, FeatureError, NotFoundError, ValidationError
from ..features import FEATURES, FeatureSpec
from ..jobs.summaries import read_summary_matrix
from ..store import SampleQuery, Store
from .audio import MAX_FEATURE_SECONDS, AudioService
from .cache import LRUCache
from .features import FeatureService
from .samples import SampleService, as_sample_id

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "GroupService",
    "Template",
    "EffectSizes",
    "Distributions",
    "Group",
    "TEMPLATE_MAX_CLIPS",
    "EFFECT_FEATURES",
    "MAX_GROUP",
    "column_title",
]

#: Most clips decoded for a mel-spectrogram template (the rest of the label is not read).
TEMPLATE_MAX_CLIPS = 64
#: Features whose summaries enter the effect sizes. The power spectrogram and the two
#: tempograms are left out: their hundreds of bins repeat the mel spectrogram and the
#: onset strength, and would bury the list in near-duplicates.
EFFECT_FEATURES = tuple(
    f for f in FEATURES if f not in ("power_spectrogram", "tempogram", "fourier_tempogram")
)
#: Most ids in a group given as a list (a selection).
MAX_GROUP = 1_000_000

#: A group of clips: a label name, or sample ids.
Group = str | Sequence[int]


@dataclass(frozen=True)
class Template:
    """A label's class template for one feature.

    Attributes
    ----------
    dataset, label, feature : str
    summary : np.ndarray or None
        Mean over the label's clips of their stored summaries (``2 * rows``: means, then
        standard deviations over time); None when none are stored.
    n_summaries : int
        Clips whose summaries were averaged.
    matrix : np.ndarray or None
        Mel spectrogram only: the mean (power) over clips of the label's most common
        length; None for other features.
    sr : int
        Sample rate of the averaged clips (0 without ``matrix``).
    n_matrix : int
        Clips averaged into ``matrix``.
    n_equal : int
        Clips of the label with that length (``n_matrix`` is at most
        :data:`TEMPLATE_MAX_CLIPS` of them).
    seconds : float
        Their length.
    note : str
        What was averaged, in a sentence for the page.
    """

    dataset: str
    label: str
    feature: str
    summary: np.ndarray | None
    n_summaries: int
    matrix: np.ndarray | None = None
    sr: int = 0
    n_matrix: int = 0
    n_equal: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def profile(self) -> np.ndarray | None:
        """Mean over time of each row (raw units): the summary means, else the matrix's."""
        if self.summary is not None:
            return self.summary[: self.summary.size // 2]
        if self.matrix is not None:
            return np.asarray(np.nanmean(self.matrix, axis=-1))
        return None


@dataclass(frozen=True)
class EffectSizes:
    """Cohen's d of every stored summary column between two groups.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per column, sorted by ``abs_d`` (largest first): ``column``, ``feature``,
        ``title``, ``d``, ``abs_d``, ``mean_a``, ``mean_b``, ``n_a``, ``n_b``.
    features : pandas.DataFrame
        One row per feature: ``feature``, ``title``, and ``d``, ``abs_d`` and ``column`` of its
        column of largest ``|d|``, ``n_columns``; sorted by ``abs_d``.
    name_a, name_b : str
        The groups, in words.
    n_a, n_b : int
        Clips with stored summaries in each group.
    missing : tuple of str
        Features without stored summaries (left out).
    """

    table: pd.DataFrame
    features: pd.DataFrame
    name_a: str
    name_b: str
    n_a: int
    n_b: int
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Distributions:
    """One summary column's values in two groups (the click on an effect size)."""

    column: str
    title: str
    a: np.ndarray
    b: np.ndarray
    name_a: str
    name_b: str
    d: float


class GroupService:
    """Class templates and effect sizes between groups of one dataset's clips, with their caches.

    Parameters
    ----------
    samples : SampleService
    audio : AudioService
    features : FeatureService
    store : Store
    """

    def __init__(
        self, samples: SampleService, audio: AudioService, features: FeatureService, store: Store
    ) -> None:
        self._samples = samples
        self._audio = audio
        self._features = features
        self._store = store
        self._templates: LRUCache[Template] = LRUCache(8)
        self._frames: LRUCache[pd.DataFrame] = LRUCache(4)

    def forget(self) -> None:
        """Drop every cached answer (after changes made outside the services)."""
        self._templates.clear()
        self._frames.clear()

    def check_label(self, dataset: str, label: object) -> str:
        """Return ``label`` if ``dataset`` has it, or raise a plain error."""
        if not isinstance(label, str) or not label:
            raise ValidationError("Choose a label.")
        if label not in self._samples.label_names(dataset):
            raise NotFoundError(f"The dataset has no label {label!r}.")
        return label

    def fingerprint(self, dataset: str) -> tuple[tuple[str, int], ...]:
        """Return the dataset's label counts: part of every cache key that depends on labels."""
        # The sample service refreshes label counts after every edit through it, so a
        # relabel changes this key and no cached template or group outlives it.
        return tuple((lab.name, lab.n_samples) for lab in self._samples.labels(dataset))

    # -- class templates -------------------------------------------------------------

    def template(
        self, dataset: str, label: str, feature: str, *, max_clips: int = TEMPLATE_MAX_CLIPS
    ) -> Template:
        """Return the class template of ``label``: the mean of its clips for ``feature``.

        Parameters
        ----------
        dataset : str
        label : str
            A label of the dataset.
        feature : str
            A registered feature id. For ``mel_spectrogram`` the template also holds the
            mean spectrogram of up to ``max_clips`` clips of the label's most common
            length (sample rate and number of samples), computed from their audio.
        max_clips : int
            Most clips decoded for the mean spectrogram (evenly spread over the label).

        Returns
        -------
        Template

        Raises
        ------
        NotFoundError
            An unknown label.
        FeatureError
            ``not_computed`` when nothing can be averaged (no stored summaries of a
            feature other than the mel spectrogram); the message names the command.
        """
        spec = _spec(feature)
        label = self.check_label(dataset, label)
        if isinstance(max_clips, bool) or not isinstance(max_clips, int) or not 1 <= max_clips <= 200:
            raise ValidationError("max_clips must be between 1 and 200")
        key = (dataset, label, feature, max_clips, self.fingerprint(dataset), self._features.params_key)
        return self._templates.get(key, lambda: self._template(dataset, label, spec, max_clips))

    def _template(self, dataset: str, label: str, spec: FeatureSpec, max_clips: int) -> Template:
        values = read_summary_matrix(
            self._store, dataset, [spec.id], params=self._features.params, label=label
        ).values
        summary = np.asarray(cmp.template(values.astype(np.float64))) if values.size else None
        n_summaries = int(values.shape[0]) if values.size else 0
        parts = []
        if summary is not None:
            parts.append(f"mean of the stored summaries of {n_summaries:,} clips labelled {label!r}")
        if spec.id != "mel_spectrogram":
            if summary is None:
                raise FeatureError(
                    f"No summaries of the {spec.title.lower()} are stored for this dataset yet; run: "
                    f"audiosoup features compute --dataset {dataset}",
                    code="not_computed",
                )
            return Template(dataset, label, spec.id, summary, n_summaries, note=_sentence(parts))
        matrix, sr, n_used, n_equal, seconds = self._mean_mel(dataset, label, max_clips)
        if matrix is not None:
            of = f"all {n_equal:,}" if n_used == n_equal else f"{n_used} of the {n_equal:,}"
            parts.insert(
                0,
                f"mean mel spectrogram of {of} clips labelled {label!r} that last {seconds:.2f} s "
                f"at {sr / 1000:g} kHz (the label's most common length; at most {max_clips} clips "
                "are read)",
            )
        if matrix is None and summary is None:
            raise FeatureError(f"No clip labelled {label!r} could be read.", code="not_computed")
        return Template(
            dataset,
            label,
            spec.id,
            summary,
            n_summaries,
            matrix=matrix,
            sr=sr,
            n_matrix=n_used,
            n_equal=n_equal,
            seconds=seconds,
            note=_sentence(parts),
        )

    def _mean_mel(
        self, dataset: str, label: str, max_clips: int
    ) -> tuple[np.ndarray | None, int, int, int, float]:
        """Mean mel power of up to ``max_clips`` of the label's clips of its modal length."""
        from .. import features as feature_api

        cols = self._store.quality_columns(dataset)
        ids = np.asarray(cols["sample_id"], dtype=np.int64)
        mine = np.array([lab == label for lab in cols["label"]], dtype=bool)
        rates = np.nan_to_num(np.asarray(cols["sample_rate"], dtype=np.float64)[mine]).astype(np.int64)
        seconds = np.nan_to_num(np.asarray(cols["duration"], dtype=np.float64)[mine])
        # Analysed audio stops at MAX_FEATURE_SECONDS: longer clips are equal there.
        n = np.rint(np.minimum(seconds, MAX_FEATURE_SECONDS) * rates).astype(np.int64)
        usable = n > 0
        if not usable.any():
            return None, 0, 0, 0, 0.0
        shapes = [(int(r), int(k)) for r, k in zip(rates[usable], n[usable], strict=True)]
        modal = cmp.equal_length(shapes)
        sr, frames = shapes[int(modal[0])]
        equal = ids[mine][usable][modal]
        pick = equal[
            np.unique(np.linspace(0, len(equal) - 1, min(max_clips, len(equal))).round().astype(int))
        ]
        records = self._store.page_samples(
            SampleQuery(dataset, ids=tuple(pick.tolist())), page_size=len(pick)
        )
        clips = []
        for record in records:
            try:
                y, rate = self._audio.decode(record, max_seconds=MAX_FEATURE_SECONDS)
            except AudiosoupError:
                continue  # a missing or broken file costs that clip only
            if rate == sr and len(y) >= frames:
                clips.append(y[:frames])
        if not clips:
            return None, 0, len(equal), 0, 0.0
        result = feature_api.compute_features_with_status(
            np.stack(clips), sr, ["mel_spectrogram"], params=self._features.params
        )
        mel = np.asarray(result.values["mel_spectrogram"], dtype=np.float64)
        ok = [i for i, s in enumerate(result.status) if s in ("ok", "silent", "too_short")]
        if not ok:
            return None, 0, len(equal), 0, 0.0
        matrix = np.asarray(cmp.template(mel[ok]), dtype=np.float64)
        return matrix, sr, len(ok), len(equal), frames / sr

    # -- groups: effect sizes --------------------------------------------------------

    def _group(self, dataset: str, group: object) -> tuple[tuple[str, Any], str]:
        """Check a group; return its cache key and its name in words."""
        if isinstance(group, str):
            label = self.check_label(dataset, group)
            return ("label", label), f"label {label!r}"
        if isinstance(group, bytes) or not isinstance(group, Sequence | frozenset | set):
            raise ValidationError("A group is a label name or a list of sample ids.")
        ids = tuple(sorted({as_sample_id(i) for i in group}))
        if len(ids) < 2:
            raise ValidationError("A group needs at least 2 clips.")
        if len(ids) > MAX_GROUP:
            raise ValidationError(f"A group holds at most {MAX_GROUP:,} clips.")
        found = self._store.count_samples(SampleQuery(dataset, ids=ids))
        if found != len(ids):
            raise NotFoundError(f"{len(ids) - found:,} of the clips are not in this dataset.")
        return ("ids", ids), f"{len(ids):,} selected clips"

    def _frame(self, dataset: str, key: tuple[str, Any]) -> pd.DataFrame:
        """Return the stored summaries of a group's clips (``<feature>_<stat>_<row>``; NaN: missing)."""
        cache_key = (dataset, key, self.fingerprint(dataset), self._features.params_key)
        return self._frames.get(cache_key, lambda: self._read_frame(dataset, key))

    def _read_frame(self, dataset: str, key: tuple[str, Any]) -> pd.DataFrame:
        import pandas as pd

        kind, what = key
        read = read_summary_matrix(
            self._store,
            dataset,
            EFFECT_FEATURES,
            params=self._features.params,
            label=what if kind == "label" else None,
            ids=None if kind == "label" else what,
            align=False,
        )
        if not read.features:
            return pd.DataFrame()
        return pd.DataFrame(read.values, index=read.ids, columns=read.columns)

    def effect_sizes(self, dataset: str, group_a: Group, group_b: Group) -> EffectSizes:
        """Return Cohen's d of every stored summary column between two groups, sorted by ``|d|``.

        Parameters
        ----------
        dataset : str
        group_a, group_b : str or sequence of int
            A label name, or sample ids of the dataset (a selection). ``d`` is positive
            where group A's mean is higher.

        Returns
        -------
        EffectSizes

        Raises
        ------
        ValidationError, NotFoundError
            Unknown labels or ids, the same group twice, a group of fewer than 2 clips.
        FeatureError
            ``not_computed`` without stored summaries (the message names the command).
        """
        key_a, name_a = self._group(dataset, group_a)
        key_b, name_b = self._group(dataset, group_b)
        if key_a == key_b:
            raise ValidationError("Pick two different groups to compare.")
        fa, fb = self._frame(dataset, key_a), self._frame(dataset, key_b)
        if fa.empty or fb.empty:
            raise FeatureError(
                "No feature summaries are stored for these clips yet; run: "
                f"audiosoup features compute --dataset {dataset}",
                code="not_computed",
            )
        cols = [c for c in fa.columns if c in set(fb.columns)]
        fa, fb = fa[cols], fb[cols]
        n_a = int(fa.notna().any(axis=1).sum())
        n_b = int(fb.notna().any(axis=1).sum())
        if n_a < 2 or n_b < 2:
            raise FeatureError(
                "Each group needs at least 2 clips with stored feature summaries "
                f"({name_a}: {n_a}, {name_b}: {n_b}); run: audiosoup features compute --dataset {dataset}",
                code="not_computed",
            )
        table = cmp.effect_sizes(fa, fb, columns=cols)
        table["feature"] = [cmp.feature_of_column(str(c)) for c in table["column"]]
        table["title"] = [column_title(str(c)) for c in table["column"]]
        per = cmp.per_feature(table)
        per["title"] = [FEATURES[f].title if f in FEATURES else f for f in per["feature"]]
        present = {cmp.feature_of_column(c) for c in cols}
        missing = tuple(f for f in EFFECT_FEATURES if f not in present)
        return EffectSizes(table, per, name_a, name_b, n_a, n_b, missing)

    def distributions(self, dataset: str, group_a: Group, group_b: Group, column: str) -> Distributions:
        """Return one summary column's values in both groups (finite values only).

        Raises
        ------
        ValidationError
            An unknown column (it must be one :meth:`effect_sizes` lists).
        """
        key_a, name_a = self._group(dataset, group_a)
        key_b, name_b = self._group(dataset, group_b)
        fa, fb = self._frame(dataset, key_a), self._frame(dataset, key_b)
        if not isinstance(column, str) or column not in fa.columns or column not in fb.columns:
            raise ValidationError("Unknown feature column.")
        a = fa[column].to_numpy(dtype=np.float64)
        b = fb[column].to_numpy(dtype=np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        d = float(cmp.cohens_d(a, b)[0]) if a.size and b.size else math.nan
        return Distributions(column, column_title(column), a, b, name_a, name_b, d)


def column_title(column: str) -> str:
    """Say what a summary column is: ``"MFCC · coefficient 3 · mean over time"``."""
    try:
        feature, stat, row = cmp.summary_column_parts(column)
    except ValidationError:
        return column
    spec = FEATURES.get(feature)
    if spec is None:
        return column
    what = "mean over time" if stat == "mean" else "variation over time (std)"
    if spec.kind == "line":
        return f"{spec.title} · {what}"
    ticks = spec.y_axis.ticks
    if ticks and row < len(ticks) and spec.id != "stack_memory":
        name = ticks[row]
    elif spec.y_axis.unit == "index":
        name = f"{spec.y_axis.name} {row}"
    elif spec.y_axis.scale == "mel":
        name = f"mel band {row}"
    else:
        name = f"{'band' if spec.id == 'spectral_contrast' else 'row'} {row}"
    return f"{spec.title} · {name} · {what}"


def _spec(feature: object) -> FeatureSpec:
    if not isinstance(feature, str) or feature not in FEATURES:
        raise ValidationError("Unknown feature; choose one from the list.")
    return FEATURES[feature]


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""
