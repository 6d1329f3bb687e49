"""Many files analysed in worker processes, each file under a hard deadline.

This module owns running :func:`~audiosoup_widgets.audio.decode.analyse_file` over
a batch of files (at ingest, :func:`analyse_many`), or another per-file function
that decodes (the quality backfill's
:func:`~audiosoup_widgets.audio.analysis.measure_file`, :func:`map_files`), so that
no single file can crash or hang the batch.
Its workers follow the jobs layer's pool policy (:mod:`audiosoup_widgets.jobs.pool`:
exit with the parent, one thread, Ctrl-C left to the parent); what is its own:

* Decoding runs in worker processes, because a decoder stuck inside C cannot be
  interrupted from its own process; a worker past its deadline is killed and
  replaced.
* Each worker has its own pipe. Killing a process that holds the lock of a queue
  shared by all workers can leave that queue broken (a known weakness of
  ``multiprocessing.Queue``); a private pipe dies with its worker and nothing else.
* Files travel in small batches (one message per batch, one per result) so that
  thousands of 1-s clips are not dominated by messaging, while the deadline stays
  per file: a worker handles its batch in order and sends each result as soon as
  it has it, so the parent knows which file a worker is on (the oldest without a
  result) and that it began no earlier than the previous result arrived. Only
  that file is reported as ``timeout``; the rest of the batch is handed out again.
* Workers are started with ``spawn`` by default: ``fork`` copies a parent's
  threads' locks (a Jupyter kernel has several threads) and gives each worker the
  other workers' pipe ends, so a dead parent would not be noticed. ``forkserver``
  also works (see :func:`analyse_many`).

Every input gets exactly one outcome, and no worker outlives the iterator.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any, TypeVar

from ..audio.analysis import Analysis, analyse_file
from ..audio.limits import Limits
from ..audio.peaks import N_PEAKS
from ..errors import AudiosoupError, DecodeError, ValidationError
from .pool import init_worker

__all__ = ["analyse_many", "map_files"]

_READY = "ready"
# Extra time before a kill (a quarter of the timeout, at most 1 s), so a slow
# file usually ends with the worker's own timeout error, raised between chunks,
# rather than a killed process that must be replaced.
_GRACE_S = 1.0
# Starting a worker imports numpy and soundfile; on a loaded machine that is slow.
_STARTUP_S = 120.0
_MAX_START_FAILURES = 3
# A worker that dies (a segfault in a decoder, or the OOM killer) blames the file
# it was on; that file is tried once more before it is reported, in case the
# death had another cause.
_CRASH_RETRIES = 1
_MAX_CHUNKSIZE = 32
# A batch's paths stay under this many bytes, so the (at most two) unread batches
# always fit in the pipe's buffer: the parent's send never blocks, and a hung
# worker can never stall the parent that must enforce its deadline.
_MAX_BATCH_BYTES = 16_384

Outcome = Analysis | DecodeError
T = TypeVar("T")


def analyse_many(
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: str | os.PathLike[str] | None,
    limits: Limits = Limits(),
    workers: int | None = None,
    chunksize: int | None = None,
    n_peaks: int = N_PEAKS,
    start_method: str = "spawn",
    _analyse: Callable[..., Analysis] | None = None,
) -> Generator[tuple[str, Outcome]]:
    """Analyse files in worker processes, yielding each outcome as it completes.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Files to analyse (read fully before work starts).
    root : str or os.PathLike or None
        The dataset folder every file must resolve inside (``None``: no check).
    limits : Limits
        Bounds for each file; ``limits.timeout_s`` is also the hard per-file
        deadline after which a worker is killed.
    workers : int, optional
        Number of worker processes; default ``os.cpu_count()``, and never more
        than there are batches.
    chunksize : int, optional
        Files sent to a worker per message; default up to 32, smaller for small
        inputs so work spreads over all workers.
    n_peaks : int
        Number of waveform peak bins.
    start_method : {'spawn', 'forkserver'}
        How workers are started. ``spawn`` works everywhere and re-imports this
        package in each worker (about 0.1 to 0.5 s, paid once per worker).
        As with any ``multiprocessing`` code, a script calling this must guard
        its entry point with ``if __name__ == "__main__":``.
    _analyse : callable, optional
        Private, for tests: a picklable (module-level) replacement for
        :func:`~audiosoup_widgets.audio.decode.analyse_file` with the same
        signature, e.g. one that hangs on one file.

    Yields
    ------
    path : str
        The input path, as given (``os.fspath``; bytes are decoded with
        ``os.fsdecode``). Each input appears exactly once, in completion order.
    outcome : Analysis or DecodeError
        The analysis, or the error with its skip reason ``code`` (``timeout`` for a
        file that passed its deadline; ``unreadable`` for one whose decoder
        crashed its worker twice).

    Raises
    ------
    ValidationError
        If ``workers``, ``chunksize`` or ``start_method`` is invalid.
    AudiosoupError
        If worker processes cannot be started at all.

    Notes
    -----
    Exhaust the iterator or close it (``it.close()``, or ``contextlib.closing``):
    either way every worker process is stopped. Closing early kills workers in
    the middle of their files.
    """
    analyse = functools.partial(_analyse or analyse_file, n_peaks=n_peaks)
    return map_files(
        analyse,
        paths,
        root=root,
        limits=limits,
        workers=workers,
        chunksize=chunksize,
        start_method=start_method,
    )


def map_files(
    func: Callable[..., T],
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: str | os.PathLike[str] | None,
    limits: Limits = Limits(),
    workers: int | None = None,
    chunksize: int | None = None,
    start_method: str = "spawn",
) -> Generator[tuple[str, T | DecodeError]]:
    """Run ``func(path, root=root, limits=limits)`` on files in worker processes, as they complete.

    The pool of :func:`analyse_many` (per-file deadlines, crashes cost one file,
    workers end with the iterator) for any per-file function that decodes.

    Parameters
    ----------
    func : callable
        A module-level function (or a ``functools.partial`` of one), so workers can
        unpickle it; called as ``func(path, root=root, limits=limits)``. A
        :class:`~audiosoup_widgets.errors.DecodeError` it raises is the file's
        outcome; any other exception becomes one with code ``unreadable``.
    paths, root, limits, workers, chunksize, start_method
        As :func:`analyse_many`.

    Yields
    ------
    path : str
        The input path, as given; each input exactly once, in completion order.
    outcome : object or DecodeError
        What ``func`` returned, or the file's error.

    Raises
    ------
    ValidationError
        If ``workers``, ``chunksize`` or ``start_method`` is invalid.
    AudiosoupError
        If worker processes cannot be started at all.
    """
    items = [os.fsdecode(os.fspath(p)) for p in paths]
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    if not isinstance(n_workers, int) or n_workers < 1:
        raise ValidationError(f"workers must be a positive integer, got {workers!r}")
    if chunksize is None:
        chunksize = max(1, min(_MAX_CHUNKSIZE, len(items) // (n_workers * 8)))
    elif not isinstance(chunksize, int) or chunksize < 1:
        raise ValidationError(f"chunksize must be a positive integer, got {chunksize!r}")
    if start_method not in ("spawn", "forkserver"):
        raise ValidationError(f"start_method must be 'spawn' or 'forkserver', got {start_method!r}")
    n_workers = min(n_workers, math.ceil(len(items) / chunksize))
    root_s = None if root is None else os.path.abspath(os.fsdecode(os.fspath(root)))
    args = (root_s, limits, func)
    return _Batch(items, args, n_workers, chunksize, limits.timeout_s, start_method).run()


def _worker_main(conn: Any, root: str | None, limits: Limits, analyse: Callable[..., Any]) -> None:
    """Run in a worker: analyse each file of each batch received, in order."""
    # An idle worker would also notice a dead parent by its pipe closing; a busy one
    # (a decoder stuck in C) is ended by the policy's parent watch.
    init_worker()
    # libsndfile, given a file descriptor and a file it cannot identify by its
    # first bytes (an MP3 without ID3 tag), looks for a macOS resource fork named
    # "._" in the working directory; paths arrive absolute, so move somewhere
    # such a file cannot be.
    os.chdir(os.path.abspath(os.sep))
    conn.send(_READY)
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for idx, path in batch:
            # (index, True, result) or (index, False, (code, message)): whatever the
            # function returns, an error is never mistaken for a result.
            try:
                msg: Any = (idx, True, analyse(path, root=root, limits=limits))
            except DecodeError as exc:
                msg = (idx, False, (exc.code, exc.message))
            except Exception as exc:  # a bug must cost one file, not the batch
                msg = (idx, False, ("unreadable", f"unexpected {type(exc).__name__}: {exc}"))
            conn.send(msg)


class _Worker:
    """One worker process, its pipe, and the files sent to it without a result yet."""

    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        here, there = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(there, *args), name="audiosoup-audio", daemon=True)
        try:
            self.proc.start()
        finally:
            there.close()
        self.conn = here
        self.queue: deque[tuple[int, str]] = deque()
        self.ready = False
        self.dead = False
        self.refuses_work = False  # a send failed: it is exiting, drain and bury it
        # Start of the current file (or of start-up while not ready).
        self.since = time.monotonic()

    def messages(self) -> Iterator[Any]:
        """Yield every message already sent; set :attr:`dead` if the worker has gone."""
        while not self.dead:
            try:
                if not self.conn.poll():
                    if self.proc.exitcode is None:
                        return
                    # It has exited: anything it wrote is in the pipe by now.
                    if not self.conn.poll():
                        self.dead = True
                        return
                msg = self.conn.recv()
            except (EOFError, OSError):
                self.dead = True
                return
            yield msg

    def stop(self, *, graceful: bool) -> None:
        """End the process (politely if idle), and release the pipe and the process."""
        if graceful and not self.dead:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(timeout=2.0)
        if self.proc.exitcode is None:
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc.close()


class _Batch:
    """The parent's side: hands out batches, collects results, enforces deadlines."""

    def __init__(
        self,
        items: list[str],
        args: tuple[Any, ...],
        n_workers: int,
        chunksize: int,
        timeout_s: float,
        start_method: str,
    ) -> None:
        self.items = items
        self.args = args
        self.n_workers = n_workers
        self.chunksize = chunksize
        self.timeout_s = timeout_s
        self.grace_s = min(_GRACE_S, timeout_s / 4)
        self.ctx = mp.get_context(start_method)
        # Workers run in another directory: send absolute paths, yield the given ones.
        self.todo: deque[tuple[int, str]] = deque(enumerate(map(os.path.abspath, items)))
        self.left = len(items)
        self.workers: list[_Worker] = []
        self.crashes: Counter[int] = Counter()
        self.start_failures = 0

    def run(self) -> Generator[tuple[str, Any]]:
        try:
            while self.left:
                self._staff()
                self._hand_out()
                self._wait()
                # Drain until a whole pass finds nothing: a yield may pause us for
                # long, and results that arrived meanwhile must not look overdue.
                progressed = True
                while progressed:
                    progressed = False
                    for w in list(self.workers):
                        for msg in w.messages():
                            progressed = True
                            out = self._receive(w, msg)
                            if out is not None:
                                yield out
                        if w.dead:
                            progressed = True
                            yield from self._bury(w)
                yield from self._enforce_deadlines()
        finally:
            for w in self.workers:
                w.stop(graceful=self.left == 0)
            self.workers.clear()

    def _staff(self) -> None:
        while self.todo and len(self.workers) < self.n_workers:
            self.workers.append(_Worker(self.ctx, self.args))

    def _hand_out(self) -> None:
        # Round-robin one batch at a time, at most two queued per worker so it
        # never waits for the next message, and smaller batches near the end so
        # the last files spread over all workers.
        given = True
        while self.todo and given:
            given = False
            for w in self.workers:
                if not self.todo or w.refuses_work or len(w.queue) >= 2 * self.chunksize:
                    continue
                size = min(self.chunksize, math.ceil(len(self.todo) / len(self.workers)))
                batch = [self.todo.popleft()]
                used = len(batch[0][1])
                while self.todo and len(batch) < size and used < _MAX_BATCH_BYTES:
                    used += len(self.todo[0][1])
                    batch.append(self.todo.popleft())
                if not w.queue and w.ready:
                    w.since = time.monotonic()
                w.queue.extend(batch)
                given = True
                try:
                    w.conn.send(batch)
                except OSError:
                    # Its results may still be in the pipe: the drain reads them, then
                    # finds it dead and returns its other files to the queue.
                    w.refuses_work = True

    def _deadline(self, w: _Worker) -> float | None:
        if not w.ready:
            return w.since + _STARTUP_S
        if w.queue:
            return w.since + self.timeout_s + self.grace_s
        return None

    def _wait(self) -> None:
        now = time.monotonic()
        deadlines = [d for w in self.workers if (d := self._deadline(w)) is not None]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        handles = [w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers]
        if handles:
            wait(handles, timeout=timeout)

    def _receive(self, w: _Worker, msg: Any) -> tuple[str, Any] | None:
        w.since = time.monotonic()
        if msg == _READY:
            w.ready = True
            self.start_failures = 0
            return None
        idx, ok, result = msg
        # A worker answers its files in the order it received them, so this is
        # the head of its queue; the next file began when this answer came.
        if w.queue and w.queue[0][0] == idx:
            w.queue.popleft()
        else:  # pragma: no cover - only if that order were ever broken
            w.queue = deque(item for item in w.queue if item[0] != idx)
        self.left -= 1
        if not ok:
            code, message = result
            result = DecodeError(message, code=code)
        return self.items[idx], result

    def _bury(self, w: _Worker) -> Iterator[tuple[str, Any]]:
        """Account for a worker that died by itself."""
        self.workers.remove(w)
        exitcode = w.proc.exitcode
        w.stop(graceful=False)
        if not w.ready:
            self._start_failed(w, f"exit code {exitcode}")
            return
        if w.queue:
            idx, path = w.queue.popleft()
            self.crashes[idx] += 1
            if self.crashes[idx] > _CRASH_RETRIES:
                self.left -= 1
                yield (
                    self.items[idx],
                    DecodeError(f"the decoder crashed (worker exit code {exitcode})", code="unreadable"),
                )
            else:
                w.queue.appendleft((idx, path))
        self.todo.extendleft(reversed(w.queue))

    def _start_failed(self, w: _Worker, why: str) -> None:
        self.todo.extendleft(reversed(w.queue))
        self.start_failures += 1
        if self.start_failures >= _MAX_START_FAILURES:
            raise AudiosoupError(
                f"could not start audio worker processes ({why}); a script using them must "
                "guard its entry point with if __name__ == '__main__'"
            )

    def _enforce_deadlines(self) -> Iterator[tuple[str, Any]]:
        now = time.monotonic()
        for w in self.workers:
            deadline = self._deadline(w)
            if deadline is None or now <= deadline:
                continue
            self.workers.remove(w)
            w.stop(graceful=False)
            if not w.ready:
                self._start_failed(w, f"no answer within {_STARTUP_S:g} s")
                return
            idx, _ = w.queue.popleft()
            self.todo.extendleft(reversed(w.queue))
            self.left -= 1
            yield (
                self.items[idx],
                DecodeError(f"decoding took longer than {self.timeout_s:g} s", code="timeout"),
            )
            # The yield may have paused us: re-drain before judging anyone else.
            return
