"""Opening an audio file safely: the filesystem checks made before any decoder sees it.

This module owns the path and file checks: symlinks resolved and the result kept
inside the dataset folder (``outside_root``), a regular file (``not_regular``: never
a FIFO, folder or device, checked with ``stat`` so nothing is opened for reading that
could block), not empty (``empty``) and not too large (``too_large``), and the
mapping of operating-system errors to ``unreadable``. :func:`open_regular` returns a
read-only descriptor opened without following a new symlink and checked again with
``fstat``, in case the path was swapped since the first check.
"""

from __future__ import annotations

import functools
import os
import stat

from ..errors import DecodeError
from .limits import Limits

__all__ = ["open_regular", "os_error"]

_O_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # belt and braces: a FIFO swapped in after stat cannot block
    | getattr(os, "O_NOFOLLOW", 0)  # the path is already resolved; a new symlink is refused
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def open_regular(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None,
    limits: Limits,
) -> tuple[int, int]:
    """Open a regular, non-empty file within ``limits`` (and ``root``) for reading.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    root : str or os.PathLike or None
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Only ``max_bytes`` applies here.

    Returns
    -------
    fd : int
        A read-only, non-blocking file descriptor; the caller closes it.
    size : int
        The file's size in bytes, from ``fstat`` on ``fd``.

    Raises
    ------
    DecodeError
        With code ``outside_root``, ``not_regular``, ``unreadable``, ``empty`` or
        ``too_large``.
    """
    real = _resolve(path, root)
    _check_stat(real, limits)
    try:
        fd = os.open(real, _O_FLAGS)
    except OSError as exc:
        raise os_error(exc) from None
    try:
        # Again on what was opened, in case the path was swapped since the stat.
        size = _check_regular(os.fstat(fd), limits)
    except BaseException:
        os.close(fd)
        raise
    return fd, size


def os_error(exc: OSError) -> DecodeError:
    """Return the ``unreadable`` error for an operating-system error ``exc``."""
    reason = exc.strerror or type(exc).__name__
    return DecodeError(f"cannot read file: {reason}", code="unreadable")


@functools.lru_cache(maxsize=16)
def _real_root(root: str) -> str:
    # A batch checks thousands of files against one root: resolve it once.
    return os.path.realpath(root)


def _resolve(path: str | os.PathLike[str], root: str | os.PathLike[str] | None) -> str:
    """Resolve symlinks in ``path`` and check it lies inside ``root``."""
    p = os.fsdecode(os.fspath(path))
    try:
        real = os.path.realpath(p)
        if root is not None:
            real_root = _real_root(os.path.abspath(os.fsdecode(os.fspath(root))))
            # commonpath raises ValueError for paths on different drives (Windows).
            if os.path.commonpath([real, real_root]) != real_root:
                raise DecodeError("resolves to a place outside the dataset folder", code="outside_root")
    except ValueError:
        raise DecodeError("resolves to a place outside the dataset folder", code="outside_root") from None
    except OSError as exc:
        raise os_error(exc) from None
    return real


def _check_stat(real: str, limits: Limits) -> int:
    """Check with ``stat`` (never ``open``) that ``real`` is a usable regular file."""
    try:
        st = os.stat(real)
    except OSError as exc:
        raise os_error(exc) from None
    return _check_regular(st, limits)


def _check_regular(st: os.stat_result, limits: Limits) -> int:
    """Return the size of a regular, non-empty file within ``limits``, or raise."""
    if not stat.S_ISREG(st.st_mode):
        raise DecodeError(f"not a regular file ({_kind(st.st_mode)})", code="not_regular")
    if st.st_size == 0:
        raise DecodeError("file is empty (0 bytes)", code="empty")
    if st.st_size > limits.max_bytes:
        raise DecodeError(f"file is {st.st_size} bytes (> limit {limits.max_bytes})", code="too_large")
    return st.st_size


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"
