"""Slow work off the kernel's main thread, results back on it: background jobs and debounced calls.

A Jupyter kernel (JupyterLab or Voila) handles widget messages one at a time on its
main thread, inside an asyncio event loop. Anything slow done there, such as
computing the features of a long clip, freezes every widget of the page until it
ends. This module gives widgets two tools:

* :class:`LatestJob` runs one piece of work at a time in a worker thread and hands
  its progress reports and its result (or error) back to the main thread through
  the event loop, and only while no newer job was asked for: a stale result never
  overwrites a newer one;
* :class:`Debouncer` runs a call once, a delay after the last request (search as
  you type).

Widget traits are only ever changed on the main thread. Without a running event
loop (plain Python, a script, in-process tests) both run their work at once,
synchronously, so behaviour stays the same, only blocking.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Job", "LatestJob", "Debouncer", "running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """Return the event loop running in this thread (a kernel's main loop), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Job:
    """What a running job sees: a progress reporter and whether it is still wanted."""

    def __init__(self, owner: LatestJob, generation: int, on_progress: Callable[[Any], None] | None) -> None:
        self._owner = owner
        self._generation = generation
        self._on_progress = on_progress

    @property
    def stale(self) -> bool:
        """True once a newer job was submitted or the job was cancelled: stop early."""
        return self._generation != self._owner.generation

    def progress(self, info: Any) -> None:
        """Report progress; the ``on_progress`` callback gets ``info`` on the main thread."""
        if self._on_progress is not None:
            self._owner._deliver_later(self._generation, self._on_progress, info)


class LatestJob:
    """Run one job at a time in a worker thread; deliver only the newest job's outcome.

    Parameters
    ----------
    name : str
        Name of the worker thread (shown in logs and debuggers).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.generation = 0
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None
        self._lock = threading.Lock()
        self._running = 0

    @property
    def running(self) -> bool:
        """Whether a worker is busy with a job (current or stale)."""
        return self._running > 0

    def submit(
        self,
        work: Callable[[Job], Any],
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_progress: Callable[[Any], None] | None = None,
    ) -> None:
        """Start ``work(job)``; supersede every earlier job.

        Parameters
        ----------
        work : callable
            Runs in the worker thread; must not touch widgets. It may call
            ``job.progress(info)`` and should return early when ``job.stale``.
        on_done, on_error : callable
            Called on the main thread with the result or the exception, unless a
            newer job was submitted (or :meth:`cancel` called) in the meantime.
        on_progress : callable, optional
            Called on the main thread with each progress report of a current job.
        """
        self.generation += 1
        generation = self.generation
        job = Job(self, generation, on_progress)
        loop = running_loop()
        if loop is None:
            self._loop = None
            try:
                result = work(job)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's error path
                on_error(exc)
                return
            on_done(result)
            return
        self._loop = loop
        # Messages sent from the callbacks keep the parent of the request that started the job.
        self._context = contextvars.copy_context()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        with self._lock:
            self._running += 1
        self._executor.submit(self._run, job, generation, work, on_done, on_error)

    def cancel(self) -> None:
        """Forget the current job: its progress and outcome will not be delivered."""
        self.generation += 1

    def close(self) -> None:
        """Cancel and let the worker thread end once its current job returns."""
        self.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _run(
        self,
        job: Job,
        generation: int,
        work: Callable[[Job], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        try:
            if job.stale:  # superseded while it waited for the worker
                return
            try:
                result = work(job)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's error path
                self._deliver_later(generation, on_error, exc)
                return
            self._deliver_later(generation, on_done, result)
        finally:
            with self._lock:
                self._running -= 1

    def _deliver_later(self, generation: int, callback: Callable[[Any], None], value: Any) -> None:
        loop = self._loop
        if loop is None:  # synchronous mode: we are on the caller's thread already
            self._deliver(generation, callback, value)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, generation, callback, value, context=self._context)
        except RuntimeError:  # the loop is closed: the kernel is shutting down
            log.debug("%s: dropped a result, the event loop is closed", self.name)

    def _deliver(self, generation: int, callback: Callable[[Any], None], value: Any) -> None:
        if generation != self.generation:
            return
        try:
            callback(value)
        except Exception:  # noqa: BLE001 - a callback must never kill the event loop
            log.exception("%s: a job callback failed", self.name)


class Debouncer:
    """Call ``fn()`` once, ``delay`` seconds after the last :meth:`request`.

    Parameters
    ----------
    delay : float
        Quiet time in seconds before the call.
    fn : callable
        Called on the thread of the event loop (the kernel's main thread).
    """

    def __init__(self, delay: float, fn: Callable[[], None]) -> None:
        self.delay = delay
        self.fn = fn
        self._handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        """Whether a call is scheduled."""
        return self._handle is not None

    def request(self) -> None:
        """(Re)start the timer; without an event loop, call at once."""
        self.cancel()
        loop = running_loop()
        if loop is None:
            self.fn()
            return
        self._handle = loop.call_later(self.delay, self._fire)

    def cancel(self) -> None:
        """Drop a scheduled call."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        try:
            self.fn()
        except Exception:  # noqa: BLE001 - a timer callback must never kill the event loop
            log.exception("a debounced call failed")
