"""Per-clip quality measures of decoded audio: levels, clipping, silence, DC, SNR, bandwidth, PCM hash.

This module owns :class:`QualityMeasures`, the one-shot :func:`measure_quality` and
:class:`QualityAccumulator`, which computes the same measures from a clip fed in chunks
(long clips in bounded memory). It works on decoded samples only (numpy and the
standard library): reading files is :mod:`~audiosoup_widgets.audio.decode`'s, storing
the measures is the store's. Full scale for clipping and the level floor come from
:mod:`~audiosoup_widgets.audio.levels` (:func:`clip_threshold`, :data:`CLIP_RUN`,
:data:`RMS_FLOOR_DB`), as for :func:`~audiosoup_widgets.audio.analysis.analyse_file`'s
flags, so both agree on what a clipped sample is. :data:`QUALITY_VERSION` names the
measures' definitions; it is stored with each clip's measures.

Every measure is computed by :class:`QualityAccumulator`; :func:`measure_quality`
feeds it the whole clip at once. Fed the same clip in chunks of any size, it gives the
same results up to floating-point summation order (relative differences around
1e-12): frames and spectrum segments sit at fixed positions of the clip, not of the
chunks, and samples left over at the end of a chunk wait for the next one.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft

from .levels import CLIP_RUN, RMS_FLOOR_DB, clip_threshold

__all__ = [
    "QUALITY_VERSION",
    "LEVEL_FLOOR_DB",
    "SILENCE_DBFS",
    "FRAME_SECONDS",
    "SNR_PERCENTILES",
    "SNR_CEIL_DB",
    "BANDWIDTH_FRACTION",
    "N_FFT",
    "QualityMeasures",
    "QualityAccumulator",
    "measure_quality",
    "pcm_bytes",
]

#: The version of the measures' definitions, stored with each clip's measures: bump it
#: whenever a measure would come out differently for the same audio (a threshold, a
#: frame length, a formula), so stored measures older than it are measured again.
QUALITY_VERSION = 1
#: The lowest level reported (dBFS): digital silence has no logarithm.
LEVEL_FLOOR_DB = RMS_FLOOR_DB
#: A frame whose RMS (over all its channels' samples) is below this level (dBFS) is silent.
SILENCE_DBFS = -60.0
#: Length of the frames behind the silence and SNR measures (seconds, not overlapping).
FRAME_SECONDS = 0.02
#: Percentiles of the frame energies taken as noise and as signal plus noise (SNR).
SNR_PERCENTILES = (10.0, 95.0)
#: The highest SNR reported (dB): the noise frames are digital silence.
SNR_CEIL_DB = 120.0
#: Share of the spectral energy below the effective bandwidth.
BANDWIDTH_FRACTION = 0.995
#: Length of the Hann-windowed segments of the averaged power spectrum (bandwidth).
N_FFT = 2048

# Frame energies are counted in a histogram of their level in dB, so memory does not
# grow with the clip: 0.01 dB bins from the floor to +40 dBFS (float files overshoot).
_HIST_STEP_DB = 0.01
_HIST_TOP_DB = 40.0
_HIST_BINS = int(round((_HIST_TOP_DB - LEVEL_FLOOR_DB) / _HIST_STEP_DB)) + 1
# Frames per block of the one-shot function.
_BLOCK = 1 << 18


@dataclass(frozen=True)
class QualityMeasures:
    """Quality measures of one decoded clip.

    Attributes
    ----------
    peak_dbfs : float
        Largest absolute sample over all channels, in dBFS (1.0 is 0 dBFS), floored
        at :data:`LEVEL_FLOOR_DB` (-120); above 0 for float files that overshoot.
    rms_dbfs : float
        RMS over all samples of all channels, in dBFS, floored at -120. A full-scale
        sine is -3.01 dBFS.
    clip_ratio : float
        Share of all samples (all channels) that lie in a run of :data:`CLIP_RUN` (3)
        or more consecutive samples of one channel at full scale, in [0, 1]. Full
        scale is :func:`~audiosoup_widgets.audio.levels.clip_threshold` of the
        sample encoding: the largest positive code or below (or the most negative
        one) for integer PCM, ``|x| >= 0.999`` otherwise.
    silence_ratio : float
        Share of the 20 ms frames (:data:`FRAME_SECONDS`, not overlapping, the last
        one possibly shorter) whose RMS over all channels is below
        :data:`SILENCE_DBFS` (-60 dBFS); 0.0 for an empty clip.
    leading_silence_s, trailing_silence_s : float
        Seconds of silent frames before the first and after the last frame that is
        not silent (a whole frame's resolution); both equal the duration when every
        frame is silent.
    dc_offset : float
        Largest absolute per-channel mean.
    snr_db : float
        Frame-energy estimate of the signal-to-noise ratio, in dB, in
        [0, :data:`SNR_CEIL_DB`]. The noise power ``N`` is the 10th percentile and
        ``S + N`` the 95th percentile (:data:`SNR_PERCENTILES`) of the frames'
        mean-square energies (nearest rank, read from a histogram of 0.01 dB bins);
        ``snr_db = 10 log10(S / N)``. It needs pauses: a clip
        whose signal never stops (a steady tone in noise, music) has frames of equal
        energy and reads near 0 dB whatever its true SNR, and a clip that is mostly
        signal reads low: the noise percentile needs more than 10 % of the frames to be
        noise alone, the signal one more than 5 % to hold signal. Noise frames of
        digital silence give 120 dB; a clip of digital silence, or whose frames all
        have equal energy, gives 0 dB.
    bandwidth_hz : float
        The lowest frequency below which :data:`BANDWIDTH_FRACTION` (99.5 %) of the
        spectral energy lies, from the average of Hann-windowed, mean-removed
        power spectra of consecutive segments of :data:`N_FFT` (2048) samples, not
        overlapping, summed over channels. The last incomplete segment is left out,
        unless the clip is shorter than one segment: then it is the one segment,
        zero-padded. The resolution is ``sr / 2048`` (21.5 Hz at 44.1 kHz). A
        44.1 kHz file whose content stops at 4 kHz reads about 4 kHz. Being a share
        of energy, it reads low for content whose high band is weak though present
        (speech puts little energy above 4 kHz). 0.0 for silence.
    pcm_sha256 : str
        Hex SHA-256 of :func:`pcm_bytes`: the samples clipped to [-1, 1], scaled by
        32768, rounded half to even, limited to [-32768, 32767] and written as
        int16 little-endian, interleaved frame by frame (channel 0, 1, ... of frame
        0, then of frame 1). Nothing else is hashed (no sample rate, channel count
        or tags), so the same audio in WAV and FLAC hashes the same; compare rates
        and channel counts separately.
    """

    peak_dbfs: float
    rms_dbfs: float
    clip_ratio: float
    silence_ratio: float
    leading_silence_s: float
    trailing_silence_s: float
    dc_offset: float
    snr_db: float
    bandwidth_hz: float
    pcm_sha256: str

    def as_row(self) -> dict[str, float | str]:
        """Return the measures as a plain dict, keyed by the attribute names."""
        return asdict(self)


def pcm_bytes(y: np.ndarray) -> bytes:
    """Return the bytes :attr:`QualityMeasures.pcm_sha256` hashes.

    Parameters
    ----------
    y : np.ndarray, float, shape (n,) or (channels, n)
        Samples, full scale 1.0. Non-finite samples count as 0.

    Returns
    -------
    bytes
        int16 little-endian, interleaved frame by frame, ``2 * y.size`` bytes
        (see :attr:`QualityMeasures.pcm_sha256`).
    """
    x = _as_channels(y)
    q = np.rint(np.clip(x, -1.0, 1.0) * 32768.0)
    out: bytes = np.clip(q, -32768, 32767).astype("<i2").T.tobytes()
    return out


class QualityAccumulator:
    """Quality measures of a clip fed in chunks, in memory bounded by the chunk size.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    subtype : str, optional
        libsndfile's sample encoding (``"PCM_16"``, ``"FLOAT"``, ...): it sets full
        scale for clipping. ``None`` counts as a float file.
    silence_dbfs : float
        Frame level below which a frame is silent (dBFS).
    frame_seconds : float
        Frame length for silence and SNR (seconds).
    bandwidth_fraction : float
        Share of spectral energy below the effective bandwidth, in (0, 1].
    n_fft : int
        Segment length of the averaged power spectrum.

    Notes
    -----
    Feed consecutive chunks of one clip with :meth:`add`, each of shape ``(m,)``
    (mono) or ``(channels, m)``, with the same number of channels, then call
    :meth:`result`. Memory holds one chunk, under one frame and one spectrum segment
    of carried samples, a 16,001-bin histogram of frame levels and one spectrum.
    """

    def __init__(
        self,
        *,
        sr: int,
        subtype: str | None = None,
        silence_dbfs: float = SILENCE_DBFS,
        frame_seconds: float = FRAME_SECONDS,
        bandwidth_fraction: float = BANDWIDTH_FRACTION,
        n_fft: int = N_FFT,
    ) -> None:
        if sr <= 0:
            raise ValueError(f"sr must be positive, not {sr}")
        if not 0.0 < bandwidth_fraction <= 1.0:
            raise ValueError(f"bandwidth_fraction must be in (0, 1], not {bandwidth_fraction}")
        self.sr = int(sr)
        self._clip_thr = clip_threshold(subtype)
        self._silence_power = 10.0 ** (silence_dbfs / 10.0)
        self._frame = max(1, int(round(frame_seconds * sr)))
        self._bw_fraction = float(bandwidth_fraction)
        self._n_fft = int(n_fft)
        self._window = _window(self._n_fft)
        self._channels: int | None = None
        self._n = 0
        self._sumsq = 0.0
        self._peak = 0.0
        self._sums = np.zeros(0)
        self._hash = hashlib.sha256()
        # Clipping: per channel, the length of the full-scale run open at the end so far.
        self._open_run = np.zeros(0, dtype=np.int64)
        self._clipped = 0
        # Frames: samples of the unfinished frame, frame counts and levels.
        self._frame_carry = np.zeros((0, 0))
        self._n_frames = 0
        self._n_silent = 0
        self._first_loud = -1
        self._last_loud = -1
        self._hist = np.zeros(_HIST_BINS, dtype=np.int64)
        # Spectrum: samples from the next segment's start on, the summed power.
        self._seg_carry = np.zeros((0, 0))
        self._n_segs = 0
        self._power = np.zeros(self._n_fft // 2 + 1)

    def add(self, chunk: np.ndarray) -> None:
        """Add the next chunk of the clip.

        Parameters
        ----------
        chunk : np.ndarray, float, shape (m,) or (channels, m)
            The next ``m`` frames; non-finite samples count as 0.

        Raises
        ------
        ValueError
            When the number of channels differs from the first chunk's.
        """
        x = _as_channels(chunk)
        ch = x.shape[0]
        if self._channels is None:
            self._start(ch)
        elif ch != self._channels:
            raise ValueError(f"chunk has {ch} channels, the clip {self._channels}")
        if x.shape[1] == 0:
            return
        self._n += x.shape[1]
        self._peak = max(self._peak, float(np.abs(x).max()))
        self._sumsq += float(np.einsum("ij,ij->", x, x))
        self._sums += x.sum(axis=1)
        self._hash.update(pcm_bytes(x))
        self._add_clipping(x)
        self._add_frames(x)
        self._add_spectrum(x)

    def result(self) -> QualityMeasures:
        """Return the measures of everything added so far (the accumulator stays usable)."""
        n = self._n
        ch = self._channels or 1
        samples = n * ch
        peak_db = _db(self._peak**2)
        rms_db = _db(self._sumsq / samples) if samples else LEVEL_FLOOR_DB
        still_open = self._open_run[self._open_run >= CLIP_RUN]
        clipped = self._clipped + int(still_open.sum())
        clip_ratio = clipped / samples if samples else 0.0
        n_frames, n_silent = self._n_frames, self._n_silent
        first, last = self._first_loud, self._last_loud
        hist = self._hist
        if self._frame_carry.shape[1]:  # the last, shorter frame
            hist = hist.copy()
            power = float(np.mean(self._frame_carry**2))
            hist[_hist_bin(power)] += 1
            if power < self._silence_power:
                n_silent += 1
            else:
                last = n_frames
                first = n_frames if first < 0 else first
            n_frames += 1
        duration = n / self.sr
        if last < 0:
            leading = trailing = duration
        else:
            leading = first * self._frame / self.sr
            trailing = max(0.0, duration - min((last + 1) * self._frame, n) / self.sr)
        dc = float(np.abs(self._sums / n).max()) if n else 0.0
        return QualityMeasures(
            peak_dbfs=peak_db,
            rms_dbfs=rms_db,
            clip_ratio=clip_ratio,
            silence_ratio=n_silent / n_frames if n_frames else 0.0,
            leading_silence_s=leading,
            trailing_silence_s=trailing,
            dc_offset=dc,
            snr_db=_snr_db(hist),
            bandwidth_hz=self._bandwidth(),
            pcm_sha256=self._hash.hexdigest(),
        )

    def _start(self, ch: int) -> None:
        self._channels = ch
        self._sums = np.zeros(ch)
        self._open_run = np.zeros(ch, dtype=np.int64)
        self._frame_carry = np.zeros((ch, 0))
        self._seg_carry = np.zeros((ch, 0))

    def _add_clipping(self, x: np.ndarray) -> None:
        # A run still open at the chunk's end is counted once it ends (or in result()).
        if float(np.abs(x).max()) < self._clip_thr:
            self._clipped += int(self._open_run[self._open_run >= CLIP_RUN].sum())
            self._open_run[:] = 0
            return
        m = x.shape[1]
        for c, row in enumerate(np.abs(x) >= self._clip_thr):
            edges = np.flatnonzero(np.diff(row.astype(np.int8), prepend=0, append=0))
            starts, stops = edges[0::2], edges[1::2]
            lengths = stops - starts
            if len(starts) and starts[0] == 0:
                lengths[0] += self._open_run[c]
            elif self._open_run[c] >= CLIP_RUN:
                self._clipped += int(self._open_run[c])
            if len(stops) and stops[-1] == m:
                self._open_run[c] = lengths[-1]
                lengths = lengths[:-1]
            else:
                self._open_run[c] = 0
            self._clipped += int(lengths[lengths >= CLIP_RUN].sum())

    def _add_frames(self, x: np.ndarray) -> None:
        buf = np.concatenate((self._frame_carry, x), axis=1)
        f = self._frame
        k = buf.shape[1] // f
        if k:
            ch = buf.shape[0]
            frames = buf[:, : k * f].reshape(ch, k, f)
            power = np.einsum("ckf,ckf->k", frames, frames) / (ch * f)
            np.add.at(self._hist, _hist_bin(power), 1)
            loud = np.flatnonzero(power >= self._silence_power)
            self._n_silent += k - len(loud)
            if len(loud):
                if self._first_loud < 0:
                    self._first_loud = self._n_frames + int(loud[0])
                self._last_loud = self._n_frames + int(loud[-1])
            self._n_frames += k
        self._frame_carry = buf[:, k * f :].copy()

    def _add_spectrum(self, x: np.ndarray) -> None:
        buf = np.concatenate((self._seg_carry, x), axis=1)
        n = self._n_fft
        k = buf.shape[1] // n
        if k:
            self._power += self._segment_power(buf[:, : k * n].reshape(buf.shape[0], k, n))
            self._n_segs += k
        self._seg_carry = buf[:, k * n :].copy()

    def _segment_power(self, segs: np.ndarray) -> np.ndarray:
        """Sum of windowed power spectra of ``segs``, shape (channels, k, n_fft)."""
        # float32 is plenty for a share of energy, and twice as fast as float64.
        s32 = segs.astype(np.float32)
        s32 -= s32.mean(axis=-1, keepdims=True)
        s32 *= self._window
        spec = scipy.fft.rfft(s32, axis=-1)
        power: np.ndarray = (spec.real**2 + spec.imag**2).sum(axis=(0, 1), dtype=np.float64)
        return power

    def _bandwidth(self) -> float:
        power = self._power
        if self._n_segs == 0 and self._seg_carry.shape[1]:
            # A clip shorter than one segment is one zero-padded segment.
            pad = self._n_fft - self._seg_carry.shape[1]
            seg = np.pad(self._seg_carry, ((0, 0), (0, pad)))
            power = self._segment_power(seg[:, None, :])
        total = float(power.sum())
        if not total > 0.0:
            return 0.0
        cum = np.cumsum(power) / total
        i = int(np.searchsorted(cum, self._bw_fraction - 1e-12))
        return float(min(i, len(power) - 1) * self.sr / self._n_fft)


def measure_quality(
    y: np.ndarray,
    *,
    sr: int,
    subtype: str | None = None,
    silence_dbfs: float = SILENCE_DBFS,
    frame_seconds: float = FRAME_SECONDS,
    bandwidth_fraction: float = BANDWIDTH_FRACTION,
    n_fft: int = N_FFT,
) -> QualityMeasures:
    """Measure the quality of one decoded clip.

    Parameters
    ----------
    y : np.ndarray, float, shape (n,) or (channels, n)
        The clip, full scale 1.0 (as :func:`~audiosoup_widgets.audio.decode.decode`
        returns it); non-finite samples count as 0.
    sr : int
        Sample rate (Hz).
    subtype : str, optional
        libsndfile's sample encoding of the file (``"PCM_16"``, ``"FLOAT"``, ...):
        it sets full scale for clipping. ``None`` counts as a float file.
    silence_dbfs, frame_seconds, bandwidth_fraction, n_fft
        See :class:`QualityAccumulator` (defaults :data:`SILENCE_DBFS`,
        :data:`FRAME_SECONDS`, :data:`BANDWIDTH_FRACTION`, :data:`N_FFT`).

    Returns
    -------
    QualityMeasures
        Levels, clipping, silence, DC offset, SNR, bandwidth and PCM hash.

    See Also
    --------
    QualityAccumulator : the same measures of a clip fed in chunks.
    """
    acc = QualityAccumulator(
        sr=sr,
        subtype=subtype,
        silence_dbfs=silence_dbfs,
        frame_seconds=frame_seconds,
        bandwidth_fraction=bandwidth_fraction,
        n_fft=n_fft,
    )
    # In blocks, so the float64 and spectrum work arrays stay a few times a block, not the clip.
    for start in range(0, max(y.shape[-1], 1), _BLOCK):
        acc.add(y[..., start : start + _BLOCK])
    return acc.result()


def _as_channels(y: np.ndarray) -> np.ndarray:
    """Return ``y`` as float64, shape (channels, n), non-finite samples as 0."""
    x = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim != 2:
        raise ValueError(f"audio must have shape (n,) or (channels, n), not {x.shape}")
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    return x


@functools.lru_cache(maxsize=4)
def _window(n_fft: int) -> np.ndarray:
    """Return the Hann window of the spectrum segments, float32, read-only.

    Without its zero end points, so no sample of a segment is lost; cached, as a new
    accumulator per clip would otherwise compute it again for every 1-s clip.
    """
    w = np.hanning(n_fft + 2)[1:-1].astype(np.float32)
    w.flags.writeable = False
    return w


def _db(power: float) -> float:
    """Return ``power`` (a mean square) in dB, floored at :data:`LEVEL_FLOOR_DB`."""
    if not power > 0.0:
        return LEVEL_FLOOR_DB
    return max(10.0 * math.log10(power), LEVEL_FLOOR_DB)


def _hist_bin(power: np.ndarray | float) -> np.ndarray:
    """Return the histogram bin of each frame power (mean square)."""
    p = np.maximum(np.asarray(power, dtype=np.float64), 1e-300)
    db = 10.0 * np.log10(p)
    idx = np.rint((db - LEVEL_FLOOR_DB) / _HIST_STEP_DB)
    return np.clip(idx, 0, _HIST_BINS - 1).astype(np.int64)


def _snr_db(hist: np.ndarray) -> float:
    """Return the percentile SNR estimate (see :attr:`QualityMeasures.snr_db`) of a level histogram."""
    total = int(hist.sum())
    if total == 0:
        return 0.0
    cum = np.cumsum(hist)
    lo_q, hi_q = SNR_PERCENTILES
    # Nearest rank: the level of the frame at that share of the sorted frames.
    levels = [
        LEVEL_FLOOR_DB + _HIST_STEP_DB * int(np.searchsorted(cum, max(1, math.ceil(q / 100.0 * total))))
        for q in (lo_q, hi_q)
    ]
    noise_db, both_db = levels
    if both_db <= LEVEL_FLOOR_DB:
        return 0.0
    if noise_db <= LEVEL_FLOOR_DB:
        return SNR_CEIL_DB
    excess = 10.0 ** ((both_db - noise_db) / 10.0) - 1.0  # S / N
    if not excess > 0.0:
        return 0.0
    return float(min(max(10.0 * math.log10(excess), 0.0), SNR_CEIL_DB))
