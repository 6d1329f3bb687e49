"""Safe, bounded reading of audio files: what a file is, what it holds, and its samples.

This module owns everything that touches an audio file's bytes:

* the checks made before a decoder sees a file (inside the root, a regular file,
  not empty, not too large), done with ``stat`` so a FIFO is never opened for
  reading and nothing blocks;
* the header checks (format from the content, claimed length, channels and
  sample rate within :class:`Limits`) made before any sample buffer is
  allocated, with our own reading of RIFF and Ogg structure where libsndfile
  silently repairs a lie;
* one chunked decoding pass (:func:`analyse_file`) giving the content hash,
  waveform peaks, level statistics and quality flags, and bounded sample reading
  for playback and features (:func:`decode`, and :func:`decode_segments` for files
  too long to hold whole).

Every failure is a :class:`~audiosoup_widgets.errors.DecodeError` whose ``code``
is one of :data:`REASONS`, the skip reason a loader records, and whose message is
one plain line. A decoder that hangs inside C cannot be stopped from the same
process; :mod:`audiosoup_widgets.jobs.decodepool` runs this module in worker processes
with a hard per-file deadline.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import stat
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf

from ..errors import DecodeError, ValidationError
from .peaks import N_PEAKS, PeakAccumulator

__all__ = [
    "REASONS", "FLAGS", "Limits", "AudioInfo", "Analysis", "Segment", "probe_file",
    "analyse_file", "decode", "decode_segments",
]

#: Every skip reason code a :class:`DecodeError` from this package can carry.
REASONS = (
    "empty", "not_audio", "too_large", "too_long", "truncated", "unsupported",
    "outside_root", "not_regular", "timeout", "unreadable",
)
#: Every quality flag :func:`analyse_file` can set (see :class:`Analysis`).
FLAGS = ("silent", "quiet", "clipped", "dc_offset", "non_finite")

SILENT_DBFS = -80.0
QUIET_DBFS = -40.0
DC_OFFSET = 0.05
RMS_FLOOR_DB = -120.0
# Three samples in a row at full scale cannot come from a band-limited signal
# that fits the range; one or two can (a loud sine touching its peak).
_CLIP_RUN = 3
# Frame counts in MPEG frames: tolerance between a Xing/Info header and decoding.
_MP3_FRAME = 1152
_BYTES_PER_SAMPLE = {
    "PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
    "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1,
}
_INT_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
# libsndfile error numbers meaning "a real format, an encoding we cannot decode".
_UNSUPPORTED_ERRORS = {4, 18, 106, 110, 117, 123}
_HASH_BLOCK = 1 << 20
_O_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # belt and braces: a FIFO swapped in after stat cannot block
    | getattr(os, "O_NOFOLLOW", 0)  # the path is already resolved; a new symlink is refused
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
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
        for name in ("max_bytes", "max_seconds", "max_channels", "max_sample_rate",
                     "chunk_frames", "timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise ValidationError(f"limit {name} must be a positive number, got {value!r}")

    def max_frames(self, sample_rate: int) -> int:
        """Return the most frames accepted at ``sample_rate``."""
        return int(self.max_seconds * sample_rate)


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
        Number of frames (from the header for :func:`probe_file`; as decoded for
        :func:`analyse_file`).
    duration : float
        ``frames / sample_rate`` in seconds.
    """

    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int
    duration: float


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything one decoding pass learns about a file.

    Attributes
    ----------
    info : AudioInfo
        Format and size; ``frames`` is the number actually decoded.
    sha256 : str
        Hex SHA-256 of the file's bytes (duplicates have equal hashes).
    peaks : np.ndarray, shape (2, n_bins), float32
        Per-bin min and max of the mono mix (see
        :func:`~audiosoup_widgets.audio.peaks.waveform_peaks`); store it with
        :meth:`encoded_peaks`.
    rms_db : float
        RMS level over all channels in dBFS, floored at -120 dB.
    peak_abs : float
        Largest absolute sample value over all channels (may exceed 1.0 in float
        and lossy files).
    flags : tuple of str
        Quality flags, a subset of :data:`FLAGS` in that order: ``silent`` (no
        sample above -80 dBFS), ``quiet`` (not silent, but no sample above
        -40 dBFS), ``clipped`` (three or more consecutive samples of one channel
        at full scale), ``dc_offset`` (a channel's mean beyond +/-0.05),
        ``non_finite`` (NaN or infinite samples in a float file; they count as 0).
    """

    info: AudioInfo
    sha256: str
    peaks: np.ndarray = field(repr=False)
    rms_db: float
    peak_abs: float
    flags: tuple[str, ...]

    def encoded_peaks(self) -> bytes:
        """Return :attr:`peaks` in the compact stored form (see ``encode_peaks``)."""
        from .peaks import encode_peaks

        return encode_peaks(self.peaks)


def probe_file(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
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
        :func:`analyse_file`.
    """
    with _Opened(path, root, limits) as f:
        return f.info


def analyse_file(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(), n_peaks: int = N_PEAKS,
) -> Analysis:
    """Check, hash and decode a file once, and summarise it.

    The file is opened once and decoded in chunks of ``limits.chunk_frames``;
    peaks, level statistics and flags are computed on the way, so memory stays
    bounded and nothing is decoded twice.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    root : str or os.PathLike, optional
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length, channel and time bounds.
    n_peaks : int
        Number of waveform peak bins.

    Returns
    -------
    Analysis
        Info, hash, peaks, levels and flags.

    Raises
    ------
    DecodeError
        With a code from :data:`REASONS`: the :func:`probe_file` codes, plus
        ``truncated`` when decoding yields fewer frames than the header claims or
        the decoder fails mid-stream, and ``timeout`` when ``limits.timeout_s``
        passes between chunks.
    """
    deadline = time.monotonic() + limits.timeout_s
    with _Opened(path, root, limits) as f:
        digest = f.sha256(deadline)
        info = f.info
        ch = info.channels
        # An MP3's decoded length may differ from its header by part of an MPEG
        # frame even when the header is exact, so its bins cannot be fixed upfront.
        exact = f.exact_length and info.format != "MP3"
        acc = PeakAccumulator(f.expected_frames, n_bins=n_peaks, exact=exact)
        # Sums run per chunk in float32, across chunks in float64: a 3-hour file
        # has a billion squares to add.
        sumsq = 0.0
        sums = np.zeros(ch, dtype=np.float64)
        peak = 0.0
        non_finite = clipped = False
        clip_thr = _clip_threshold(info.subtype)
        tail = np.zeros((0, ch), dtype=bool)
        for x in f.chunks(deadline):
            if not np.isfinite(x).all():
                non_finite = True
                x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
            cmax = float(x.max())
            cmin = float(x.min())
            peak = max(peak, cmax, -cmin)
            flat = x.reshape(-1)
            sumsq += float(np.dot(flat, flat))
            sums += x.sum(axis=0, dtype=np.float64)
            if not clipped and max(cmax, -cmin) >= clip_thr:
                mask = np.concatenate((tail, np.abs(x) >= clip_thr))
                run = mask[:-2] & mask[1:-1] & mask[2:] if len(mask) >= _CLIP_RUN else mask[:0]
                clipped = bool(run.any())
                tail = mask[-(_CLIP_RUN - 1):]
            elif not clipped:
                tail = np.zeros((0, ch), dtype=bool)
            acc.update(_mix(x))
        n = f.decoded
    if n == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    n_samples = n * ch
    rms_db = 10.0 * math.log10(sumsq / n_samples) if sumsq > 0 else -math.inf
    rms_db = max(rms_db, RMS_FLOOR_DB)
    flags = []
    if peak < 10.0 ** (SILENT_DBFS / 20.0):
        flags.append("silent")
    elif peak < 10.0 ** (QUIET_DBFS / 20.0):
        flags.append("quiet")
    if clipped:
        flags.append("clipped")
    if np.any(np.abs(sums / n) > DC_OFFSET):
        flags.append("dc_offset")
    if non_finite:
        flags.append("non_finite")
    final = AudioInfo(info.format, info.subtype, info.sample_rate, ch, n, n / info.sample_rate)
    return Analysis(final, digest, acc.result(), rms_db, peak, tuple(flags))


def decode(
    path: str | os.PathLike[str], *, sr: int | None = None, mono: bool = True,
    offset: float = 0.0, duration: float | None = None,
    root: str | os.PathLike[str] | None = None, limits: Limits = Limits(),
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
        As :func:`analyse_file` for a file that is not usable.
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
    with _Opened(path, root, limits) as f:
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
            part = _mix(x) if mono else x.T
            if out is not None:
                out[..., pos:pos + k] = part
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
    path: str | os.PathLike[str], plan: Callable[[int], Sequence[tuple[int, int]]], *,
    root: str | os.PathLike[str] | None = None, limits: Limits = Limits(),
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
        As :func:`analyse_file`, from the segment where the problem shows.
    """
    with _Opened(path, root, limits) as f:
        info = f.info
        sizes = [b - a for a, b in plan(f.expected_frames)] or [f.expected_frames]
        sizes = [max(1, n) for n in sizes]
        index, start, fill = 0, 0, 0
        buf = np.empty(sizes[0], dtype=np.float32)
        resumed = time.monotonic()
        for x in f.chunks(math.inf):
            mono = _mix(x)
            pos = 0
            while pos < len(mono):
                if fill == len(buf):  # more audio follows: hand over the full segment
                    yield Segment(info, start, buf, False)
                    resumed = time.monotonic()
                    start, index, fill = start + len(buf), index + 1, 0
                    buf = np.empty(sizes[min(index, len(sizes) - 1)], dtype=np.float32)
                take = min(len(buf) - fill, len(mono) - pos)
                buf[fill:fill + take] = mono[pos:pos + take]
                fill += take
                pos += take
            if time.monotonic() - resumed > limits.timeout_s:
                raise _timeout(limits)
    if start == 0 and fill == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    yield Segment(info, start, buf[:fill], True)


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's high quality through librosa."""
    from .. import jitcache

    # Only playback and features pay for importing librosa, and its numba code
    # loads under the project's compile lock.
    librosa = jitcache.import_librosa()

    try:
        return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")
    except ImportError:  # soxr missing: scipy's polyphase filter is always there
        return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="polyphase")


def _mix(x: np.ndarray) -> np.ndarray:
    """Return the mono mix of a ``(frames, channels)`` chunk."""
    if x.shape[1] == 1:
        return x[:, 0]
    return x.mean(axis=1, dtype=np.float32)


def _clip_threshold(subtype: str) -> float:
    """Return the level a sample must reach to count as full scale for ``subtype``."""
    bits = _INT_BITS.get(subtype)
    if bits is None:
        # Float and lossy files have no top code; lossy decoders also overshoot.
        return 0.999
    # The largest positive code, e.g. 32767/32768 for 16 bits (127/128 for 8).
    return (2 ** (bits - 1) - 1) / 2 ** (bits - 1) - 1e-7


class _Opened:
    """A checked, open audio file: path checks, header checks and chunked reading.

    Used as a context manager; closes both the libsndfile handle and the file
    descriptor it was given.
    """

    def __init__(self, path: str | os.PathLike[str], root: Any, limits: Limits) -> None:
        self.limits = limits
        self.decoded = 0
        real = _resolve(path, root)
        self.size = _check_stat(real, limits)
        try:
            self.fd = os.open(real, _O_FLAGS)
        except OSError as exc:
            raise _os_error(exc) from None
        try:
            # Again on what was opened, in case the path was swapped since the stat.
            self.size = _check_regular(os.fstat(self.fd), limits)
            self._open_sndfile()
        except BaseException:
            os.close(self.fd)
            raise

    def _open_sndfile(self) -> None:
        limits = self.limits
        try:
            self.sf = sf.SoundFile(self.fd, closefd=False)
        except sf.LibsndfileError as exc:
            raise self._open_error(exc) from None
        except (RuntimeError, TypeError, ValueError) as exc:
            raise DecodeError(f"cannot open as audio: {exc}", code="not_audio") from None
        try:
            fmt, subtype = self.sf.format, self.sf.subtype
            rate, ch, frames = int(self.sf.samplerate), int(self.sf.channels), int(self.sf.frames)
            if ch < 1 or ch > limits.max_channels:
                raise DecodeError(f"{ch} channels (limit {limits.max_channels})", code="unsupported")
            if rate < 1 or rate > limits.max_sample_rate:
                raise DecodeError(f"sample rate {rate} Hz (limit {limits.max_sample_rate} Hz)",
                                  code="unsupported")
            # What the header claims may exceed what libsndfile will deliver: it
            # silently shortens a WAV data chunk that runs past the end of the file.
            claimed, self.exact_length = frames, True
            if fmt in ("WAV", "WAVEX", "RF64"):
                data_bytes = _riff_data_bytes(self.fd, self.size)
                width = _BYTES_PER_SAMPLE.get(subtype)
                if data_bytes is not None and width:
                    claimed = data_bytes // (width * ch)
            elif fmt == "MP3":
                # Without a Xing/Info/VBRI header libsndfile estimates the length
                # from the file size, so neither truncation nor bins can rely on it.
                self.exact_length = _mp3_has_length_header(self.fd)
            elif fmt not in ("FLAC", "OGG"):
                # Other containers (AIFF, AU, ...): libsndfile shortens a data chunk
                # that runs past the end too, but says so in its log.
                cut = _logged_short_data(self.sf)
                if cut:
                    raise DecodeError(cut, code="truncated")
            limit = limits.max_frames(rate)
            if claimed > limit:
                raise DecodeError(f"header claims {claimed} frames (> limit {limit})",
                                  code="too_long")
            if fmt == "OGG":
                # Before the frame count: a cut Ogg file can report 0 frames.
                problem = _ogg_tail_problem(self.fd, self.size)
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

    def _open_error(self, exc: sf.LibsndfileError) -> DecodeError:
        msg = _sndfile_message(exc)
        if exc.code in _UNSUPPORTED_ERRORS or "unsupported" in msg.lower():
            return DecodeError(f"unsupported encoding: {msg}", code="unsupported")
        # libsndfile can only say "malformed"; the structure tells whether it was cut.
        head = os.pread(self.fd, 12, 0)
        if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
            if _riff_data_bytes(self.fd, self.size, need_data=True) is None:
                return DecodeError("file ends inside the WAV header", code="truncated")
        if head[:4] == b"OggS":
            problem = _ogg_tail_problem(self.fd, self.size)
            if problem:
                return DecodeError(problem, code="truncated")
        if exc.code == 1:
            return DecodeError("not an audio format libsndfile recognises", code="not_audio")
        # Error 7 ("not a regular file") is what mpg123 reports for random bytes
        # after failing to sync on them; the file is regular (checked above).
        return DecodeError(f"not readable as audio: {msg}", code="not_audio")

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
                raise _os_error(exc) from None
            if not block:
                break
            h.update(block)
            offset += len(block)
            if offset < self.size and time.monotonic() > deadline:
                raise _timeout(self.limits)
        return h.hexdigest()

    def seek(self, frame: int) -> None:
        """Move libsndfile's read position to ``frame``."""
        try:
            self.sf.seek(frame)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise DecodeError(f"cannot seek to frame {frame}: {_sndfile_message(exc)}",
                              code="truncated") from None

    def chunks(self, deadline: float, *, start: int = 0, stop: int | None = None):
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
                x = self.sf.read(want, dtype="float32", always_2d=True, out=buf[:want])
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise DecodeError(f"decoder error after frame {pos}: {_sndfile_message(exc)}",
                                  code="truncated") from None
            if len(x) == 0:
                break
            pos += len(x)
            self.decoded = pos - start
            yield x
            if pos < end and time.monotonic() > deadline:
                raise _timeout(limits)
        if pos > limits.max_frames(info.sample_rate):
            raise DecodeError(
                f"decodes to more than {limits.max_frames(info.sample_rate)} frames",
                code="too_long")
        target = self.claimed if full else stop
        if self.exact_length and self._short(pos, target):
            raise DecodeError(f"decoded {pos} of the {target} frames the header claims",
                              code="truncated")

    def _short(self, n: int, target: int) -> bool:
        # An MP3 length header counts whole MPEG frames; allow one of slack.
        slack = _MP3_FRAME if self.info.format == "MP3" else 0
        return n < target - slack

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sf.close()
        finally:
            os.close(self.fd)


@functools.lru_cache(maxsize=16)
def _real_root(root: str) -> str:
    # A batch checks thousands of files against one root: resolve it once.
    return os.path.realpath(root)


def _resolve(path: str | os.PathLike[str], root: Any) -> str:
    """Resolve symlinks in ``path`` and check it lies inside ``root``."""
    p = os.fsdecode(os.fspath(path))
    try:
        real = os.path.realpath(p)
        if root is not None:
            real_root = _real_root(os.path.abspath(os.fsdecode(os.fspath(root))))
            # commonpath raises ValueError for paths on different drives (Windows).
            if os.path.commonpath([real, real_root]) != real_root:
                raise DecodeError("resolves to a place outside the dataset folder",
                                  code="outside_root")
    except ValueError:
        raise DecodeError("resolves to a place outside the dataset folder",
                          code="outside_root") from None
    except OSError as exc:
        raise _os_error(exc) from None
    return real


def _check_stat(real: str, limits: Limits) -> int:
    """Check with ``stat`` (never ``open``) that ``real`` is a usable regular file."""
    try:
        st = os.stat(real)
    except OSError as exc:
        raise _os_error(exc) from None
    return _check_regular(st, limits)


def _check_regular(st: os.stat_result, limits: Limits) -> int:
    """Return the size of a regular, non-empty file within ``limits``, or raise."""
    if not stat.S_ISREG(st.st_mode):
        raise DecodeError(f"not a regular file ({_kind(st.st_mode)})", code="not_regular")
    if st.st_size == 0:
        raise DecodeError("file is empty (0 bytes)", code="empty")
    if st.st_size > limits.max_bytes:
        raise DecodeError(f"file is {st.st_size} bytes (> limit {limits.max_bytes})",
                          code="too_large")
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


def _os_error(exc: OSError) -> DecodeError:
    reason = exc.strerror or type(exc).__name__
    return DecodeError(f"cannot read file: {reason}", code="unreadable")


def _timeout(limits: Limits) -> DecodeError:
    return DecodeError(f"decoding took longer than {limits.timeout_s:g} s", code="timeout")


def _sndfile_message(exc: BaseException) -> str:
    """Return libsndfile's own text for ``exc``, without the file name prefix."""
    text = getattr(exc, "error_string", "") or str(exc)
    return " ".join(text.split()) or "unknown decoder error"


def _riff_data_bytes(fd: int, size: int, *, need_data: bool = False) -> int | None:
    """Return the byte size a RIFF/RF64 WAVE file's ``data`` chunk header claims.

    libsndfile quietly shortens a data chunk that runs past the end of the file,
    which would hide both a truncated file and a header claiming billions of
    frames; this reads the claim itself. ``None`` means no claim to check: not a
    WAVE file, no data chunk found within the file (the header itself is cut),
    or a size of 0 or 0xFFFFFFFF, the placeholders streaming writers such as
    ``ffmpeg ... -f wav -`` leave when they cannot seek back.
    """
    head = os.pread(fd, 12, 0)
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64", b"BW64"):
        return None
    pos, ds64 = 12, None
    for _ in range(1024):  # real files have a handful of chunks; do not walk forever
        ck = os.pread(fd, 8, pos)
        if len(ck) < 8:
            return None
        cid, csize = ck[:4], struct.unpack("<I", ck[4:])[0]
        if cid == b"ds64":
            body = os.pread(fd, 16, pos + 8)
            if len(body) == 16:
                ds64 = struct.unpack("<QQ", body)[1]
        elif cid == b"data":
            if csize == 0xFFFFFFFF and ds64 is not None:
                return ds64
            if csize in (0, 0xFFFFFFFF):
                return None if not need_data else 0
            return csize
        pos += 8 + csize + (csize & 1)
        if pos >= size:
            return None
    return None


_SHORT_DATA = re.compile(r"^\s*(SSND|Data Size|data)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)


def _logged_short_data(snd: sf.SoundFile) -> str | None:
    """Say how a data chunk is cut short, from libsndfile's log, or return ``None``."""
    try:
        log = snd.extra_info
    except (RuntimeError, AttributeError):  # pragma: no cover - older soundfile
        return None
    for m in _SHORT_DATA.finditer(log):
        claimed, present = int(m.group(2)), int(m.group(3))
        # 0xFFFFFFFF is the official "size unknown" of AU and of streaming writers.
        if present < claimed != 0xFFFFFFFF:
            return f"header claims {claimed} data bytes, the file holds {present}"
    return None


def _mp3_has_length_header(fd: int) -> bool:
    """Return whether an MP3's first frame carries a Xing, Info or VBRI length header."""
    head = os.pread(fd, 10, 0)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:
        # ID3v2 size: four 7-bit bytes, plus a 10-byte footer when flagged.
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
        if head[5] & 0x10:
            start += 10
    window = os.pread(fd, 4096, start)
    i = 0
    while True:  # the first frame starts at the first 11-bit sync word
        i = window.find(b"\xff", i)
        if i < 0 or i + 1 >= len(window):
            return False
        if window[i + 1] & 0xE0 == 0xE0:
            break
        i += 1
    # Xing/Info sits at byte 13, 21 or 36 of the frame, VBRI at 36.
    frame = window[i + 4:i + 64]
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def _ogg_tail_problem(fd: int, size: int) -> str | None:
    """Say why an Ogg file's last page shows it was cut, or ``None`` if it ends well.

    libsndfile takes an Ogg file's length from its last complete page, so a file
    cut short decodes "fully" to a shorter length. A complete stream ends with a
    page flagged end-of-stream, whose segments all fit in the file.
    """
    tail_len = min(size, 65_536 + 282)
    tail = os.pread(fd, tail_len, size - tail_len)
    i = tail.rfind(b"OggS")
    if i < 0 or len(tail) - i < 27:
        return "Ogg stream ends without a complete last page"
    header = tail[i:i + 27]
    n_seg = header[26]
    segments = tail[i + 27:i + 27 + n_seg]
    if len(segments) < n_seg or i + 27 + n_seg + sum(segments) > len(tail):
        return "Ogg stream ends inside a page"
    if not header[5] & 0x04:
        return "Ogg stream has no end-of-stream page"
    return None
