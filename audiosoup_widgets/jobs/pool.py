"""The one worker-pool policy of dataset-wide work, and the local pool for batches.

Every pool of the jobs layer follows these rules, whichever way it runs its workers
(:func:`run_local` here for feature batches, :func:`~audiosoup_widgets.jobs.decodepool.analyse_many`
for files decoded under deadlines, :func:`~audiosoup_widgets.jobs.dask.run_dask`):

* **Warm once, before the workers start.** Compiled code (numba, through
  :mod:`audiosoup_widgets.jitcache`) and filter banks are built in the parent by a
  ``warm`` callable; forked workers inherit them instead of each compiling them.
* **Workers end with their parent** (:func:`exit_with_parent`), even after
  ``kill -9`` of the parent (Linux ``PR_SET_PDEATHSIG``, and a watch thread
  elsewhere), so no orphan keeps memory or database connections.
* **One thread per worker** (:func:`limit_threads`): the processes already use
  every core; BLAS or numba threads on top would only compete. Ctrl-C is the
  parent's to handle (:func:`init_worker`).
* **A crash costs no work and ends in one line.** A worker that dies (a signal,
  the out-of-memory killer) costs no batch: the unfinished batches run again in a
  fresh pool; if workers keep dying without finishing anything, the run stops with
  :class:`WorkerCrashError`, whose one line (:func:`crash_advice`) names the
  signal, the likely cause and the fix. The batches already finished stay stored.
* **Deadlines** where one item can hang in C (a decoder): the decode pool kills a
  worker past its per-file deadline and replaces it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from ..errors import AudiosoupError
from ..jitcache import describe_signal

log = logging.getLogger(__name__)

__all__ = [
    "WorkerCrashError",
    "WorkerDeath",
    "crash_advice",
    "exit_with_parent",
    "init_worker",
    "limit_threads",
    "run_local",
]

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
        return (
            f"{what}; this usually means numba's compiled-code cache is damaged: "
            "run 'audiosoup doctor --fix', then run this command again"
        )
    if exitcode == -signal.SIGKILL:
        return f"{what}, usually the out-of-memory killer: run again with fewer --workers"
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


def limit_threads() -> None:
    """Give this worker process one BLAS/OpenMP/numba thread.

    The environment alone is too late for a forked worker (its BLAS is loaded), so
    the running thread pools are limited too.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def init_worker() -> None:
    """Apply the policy in a new worker: exit with the parent, ignore Ctrl-C, one thread."""
    exit_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides what to do.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()


def run_local(
    task: Callable[..., Any],
    batches: Sequence[Any],
    *,
    args: tuple[Any, ...] = (),
    workers: int,
    on_result: Callable[[Any, Any], None],
    on_death: Callable[[WorkerDeath], None] | None = None,
    warm: Callable[[], None] | None = None,
) -> list[WorkerDeath]:
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
    warm : callable, optional
        Run once in this process before the first worker starts (for example the
        feature engine's ``warm_up``), so the forked workers inherit its work.

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
    if warm is not None and batches:
        warm()
    pending = list(range(len(batches)))
    deaths: list[WorkerDeath] = []
    stuck = 0  # consecutive pools that broke before finishing any batch
    while pending:
        finished: set[int] = set()
        broken = False
        with ProcessPoolExecutor(
            max_workers=min(workers, len(pending)), mp_context=ctx, initializer=init_worker
        ) as pool:
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


def _first_death(procs: Iterable[BaseProcess]) -> int | None:
    """Return the exit code of the worker that died on its own (not terminated by the pool)."""
    codes: list[int] = [p.exitcode for p in procs if p.exitcode is not None]
    own = [c for c in codes if c not in (0, -signal.SIGTERM)]
    if own:
        return own[0]
    return codes[0] if codes else None
