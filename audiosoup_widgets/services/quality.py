"""QualityService: a dataset's quality at a glance: distributions, class balance, the stored findings.

The quality panel reads everything it shows from here, and asks here which clips a
histogram bar or a finding stands for. One read of the store's quality columns per
dataset feeds every histogram (numpy on the column arrays); the result is cached
with each clip's bar, so a click on a bar names exactly the clips the bar counted.

The cache of a dataset is kept until :meth:`QualityService.forget`, a check run
through :meth:`QualityService.run_check`, or a newer QC run found in the store (a
check run elsewhere, say with ``audiosoup qc``): :meth:`QualityService.overview`
compares the latest run's id, one small query, on every call.

Sample rate and channels get one bar per value; levels, SNR and durations bars of a
round width with outliers in bars of their own; the clipping ratio a bar for zero and
logarithmic bars above it; the silence ratio 5 % bars (see
:mod:`audiosoup_widgets.analysis.histograms`). The thresholds of
:func:`~audiosoup_widgets.analysis.qc.flagged_ranges` (those the latest check ran
with, else the service's) are bar bounds, so each bar is either wholly flagged or
not, and the shaded bars of a histogram count exactly the clips the check flags for
that measure. Clips without a value (not measured yet) are in no bar; each histogram
counts them apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.histograms import bin_values, format_bound
from ..analysis.qc import KINDS, QcThresholds, flagged_ranges
from ..errors import NotFoundError, ValidationError
from ..store import Store
from ..vocabulary import SPLITS

__all__ = [
    "QualityService",
    "QualityOverview",
    "Histogram",
    "ClassBalance",
    "FindingSummary",
    "CheckOutcome",
    "MEASURES",
    "KINDS",
]

#: Measures shown as histograms, in the panel's order.
MEASURES: tuple[str, ...] = (
    "duration",
    "sample_rate",
    "channels",
    "rms_db",
    "peak_dbfs",
    "clip_ratio",
    "silence_ratio",
    "snr_db",
)


@dataclass(frozen=True)
class _Spec:
    title: str
    unit: str
    factor: float  # stored value -> shown value (Hz -> kHz, ratio -> %)
    scale: str  # one of analysis.histograms.SCALES
    flag_text: str = ""


_SPECS: dict[str, _Spec] = {
    "duration": _Spec("Duration", "s", 1.0, "auto"),
    "sample_rate": _Spec("Sample rate", "kHz", 1e-3, "discrete"),
    "channels": _Spec("Channels", "", 1.0, "discrete"),
    "rms_db": _Spec("RMS level", "dBFS", 1.0, "linear"),
    "peak_dbfs": _Spec("Peak level", "dBFS", 1.0, "linear"),
    "clip_ratio": _Spec(
        "Clipping", "% of samples", 100.0, "zero_log", "Shaded: more than {lo} % of samples clipped."
    ),
    "silence_ratio": _Spec(
        "Silence", "% of frames", 100.0, "percent", "Shaded: {lo} % of frames silent or more."
    ),
    "snr_db": _Spec("SNR", "dB", 1.0, "linear"),
}


@dataclass(frozen=True)
class Histogram:
    """One measure's distribution over a dataset, as bars.

    Attributes
    ----------
    measure : str
        One of :data:`MEASURES`.
    title, unit : str
        What the measure is called and the unit of the bars' bounds ("" for none).
    counts : np.ndarray [shape=(n_bars,)], int64
        Clips in each bar.
    lows, highs : np.ndarray [shape=(n_bars,)], float64
        Each bar's bounds in ``unit``; ``-inf``/``inf`` for the bars that hold what
        lies beyond the others; equal for a bar of one value.
    labels : tuple of str
        Each bar's range in words ("0.95 to 1 s", "below -60 dBFS", "16 kHz").
    flagged : np.ndarray [shape=(n_bars,)], bool
        Bars inside the range a quality check flags.
    discrete : bool
        One bar per value (else bars of ranges, in order).
    flag_note : str
        What the flagged bars mean ("" when the measure has no threshold).
    measured, missing : int
        Clips with a value, and clips without one (not measured yet).
    """

    measure: str
    title: str
    unit: str
    counts: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    labels: tuple[str, ...]
    flagged: np.ndarray
    discrete: bool
    flag_note: str
    measured: int
    missing: int


@dataclass(frozen=True)
class ClassBalance:
    """Clips per label and split.

    Attributes
    ----------
    labels : tuple of (str or None)
        Labels, the largest first (None: clips without a label).
    splits : tuple of (str or None)
        Splits in their usual order, then None (clips without a split) if any.
    counts : np.ndarray [shape=(n_splits, n_labels)], int64
    """

    labels: tuple[str | None, ...]
    splits: tuple[str | None, ...]
    counts: np.ndarray


@dataclass(frozen=True)
class FindingSummary:
    """One stored finding, as the panel lists it."""

    id: int
    kind: str
    label: str | None
    summary: str
    count: int


@dataclass(frozen=True)
class QualityOverview:
    """Everything the quality panel shows of one dataset.

    Attributes
    ----------
    dataset : str
    clips : int
        Clips in the dataset.
    measured : int
        Clips whose quality measures are stored.
    histograms : tuple of Histogram
        One per measure of :data:`MEASURES`, in that order.
    balance : ClassBalance
    findings : tuple of FindingSummary
        The latest check's findings, in the order of :data:`KINDS`.
    checked_at : datetime or None
        When the latest check finished (None: no check ran yet).
    checked_clips : int
        Clips that check looked at.
    """

    dataset: str
    clips: int
    measured: int
    histograms: tuple[Histogram, ...]
    balance: ClassBalance
    findings: tuple[FindingSummary, ...]
    checked_at: dt.datetime | None
    checked_clips: int

    def histogram(self, measure: str) -> Histogram:
        """Return the histogram of ``measure``."""
        for h in self.histograms:
            if h.measure == measure:
                return h
        raise ValidationError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")


@dataclass(frozen=True)
class CheckOutcome:
    """What a quality check run from the panel found."""

    findings: int
    flagged_clips: int
    measured: int
    seconds: float
    notes: tuple[str, ...]


@dataclass
class _Entry:
    """A dataset's overview and what answers clicks on it."""

    run_id: int | None
    overview: QualityOverview
    ids: np.ndarray
    bars: dict[str, np.ndarray]  # measure -> each clip's bar (-1: no value)
    cells: np.ndarray  # each clip's (split, label) cell of the balance, flattened
    finding_ids: dict[int, tuple[int, ...]]


