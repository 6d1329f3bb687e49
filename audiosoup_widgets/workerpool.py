"""Running batches of dataset-wide work in worker processes: local pools and Dask.

This module owns what happens around the work, not the work itself:

* workers start after the parent has warmed the feature engine (they are forked,
  so they inherit compiled code instead of each compiling it);
* every worker ends when its parent ends, even after ``kill -9`` of the parent
  (Linux ``PR_SET_PDEATHSIG``, and a watch thread elsewhere), so no orphan keeps
  memory or database connections;
* a worker that dies (a signal, the out-of-memory killer) costs no batch: the
  unfinished batches run again in a fresh pool; if workers keep dying without
  finishing anything, the run stops with one line that names the signal, the
  likely cause and the fix, and the batches already finished stay stored.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import AudiosoupError, ConfigError
from .jitcache import describe_signal

log = logging.getLogger(__name__)

__all__ = ["WorkerCrashError", "WorkerDeath", "run_local", "run_dask", "exit_with_parent"]

# Fresh pools tried after worker deaths, at most; two in a row that finish nothing
# end the run sooner (a broken cache does not get better).
_MAX_RESTARTS = 8
_PR_SET_PDEATHSIG = 1


class WorkerCrashError(AudiosoupError):
    """Worker processes kept dying; the message says why and what to do."""

    code = "worker_died"


@dataclass(frozen=True)
class WorkerDeath:
    """A worker process that died while batches were running.

    Attributes
    ----------
    exitcode : int or None
        Negative for a signal (``-11``: SIGSEGV), ``None`` if unknown.
    batches : int
        Batches that had not finished and were run again.
    """

    exitcode: int | None
    batches: int

    def describe(self) -> str:
        """Return one line: what killed the worker and what it usually means."""
        return crash_advice(self.exitcode)


def crash_advice(exitcode: int | None) -> str:
    """Say, in one line, what a worker's exit code means and what to do about it."""
    if exitcode is None:
        return "a worker process died"
    what = f"a worker process died with {describe_signal(exitcode)}"
    if exitcode == -signal.SIGSEGV or exitcode == -getattr(signal, "SIGBUS", 0):
        return (f"{what}; this usually means numba's compiled-code cache is damaged: "
                "run 'audiosoup doctor --fix', then run this command again")
    if exitcode == -signal.SIGKILL:
        return (f"{what}, usually the out-of-memory killer: run again with fewer --workers")
    return what


def exit_with_parent() -> None:
    """End this process when its parent process ends, even after ``kill -9`` of the parent.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``);
    elsewhere a daemon thread polls the parent's id. Call it first thing in a worker.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                # The parent may have died before the call: then nobody will signal us.
                if os.getppid() != parent:
                    os._exit(1)
                return
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass

    def watch() -> None:  # pragma: no cover - used where prctl is missing
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="audiosoup-parent-watch", daemon=True).start()


def _init_worker() -> None:
    exit_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One BLAS/numba thread per process: the processes already use every core. The
    # environment alone is too late for a forked worker (its BLAS is loaded), so the
    # running thread pools are limited too.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def run_local(task: Callable[..., Any], batches: Sequence[Any], *, args: tuple[Any, ...] = (),
              workers: int, on_result: Callable[[Any, Any], None],
              on_death: Callable[[WorkerDeath], None] | None = None) -> list[WorkerDeath]:
    """Run ``task(batch, *args)`` for every batch in forked worker processes.

    Parameters
    ----------
    task : callable
        A module-level function; runs in a worker.
    batches : sequence
        One item per call.
    args : tuple
        Extra arguments of every call (picklable).
    workers : int
        Worker processes.
    on_result : callable
        ``on_result(result, batch)`` in the parent as each batch finishes.
    on_death : callable, optional
        Told about each worker death (the run goes on).

    Returns
    -------
    list of WorkerDeath
        Deaths survived by running their batches again.

    Raises
    ------
    WorkerCrashError
        If a fresh pool broke again before finishing any batch.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # fork: workers inherit the warmed engine (a spawned worker would import and
    # load it again). A Jupyter kernel's threads make fork risky for arbitrary
    # code, but these workers only run the task and never touch the parent's threads.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = mp.get_context(method)
    pending = list(range(len(batches)))
    deaths: list[WorkerDeath] = []
    stuck = 0  # consecutive pools that broke before finishing any batch
    while pending:
        finished: set[int] = set()
        broken = False
        with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=ctx,
                                 initializer=_init_worker) as pool:
            futs = {pool.submit(task, batches[i], *args): i for i in pending}
            procs = dict(getattr(pool, "_processes", None) or {})
            waiting = set(futs)
            while waiting:
                done, waiting = wait(waiting, return_when="FIRST_COMPLETED")
                for fut in done:
                    exc = fut.exception()
                    if isinstance(exc, BrokenProcessPool):
                        broken = True
                        continue
                    if exc is not None:
                        raise exc
                    on_result(fut.result(), batches[futs[fut]])
                    finished.add(futs[fut])
        pending = [i for i in pending if i not in finished]
        if not broken:
            break
        death = WorkerDeath(_first_death(procs.values()), len(pending))
        deaths.append(death)
        log.warning("%s; running its %d unfinished batches again", death.describe(), len(pending))
        if on_death is not None:
            on_death(death)
        stuck = stuck + 1 if not finished else 0
        if stuck >= 2 or len(deaths) > _MAX_RESTARTS:
            raise WorkerCrashError(death.describe())
    return deaths


def _first_death(procs: Any) -> int | None:
    """Return the exit code of the worker that died on its own (not terminated by the pool)."""
    codes = [p.exitcode for p in procs if p.exitcode is not None]
    own = [c for c in codes if c not in (0, -signal.SIGTERM)]
    if own:
        return own[0]
    return codes[0] if codes else None


def run_dask(task: Callable[..., Any], batches: Sequence[Any], *, args: tuple[Any, ...] = (),
             workers: int, scheduler: str, on_result: Callable[[Any, Any], None],
             warm: Callable[[], None] | None = None) -> None:
    """Run ``task(batch, *args)`` for every batch on Dask.

    Parameters
    ----------
    scheduler : str
        ``"local"`` for a ``LocalCluster`` of ``workers`` processes on this machine,
        or the address of a running scheduler (its workers warm themselves up).
    warm : callable, optional
        Run in this process before a local cluster starts, so its workers load
        compiled code instead of all compiling at once.

    Raises
    ------
    ConfigError
        If the scheduler cannot be reached.
    WorkerCrashError
        If Dask gave up on a batch because its workers kept dying.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise ConfigError("Dask is not installed: pip install 'dask[distributed]'") from exc
    cluster = None
    if scheduler == "local":
        if warm is not None:
            warm()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=10)
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    try:
        futs = client.map(task, batches, *[[a] * len(batches) for a in args], pure=False)
        by_key = {f.key: b for f, b in zip(futs, batches, strict=True)}
        for fut in as_completed(futs):
            try:
                result = fut.result()
            except KilledWorker as exc:
                raise WorkerCrashError(
                    "Dask workers kept dying on a batch (see the workers' logs for the signal); "
                    "a damaged numba compiled-code cache on a worker machine is the usual cause: "
                    "run 'audiosoup doctor --fix' there, then run this command again") from exc
            on_result(result, by_key[fut.key])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
