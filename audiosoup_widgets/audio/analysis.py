"""One decoding pass over a file: its hash, waveform peaks, levels, quality flags and measures.

This module owns :func:`analyse_file`, which checks, hashes and decodes a file once in
bounded chunks, and what it reports (:class:`Analysis`): the RMS level and peak, the
quality flags (:data:`FLAGS`) and the thresholds behind them (:data:`SILENT_DBFS`,
:data:`QUIET_DBFS`, :data:`DC_OFFSET`), and the clip's quality measures
(:class:`~audiosoup_widgets.audio.quality.QualityMeasures`), computed from the same
chunks. :func:`measure_file` is the same pass for the measures alone (a backfill of
stored clips: no hash, no peaks). Full scale and the level floor
(:func:`clip_threshold`, :data:`CLIP_RUN`, :data:`RMS_FLOOR_DB`) live in
:mod:`~audiosoup_widgets.audio.levels` and are importable from here too.
:mod:`audiosoup_widgets.jobs.decodepool` runs these functions over many files in
worker processes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import DecodeError
from .decode import mono_mix
from .levels import CLIP_RUN, RMS_FLOOR_DB, clip_threshold
from .limits import Limits
from .peaks import N_PEAKS, PeakAccumulator, encode_peaks
from .quality import QualityAccumulator, QualityMeasures
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
    "measure_file",
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
        RMS level over all channels in dBFS, floored at -120 dB (the quality
        measures' ``rms_dbfs``).
    peak_abs : float
        Largest absolute sample value over all channels (may exceed 1.0 in float
        and lossy files).
    flags : tuple of str
        Quality flags, a subset of :data:`FLAGS` in that order: ``silent`` (no
        sample above -80 dBFS), ``quiet`` (not silent, but no sample above
        -40 dBFS), ``clipped`` (three or more consecutive samples of one channel
        at full scale: a clipping ratio above 0), ``dc_offset`` (a channel's mean
        beyond +/-0.05), ``non_finite`` (NaN or infinite samples in a float file;
        they count as 0).
    quality : QualityMeasures
        The clip's quality measures (version
        :data:`~audiosoup_widgets.audio.quality.QUALITY_VERSION`), equal to
        :func:`~audiosoup_widgets.audio.quality.measure_quality` of the decoded
        samples with the file's sample encoding.
    """

    info: AudioInfo
    sha256: str
    peaks: np.ndarray = field(repr=False)
    rms_db: float
    peak_abs: float
    flags: tuple[str, ...]
    quality: QualityMeasures

    def encoded_peaks(self) -> bytes:
        """Return :attr:`peaks` in the compact stored form (see ``encode_peaks``)."""
        return encode_peaks(self.peaks)


class _Levels:
    """The peak, finiteness and quality measures of a file's chunks, as they are read."""

    def __init__(self, info: AudioInfo) -> None:
        # The file's encoding sets full scale for clipping, as measure_quality's subtype.
        self.quality = QualityAccumulator(sr=info.sample_rate, subtype=info.subtype)
        self.peak = 0.0
        self.non_finite = False

    def add(self, x: np.ndarray) -> np.ndarray:
        """Add a ``(frames, channels)`` chunk; return it with non-finite samples as 0."""
        if not np.isfinite(x).all():
            self.non_finite = True
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        self.peak = max(self.peak, float(x.max()), -float(x.min()))
        self.quality.add(x.T)
        return x


def analyse_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
    n_peaks: int = N_PEAKS,
) -> Analysis:
    """Check, hash and decode a file once, and summarise it.

    The file is opened once and decoded in chunks of ``limits.chunk_frames``;
    peaks, levels, flags and quality measures are computed on the way, so memory
    stays bounded and nothing is decoded twice.

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
        Info, hash, peaks, levels, flags and quality measures.

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
        # An MP3's decoded length may differ from its header by part of an MPEG
        # frame even when the header is exact, so its bins cannot be fixed upfront.
        exact = f.exact_length and info.format != "MP3"
        acc = PeakAccumulator(f.expected_frames, n_bins=n_peaks, exact=exact)
        levels = _Levels(info)
        for x in f.chunks(deadline):
            acc.update(mono_mix(levels.add(x)))
        n = f.decoded
    if n == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    quality = levels.quality.result()
    peak = levels.peak
    flags: list[str] = []
    if peak < 10.0 ** (SILENT_DBFS / 20.0):
        flags.append("silent")
    elif peak < 10.0 ** (QUIET_DBFS / 20.0):
        flags.append("quiet")
    if quality.clip_ratio > 0.0:
        flags.append("clipped")
    if quality.dc_offset > DC_OFFSET:
        flags.append("dc_offset")
    if levels.non_finite:
        flags.append("non_finite")
    final = AudioInfo(info.format, info.subtype, info.sample_rate, info.channels, n, n / info.sample_rate)
    return Analysis(final, digest, acc.result(), quality.rms_dbfs, peak, tuple(flags), quality)


def measure_file(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    limits: Limits = Limits(),
) -> QualityMeasures:
    """Check and decode a file once, in chunks, and return its quality measures alone.

    The same checks and decoding as :func:`analyse_file`, without the file hash and
    the peaks: for clips already stored, whose measures are missing or out of date.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    root : str or os.PathLike, optional
        If given, the file (after resolving symlinks) must lie inside it.
    limits : Limits
        Size, length, channel and time bounds.

    Returns
    -------
    QualityMeasures
        Equal to ``analyse_file(path).quality``.

    Raises
    ------
    DecodeError
        As :func:`analyse_file`.
    """
    deadline = time.monotonic() + limits.timeout_s
    with OpenedFile(path, root=root, limits=limits) as f:
        levels = _Levels(f.info)
        for x in f.chunks(deadline):
            levels.add(x)
        n = f.decoded
    if n == 0:
        raise DecodeError("no audio could be decoded", code="not_audio")
    return levels.quality.result()
