"""A checked, open audio file: what its header says, and its samples read in chunks.

This module owns :class:`AudioInfo` and :class:`OpenedFile`, the one way the audio
package reads a file. Opening one runs, in order, the filesystem checks
(:mod:`~audiosoup_widgets.audio.files`), libsndfile's header reading and the checks
of channels, sample rate and claimed length against
:class:`~audiosoup_widgets.audio.limits.Limits`, with our own reading of the
container where libsndfile repairs a lie
(:mod:`~audiosoup_widgets.audio.containers`); all before any sample buffer is
allocated. Reading then hashes the bytes and yields bounded chunks, checking for
truncation and for time running out between chunks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ..errors import DecodeError
from .containers import (
    BYTES_PER_SAMPLE,
    MP3_FRAME,
    logged_short_data,
    mp3_has_length_header,
    ogg_tail_problem,
    open_error,
    riff_data_bytes,
    sndfile_message,
)
from .files import open_regular, os_error
from .limits import Limits, timeout_error

__all__ = ["AudioInfo", "OpenedFile"]

_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class AudioInfo:
    """What a file's content says it is.

    Attributes
    ----------
    format : str
        Container detected from the content by libsndfile ('WAV', 'FLAC', 'OGG',
        'MP3', ...), whatever the file name's extension says.
    subtype : str
        Sample encoding ('PCM_16', 'PCM_24', 'FLOAT', 'VORBIS', 'MPEG_LAYER_III', ...).
    sample_rate : int
        Frames per second.
    channels : int
        Number of channels.
    frames : int
        Number of frames (from the header for
        :func:`~audiosoup_widgets.audio.decode.probe_file`; as decoded for
        :func:`~audiosoup_widgets.audio.analysis.analyse_file`).
    duration : float
        ``frames / sample_rate`` in seconds.
    """

    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int
    duration: float


class OpenedFile:
    """A checked, open audio file: path checks, header checks and chunked reading.

    Used as a context manager; closes both the libsndfile handle and the file
    descriptor it was given.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    root : str or os.PathLike or None
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length, channel and time bounds.

    Attributes
    ----------
    info : AudioInfo
        The header's information; ``frames`` is what libsndfile will deliver.
    expected_frames : int
        The same as ``info.frames``.
    claimed : int
        The frames the header claims (more than ``expected_frames`` when
        libsndfile shortened a data chunk that runs past the end of the file).
    exact_length : bool
        Whether the header's length can be trusted (not an MP3 without a length
        header, whose length libsndfile estimates from the file size).
    decoded : int
        Frames yielded so far by :meth:`chunks`.

    Raises
    ------
    DecodeError
        With a code from :data:`~audiosoup_widgets.audio.limits.REASONS`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None, limits: Limits
    ) -> None:
        self.limits = limits
        self.decoded = 0
        self.fd, self.size = open_regular(path, root=root, limits=limits)
        try:
            self._open_sndfile()
        except BaseException:
            os.close(self.fd)
            raise

    def _open_sndfile(self) -> None:
        limits = self.limits
        try:
            self.sf = sf.SoundFile(self.fd, closefd=False)
        except sf.LibsndfileError as exc:
            raise open_error(exc, fd=self.fd, size=self.size) from None
        except (RuntimeError, TypeError, ValueError) as exc:
            raise DecodeError(f"cannot open as audio: {exc}", code="not_audio") from None
        try:
            fmt, subtype = self.sf.format, self.sf.subtype
            rate, ch, frames = int(self.sf.samplerate), int(self.sf.channels), int(self.sf.frames)
            if ch < 1 or ch > limits.max_channels:
                raise DecodeError(f"{ch} channels (limit {limits.max_channels})", code="unsupported")
            if rate < 1 or rate > limits.max_sample_rate:
                raise DecodeError(
                    f"sample rate {rate} Hz (limit {limits.max_sample_rate} Hz)", code="unsupported"
                )
            # What the header claims may exceed what libsndfile will deliver: it
            # silently shortens a WAV data chunk that runs past the end of the file.
            claimed, self.exact_length = frames, True
            if fmt in ("WAV", "WAVEX", "RF64"):
                data_bytes = riff_data_bytes(self.fd, self.size)
                width = BYTES_PER_SAMPLE.get(subtype)
                if data_bytes is not None and width:
                    claimed = data_bytes // (width * ch)
            elif fmt == "MP3":
                # Without a Xing/Info/VBRI header libsndfile estimates the length
                # from the file size, so neither truncation nor bins can rely on it.
                self.exact_length = mp3_has_length_header(self.fd)
            elif fmt not in ("FLAC", "OGG"):
                # Other containers (AIFF, AU, ...): libsndfile shortens a data chunk
                # that runs past the end too, but says so in its log.
                cut = logged_short_data(self.sf)
                if cut:
                    raise DecodeError(cut, code="truncated")
            limit = limits.max_frames(rate)
            if claimed > limit:
                raise DecodeError(f"header claims {claimed} frames (> limit {limit})", code="too_long")
            if fmt == "OGG":
                # Before the frame count: a cut Ogg file can report 0 frames.
                problem = ogg_tail_problem(self.fd, self.size)
                if problem:
                    raise DecodeError(problem, code="truncated")
            if frames == 0 and claimed == 0:
                raise DecodeError("file holds no audio (0 frames)", code="empty")
            self.claimed = claimed
            self.expected_frames = frames
            self.info = AudioInfo(fmt, subtype, rate, ch, frames, frames / rate)
        except BaseException:
            self.sf.close()
            raise

    def sha256(self, deadline: float) -> str:
        """Hash the whole file with ``pread``, leaving libsndfile's position alone."""
        h = hashlib.sha256()
        offset = 0
        while True:
            # Ask for what fstat promised (no 1 MiB buffer for a 32 kB clip), then
            # keep reading in case the file grew.
            want = _HASH_BLOCK if offset >= self.size else min(_HASH_BLOCK, self.size - offset)
            try:
                block = os.pread(self.fd, want, offset)
            except OSError as exc:
                raise os_error(exc) from None
            if not block:
                break
            h.update(block)
            offset += len(block)
            if offset < self.size and time.monotonic() > deadline:
                raise timeout_error(self.limits)
        return h.hexdigest()

    def seek(self, frame: int) -> None:
        """Move libsndfile's read position to ``frame``."""
        try:
            self.sf.seek(frame)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise DecodeError(
                f"cannot seek to frame {frame}: {sndfile_message(exc)}", code="truncated"
            ) from None

    def chunks(self, deadline: float, *, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield ``(frames, channels)`` float32 chunks from ``start`` up to ``stop``.

        The same buffer is reused for every chunk: consume each before the next.
        Raises ``truncated`` if the decoder fails or stops short of what the
        header claims, ``too_long`` if an estimated length was far too low.
        """
        limits, info = self.limits, self.info
        full = stop is None or stop >= self.expected_frames
        stop = self.expected_frames if stop is None else min(stop, self.expected_frames)
        # Estimated lengths may be short of the truth: read to the end, bounded.
        end = stop if self.exact_length or not full else limits.max_frames(info.sample_rate) + 1
        buf = np.empty((min(limits.chunk_frames, max(end - start, 1)), info.channels), np.float32)
        pos = start
        while pos < end:
            want = min(len(buf), end - pos)
            try:
                x: np.ndarray = self.sf.read(want, dtype="float32", always_2d=True, out=buf[:want])
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise DecodeError(
                    f"decoder error after frame {pos}: {sndfile_message(exc)}", code="truncated"
                ) from None
            if len(x) == 0:
                break
            pos += len(x)
            self.decoded = pos - start
            yield x
            if pos < end and time.monotonic() > deadline:
                raise timeout_error(limits)
        if pos > limits.max_frames(info.sample_rate):
            raise DecodeError(
                f"decodes to more than {limits.max_frames(info.sample_rate)} frames", code="too_long"
            )
        target = self.claimed if full else stop
        if self.exact_length and self._short(pos, target):
            raise DecodeError(f"decoded {pos} of the {target} frames the header claims", code="truncated")

    def _short(self, n: int, target: int) -> bool:
        # An MP3 length header counts whole MPEG frames; allow one of slack.
        slack = MP3_FRAME if self.info.format == "MP3" else 0
        return n < target - slack

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sf.close()
        finally:
            os.close(self.fd)
