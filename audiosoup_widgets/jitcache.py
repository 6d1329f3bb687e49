"""numba's on-disk compile cache: where it lives, one compiler at a time, and its repair.

librosa compiles its numba code with ``cache=True``: the first process to need a
function compiles it (seconds, for the beat tracker) and saves the machine code;
later processes load it. numba's cache is not safe for several processes at once.
Saving an entry reads the function's index, picks a free data-file number and
writes the data and the index, with no lock between processes; and a gufunc is
two entries (its kernel and its loop wrapper) that must come from the same
compilation. Two processes compiling at once (Dask workers, two dashboard kernels
warming up) can leave or load a wrapper that does not match its kernel, and the
process dies with SIGSEGV inside ``numba/np/ufunc/gufunc.py``, from then on in
every process that reads that cache.

This module makes the cache ours and single-writer:

* the cache lives in a folder the project controls, :func:`cache_dir`
  (``NUMBA_CACHE_DIR`` if the user set it, else ``numba`` in the user's cache
  folder), set before numba is imported, so it is inherited by every worker,
  kernel and notebook started from a process that imported the feature engine;
* :func:`install` makes numba's global compiler lock also take an inter-process
  file lock (:func:`lock`), so that in every process of ours a compilation, with
  its cache reads and writes, runs alone on the machine;
* :func:`import_librosa` imports librosa's numba modules under that lock: their
  gufuncs compile (or load) at import, kernel and wrapper in separate steps, and
  the lock over the whole import keeps both from one compilation;
* :func:`probe` checks a cache in a separate process (a broken cache kills the
  process that loads it, so it cannot be checked in-process), :func:`clear`
  empties it, and :func:`ensure_sound` does both when the cache changed since it
  was last found sound. ``audiosoup doctor`` reports and repairs it.

This is ground-level code: it imports neither numba nor librosa until asked to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "ENV_CACHE_DIR",
    "cache_dir",
    "install",
    "lock",
    "import_librosa",
    "clear",
    "cache_files",
    "probe",
    "ProbeResult",
    "ensure_sound",
    "describe_signal",
]

#: numba's own setting; the project sets it (unless the user did) before numba loads.
ENV_CACHE_DIR = "NUMBA_CACHE_DIR"
#: librosa's modules that define numba functions with ``cache=True``.
LIBROSA_NUMBA_MODULES = (
    "librosa.util.utils",
    "librosa.util.matching",
    "librosa.core.audio",
    "librosa.core.pitch",
    "librosa.core.spectrum",
    "librosa.core.constantq",
    "librosa.core.notation",
    "librosa.filters",
    "librosa.sequence",
    "librosa.feature.utils",
    "librosa.beat",
)
_LOCK_NAME = ".compile.lock"
_SOUND_NAME = "sound.json"
_CACHE_SUFFIXES = (".nbi", ".nbc")
# What the probe runs in a fresh process: the engine's warm-up on every rate we
# test, which loads (or compiles) everything the feature engine uses.
_PROBE_CODE = (
    "from audiosoup_widgets.features.engine import warm_up\n"
    "for sr in (16000, 44100, 48000):\n"
    "    warm_up(sr, all_tunings=False)\n"
)
_PROBE_TIMEOUT_S = 600.0

_state_lock = threading.Lock()
_file_lock: Any = None
_installed = False


def cache_dir() -> Path:
    """Return the folder of numba's compile cache for this project's processes.

    ``NUMBA_CACHE_DIR`` when set (the Docker image sets it), otherwise
    ``numba`` inside the user's cache folder (for example
    ``~/.cache/audiosoup/numba`` on Linux). A folder that cannot be created
    falls back to one in the system's temporary folder.
    """
    chosen = os.environ.get(ENV_CACHE_DIR)
    if chosen:
        path = Path(chosen).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("audiosoup", appauthor=False)) / "numba"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path(tempfile.gettempdir()) / f"audiosoup-numba-{os.getuid() if hasattr(os, 'getuid') else 0}"
        path.mkdir(parents=True, exist_ok=True)
    return path


def _configure() -> Path:
    """Point numba at :func:`cache_dir`, before or (for later functions) after it loaded."""
    path = cache_dir()
    os.environ[ENV_CACHE_DIR] = str(path)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None and getattr(numba_config, "CACHE_DIR", None) != str(path):
        # numba read its settings already (something imported it first): functions
        # defined from now on use our folder; earlier ones keep theirs, but every
        # compilation still takes the lock below.
        setattr(numba_config, "CACHE_DIR", str(path))  # noqa: B010 - numba has no typed setter
    return path


def lock() -> Any:
    """Return the inter-process lock that every compilation of ours holds.

    A :class:`filelock.FileLock` on a file in :func:`cache_dir`; re-entrant in one
    thread, exclusive between threads and processes. Use it as a context manager.
    """
    global _file_lock
    with _state_lock:
        if _file_lock is None:
            import filelock

            _file_lock = filelock.FileLock(str(cache_dir() / _LOCK_NAME))
        return _file_lock


def _forget_lock_in_child() -> None:
    # A forked child must not share the parent's lock state (a held lock's counter).
    global _file_lock
    _file_lock = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_lock_in_child)


def install() -> Path:
    """Put the cache in :func:`cache_dir` and make numba compile under :func:`lock`.

    Idempotent and cheap after the first call. Call it before librosa's numba
    modules load (the feature engine and the decoder do).

    Returns
    -------
    pathlib.Path
        The cache folder.
    """
    global _installed
    path = _configure()
    with _state_lock:
        if _installed:
            return path
        _installed = True
    from numba.core import compiler_lock

    _patch_compiler_lock(compiler_lock.global_compiler_lock)
    return path


def _patch_compiler_lock(numba_lock: Any) -> None:
    """Make ``numba_lock`` take :func:`lock` first, then its own thread lock.

    The file lock is always taken before numba's (in :func:`import_librosa` too),
    so two threads can never wait on each other in opposite orders.
    """
    if getattr(numba_lock, "_audiosoup_file_locked", False):
        return
    acquire, release = numba_lock.acquire, numba_lock.release

    def locked_acquire() -> None:
        lock().acquire()
        try:
            acquire()
        except BaseException:
            lock().release()
            raise

    def locked_release() -> None:
        try:
            release()
        finally:
            lock().release()

    numba_lock.acquire = locked_acquire
    numba_lock.release = locked_release
    numba_lock._audiosoup_file_locked = True


def import_librosa() -> Any:
    """Import librosa and its numba modules under :func:`lock`; return ``librosa``.

    librosa's gufuncs compile (or load from the cache) when their module is
    imported, kernel and wrapper in separate steps; holding the lock over the
    whole import keeps both from one process.
    """
    install()
    import importlib

    missing = [m for m in LIBROSA_NUMBA_MODULES if m not in sys.modules]
    if missing:
        with lock():
            for name in missing:
                importlib.import_module(name)
    import librosa

    return librosa


def cache_files(path: Path | None = None) -> list[Path]:
    """Return numba's index and data files under ``path`` (default :func:`cache_dir`)."""
    root = path or cache_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in _CACHE_SUFFIXES and p.is_file())


