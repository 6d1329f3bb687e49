"""RankingService: which features separate a dataset's labels, as the model view needs it.

The service runs :func:`~audiosoup_widgets.jobs.ranking.rank_features` (every level and
scope at once, so switching the score or the scope in the view never recomputes) and
keeps the table per dataset under a key of what the ranking reads: the dataset's
labelled clips with their labels and splits, how many clips lack summaries, and the
feature parameters. A relabel, a clip moved to another split or new summaries change the
key, and :meth:`RankingService.current` stops handing out the old table; summaries
recomputed in place for the same clips (``features compute --force``) are picked up
by :meth:`RankingService.rank` with ``recompute=True`` (the view's "Recompute").

It answers, as plain records:

* :meth:`RankingService.bars`: one bar per feature (its score by F or mutual information,
  for all labels or one label against the rest, with the 95 % interval);
* :meth:`RankingService.detail`: one feature's best summary column, its values per label
  as histograms on shared bars (:func:`~audiosoup_widgets.analysis.histograms.bin_values`)
  and the clips at its two extremes, for playing.

Ranking is slow (seconds to a minute at 100,000 clips): :meth:`RankingService.rank` is
meant for a worker thread; the cache is shared safely between threads.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..analysis.histograms import bin_values
from ..errors import ValidationError
from ..features import FAMILIES, FEATURES, FeatureParams
from ..jobs.ranking import rank_features
from ..store import Store
from .groups import column_title
from .samples import SampleService

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "RankingService",
    "Ranking",
    "FeatureBar",
    "FeatureDetail",
    "LabelHistogram",
    "ExtremeClip",
    "RANK_BY",
    "ALL_LABELS",
    "N_EXTREMES",
]

#: The scores a ranking can be ordered by: ANOVA F and mutual information.
RANK_BY: tuple[str, ...] = ("f", "mi")
#: The scope of the whole label set (any other scope is a label against the rest).
ALL_LABELS = "all"
#: Clips shown at each extreme of a feature's values.
N_EXTREMES = 5
#: Datasets whose rankings are kept.
MAX_CACHED = 4


@dataclass(frozen=True, eq=False)
class Ranking:
    """One dataset's ranking table and what it was computed from.

    Attributes
    ----------
    dataset : str
    key : str
        The input key it was computed under (see the module's notes).
    table : pandas.DataFrame
        :func:`~audiosoup_widgets.jobs.ranking.rank_features`'s table, every level.
    labels : tuple of str
        The labels ranked (each is a one-against-the-rest scope).
    split : str
        ``"train"``, or ``"all"`` for a dataset without splits.
    n_rows : int
        Clips ranked.
    """

    dataset: str
    key: str
    table: pd.DataFrame
    labels: tuple[str, ...]
    split: str
    n_rows: int

    @property
    def features(self) -> tuple[str, ...]:
        """The features ranked (those with stored summaries)."""
        rows = self.table[self.table["level"] == "feature"]
        return tuple(dict.fromkeys(str(f) for f in rows["feature"]))


@dataclass(frozen=True)
class FeatureBar:
    """One feature's score for the chart.

    Attributes
    ----------
    feature, title, family : str
    score, low, high : float
        The score and its 95 % interval (NaN: no interval, as for one-vs-rest mutual
        information; ``inf``: perfect separation by F).
    rank : int
        1 separates best.
    column : str
        The summary column the score comes from.
    """

    feature: str
    title: str
    family: str
    score: float
    low: float
    high: float
    rank: int
    column: str


@dataclass(frozen=True)
class LabelHistogram:
    """One label's values of a column, counted in the shared bars."""

    label: str
    counts: tuple[int, ...]
    n: int


@dataclass(frozen=True)
class ExtremeClip:
    """A clip at one end of a feature column's values."""

    sample_id: int
    name: str
    label: str
    value: float


@dataclass(frozen=True)
class FeatureDetail:
    """One feature's best column: per-label histograms on shared bars and extreme clips.

    Attributes
    ----------
    feature, title, column, column_title : str
    edges : tuple of float
        ``len(bars) + 1`` finite bar edges, increasing (the outer bars of outliers are
        drawn one bar width wide).
    bar_labels : tuple of str
        Each bar's range in words.
    histograms : tuple of LabelHistogram
        One per label, in the ranking's label order.
    lowest, highest : tuple of ExtremeClip
        The :data:`N_EXTREMES` clips with the lowest and highest values (lowest first,
        highest first).
    """

    feature: str
    title: str
    column: str
    column_title: str
    edges: tuple[float, ...]
    bar_labels: tuple[str, ...]
    histograms: tuple[LabelHistogram, ...]
    lowest: tuple[ExtremeClip, ...]
    highest: tuple[ExtremeClip, ...]


class RankingService:
    """Feature rankings of the datasets of one store.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        Where the extreme clips' names come from (its cache is shared).
    params : FeatureParams, optional
        Which parameter set's summaries are ranked (default: the defaults).
    """

    def __init__(self, store: Store, samples: SampleService, *, params: FeatureParams | None = None) -> None:
        self._store = store
        self._samples = samples
        self.params = params or FeatureParams()
        # One table per dataset (a few of them; a table is some thousands of rows).
        self._rankings: dict[str, Ranking] = {}
        self._cache_lock = threading.Lock()
        # One computation at a time: a second caller waits and then reuses the result.
        self._lock = threading.Lock()

    # -- the table ----------------------------------------------------------------------

    def key(self, dataset: str) -> str:
        """Return the input key of ``dataset``'s ranking now (one quick read; see the module's notes)."""
        table = self._store.sample_table(dataset)
        digest = hashlib.sha1(usedforsecurity=False)
        for sid, _, label, split in table:
            if label is not None:
                digest.update(f"{sid}\t{label}\t{split}\n".encode())
        missing = self._store.count_samples_without_summaries(dataset)
        keys = ",".join(self.params.key_for(f) for f in FEATURES)
        digest.update(f"{missing}|{keys}".encode())
        return digest.hexdigest()

    def current(self, dataset: str) -> Ranking | None:
        """Return the cached ranking of ``dataset`` if its key is still current, else None (quick)."""
        with self._cache_lock:
            cached = self._rankings.get(dataset)
        return cached if cached is not None and cached.key == self.key(dataset) else None

    def rank(self, dataset: str, *, recompute: bool = False) -> Ranking:
        """Return the ranking of ``dataset``, computed unless a current one is cached. Slow.

        Raises
        ------
        FeatureError
            ``not_computed`` when no summaries are stored (the message names the command).
        ValidationError, NotFoundError
            Fewer than two labels, no labelled train clip, an unknown dataset.
        """
        with self._lock:
            if not recompute:
                cached = self.current(dataset)
                if cached is not None:
                    return cached
            key = self.key(dataset)
            table = rank_features(dataset, db=self._store, level="all", by="f", params=self.params)
            ranking = Ranking(
                dataset=dataset,
                key=key,
                table=table,
                labels=tuple(str(lab) for lab in table.attrs.get("labels", ())),
                split=str(table.attrs.get("split", "train")),
                n_rows=int(table.attrs.get("n_rows", 0)),
            )
            with self._cache_lock:
                self._rankings.pop(dataset, None)
                self._rankings[dataset] = ranking
                while len(self._rankings) > MAX_CACHED:
                    self._rankings.pop(next(iter(self._rankings)))
            return ranking

    def forget(self, dataset: str | None = None) -> None:
        """Drop cached rankings (all of them, or ``dataset``'s)."""
        with self._cache_lock:
            if dataset is None:
                self._rankings.clear()
            else:
                self._rankings.pop(dataset, None)

    # -- answers ------------------------------------------------------------------------

    def bars(self, ranking: Ranking, *, by: str = "f", scope: str = ALL_LABELS) -> list[FeatureBar]:
        """Return one bar per feature, best first, for score ``by`` and ``scope``.

        Raises
        ------
        ValidationError
            An unknown score or scope.
        """
        by, scope = _check(ranking, by, scope)
        t = ranking.table
        columns = t[(t["level"] == "column") & (t["scope"] == scope)]
        bars = []
        for feature, rows in columns.groupby("feature", sort=False):
            scores = rows[by].to_numpy(dtype=np.float64)
            if not len(scores) or np.isnan(scores).all():
                best = rows.iloc[0]
            else:
                best = rows.iloc[int(np.argmax(np.nan_to_num(scores, nan=-np.inf)))]
            feats = t[(t["level"] == "feature") & (t["scope"] == scope) & (t["name"] == feature)]
            row = feats.iloc[0] if len(feats) else best
            spec = FEATURES.get(str(feature))
            bars.append(
                FeatureBar(
                    feature=str(feature),
                    title=spec.title if spec is not None else str(feature),
                    family=str(row["family"]),
                    score=float(row[by]),
                    low=float(row[f"{by}_low"]),
                    high=float(row[f"{by}_high"]),
                    rank=0,
                    column=str(best["column"]),
                )
            )
        bars.sort(key=lambda b: (math.isnan(b.score), 0.0 if math.isnan(b.score) else -b.score, b.feature))
        return [_ranked(b, i + 1) for i, b in enumerate(bars)]

    def detail(
        self, ranking: Ranking, feature: object, *, by: str = "f", scope: str = ALL_LABELS
    ) -> FeatureDetail:
        """Return ``feature``'s best column per label and its extreme clips.

        Raises
        ------
        ValidationError
            An unknown feature (one not in the ranking), score or scope.
        """
        by, scope = _check(ranking, by, scope)
        if not isinstance(feature, str) or feature not in ranking.features:
            raise ValidationError("Unknown feature; pick one of the ranked features.")
        bar = next(b for b in self.bars(ranking, by=by, scope=scope) if b.feature == feature)
        ids, values, labels = self._column(ranking, feature, bar.column)
        bars = bin_values(values, scale="linear")
        edges = _edges(bars.lows, bars.highs, discrete=bars.discrete)
        histograms = []
        for label in ranking.labels:
            index = bars.index[labels == label]
            index = index[index >= 0]
            counts = np.bincount(index, minlength=len(bars.counts))
            histograms.append(LabelHistogram(label, tuple(int(c) for c in counts), int(index.size)))
        order = np.argsort(values, kind="stable")
        n = min(N_EXTREMES, len(order) // 2) if len(order) > 1 else len(order)
        spec = FEATURES[feature]
        return FeatureDetail(
            feature=feature,
            title=spec.title,
            column=bar.column,
            column_title=column_title(bar.column),
            edges=tuple(float(e) for e in edges),
            bar_labels=tuple(bars.labels),
            histograms=tuple(histograms),
            lowest=tuple(self._clip(ranking, ids, labels, values, i) for i in order[:n]),
            highest=tuple(self._clip(ranking, ids, labels, values, i) for i in order[::-1][:n]),
        )

    def features_of(self, ranking: Ranking, families: Iterable[object]) -> list[str]:
        """Return the ranked features of ``families``, in registry order.

        Raises
        ------
        ValidationError
            An unknown family.
        """
        wanted = set()
        for fam in families:
            if not isinstance(fam, str) or fam not in FAMILIES:
                raise ValidationError(f"Unknown feature family; choose from {', '.join(FAMILIES)}.")
            wanted.add(fam)
        return [f for f in FEATURES if f in ranking.features and FEATURES[f].family in wanted]

    # -- helpers ------------------------------------------------------------------------

    def _column(
        self, ranking: Ranking, feature: str, column: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.str_]]:
        """Return the ranked clips' ids, values of ``column`` (finite only) and labels."""
        from ..features import summary_columns

        split = "train" if ranking.split == "train" else None
        fids, values = self._store.summary_matrix(
            ranking.dataset, feature, self.params.key_for(feature), split=split
        )
        names = summary_columns(feature, values.shape[1] // 2) if values.size else []
        if column not in names:
            raise ValidationError("The feature's summaries changed; recompute the ranking.")
        col = values[:, names.index(column)].astype(np.float64)
        label_of = {
            sid: lab for sid, _, lab, _ in self._store.sample_table(ranking.dataset, split=split) if lab
        }
        keep = np.isfinite(col) & np.fromiter((int(i) in label_of for i in fids), bool, len(fids))
        ids = fids[keep]
        labels = np.array([label_of[int(i)] for i in ids], dtype=str)
        return ids, col[keep], labels

    def _clip(
        self,
        ranking: Ranking,
        ids: npt.NDArray[np.int64],
        labels: npt.NDArray[np.str_],
        values: npt.NDArray[np.float64],
        i: Any,
    ) -> ExtremeClip:
        sid = int(ids[i])
        record = self._samples.get(sid, dataset=ranking.dataset)
        return ExtremeClip(sid, record.file_name, str(labels[i]), float(values[i]))


def _check(ranking: Ranking, by: object, scope: object) -> tuple[str, str]:
    if by not in RANK_BY:
        raise ValidationError("Rank by F or by mutual information.")
    if not isinstance(scope, str) or (scope != ALL_LABELS and scope not in ranking.labels):
        raise ValidationError("Unknown scope; choose all labels or one label of the ranking.")
    return str(by), scope


def _ranked(bar: FeatureBar, rank: int) -> FeatureBar:
    return FeatureBar(bar.feature, bar.title, bar.family, bar.score, bar.low, bar.high, rank, bar.column)


def _edges(lows: np.ndarray, highs: np.ndarray, *, discrete: bool) -> np.ndarray:
    """Finite, increasing edges of the bars (outlier bars and one-value bars given a width)."""
    if not len(lows):
        return np.array([0.0, 1.0])
    if discrete:
        v = np.asarray(lows, dtype=np.float64)
        gap = float(np.diff(v).min()) if len(v) > 1 else 1.0
        mids = (v[:-1] + v[1:]) / 2 if len(v) > 1 else np.zeros(0)
        return np.concatenate([[v[0] - gap / 2], mids, [v[-1] + gap / 2]])
    edges = np.concatenate([np.asarray(lows, dtype=np.float64), [float(highs[-1])]])
    finite = edges[np.isfinite(edges)]
    if len(finite) < 2:
        lo = float(finite[0]) if len(finite) else 0.0
        return np.linspace(lo - 0.5, lo + 0.5, len(edges))
    width = float(np.diff(finite).min()) or 1.0
    if not np.isfinite(edges[0]):
        edges[0] = edges[1] - width
    if not np.isfinite(edges[-1]):
        edges[-1] = edges[-2] + width
    return edges
