"""Dataset-wide feature computation: plan batches, run them in workers, store the summaries.

This is where the pure engine (:mod:`audiosoup_widgets.features`), the decoder
(:mod:`audiosoup_widgets.audio`) and the store meet. Each batch of clips is
decoded, computed and written by the worker that runs it
(:mod:`~audiosoup_widgets.jobs.compute_batch`), so the coordinating process only
hands out sample ids and counts what comes back. Where the workers run, and what
happens when one dies, is :mod:`~audiosoup_widgets.jobs.pool`'s policy.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..terminal import one_line
from .pool import WorkerCrashError

if TYPE_CHECKING:  # pragma: no cover
    from ..features.params import FeatureParams
    from ..store import Store

log = logging.getLogger(__name__)

BATCH = 64


@dataclass
class ComputeReport:
    """What ``features compute`` did.

    ``known_bad`` counts, by reason, the samples skipped because an earlier run
    recorded a failure for them (``retry_failed`` computes them again); ``segmented``
    is the number of clips longer than ``segment_samples`` samples, which are analysed
    in segments (see :mod:`audiosoup_widgets.features.segments`).
    """

    dataset: str
    features: list[str]
    todo: int = 0
    done: int = 0
    already: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    scheduler: str = "processes"
    notes: list[str] = field(default_factory=list)
    known_bad: dict[str, int] = field(default_factory=dict)
    segmented: int = 0
    segment_samples: int = 0
    segment_rate: int = 0

    @property
    def clips_per_s(self) -> float:
        """Samples computed per second of wall time."""
        return self.done / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """Return the human summary printed at the end."""
        lines = [
            f"features for {self.dataset!r}: {self.done} computed, {self.already} already up "
            f"to date, {len(self.failed)} failed  [{self.seconds:.1f} s, "
            f"{self.clips_per_s:.0f} clips/s, {self.scheduler}]"
        ]
        lines += [f"  {f['reason']}  {one_line(f['path'])}: {one_line(f['message'])}" for f in self.failed]
        if self.segmented:
            size, sr = self.segment_samples, self.segment_rate
            lines.append(
                f"  {self.segmented} {_plural(self.segmented, 'clip')} longer than "
                f"{size:,} samples ({size / sr:.0f} s at {sr:g} Hz) analysed in "
                "segments: summaries over all frames of all segments"
            )
        if self.known_bad:
            n = sum(self.known_bad.values())
            reasons = ", ".join(f"{r} {c}" for r, c in sorted(self.known_bad.items()))
            lines.append(
                f"  {n} known-bad {_plural(n, 'clip')} skipped ({reasons}); "
                f"--retry-failed tries {'it' if n == 1 else 'them'} again"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def feature_params(params: FeatureParams | dict[str, Any] | None = None) -> FeatureParams:
    """Return engine parameters given as ``None`` (the defaults), a dict or themselves."""
    # Imported when needed: the engine loads librosa's compiled code, which the CLI
    # checks first (a damaged cache kills the process that loads it).
    from ..features.params import FeatureParams

    if params is None:
        return FeatureParams()
    if isinstance(params, dict):
        return FeatureParams(**params)
    return params


def feature_names(features: Sequence[str] | None) -> list[str]:
    """Return the registered ids of ``features`` (default: every feature)."""
    from ..features.registry import FEATURES, get_feature

    if not features:
        return list(FEATURES)
    return [get_feature(f).id for f in features]


def open_store(db: Store | str | None) -> Store:
    """Return ``db`` if it is an open store, else connect to the URL (or the configured one)."""
    from ..store import Store, connect

    return db if isinstance(db, Store) else connect(db)


def process_batch(
    url: str,
    batch: Sequence[tuple[int, str]],
    names: Sequence[str],
    params: dict[str, Any],
    *,
    root: str | None = None,
) -> tuple[int, list[tuple[int, str, str]]]:
    """Decode, compute and store the summaries of one batch of samples.

    Runs in a worker process or on a Dask worker; it opens its own connection. Memory
    is bounded whatever the files (long ones are analysed in segments), and a clip
    that cannot be analysed costs that clip only (see
    :mod:`audiosoup_widgets.jobs.compute_batch`).

    Parameters
    ----------
    url : str
        Database URL.
    batch : sequence of (sample_id, file)
        The samples to compute.
    names : sequence of str
        Feature ids.
    params : dict
        :class:`~audiosoup_widgets.features.params.FeatureParams` fields.
    root : str, optional
        The dataset folder; every file must resolve inside it, as at ingest.

    Returns
    -------
    n_done : int
        Samples whose summaries were written.
    failures : list of (sample_id, reason, message)
        Samples not computed; each still gets a row per feature (``n_rows = 0``, the
        reason as status), so it is reported instead of retried on every run.
    """
    from ..store import Store
    from .compute_batch import compute_batch

    outcome = compute_batch(batch, names, params, root=root)
    # One engine per process and URL, so batches reuse a pooled connection; keyed by
    # pid because a forked child must never use its parent's sockets.
    key = (os.getpid(), url)
    store = _WORKER_STORES.get(key)
    if store is None:
        store = _WORKER_STORES[key] = Store(url)
    store.save_summaries(outcome.summaries)
    return outcome.done, outcome.failures


_WORKER_STORES: dict[tuple[int, str], Store] = {}


def compute_dataset(
    store: Store,
    dataset: str,
    *,
    features: Sequence[str] | None = None,
    params: FeatureParams | dict[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    batch_size: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    retry_failed: bool = False,
) -> ComputeReport:
    """Compute and store feature summaries for every sample of a dataset that lacks them.

    Parameters
    ----------
    store : Store
        The store holding the dataset.
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: all).
    params : FeatureParams or dict, optional
        Engine parameters; a changed parameter makes exactly the features it
        affects stale, and only those are recomputed.
    workers : int, optional
        Worker processes (default: one per core).
    scheduler : str, optional
        ``None`` for local processes, ``"local"`` for a Dask ``LocalCluster``,
        or the address of a running Dask scheduler.
    force : bool
        Recompute samples that are already done.
    batch_size : int
        Samples per task (a clip longer than one segment gets a task of its own).
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    retry_failed : bool
        Also recompute samples whose earlier run recorded a failure (a file that
        could not be decoded, samples NaN or far beyond full scale, an engine
        error); by default they are skipped and counted in ``known_bad``.

    Returns
    -------
    ComputeReport
    """
    t0 = time.perf_counter()
    names = feature_names(features)
    fp = feature_params(params)
    store.get_dataset(dataset)
    root = store.dataset_root(dataset)
    if force:
        store.clear_summaries(dataset, names)
    keys = {n: fp.key_for(n) for n in names}
    todo = store.samples_needing(dataset, keys, retry_failed=retry_failed)
    total = store.get_dataset(dataset).n_samples
    pending = {t[0] for t in todo}
    known_bad: dict[str, int] = defaultdict(int)
    if not retry_failed:
        for sid, reason in store.failed_samples(dataset, keys):
            if sid not in pending:
                known_bad[reason] += 1
    report = ComputeReport(
        dataset=dataset,
        features=names,
        todo=len(todo),
        already=total - len(todo) - sum(known_bad.values()),
        scheduler="processes" if scheduler is None else f"dask:{scheduler}",
        known_bad=dict(known_bad),
    )
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be 1 or more")
    workers = workers or os.cpu_count() or 1
    batches = _plan_batches(todo, fp, batch_size, report)
    paths = {sid: path for sid, path, _sr, _n in todo}
    pdict = fp.as_dict()
    done = 0

    def collect(n_ok: int, fails: list[tuple[int, str, str]], n_batch: int) -> None:
        nonlocal done
        report.done += n_ok
        report.failed += [
            {"path": paths.get(sid, str(sid)), "reason": r, "message": m} for sid, r, m in fails
        ]
        done += n_batch
        if progress is not None:
            progress(done, len(todo))

    if progress is not None:
        progress(0, len(todo))
    if batches:
        try:
            job = _BatchJob(store.url, names, pdict, root)
            if scheduler is None:
                _run_processes(job, batches, workers, collect, report)
            else:
                _run_dask(job, batches, workers, scheduler, collect)
        except WorkerCrashError as exc:
            raise WorkerCrashError(
                f"{exc.message} ({report.done} clips were computed and kept; the rest "
                "resume where this run stopped)"
            ) from exc
    report.seconds = time.perf_counter() - t0
    return report


def _plan_batches(
    todo: list[tuple[int, str, int, int]], fp: FeatureParams, batch_size: int, report: ComputeReport
) -> list[list[tuple[int, str]]]:
    """Cut the samples to compute into tasks; note the long clips in ``report``."""
    from ..features.segments import segment_samples

    size = segment_samples(fp)
    long = [t for t in todo if t[3] > size]
    short = [t for t in todo if t[3] <= size]
    # Similar lengths in one batch let the engine stack clips; sort by rate then id.
    short.sort(key=lambda t: (t[2], t[0]))
    batches = [
        [(sid, path) for sid, path, _sr, _n in short[i : i + batch_size]]
        for i in range(0, len(short), batch_size)
    ]
    # A long clip takes minutes: a task of its own spreads long clips over the workers.
    batches += [[(sid, path)] for sid, path, _sr, _n in long]
    report.segmented, report.segment_samples = len(long), size
    report.segment_rate = long[0][2] if long else 0
    return batches


@dataclass(frozen=True)
class _BatchJob:
    """What every batch of one run shares (picklable, sent to each worker)."""

    url: str
    names: list[str]
    params: dict[str, Any]
    root: str | None


Collect = Callable[[int, list[tuple[int, str, str]], int], None]


def _batch_task(batch: Sequence[tuple[int, str]], job: _BatchJob) -> tuple[int, list[tuple[int, str, str]]]:
    """Run :func:`process_batch` in a worker (the pool passes the batch first)."""
    return process_batch(job.url, batch, job.names, job.params, root=job.root)


def _warm(params: dict[str, Any]) -> Callable[[], None]:
    def warm() -> None:
        from ..features.engine import warm_up
        from ..features.params import FeatureParams

        warm_up(params=FeatureParams(**params))

    return warm


def _run_processes(
    job: _BatchJob,
    batches: list[list[tuple[int, str]]],
    workers: int,
    collect: Collect,
    report: ComputeReport,
) -> None:
    from .pool import run_local

    def on_result(result: tuple[int, list[tuple[int, str, str]]], batch: Sequence[Any]) -> None:
        collect(result[0], result[1], len(batch))

    if workers == 1:
        for b in batches:
            on_result(_batch_task(b, job), b)
        return
    deaths = run_local(
        _batch_task, batches, args=(job,), workers=workers, on_result=on_result, warm=_warm(job.params)
    )
    report.notes += [f"{d.describe()}; its {d.batches} unfinished batches were run again" for d in deaths]


def _run_dask(
    job: _BatchJob, batches: list[list[tuple[int, str]]], workers: int, scheduler: str, collect: Collect
) -> None:
    from .dask import run_dask

    run_dask(
        _batch_task,
        batches,
        args=(job,),
        workers=workers,
        scheduler=scheduler,
        warm=_warm(job.params),
        on_result=lambda result, batch: collect(result[0], result[1], len(batch)),
    )
