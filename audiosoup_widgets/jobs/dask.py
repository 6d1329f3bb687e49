"""Running batches of dataset-wide work on Dask, under the jobs layer's pool policy.

The policy is :mod:`audiosoup_widgets.jobs.pool`'s: warm the engine once before a
local cluster's workers start, one thread per worker, and a batch whose workers
keep dying ends the run with the one-line advice of
:class:`~audiosoup_widgets.jobs.pool.WorkerCrashError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from .pool import WorkerCrashError

__all__ = ["run_dask"]


def run_dask(
    task: Callable[..., Any],
    batches: Sequence[Any],
    *,
    args: tuple[Any, ...] = (),
    workers: int,
    scheduler: str,
    on_result: Callable[[Any, Any], None],
    warm: Callable[[], None] | None = None,
) -> None:
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
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
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
                    "run 'audiosoup doctor --fix' there, then run this command again"
                ) from exc
            on_result(result, by_key[fut.key])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
