"""The quality backfill: measure the stored clips whose quality measures are missing or out of date.

New clips are measured at ingest (:mod:`~audiosoup_widgets.jobs.ingest`, in the same
decoding pass); this module owns :func:`backfill_quality`, which measures the clips
already stored without measures of the current
:data:`~audiosoup_widgets.audio.quality.QUALITY_VERSION`, and what it reports
(:class:`QualityReport`). The rules:

* **Inside the dataset.** Files are decoded with the dataset folder as ``root``, as at
  ingest (a stored path that now resolves outside it fails), by their exact stored
  name (``path_bytes``) when it is not UTF-8.
* **Bounded memory.** Each file is decoded in chunks
  (:func:`~audiosoup_widgets.audio.analysis.measure_file`, the same pass as
  :func:`~audiosoup_widgets.audio.analysis.analyse_file`), so a 3-hour file costs one
  chunk and the measures' small state.
* **The decode pool.** Files run through
  :func:`~audiosoup_widgets.jobs.decodepool.map_files`, the ingest's pool: a per-file
  deadline kills a decoder stuck in C, and a worker crash costs the file it was on.
  (:func:`~audiosoup_widgets.jobs.pool.run_local`, the feature batches' pool, has no
  per-file deadline, and its workers would each need the database.) Only this process
  writes to the database.
* **Resumable.** Measures are written every ``batch`` clips, as they complete: a
  killed run loses at most one batch, and a rerun measures only what is still
  missing. The reviewer's ``version`` counter is left alone, so nobody editing a
  clip meanwhile meets a conflict.
* **One bad file costs one clip.** A file that cannot be measured is stored with its
  measures empty and the current version (so it is not retried on every run; a newer
  :data:`~audiosoup_widgets.audio.quality.QUALITY_VERSION` retries it) and listed in
  the report with its reason.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict, deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..audio.analysis import measure_file
from ..audio.limits import Limits
from ..audio.quality import QUALITY_VERSION, QualityMeasures
from ..config import clip_root
from ..errors import ConfigError, DecodeError, ValidationError
from ..terminal import one_line
from .compute import open_store
from .decodepool import map_files

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

__all__ = ["BATCH", "QualityReport", "backfill_quality"]

BATCH = 200
"""Clips measured between two writes (at most this much work is lost to a kill)."""


@dataclass
class QualityReport:
    """What a quality backfill did.

    Attributes
    ----------
    dataset : str
        Dataset name.
    version : int
        The version of the measures written.
    todo : int
        Clips without current measures when the run began.
    measured : int
        Clips measured and stored by this run.
    failed : list of (path, reason)
        Clips that could not be measured: the stored path and one line, the skip
        reason's code then its message (``"truncated: decoded 8000 of ..."``).
    seconds : float
        Wall time of the run.
    """

    dataset: str
    version: int = QUALITY_VERSION
    todo: int = 0
    measured: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clips_per_s(self) -> float:
        """Clips measured and stored per second of wall time."""
        return self.measured / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON values."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "todo": self.todo,
            "measured": self.measured,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "seconds": round(self.seconds, 3),
            "clips_per_s": round(self.clips_per_s, 1),
        }

    def summary(self) -> str:
        """Return the human summary: counts, then one line per clip that failed."""
        lines = [
            f"quality measures (version {self.version}) for {one_line(self.dataset)!r}: "
            f"{self.measured} measured, {len(self.failed)} failed of {self.todo} to do  "
            f"[{self.seconds:.1f} s, {self.clips_per_s:.0f} clips/s]"
        ]
        if self.failed:
            lines.append("failed:")
            # One failed file per line, whatever its name holds.
            lines += [f"  {one_line(path)}: {one_line(reason)}" for path, reason in self.failed]
        return "\n".join(lines)


def backfill_quality(
    dataset: str,
    *,
    db: Store | str | None = None,
    workers: int | None = None,
    batch: int = BATCH,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> QualityReport:
    """Measure every stored clip of ``dataset`` without measures of the current version.

    A clip counts when its ``quality_version`` is empty (stored before the measures
    existed) or older than :data:`~audiosoup_widgets.audio.quality.QUALITY_VERSION`.
    Measures are written as batches complete; run it again after an interruption and
    it goes on with what is left.

    Parameters
    ----------
    dataset : str
        Dataset name.
    db : Store or str, optional
        An open store, a database URL, or ``None`` for the configured one.
    workers : int, optional
        Decoder processes (default: one per core).
    batch : int
        Clips measured between two writes to the database.
    limits : Limits, optional
        Size, length and time limits per file (default: those of ingest).
    progress : callable, optional
        Called as ``progress(done, total)`` at the start and after each batch is
        stored; ``done`` counts measured and failed clips. An exception it raises
        stops the run, with every batch stored so far kept.

    Returns
    -------
    QualityReport

    Raises
    ------
    NotFoundError
        If there is no dataset of that name.
    ConfigError
        If the dataset's folder is missing (measuring would fail every clip).
    ValidationError
        If ``batch`` or ``workers`` is not a positive integer.
    """
    t0 = time.perf_counter()
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValidationError(f"batch must be a positive integer, got {batch!r}")
    store = open_store(db)
    try:
        root = store.dataset_root(dataset)
        if not os.path.isdir(root):
            # Otherwise every clip would be stored as failed, and not retried until
            # the measures' version changes.
            raise ConfigError(
                f"the folder of dataset {dataset!r} is missing ({root}); "
                "make it available again, then measure its quality"
            )
        todo = _pending(store, dataset, root=root, page=max(batch, 1000))
        report = QualityReport(dataset=dataset, todo=len(todo))
        if progress is not None:
            progress(0, len(todo))
        # Outcomes come back by file, in completion order; should two ids name one file,
        # each of its outcomes goes to the next id waiting.
        ids: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        for sid, text_path, abspath in todo:
            ids[abspath].append((sid, text_path))
        rows: list[dict[str, Any]] = []
        done = 0
        files = [abspath for _sid, _path, abspath in todo]
        outcomes = _measure(files, root=root, limits=limits or Limits(), workers=workers)
        try:
            with contextlib.closing(outcomes):  # stops every worker, whatever happens here
                for abspath, outcome in outcomes:
                    sid, text_path = ids[abspath].popleft()
                    rows.append(_row(sid, text_path, outcome, report))
                    if len(rows) >= batch:
                        done += _write(store, rows)
                        if progress is not None:
                            progress(done, len(todo))
            done += _write(store, rows)
        except BaseException:
            if rows:
                # Keep what was measured; the error the caller sees is the first one.
                with contextlib.suppress(Exception):
                    _write(store, rows)
            raise
        if progress is not None and todo:
            progress(done, len(todo))
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        if store is not db:
            store.dispose()


def _measure(
    files: list[str], *, root: str, limits: Limits, workers: int | None
) -> Generator[tuple[str, Any]]:
    """Measure files in the decode pool, each group inside its own folder.

    A dataset's clips stay inside its folder, derived (augmented) clips inside theirs
    (:func:`~audiosoup_widgets.config.clip_root`).
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for f in files:
        groups[clip_root(f, root)].append(f)
    for group_root, group in groups.items():
        outcomes = map_files(measure_file, group, root=group_root, limits=limits, workers=workers)
        with contextlib.closing(outcomes):  # stops every worker, whatever happens to the caller
            yield from outcomes