def clear(path: Path | None = None) -> int:
    """Delete every cached numba entry under ``path`` (default :func:`cache_dir`).

    Holds :func:`lock`, so no process of ours is compiling meanwhile.

    Returns
    -------
    int
        Files deleted.
    """
    root = path or cache_dir()
    n = 0
    with lock():
        for p in cache_files(root):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
        with contextlib.suppress(FileNotFoundError):
            (root / _SOUND_NAME).unlink()
    return n


def describe_signal(returncode: int) -> str:
    """Name the signal behind a negative exit code, e.g. ``SIGSEGV (segmentation fault)``."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"signal {-returncode}"
    text = signal.strsignal(sig) if hasattr(signal, "strsignal") else None
    return f"{sig.name} ({text.lower()})" if text else sig.name


@dataclass(frozen=True)
class ProbeResult:
    """What a probe of the cache found.

    Attributes
    ----------
    ok : bool
        The probe process loaded (or compiled) every feature and exited 0.
    returncode : int
        Its exit code; negative for a signal (``-11`` is SIGSEGV).
    seconds : float
        How long it took.
    detail : str
        One line: the signal, or the last line the probe printed on failure.
    """

    ok: bool
    returncode: int
    seconds: float
    detail: str = ""

    @property
    def crashed(self) -> bool:
        """Whether the probe died from a signal (a broken cache, typically SIGSEGV)."""
        return self.returncode < 0


def probe(*, timeout: float = _PROBE_TIMEOUT_S, env: dict[str, str] | None = None) -> ProbeResult:
    """Load every feature of the engine in a fresh process and report how it ended.

    Parameters
    ----------
    timeout : float
        Seconds before the probe counts as failed (a first compilation takes
        tens of seconds on a slow machine).
    env : dict, optional
        Environment of the probe (default: this one, with ``NUMBA_CACHE_DIR``).

    Returns
    -------
    ProbeResult
    """
    install()
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault(ENV_CACHE_DIR, str(cache_dir()))
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_CODE],
            env=run_env,
            timeout=timeout,
            capture_output=True,
            text=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult(False, 1, time.monotonic() - t0, f"no answer within {timeout:g} s")
    seconds = time.monotonic() - t0
    if proc.returncode == 0:
        return ProbeResult(True, 0, seconds)
    if proc.returncode < 0:
        return ProbeResult(False, proc.returncode, seconds, describe_signal(proc.returncode))
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    return ProbeResult(False, proc.returncode, seconds, lines[-1] if lines else "failed")


def _fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for p in cache_files(root):
        st = p.stat()
        h.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def ensure_sound(*, timeout: float = _PROBE_TIMEOUT_S) -> ProbeResult | None:
    """Make sure the cache loads, repairing it if a process dies loading it.

    A fingerprint of the cache's files is kept when a probe succeeds; while the
    cache matches it, this returns at once (``None``). Otherwise a probe runs
    (and, on an empty cache, fills it); if the probe dies from a signal the cache
    is cleared and probed once more, which compiles everything afresh.

    Returns
    -------
    ProbeResult or None
        The last probe, or ``None`` when the cache was known sound.

    Raises
    ------
    AudiosoupError
        If the engine cannot be loaded even from an empty cache.
    """
    from .errors import AudiosoupError

    root = install()
    stamp = root / _SOUND_NAME
    # One prober at a time: the others wait, then find the stamp fresh.
    import filelock

    with filelock.FileLock(str(root / ".probe.lock")):
        try:
            known = json.loads(stamp.read_text()).get("fingerprint")
        except (OSError, ValueError):
            known = None
        if known and known == _fingerprint(root):
            return None
        result = probe(timeout=timeout)
        if result.crashed:
            n = clear(root)
            log.warning(
                "numba's compile cache at %s was damaged (a process loading it died "
                "with %s); cleared %d files and compiling afresh",
                root,
                result.detail,
                n,
            )
            result = probe(timeout=timeout)
        if not result.ok:
            raise AudiosoupError(
                f"the feature engine cannot start ({result.detail}); run 'audiosoup doctor' for details"
            )
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": _fingerprint(root), "checked_at": time.time()}))
        os.replace(tmp, stamp)
        return result
