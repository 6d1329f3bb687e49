"""Where a dashboard kernel's errors go: the server's log, never the visitor's page.

In a Jupyter kernel, ``sys.stderr`` is a stream to the front end: whatever is
written to it travels over the page's websocket as a ``stream`` message. Python's
logging has no handler in a kernel, so a logged error (a failing widget message,
a widget handler's unexpected exception) falls back to ``sys.stderr`` and its
traceback, with the server's file paths, reaches the browser; IPython's
``showtraceback``, which ipywidgets calls when a widget message handler raises,
sends an ``error`` message to the page too. The page hides neither from a curious
visitor.

:func:`send_errors_to_server_log`, called by the dashboard's start-up cell under
Voila, points all of them at the kernel process's real standard error, which is
the server's log:

- the root logger gets a handler on it (and warnings are logged);
- ``sys.stderr`` becomes that stream, so a library printing a traceback prints it
  to the log;
- outside a running cell (where widget messages are handled), ``showtraceback``
  logs the exception instead of sending it. Inside a cell it is left alone:
  Voila uses the error to show its own plain message for a start-up failure;
- ipykernel's own "Exception in message handler" for a reply it could not send
  because the server had already closed the kernel's sockets (a kernel shut down
  by Ctrl+C or the idle cull in the middle of a request) is dropped: a traceback
  in the terminal about a kernel that is being stopped on purpose tells no one
  anything (:class:`ClosedSocketFilter`).
"""

from __future__ import annotations

import errno
import io
import logging
import os
import sys
from typing import Any, TextIO

log = logging.getLogger(__name__)

__all__ = ["ClosedSocketFilter", "send_errors_to_server_log", "server_log_stream", "under_voila"]

_FORMAT = "[audiosoup kernel %(process)d] %(asctime)s %(levelname)s %(name)s: %(message)s"
_installed: list[TextIO] = []


class ClosedSocketFilter(logging.Filter):
    """Drop log records of a message sent on a socket already closed (ZMQ's ``ENOTSOCK``).

    ipykernel logs "Exception in message handler" with the ZMQ error when it tries
    to reply after the server closed the kernel's sockets to shut it down.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but those."""
        exc = record.exc_info[1] if record.exc_info else None
        closed = type(exc).__name__ == "ZMQError" and getattr(exc, "errno", None) == errno.ENOTSOCK
        return not closed


def under_voila() -> bool:
    """Tell whether this process is a kernel started by a Voila server."""
    return "VOILA_BASE_URL" in os.environ


def server_log_stream() -> TextIO:
    """Return a text stream to this process's real standard error (the server's log under Voila).

    ipykernel swaps file descriptor 2 for a pipe it forwards to the page, and keeps
    the original in ``sys.stderr._original_stdstream_copy``; write there.
    """
    if _installed:
        return _installed[0]
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    if fd is None:
        fd = getattr(sys.__stderr__, "fileno", lambda: 2)()
    stream = io.TextIOWrapper(
        io.FileIO(os.dup(fd), "w"), encoding="utf-8", errors="replace", line_buffering=True
    )
    _installed.append(stream)
    return stream


def send_errors_to_server_log() -> None:
    """Route this kernel's logging, warnings, stderr and stray tracebacks to the server's log.

    Safe to call more than once; does nothing to the shell outside IPython.
    """
    first = not _installed
    stream = server_log_stream()
    if not first:
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # The kernel application logs through its own logger and handler.
    logging.getLogger("IPKernelApp").addFilter(ClosedSocketFilter())
    sys.stderr = stream
    _quiet_tracebacks_outside_cells()


def _quiet_tracebacks_outside_cells() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - kernels always have IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    # Called from the start-up cell, so a cell is running now.
    running = {"cell": True}
    shell.events.register("pre_run_cell", lambda *_: running.update(cell=True))
    shell.events.register("post_run_cell", lambda *_: running.update(cell=False))
    original = shell.showtraceback

    def showtraceback(exc_tuple: Any = None, *args: Any, **kwargs: Any) -> Any:
        if running["cell"]:
            return original(exc_tuple, *args, **kwargs)
        info = exc_tuple if exc_tuple is not None else sys.exc_info()
        log.error(
            "unexpected error while handling a message from the page",
            exc_info=info if info[0] is not None else None,
        )
        return None

    shell.showtraceback = showtraceback
