"""One decoding pass over a file: its hash, waveform peaks, levels and quality flags.

This module owns :func:`analyse_file`, which checks, hashes and decodes a file once in
bounded chunks, and what it reports (:class:`Analysis`): the RMS level and peak, the
quality flags (:data:`FLAGS`) and the thresholds behind them (:data:`SILENT_DBFS`,
:data:`QUIET_DBFS`, :data:`DC_OFFSET`, :data:`RMS_FLOOR_DB`, and full scale per
sample encoding for clipping). :mod:`audiosoup_widgets.jobs.decodepool` runs it over many
files in worker processes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import DecodeError
from .decode import mono_mix
from .limits import Limits
from .peaks import N_PEAKS, PeakAccumulator, encode_peaks
from .reader import AudioInfo, OpenedFile

__all__ = [
    "FLAGS",
    "SILENT_DBFS",
    "QUIET_DBFS",
    "DC_OFFSET",
    "RMS_FLOOR_DB",
    "CLIP_RUN",
    "Analysis",
    "analyse_file",
    "clip_threshold",
]

#: Every quality flag :func:`analyse_file` can set (see :class:`Analysis`).
FLAGS = ("silent", "quiet", "clipped", "dc_offset", "non_finite")

#: A file whose peak stays below this level (dBFS) is ``silent``.
SILENT_DBFS = -80.0
#: A file not silent whose peak stays below this level (dBFS) is ``quiet``.
QUIET_DBFS = -40.0
#: A channel whose mean is beyond +/- this value has a ``dc_offset``.
DC_OFFSET = 0.05
#: The lowest RMS level reported (dBFS): digital silence has no logarithm.
RMS_FLOOR_DB = -120.0
#: Samples in a row at full scale that count as clipping: three cannot come from a
#: band-limited signal that fits the range; one or two can (a loud sine touching its peak).
CLIP_RUN = 3
_INT_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


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
        return encode_peaks(self.peaks)


def analyse_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
    n_peaks: int = N_PEAKS,
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
        With a code from :data:`~audiosoup_widgets.audio.limits.REASONS`: the
        :func:`~audiosoup_widgets.audio.decode.probe_file` codes, plus
        ``truncated`` when decoding yields fewer frames than the header claims or
        the decoder fails mid-stream, and ``timeout`` when ``limits.timeout_s``
        passes between chunks.
    """
    deadline = time.monotonic() + limits.timeout_s
    with OpenedFile(path, root=root, limits=limits) as f:
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
        clip_thr = clip_threshold(info.subtype)
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
                run = mask[:-2] & mask[1:-1] & mask[2:] if len(mask) >= CLIP_RUN else mask[:0]
                clipped = bool(run.any())
                tail = mask[-(CLIP_RUN - 1) :]
            elif not clipped:
                tail = np.zeros((0, ch), dtype=bool)
            acc.update(mono_mix(x))
        n = f.decoded
    if n == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    n_samples = n * ch
    rms_db = 10.0 * math.log10(sumsq / n_samples) if sumsq > 0 else -math.inf
    rms_db = max(rms_db, RMS_FLOOR_DB)
    flags: list[str] = []
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


def clip_threshold(subtype: str | None) -> float:
    """Return the level a sample must reach to count as full scale for ``subtype``.

    ``subtype`` is libsndfile's sample encoding (``"PCM_16"``, ``"FLOAT"``, ...); an
    integer encoding reaches its largest positive code, anything else (float, lossy,
    unknown, ``None``) reaches 0.999.
    """
    bits = _INT_BITS.get(subtype or "")
    if bits is None:
        # Float and lossy files have no top code; lossy decoders also overshoot.
        return 0.999
    # The largest positive code, e.g. 32767/32768 for 16 bits (127/128 for 8).
    return float((2 ** (bits - 1) - 1) / 2 ** (bits - 1) - 1e-7)