class QualityService:
    """Quality overviews of datasets, the clips behind their bars and findings, and checks.

    Parameters
    ----------
    store : Store
        The open store.
    thresholds : QcThresholds, optional
        The thresholds the check uses and the histograms shade (the documented defaults).
    """

    def __init__(self, store: Store, *, thresholds: QcThresholds | None = None) -> None:
        self.store = store
        self.thresholds = thresholds or QcThresholds()
        self._flags = flagged_ranges(self.thresholds)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    # -- reads -------------------------------------------------------------------------

    def overview(self, dataset: str) -> QualityOverview:
        """Return the quality overview of ``dataset`` (cached; see the module's notes).

        Raises
        ------
        NotFoundError
            For an unknown dataset.
        """
        _check_name(dataset)
        run = self.store.latest_qc_run(dataset)
        run_id = run.id if run is not None else None
        with self._lock:
            entry = self._entries.get(dataset)
        if entry is None or entry.run_id != run_id:
            entry = self._build(dataset, run)
            with self._lock:
                self._entries[dataset] = entry
        return entry.overview

    def bar_ids(self, dataset: str, measure: str, index: object) -> list[int]:
        """Return the ids of the clips in bar ``index`` of ``measure``'s histogram, in id order.

        They are exactly the clips the bar counts in the overview last returned.

        Raises
        ------
        ValidationError
            For an unknown measure or a bar index out of range.
        """
        entry = self._entry(dataset)
        if measure not in MEASURES:
            raise ValidationError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
        n = len(entry.overview.histogram(measure).counts)
        i = _index(index, n, what=f"{_SPECS[measure].title.lower()} bar")
        return [int(x) for x in entry.ids[entry.bars[measure] == i]]

    def balance_ids(self, dataset: str, label: object, split: object = None) -> list[int]:
        """Return the ids of the clips of label number ``label`` (and split number ``split``).

        ``label`` and ``split`` index :attr:`ClassBalance.labels` and
        :attr:`ClassBalance.splits` of the overview; ``split`` None means every split.
        """
        entry = self._entry(dataset)
        balance = entry.overview.balance
        li = _index(label, len(balance.labels), what="label")
        n_labels = len(balance.labels)
        if split is None:
            keep = entry.cells % n_labels == li
        else:
            si = _index(split, len(balance.splits), what="split")
            keep = entry.cells == si * n_labels + li
        return [int(x) for x in entry.ids[keep]]

    def finding_ids(self, dataset: str, finding_id: object) -> list[int]:
        """Return the clips of one finding of the latest check.

        Raises
        ------
        ValidationError
            For an id that is not a whole number.
        NotFoundError
            For a finding the latest check does not have.
        """
        entry = self._entry(dataset)
        fid = _index(finding_id, None, what="finding")
        if fid not in entry.finding_ids:
            raise NotFoundError("That finding is gone: the quality check has run again since. Look again.")
        return list(entry.finding_ids[fid])

    def forget(self, dataset: str | None = None) -> None:
        """Drop the cached overview of ``dataset`` (of every dataset by default)."""
        with self._lock:
            if dataset is None:
                self._entries.clear()
            else:
                self._entries.pop(dataset, None)

    # -- the check ---------------------------------------------------------------------

    def run_check(
        self,
        dataset: str,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        workers: int | None = None,
        features: bool = True,
    ) -> CheckOutcome:
        """Run the quality check of ``dataset`` and store its findings; drop the cached overview.

        Parameters
        ----------
        dataset : str
        progress : callable, optional
            ``progress(stage, done, total)``, stage ``"measuring"`` or ``"features"``.
        workers : int, optional
            Worker processes (default: one per core).
        features : bool
            Compute missing feature summaries for the near-duplicate search.
        """
        from ..jobs.qc import run_qc

        _check_name(dataset)
        try:
            report = run_qc(
                dataset,
                db=self.store,
                thresholds=self.thresholds,
                workers=workers,
                features=features,
                progress=progress,
            )
        finally:
            self.forget(dataset)
        flagged = len({i for f in report.findings for i in f.sample_ids})
        return CheckOutcome(
            findings=len(report.findings),
            flagged_clips=flagged,
            measured=report.measured,
            seconds=report.seconds,
            notes=tuple(report.notes),
        )

    # -- building ----------------------------------------------------------------------

    def _entry(self, dataset: str) -> _Entry:
        _check_name(dataset)
        with self._lock:
            entry = self._entries.get(dataset)
        if entry is None:
            self.overview(dataset)
            with self._lock:
                entry = self._entries[dataset]
        return entry

    def _build(self, dataset: str, run: Any) -> _Entry:
        cols = self.store.quality_columns(dataset)
        ids = np.asarray(cols["sample_id"], dtype=np.int64)
        # Shade what the latest check flagged: its own thresholds, which may not be ours.
        ran = _thresholds(run.params) if run is not None else None
        flags = flagged_ranges(ran) if ran is not None else self._flags
        histograms, bars = [], {}
        for measure in MEASURES:
            values = np.asarray(cols[measure], dtype=np.float64)
            hist, bar = _histogram(measure, values, flags.get(measure))
            histograms.append(hist)
            bars[measure] = bar
        balance, cells = _balance(list(cols["label"]), list(cols["split"]))
        records = self.store.list_findings(dataset) if run is not None else []
        order = {k: i for i, k in enumerate(KINDS)}
        records.sort(key=lambda r: (order.get(r.kind, len(order)), r.id))
        findings = tuple(
            FindingSummary(
                id=r.id,
                kind=r.kind,
                label=r.label,
                summary=str(r.detail.get("summary") or _fallback_summary(r.kind, r.label, len(r.sample_ids))),
                count=len(r.sample_ids),
            )
            for r in records
        )
        overview = QualityOverview(
            dataset=dataset,
            clips=len(ids),
            measured=int(np.isfinite(np.asarray(cols["quality_version"], dtype=np.float64)).sum()),
            histograms=tuple(histograms),
            balance=balance,
            findings=findings,
            checked_at=(run.finished_at or run.started_at) if run is not None else None,
            checked_clips=run.n_samples if run is not None else 0,
        )
        return _Entry(
            run_id=run.id if run is not None else None,
            overview=overview,
            ids=ids,
            bars=bars,
            cells=cells,
            finding_ids={r.id: tuple(r.sample_ids) for r in records},
        )


