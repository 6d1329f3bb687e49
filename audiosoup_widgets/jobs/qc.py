"""The dataset quality check: measure what is missing, compute the findings, store them.

:func:`run_qc` is what ``audiosoup qc`` and the quality panel run. It is incremental:
per-clip quality measures are computed only for clips that lack them
(:func:`~audiosoup_widgets.jobs.quality.backfill_quality`), feature summaries only for
clips that lack them (:func:`~audiosoup_widgets.jobs.compute.compute_dataset`, for the
near-duplicate search), and the findings themselves, a few seconds of arithmetic
(:func:`~audiosoup_widgets.analysis.qc.find_issues`), are recomputed from what is stored
and replace the dataset's previous findings.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..analysis.qc import KINDS, Finding, QcThresholds, find_issues
from .compute import compute_dataset, open_store
from .quality import backfill_quality
from .summaries import read_summary_matrix

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..store import Store

log = logging.getLogger(__name__)

__all__ = ["QcReport", "run_qc", "quality_table", "summary_matrix"]

#: The store's quality columns under the names :func:`~audiosoup_widgets.analysis.qc.find_issues` reads.
_TABLE_NAMES = {
    "rms_db": "rms_dbfs",
    "leading_silence": "leading_silence_s",
    "trailing_silence": "trailing_silence_s",
    "pcm_hash": "pcm_sha256",
}


@dataclass
class QcReport:
    """What a quality check found, and what it measured on the way."""

    dataset: str
    findings: list[Finding]
    paths: dict[int, str]
    n_samples: int = 0
    measured: int = 0
    measure_failed: list[tuple[str, str]] = field(default_factory=list)
    features_computed: int = 0
    near_duplicates_checked: bool = True
    notes: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the report written by ``--report``: the dataset and every finding with its clips."""
        return {
            "dataset": self.dataset,
            "n_samples": self.n_samples,
            "thresholds": self.thresholds,
            "findings": [f.to_json(self.paths) for f in self.findings],
        }

    def summary(self) -> str:
        """Return the human summary: counts per kind, then one line per finding."""
        counts = Counter(f.kind for f in self.findings)
        flagged = len({i for f in self.findings for i in f.sample_ids})
        lines = [
            f"quality check of {self.dataset!r}: {self.n_samples:,} clips, {len(self.findings)} "
            f"finding{'s' if len(self.findings) != 1 else ''} involving {flagged:,} clips  "
            f"[{self.seconds:.1f} s; {self.measured:,} clips measured, "
            f"{self.features_computed:,} featurised]"
        ]
        lines += [f"  {kind:<16} {counts[kind]}" for kind in KINDS if counts[kind]]
        lines += [f"  note: {n}" for n in self.notes]
        for f in self.findings:
            lines.append(f"  {f.kind:<16} {f.detail.get('summary', '')}")
        return "\n".join(lines)


def quality_table(store: Store, dataset: str) -> pd.DataFrame:
    """Return the stored quality measures of a dataset as the table the analysis reads.

    One row per sample: ``sample_id``, ``path``, ``label``, ``split``, ``speaker``,
    ``duration``, ``sample_rate``, ``channels``, and every measure (NaN where a clip was
    not measured), under the names of
    :class:`~audiosoup_widgets.audio.quality.QualityMeasures`.
    """
    import pandas as pd

    cols = store.quality_columns(dataset)
    frame = pd.DataFrame({_TABLE_NAMES.get(k, k): v for k, v in cols.items()})
    return frame


def summary_matrix(store: Store, dataset: str, ids: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """Return every stored feature summary of ``ids`` as one matrix (rows in ``ids`` order).

    Returns
    -------
    matrix : ndarray of float32, shape (len(ids), n_columns), or None
        None when no feature has stored summaries.
    features : list of str
        The features whose summaries are in the matrix.
    """
    read = read_summary_matrix(store, dataset, ids=ids)
    if not read.features:
        return None, []
    return read.values, read.features


def run_qc(
    dataset: str,
    *,
    db: Store | str | None = None,
    thresholds: QcThresholds | None = None,
    workers: int | None = None,
    features: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> QcReport:
    """Check a dataset's quality and store the findings (replacing the previous ones).

    Parameters
    ----------
    dataset : str
        Dataset name.
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    thresholds : QcThresholds, optional
        What counts as a finding (documented defaults).
    workers : int, optional
        Worker processes for measuring and featurising (default: one per core).
    features : bool
        Compute missing feature summaries for the near-duplicate search (the default).
        False searches the summaries already stored, or skips near duplicates when
        there are none (said in the report's notes).
    progress : callable, optional
        ``progress(stage, done, total)``, stage being ``"measuring"`` or ``"features"``.

    Returns
    -------
    QcReport
    """
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    store = open_store(db)
    store.get_dataset(dataset)
    th = thresholds or QcThresholds()
    report_q = backfill_quality(
        dataset,
        db=store,
        workers=workers,
        progress=(lambda done, total: progress("measuring", done, total)) if progress else None,
    )
    table = quality_table(store, dataset)
    notes: list[str] = []
    n_feat = 0
    if features and len(table):
        report_f = compute_dataset(
            store,
            dataset,
            workers=workers,
            progress=(lambda done, total: progress("features", done, total)) if progress else None,
        )
        n_feat = report_f.done
    ids = table["sample_id"].to_numpy(dtype=np.int64)
    matrix, used = summary_matrix(store, dataset, ids) if len(table) else (None, [])
    if matrix is None and len(table):
        notes.append(
            "near duplicates not searched: no feature summaries are stored "
            f"(run: audiosoup features compute --dataset {dataset})"
        )
    findings = find_issues(table, features=matrix, thresholds=th)
    params = {**th.as_dict(), "features": used}
    store.save_findings(
        dataset,
        findings=[
            {"kind": f.kind, "label": f.label, "sample_ids": list(f.sample_ids), "detail": f.detail}
            for f in findings
        ],
        params=params,
        started_at=started_at,
    )
    paths = dict(zip(ids.tolist(), table["path"].tolist(), strict=True))
    return QcReport(
        dataset=dataset,
        findings=findings,
        paths=paths,
        n_samples=len(table),
        measured=report_q.measured,
        measure_failed=list(report_q.failed),
        features_computed=n_feat,
        near_duplicates_checked=matrix is not None,
        notes=notes,
        thresholds=params,
        seconds=time.monotonic() - started,
    )
