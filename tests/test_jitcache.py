"""numba's compile cache under concurrency: several processes warming up at once leave it working.

Every test runs real processes on a cache folder of its own (``NUMBA_CACHE_DIR``),
empty at the start, so it exercises the first-start case a new install meets.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import soundfile as sf
from signals import tone

import audiosoup_widgets
from audiosoup_widgets import jitcache
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import Store

pytestmark = pytest.mark.slow

PACKAGE_PARENT = str(Path(audiosoup_widgets.__file__).resolve().parents[1])
RATES = (44100, 48000)
# What a fresh process runs afterwards: every feature at 44.1 and 48 kHz.
EVERY_FEATURE = textwrap.dedent("""
    import numpy as np
    from audiosoup_widgets.features import FEATURES
    from audiosoup_widgets.features.engine import compute_features
    for sr in (44100, 48000):
        t = np.arange(sr) / sr
        y = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
        out = compute_features(np.stack([y, 0.5 * y]), sr)
        assert set(out) == set(FEATURES), sorted(out)
        assert all(np.isfinite(v).any() for v in out.values())
    print("every feature ok")
""")
WARM = "from audiosoup_widgets.features.engine import warm_up; warm_up(all_tunings=False)"


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env["NUMBA_CACHE_DIR"] = str(cache)
    env["AUDIOSOUP_NO_PROGRESS"] = "1"
    env.update(extra)
    return env


def _python(code: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _assert_fresh_process_computes_everything(env: dict[str, str]) -> None:
    proc = _python(EVERY_FEATURE, env)
    assert proc.returncode == 0, (jitcache.describe_signal(proc.returncode), proc.stderr[-2000:])
    assert "every feature ok" in proc.stdout


def test_concurrent_warm_ups_on_an_empty_cache_leave_it_working(tmp_path):
    cache = tmp_path / "numba"
    env = _env(cache)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WARM], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outcomes = [(p.wait(timeout=600), p.stderr.read()[-1500:]) for p in procs]
    for code, err in outcomes:
        # Before the compile lock, one or two of three died with SIGSEGV here.
        assert code == 0, (jitcache.describe_signal(code), err)
    assert jitcache.cache_files(cache), "the cache lives in the folder the project set"
    _assert_fresh_process_computes_everything(env)


def _clip_dataset(root: Path) -> Path:
    for sr in RATES:
        (root / f"r{sr}").mkdir(parents=True)
        for i in range(6):
            y = tone(sr=sr, seconds=1.0, freq=220.0 + 40 * i, seed=i, noise=0.02)
            sf.write(root / f"r{sr}" / f"clip{i}.wav", y, sr, subtype="PCM_16")
    return root


@pytest.mark.postgres
def test_scheduler_local_run_on_an_empty_cache_leaves_it_working(tmp_path, pg_store):
    load_dataset(pg_store, _clip_dataset(tmp_path / "clips"), dataset="rates", workers=1)
    cache = tmp_path / "numba"
    env = _env(cache)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiosoup_widgets.cli",
            "features",
            "compute",
            "--dataset",
            "rates",
            "--scheduler",
            "local",
            "--workers",
            "2",
            "--db",
            pg_store.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "12 computed" in proc.stdout and "0 failed" in proc.stdout, proc.stdout
    _assert_fresh_process_computes_everything(env)


def test_numba_compilation_holds_the_inter_process_lock(tmp_path, monkeypatch):
    import numba.core.config

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", numba.core.config.CACHE_DIR)
    monkeypatch.setattr(jitcache, "_file_lock", None)
    jitcache.install()
    from numba.core.compiler_lock import global_compiler_lock

    lock_file = str(tmp_path / "numba" / ".compile.lock")
    other = textwrap.dedent(f"""
        import filelock, sys
        try:
            filelock.FileLock({lock_file!r}).acquire(timeout=0.2)
        except filelock.Timeout:
            sys.exit(3)
    """)
    with global_compiler_lock:
        # Another process cannot take the lock while this one is in numba's compiler...
        assert _python(other, dict(os.environ)).returncode == 3
    # ...and can as soon as it is out.
    assert _python(other, dict(os.environ)).returncode == 0


def _poison(cache: Path) -> int:
    """Make the cache kill any process that loads the beat tracker, as a damaged cache does."""
    import ctypes

    class Segfault:
        def __reduce__(self):
            return (ctypes.string_at, (0,))

    payload = pickle.dumps(Segfault())
    hit = 0
    for p in jitcache.cache_files(cache):
        if p.suffix == ".nbc" and "beat_track_dp" in p.name:
            p.write_bytes(payload)
            hit += 1
    return hit


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A cache filled by one warm-up, copied by each test that damages it."""
    cache = tmp_path_factory.mktemp("pristine") / "numba"
    assert _python(WARM, _env(cache)).returncode == 0
    return cache


@pytest.fixture
def poisoned(pristine, tmp_path):
    cache = tmp_path / "numba"
    shutil.copytree(pristine, cache)
    env = _env(cache)
    assert _poison(cache) > 0
    proc = _python(WARM, env)
    assert proc.returncode < 0, "the poisoned cache must kill the process that loads it"
    return cache, env


def test_doctor_finds_a_damaged_cache_and_fix_rebuilds_it(poisoned, tmp_path):
    cache, env = poisoned
    db = ["--db", f"sqlite:///{tmp_path / 'doctor.sqlite3'}"]
    subprocess.run(
        [sys.executable, "-m", "audiosoup_widgets.cli", "db", "upgrade", *db],
        env=env,
        check=True,
        capture_output=True,
    )
    cmd = [sys.executable, "-m", "audiosoup_widgets.cli", "doctor", *db]
    found = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert found.returncode == 1, found.stdout + found.stderr
    lines = found.stdout.strip().splitlines()
    (cache_line,) = [line for line in lines if "jit cache" in line]
    assert cache_line.startswith("problem") and "SIGSEGV" in cache_line
    assert "audiosoup doctor --fix" in cache_line
    assert [line.split()[0] for line in lines] == ["ok", "problem", "ok"], found.stdout
    assert "Traceback" not in found.stdout + found.stderr

    fixed = subprocess.run([*cmd, "--fix"], env=env, capture_output=True, text=True, timeout=600)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert any(line.startswith("fixed") and "jit cache" in line for line in fixed.stdout.splitlines()), (
        fixed.stdout
    )
    _assert_fresh_process_computes_everything(env)


def test_features_compute_repairs_a_damaged_cache_before_loading_it(poisoned, tmp_path):
    cache, env = poisoned
    url = f"sqlite:///{tmp_path / 'repair.sqlite3'}"
    store = Store(url)
    store.upgrade()
    load_dataset(store, _clip_dataset(tmp_path / "clips"), dataset="rates", workers=1)
    store.dispose()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "audiosoup_widgets.cli",
            "features",
            "compute",
            "--dataset",
            "rates",
            "--workers",
            "2",
            "--db",
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Without the check the command itself died with SIGSEGV, printing nothing useful.
    assert proc.returncode == 0, (jitcache.describe_signal(proc.returncode), proc.stderr[-2000:])
    assert "12 computed" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "damaged" in line]
    assert len(warnings) == 1 and "SIGSEGV" in warnings[0], proc.stderr
    assert "Traceback" not in proc.stderr