def _thresholds(params: dict[str, Any]) -> QcThresholds | None:
    """Return the thresholds a stored run used, or None if its parameters do not say."""
    names = {f.name for f in dataclasses.fields(QcThresholds)}
    given = {k: v for k, v in params.items() if k in names}
    if not given:
        return None
    try:
        return QcThresholds(**given)
    except (TypeError, ValidationError):
        return None


def _check_name(dataset: object) -> None:
    if not isinstance(dataset, str) or not dataset:
        raise ValidationError("choose a dataset")


def _index(value: object, n: int | None, *, what: str) -> int:
    """Return ``value`` as an index below ``n`` (any whole number when ``n`` is None)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValidationError(f"invalid {what}")
    i = int(value)
    if i < 0 or (n is not None and i >= n):
        raise ValidationError(f"there is no such {what}")
    return i


def _fallback_summary(kind: str, label: str | None, n: int) -> str:
    about = f" of {label!r}" if label else ""
    return f"{kind.replace('_', ' ')}{about}: {n:,} clip{'s' if n != 1 else ''}"


def _histogram(
    measure: str, raw: np.ndarray, flag_raw: tuple[float, float] | None
) -> tuple[Histogram, np.ndarray]:
    """Return ``measure``'s histogram and each clip's bar (-1 for a clip without a value)."""
    spec = _SPECS[measure]
    flag = (flag_raw[0] * spec.factor, flag_raw[1] * spec.factor) if flag_raw is not None else None
    bars = bin_values(
        raw * spec.factor,
        scale=spec.scale,
        unit=spec.unit,
        flag=flag,
        right_closed=measure == "clip_ratio",
        open_top=spec.scale in ("zero_log", "percent"),
    )
    note = ""
    if flag is not None:
        template = spec.flag_text or "Shaded: {lo} to {hi}, flagged by the quality check."
        note = template.format(lo=format_bound(flag[0]), hi=format_bound(flag[1]))
    measured = int(np.isfinite(raw).sum())
    hist = Histogram(
        measure=measure,
        title=spec.title,
        unit=spec.unit,
        counts=bars.counts,
        lows=bars.lows,
        highs=bars.highs,
        labels=bars.labels,
        flagged=bars.flagged,
        discrete=bars.discrete,
        flag_note=note,
        measured=measured,
        missing=len(raw) - measured,
    )
    return hist, bars.index


def _balance(labels: list[Any], splits: list[Any]) -> tuple[ClassBalance, np.ndarray]:
    """Count clips per (split, label); return the balance and each clip's flattened cell."""
    import pandas as pd

    lab_codes, lab_index = pd.factorize(pd.Series(labels, dtype=object), use_na_sentinel=True)
    spl_codes, spl_index = pd.factorize(pd.Series(splits, dtype=object), use_na_sentinel=True)
    lab_names: list[str | None] = [str(x) for x in lab_index] + [None]
    spl_names: list[str | None] = [str(x) for x in spl_index] + [None]
    lab = np.where(lab_codes < 0, len(lab_names) - 1, lab_codes)
    spl = np.where(spl_codes < 0, len(spl_names) - 1, spl_codes)
    grid = np.zeros((len(spl_names), len(lab_names)), dtype=np.int64)
    np.add.at(grid, (spl, lab), 1)
    per_label, per_split = grid.sum(axis=0), grid.sum(axis=1)
    # Largest labels first, then by name; "no label" last. Splits in their usual order.
    label_order = sorted(
        (i for i in range(len(lab_names)) if per_label[i]),
        key=lambda i: (lab_names[i] is None, -per_label[i], lab_names[i] or ""),
    )
    rank = {s: k for k, s in enumerate(SPLITS)}
    split_order = sorted(
        (i for i in range(len(spl_names)) if per_split[i]),
        key=lambda i: (spl_names[i] is None, rank.get(spl_names[i] or "", len(rank)), spl_names[i] or ""),
    )
    new_l = np.full(len(lab_names), -1, dtype=np.int64)
    new_l[label_order] = np.arange(len(label_order))
    new_s = np.full(len(spl_names), -1, dtype=np.int64)
    new_s[split_order] = np.arange(len(split_order))
    cells = new_s[spl] * len(label_order) + new_l[lab]
    balance = ClassBalance(
        labels=tuple(lab_names[i] for i in label_order),
        splits=tuple(spl_names[i] for i in split_order),
        counts=grid[np.ix_(split_order, label_order)],
    )
    return balance, cells.astype(np.int64)
