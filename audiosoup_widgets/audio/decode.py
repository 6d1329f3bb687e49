"""Samples from an audio file: its header, the whole of it, a part, or segment by segment.

This module owns the public reading functions: :func:`probe_file` (the header only,
checked), :func:`decode` (bounded float32 samples, mixed to mono and resampled on
request) and :func:`decode_segments` (the mono mix of a file too long to hold whole,
one :class:`Segment` at a time), and the mono mix and resampling they share. Every
file is read through :class:`~audiosoup_widgets.audio.reader.OpenedFile`, so each
failure is a :class:`~audiosoup_widgets.errors.DecodeError` whose ``code`` is one of
:data:`~audiosoup_widgets.audio.limits.REASONS`. A decoder that hangs inside C
cannot be stopped from the same process; :mod:`audiosoup_widgets.jobs.decodepool`
runs the analysis in worker processes with a hard per-file deadline.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from ..errors import DecodeError, ValidationError
from .limits import Limits, timeout_error
from .reader import AudioInfo, OpenedFile

__all__ = ["Segment", "probe_file", "decode", "decode_segments", "mono_mix"]


def probe_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
) -> AudioInfo:
    """Read a file's header and check it against ``limits``, without decoding.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    root : str or os.PathLike, optional
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length and channel bounds.

    Returns
    -------
    AudioInfo
        Format, subtype, rate, channels and the frames libsndfile will deliver.

    Raises
    ------
    DecodeError
        With code ``outside_root``, ``not_regular``, ``unreadable``, ``empty``,
        ``too_large``, ``not_audio``, ``unsupported``, ``too_long`` or
        ``truncated`` (only where the header alone proves it, as with a WAV data
        chunk running past the end of the file). Truncation in general needs
        :func:`~audiosoup_widgets.audio.analysis.analyse_file`.
    """
    with OpenedFile(path, root=root, limits=limits) as f:
        return f.info


def decode(
    path: str | os.PathLike[str],
    *,
    sr: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
) -> tuple[np.ndarray, int]:
    """Decode (part of) a file to float32 samples, within ``limits``.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sr : int, optional
        Target sample rate; ``None`` keeps the file's own. Resampling uses
        ``librosa.resample(res_type='soxr_hq')``.
    mono : bool
        Average the channels into one.
    offset : float >= 0
        Start time in seconds (past the end gives an empty array).
    duration : float >= 0, optional
        Seconds to read from ``offset``; ``None`` reads to the end.
    root : str or os.PathLike, optional
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length, channel and time bounds.

    Returns
    -------
    y : np.ndarray, float32, shape (n,) if ``mono`` else (channels, n)
        The samples (librosa's channel-first layout).
    sr : int
        Their sample rate.

    Raises
    ------
    DecodeError
        As :func:`~audiosoup_widgets.audio.analysis.analyse_file` for a file
        that is not usable.
    ValidationError
        If ``offset``, ``duration`` or ``sr`` is negative or not finite.
    """
    if not (math.isfinite(offset) and offset >= 0):
        raise ValidationError(f"offset must be a non-negative number of seconds, got {offset!r}")
    if duration is not None and not (math.isfinite(duration) and duration >= 0):
        raise ValidationError(f"duration must be a non-negative number of seconds, got {duration!r}")
    if sr is not None and not (isinstance(sr, int | np.integer) and 0 < sr <= limits.max_sample_rate):
        raise ValidationError(f"sr must be a positive sample rate, got {sr!r}")
    deadline = time.monotonic() + limits.timeout_s
    with OpenedFile(path, root=root, limits=limits) as f:
        info = f.info
        native = info.sample_rate
        start = min(round(offset * native), f.expected_frames)
        wanted = f.expected_frames - start
        if duration is not None:
            wanted = min(wanted, round(duration * native))
        if start and wanted:
            f.seek(start)
        shape = (wanted,) if mono else (info.channels, wanted)
        # An estimated (MP3) length may be exceeded: collect chunks instead.
        out = np.empty(shape, dtype=np.float32) if f.exact_length else None
        parts: list[np.ndarray] = []
        pos = 0
        for x in f.chunks(deadline, start=start, stop=start + wanted):
            k = len(x)
            part = mono_mix(x) if mono else x.T
            if out is not None:
                out[..., pos : pos + k] = part
            else:
                parts.append(part.copy())
            pos += k
        if out is not None:
            y = out[..., :pos]
        elif parts:
            y = np.concatenate(parts, axis=-1)
        else:
            y = np.empty(shape[:-1] + (0,), dtype=np.float32)
    if sr is not None and sr != native and y.shape[-1]:
        y = _resample(y, native, sr)
        native = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native)


class Segment(NamedTuple):
    """One segment of a file's mono mix, from :func:`decode_segments`.

    Attributes
    ----------
    info : AudioInfo
        The file's header information.
    start : int
        First frame of the segment.
    samples : np.ndarray, float32, shape (n,)
        The mono mix of frames ``start`` to ``start + n``.
    last : bool
        Whether this is the file's last segment (the file was decoded to its end and
        checked for truncation).
    """

    info: AudioInfo
    start: int
    samples: np.ndarray
    last: bool


def decode_segments(
    path: str | os.PathLike[str],
    plan: Callable[[int], Sequence[tuple[int, int]]],
    *,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
) -> Iterator[Segment]:
    """Decode a file's mono mix one segment at a time, in one sequential pass.

    Memory is one segment plus one decoding chunk, however long the file: a 3-hour
    file is never held whole. The file is read in order (no seeking, which is slow
    or inexact in compressed formats).

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    plan : callable
        ``plan(frames)`` returns the contiguous ``(start, stop)`` frame ranges to yield,
        given the frames the header announces. Frames beyond the plan (a length that
        was only estimated, as for some MP3 files) come in further segments the size
        of the last planned one.
    root : str or os.PathLike, optional
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length and channel bounds; ``timeout_s`` applies to the decoding of
        each segment (the caller's time between segments does not count).

    Yields
    ------
    Segment
        In order; a segment is yielded only once the next one has begun, so the last
        one comes after the whole file has been decoded and checked.

    Raises
    ------
    DecodeError
        As :func:`~audiosoup_widgets.audio.analysis.analyse_file`, from the
        segment where the problem shows.
    """
    with OpenedFile(path, root=root, limits=limits) as f:
        info = f.info
        sizes = [b - a for a, b in plan(f.expected_frames)] or [f.expected_frames]
        sizes = [max(1, n) for n in sizes]
        index, start, fill = 0, 0, 0
        buf = np.empty(sizes[0], dtype=np.float32)
        resumed = time.monotonic()
        for x in f.chunks(math.inf):
            mono = mono_mix(x)
            pos = 0
            while pos < len(mono):
                if fill == len(buf):  # more audio follows: hand over the full segment
                    yield Segment(info, start, buf, False)
                    resumed = time.monotonic()
                    start, index, fill = start + len(buf), index + 1, 0
                    buf = np.empty(sizes[min(index, len(sizes) - 1)], dtype=np.float32)
                take = min(len(buf) - fill, len(mono) - pos)
                buf[fill : fill + take] = mono[pos : pos + take]
                fill += take
                pos += take
            if time.monotonic() - resumed > limits.timeout_s:
                raise timeout_error(limits)
    if start == 0 and fill == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    yield Segment(info, start, buf[:fill], True)


def mono_mix(x: np.ndarray) -> np.ndarray:
    """Return the mono mix of a ``(frames, channels)`` chunk, shape ``(frames,)``."""
    if x.shape[1] == 1:
        return x[:, 0]
    mixed: np.ndarray = x.mean(axis=1, dtype=np.float32)
    return mixed


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's high quality through librosa."""
    from .. import jitcache

    # Only playback and features pay for importing librosa, and its numba code
    # loads under the project's compile lock.
    librosa = jitcache.import_librosa()

    out: np.ndarray
    try:
        out = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")
    except ImportError:  # soxr missing: scipy's polyphase filter is always there
        out = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="polyphase")
    return out
