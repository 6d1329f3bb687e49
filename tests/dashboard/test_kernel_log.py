"""A dashboard kernel's log: a reply on sockets the server already closed is not an error to show."""

from __future__ import annotations

import errno
import logging
import sys

import zmq

from audiosoup_widgets.dashboards.kernel_log import ClosedSocketFilter


def _record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc is not None else None
    message = "Exception in message handler:"
    return logging.LogRecord("IPKernelApp", logging.ERROR, __file__, 1, message, (), info)


def test_a_reply_on_closed_sockets_is_dropped():
    assert not ClosedSocketFilter().filter(_record(zmq.ZMQError(errno.ENOTSOCK)))


def test_other_errors_are_kept():
    keep = ClosedSocketFilter()
    assert keep.filter(_record(zmq.ZMQError(errno.EAGAIN)))
    assert keep.filter(_record(RuntimeError("a real failure")))
    assert keep.filter(_record(None))


def test_the_filter_stops_the_record_on_the_kernel_apps_logger(capsys):
    logger = logging.getLogger("audiosoup-test-IPKernelApp")
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    logger.addFilter(ClosedSocketFilter())
    try:
        try:
            raise zmq.ZMQError(errno.ENOTSOCK)
        except zmq.ZMQError:
            logger.error("Exception in message handler:", exc_info=True)
        try:
            raise ValueError("kept")
        except ValueError:
            logger.error("Exception in message handler:", exc_info=True)
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "ValueError: kept" in err and "ZMQError" not in err