def _pending(store: Store, dataset: str, *, root: str, page: int) -> list[tuple[int, str, str]]:
    """Return ``(sample_id, stored path, file)`` of every clip to measure, in id order.

    Read page by page, then handed to one pool: starting worker processes for every
    batch would cost more than measuring a batch of 1-s clips.
    """
    out: list[tuple[int, str, str]] = []
    after = 0
    while True:
        rows = store.samples_missing_quality(dataset, version=QUALITY_VERSION, after_id=after, limit=page)
        # A name that is not UTF-8 is opened by its exact bytes, as at ingest.
        out += [(sid, p, os.path.join(root, os.fsdecode(pb) if pb else p)) for sid, p, pb in rows]
        if len(rows) < page:
            return out
        after = rows[-1][0]


def _row(
    sid: int, text_path: str, outcome: QualityMeasures | DecodeError, report: QualityReport
) -> dict[str, Any]:
    """Return the row :meth:`~audiosoup_widgets.store.Store.write_quality` stores for one clip."""
    if isinstance(outcome, DecodeError):
        report.failed.append((text_path, f"{outcome.code}: {outcome.message}"))
        return {"sample_id": sid, "quality_error": outcome.code}
    report.measured += 1
    return {"sample_id": sid, **outcome.as_row()}


def _write(store: Store, rows: list[dict[str, Any]]) -> int:
    """Store ``rows`` (emptying the list) and return how many there were."""
    n = len(rows)
    if rows:
        store.write_quality(rows, version=QUALITY_VERSION)
        rows.clear()
    return n
