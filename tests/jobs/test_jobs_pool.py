"""Worker processes: a dying worker costs no batch, and no worker outlives its parent."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import soundfile as sf
from signals import tone
from sqlalchemy import text

import audiosoup_widgets
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.jobs.pool import WorkerCrashError, run_local

PACKAGE_PARENT = str(Path(audiosoup_widgets.__file__).resolve().parents[1])


def crash_once(batch: int, flag_dir: str) -> int:
    """Die with SIGSEGV the first time batch 3 runs; otherwise return the batch doubled."""
    flag = os.path.join(flag_dir, f"crashed-{batch}")
    if batch == 3 and not os.path.exists(flag):
        open(flag, "w").close()
        faulthandler.disable()  # pytest's handler would print a traceback for the signal
        os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(0.05)
    return 2 * batch


def crash_always(batch: int) -> int:
    """Batches 0 and 1 finish; any other batch kills its worker."""
    if batch >= 2:
        time.sleep(0.3)  # let the first two finish first
        faulthandler.disable()
        os.kill(os.getpid(), signal.SIGSEGV)
    return batch


def test_a_worker_killed_by_a_signal_costs_no_batch(tmp_path):
    results: dict[int, int] = {}
    deaths = run_local(
        crash_once,
        list(range(8)),
        args=(str(tmp_path),),
        workers=2,
        on_result=lambda r, b: results.__setitem__(b, r),
    )
    assert results == {b: 2 * b for b in range(8)}
    assert len(deaths) == 1 and deaths[0].exitcode == -signal.SIGSEGV
    assert "SIGSEGV" in deaths[0].describe() and "audiosoup doctor --fix" in deaths[0].describe()


def test_workers_that_keep_dying_stop_the_run_with_one_line(tmp_path):
    results: dict[int, int] = {}
    started = time.monotonic()
    with pytest.raises(WorkerCrashError) as info:
        run_local(crash_always, list(range(6)), workers=2, on_result=lambda r, b: results.__setitem__(b, r))
    assert time.monotonic() - started < 60, "never a hang"
    message = info.value.message
    assert "\n" not in message and "SIGSEGV" in message and "audiosoup doctor --fix" in message
    # What finished before the crashes was handed over, not lost.
    assert results == {0: 0, 1: 1}


_WARMED: list[int] = []


def _warm() -> None:
    _WARMED.append(os.getpid())


def report_policy(batch: int) -> tuple[list[int], bool, int]:
    """What a worker inherited from the warm-up, and its BLAS/OpenMP thread limit."""
    from threadpoolctl import threadpool_info

    threads = max((p["num_threads"] for p in threadpool_info()), default=1)
    return list(_WARMED), os.getpid() != _WARMED[0], threads


def test_warm_up_runs_once_in_the_parent_and_workers_inherit_it():
    _WARMED.clear()
    results: dict[int, tuple[list[int], bool, int]] = {}
    run_local(
        report_policy, list(range(4)), workers=2, warm=_warm, on_result=lambda r, b: results.__setitem__(b, r)
    )
    assert _WARMED == [os.getpid()]
    assert all(r == ([os.getpid()], True, 1) for r in results.values()) and len(results) == 4
    _WARMED.clear()


def _long_clips(root: Path, n: int, seconds: float) -> Path:
    (root / "w").mkdir(parents=True)
    for i in range(n):
        y = tone(sr=16000, seconds=seconds, freq=200.0 + i, seed=i, noise=0.02)
        sf.write(root / "w" / f"c{i:04d}.wav", y, 16000, subtype="PCM_16")
    return root


def _backends(store) -> set[int]:
    """Server processes connected to the store's database, other than this query's."""
    with store.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


@pytest.mark.slow
@pytest.mark.postgres
def test_workers_end_when_features_compute_is_killed(tmp_path, pg_store):
    # Two batches of 64 twenty-second clips: each worker is busy for seconds when
    # the parent dies (before, they went on computing, and then waited forever).
    load_dataset(pg_store, _long_clips(tmp_path / "clips", 128, 20.0), dataset="many", workers=2)
    before = _backends(pg_store)  # other tests' connections to the same database
    env = dict(os.environ, AUDIOSOUP_NO_PROGRESS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audiosoup_widgets.cli",
            "features",
            "compute",
            "--dataset",
            "many",
            "--workers",
            "2",
            "--db",
            pg_store.url,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 180
    workers: list[psutil.Process] = []
    while len(workers) < 2:
        assert proc.poll() is None, "features compute ended before its workers started"
        assert time.monotonic() < deadline, "no workers started"
        workers = parent.children(recursive=True)
        time.sleep(0.1)
    time.sleep(1.0)  # let them start computing (and connect to the database)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=3)
    assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"
    # The command's and its workers' database connections end with them.
    deadline = time.monotonic() + 10
    while _backends(pg_store) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _backends(pg_store) - before
