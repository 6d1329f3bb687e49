"""The bounds one audio file must keep, and the codes for every way a file is refused.

This module owns :class:`Limits` (size, length, channels, sample rate, chunk size and
time allowed per file), :data:`REASONS` (every ``code`` a
:class:`~audiosoup_widgets.errors.DecodeError` from the audio package can carry, the
skip reason a loader records) and the error for a file that took too long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import DecodeError, ValidationError

__all__ = ["REASONS", "Limits", "timeout_error"]

#: Every skip reason code a :class:`DecodeError` from this package can carry.
REASONS = (
    "empty",
    "not_audio",
    "too_large",
    "too_long",
    "truncated",
    "unsupported",
    "outside_root",
    "not_regular",
    "timeout",
    "unreadable",
)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep one file from costing unbounded memory or time.

    Attributes
    ----------
    max_bytes : int
        Largest file size accepted (default 2 GiB); larger files are ``too_large``.
    max_seconds : float
        Longest audio accepted (default 3 hours), checked against the header's
        claimed length before reading: ``max_seconds * sample_rate`` frames, so at
        most ``max_seconds * sample_rate * max_channels`` samples are ever decoded.
    max_channels : int
        Most channels accepted (default 32); more is ``unsupported``.
    max_sample_rate : int
        Highest sample rate accepted (default 768 kHz); a header claiming more is
        ``unsupported``, since it would also inflate the frame limit.
    chunk_frames : int
        Frames decoded per chunk (default 65,536): memory per file stays at
        ``chunk_frames * channels * 4`` bytes however long the file is.
    timeout_s : float
        Wall-clock seconds allowed per file (default 60 s, enough to hash and
        decode a 2 GiB file from a slow disk). Checked between chunks here; the
        worker pool enforces it as a hard deadline.
    """

    max_bytes: int = 2 * 1024**3
    max_seconds: float = 3 * 3600.0
    max_channels: int = 32
    max_sample_rate: int = 768_000
    chunk_frames: int = 65_536
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_seconds",
            "max_channels",
            "max_sample_rate",
            "chunk_frames",
            "timeout_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise ValidationError(f"limit {name} must be a positive number, got {value!r}")

    def max_frames(self, sample_rate: int) -> int:
        """Return the most frames accepted at ``sample_rate``."""
        return int(self.max_seconds * sample_rate)


def timeout_error(limits: Limits) -> DecodeError:
    """Return the ``timeout`` error for a file that took longer than ``limits.timeout_s``."""
    return DecodeError(f"decoding took longer than {limits.timeout_s:g} s", code="timeout")
