"""Waveform peaks: the small min/max summary the sample grid draws as a thumbnail.

This module owns the peak format from end to end: per-bin minima and maxima of a
clip's mono mix (:func:`waveform_peaks`, or :class:`PeakAccumulator` while a file
is decoded chunk by chunk), the compact bytes stored in the database
(:func:`encode_peaks` / :func:`decode_peaks`) and the display gain that makes quiet
clips visible (:func:`normalised`). It is pure numpy: no file access, no UI.

Stored format (version 1), little-endian::

    byte 0        format version (1)
    bytes 1-4     float32 scale s = max |peak| of the clip (0.0 for silence)
    bytes 5-      int8 q[2, n_bins] row-major: row 0 the minima, row 1 the maxima

and a value decodes as ``q * s / 127``. Scaling by the clip's own maximum (rather
than by full scale) keeps a -60 dBFS clip as detailed as a loud one, so
:func:`normalised` can still show its shape; the error is at most ``s / 254``,
under half a pixel of a 127-pixel half-height thumbnail. 200 bins take 405 bytes.
"""

from __future__ import annotations

import math
import struct

import numpy as np

__all__ = [
    "N_PEAKS",
    "MAX_GAIN_DB",
    "PeakAccumulator",
    "waveform_peaks",
    "encode_peaks",
    "decode_peaks",
    "normalised",
]

#: Default number of bins: one per pixel of a 200-pixel-wide thumbnail.
N_PEAKS = 200
#: Largest gain :func:`normalised` applies; beyond it a clip is noise, not a quiet signal.
MAX_GAIN_DB = 40.0

_VERSION = 1
_HEADER = struct.Struct("<Bf")
_Q = 127.0


def _mono(y: np.ndarray) -> np.ndarray:
    """Return the mono mix of ``y`` shaped ``(n,)`` or ``(channels, n)``, as float32."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.mean(axis=0, dtype=np.float32) if y.shape[0] > 1 else y[0]
    elif y.ndim != 1:
        raise ValueError(f"expected audio shaped (n,) or (channels, n), got shape {y.shape}")
    return np.asarray(y, dtype=np.float32)


def _bin_minmax(lo: np.ndarray, hi: np.ndarray, n_bins: int) -> np.ndarray:
    """Reduce per-item minima ``lo`` and maxima ``hi`` to ``n_bins`` equal-width bins.

    Bin ``i`` covers items ``[i*n // n_bins, (i+1)*n // n_bins)``. With fewer items
    than bins, bin ``i`` holds item ``i*n // n_bins`` (sample-and-hold), so every bin
    still shows a true value and nothing is interpolated.
    """
    n = len(lo)
    out = np.zeros((2, n_bins), dtype=np.float32)
    if n == 0:
        return out
    starts = (np.arange(n_bins, dtype=np.int64) * n) // n_bins
    if n < n_bins:
        out[0] = lo[starts]
        out[1] = hi[starts]
    else:
        out[0] = np.minimum.reduceat(lo, starts)
        out[1] = np.maximum.reduceat(hi, starts)
    return out


def waveform_peaks(y: np.ndarray, *, n_bins: int = N_PEAKS) -> np.ndarray:
    """Compute per-bin minimum and maximum of a clip's mono mix.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        Audio samples; several channels are averaged first. Values should be
        finite (the decoder replaces non-finite samples before calling this).
    n_bins : int > 0
        Number of bins.

    Returns
    -------
    np.ndarray, shape (2, n_bins), float32
        Row 0 holds each bin's minimum, row 1 its maximum. Bin ``i`` covers
        samples ``[i*n // n_bins, (i+1)*n // n_bins)``; a clip shorter than
        ``n_bins`` samples is exact too (each bin holds one real sample, repeated
        as needed). An empty clip gives zeros.

    Raises
    ------
    ValueError
        If ``y`` has more than two dimensions or ``n_bins < 1``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    mono = _mono(y)
    return _bin_minmax(mono, mono, n_bins)


class PeakAccumulator:
    """Build :func:`waveform_peaks` chunk by chunk during one decoding pass.

    With a known length the result equals ``waveform_peaks`` of the whole mono
    signal, bit for bit, while holding only ``n_bins`` pairs in memory. When the
    length is only an estimate (an MP3 without a Xing/Info header), pass
    ``exact=False``: the accumulator then keeps min/max of fixed blocks of about
    ``n_frames / (16 * n_bins)`` samples and bins those at the end, so bin edges
    may be off by one block (1/16 of a bin) but the memory stays small.

    Parameters
    ----------
    n_frames : int
        The expected number of mono samples.
    n_bins : int
        Number of bins of the result.
    exact : bool
        Whether ``n_frames`` is known exactly.
    """

    def __init__(self, n_frames: int, *, n_bins: int = N_PEAKS, exact: bool = True) -> None:
        if n_bins < 1:
            raise ValueError(f"n_bins must be at least 1, got {n_bins}")
        self.n_bins = n_bins
        self.n_frames = max(0, int(n_frames))
        self.pos = 0
        self._done: np.ndarray | None = None
        if exact and self.n_frames >= n_bins:
            self._block = 0
            self._starts: np.ndarray | None = None  # made on the first partial chunk
        else:
            # A short clip (keep every sample, block of 1) or a length that is only
            # an estimate (blocks small enough that bins stay sharp).
            self._block = 1 if exact else max(1, self.n_frames // (16 * n_bins))
            self._lo_parts: list[np.ndarray] = []
            self._hi_parts: list[np.ndarray] = []
            self._rest = np.empty(0, dtype=np.float32)

    def update(self, mono: np.ndarray) -> None:
        """Add the next ``mono`` samples (1-D float32) of the clip."""
        n = len(mono)
        if n == 0:
            return
        if not self._block:
            self._update_exact(mono)
        elif self._block == 1:
            self._lo_parts.append(np.array(mono, dtype=np.float32))
        else:
            self._update_blocks(mono)
        self.pos += n

    def _update_exact(self, x: np.ndarray) -> None:
        a = self.pos
        x = x[: max(0, self.n_frames - a)]
        if len(x) == 0:
            return
        if a == 0 and len(x) == self.n_frames:
            # The whole clip in one chunk (every short clip): bin it directly.
            self._done = _bin_minmax(x, x, self.n_bins)
            return
        if self._starts is None:
            self._starts = (np.arange(self.n_bins, dtype=np.int64) * self.n_frames) // self.n_bins
            self._lo = np.full(self.n_bins, np.inf, dtype=np.float32)
            self._hi = np.full(self.n_bins, -np.inf, dtype=np.float32)
        b = a + len(x)
        starts = self._starts
        # Bins k0..k1-1 overlap [a, b): k0 holds a, k1 is the first starting at or after b.
        k0 = int(np.searchsorted(starts, a, side="right")) - 1
        k1 = int(np.searchsorted(starts, b, side="left"))
        idx = np.concatenate(([0], starts[k0 + 1 : k1] - a))
        np.minimum(self._lo[k0:k1], np.minimum.reduceat(x, idx), out=self._lo[k0:k1])
        np.maximum(self._hi[k0:k1], np.maximum.reduceat(x, idx), out=self._hi[k0:k1])

    def _update_blocks(self, x: np.ndarray) -> None:
        b = self._block
        if len(self._rest):
            x = np.concatenate((self._rest, x))
        full = (len(x) // b) * b
        if full:
            blocks = x[:full].reshape(-1, b)
            self._lo_parts.append(blocks.min(axis=1))
            self._hi_parts.append(blocks.max(axis=1))
        self._rest = np.array(x[full:], dtype=np.float32)

    def result(self) -> np.ndarray:
        """Return the peaks, shape ``(2, n_bins)`` float32, of everything added so far."""
        if not self._block:
            if self._done is not None:
                return self._done.copy()
            if self._starts is None:
                return np.zeros((2, self.n_bins), dtype=np.float32)
            out = np.stack((self._lo, self._hi))
            # Bins never reached (a stream shorter than announced) stay flat.
            out[~np.isfinite(out)] = 0.0
            return out
        if self._block == 1:
            mono = np.concatenate(self._lo_parts) if self._lo_parts else np.empty(0, np.float32)
            return _bin_minmax(mono, mono, self.n_bins)
        lo = list(self._lo_parts)
        hi = list(self._hi_parts)
        if len(self._rest):
            lo.append(self._rest.min(keepdims=True))
            hi.append(self._rest.max(keepdims=True))
        if not lo:
            return np.zeros((2, self.n_bins), dtype=np.float32)
        return _bin_minmax(np.concatenate(lo), np.concatenate(hi), self.n_bins)


def encode_peaks(peaks: np.ndarray) -> bytes:
    """Pack peaks into the compact stored form (int8 scaled by the clip's maximum).

    Parameters
    ----------
    peaks : np.ndarray, shape (2, n_bins)
        Minima and maxima as returned by :func:`waveform_peaks`; must be finite.

    Returns
    -------
    bytes
        ``5 + 2 * n_bins`` bytes in the format described in this module's docstring.

    Raises
    ------
    ValueError
        If ``peaks`` is not shaped ``(2, n)`` or holds non-finite values.
    """
    p = np.asarray(peaks, dtype=np.float32)
    if p.ndim != 2 or p.shape[0] != 2:
        raise ValueError(f"peaks must be shaped (2, n_bins), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("peaks hold non-finite values")
    scale = float(np.abs(p).max()) if p.size else 0.0
    if scale > 0.0:
        q: np.ndarray = np.clip(np.rint(p * np.float32(_Q / scale)), -_Q, _Q).astype(np.int8)
    else:
        q = np.zeros(p.shape, dtype=np.int8)
    return _HEADER.pack(_VERSION, scale) + q.tobytes()


def decode_peaks(b: bytes) -> np.ndarray:
    """Unpack bytes made by :func:`encode_peaks`.

    Parameters
    ----------
    b : bytes
        The stored peaks.

    Returns
    -------
    np.ndarray, shape (2, n_bins), float32
        Minima and maxima, within ``max|peak| / 254`` of the encoded values.

    Raises
    ------
    ValueError
        If ``b`` is not peaks of a known format version.
    """
    b = bytes(b)
    size = _HEADER.size
    if len(b) < size or (len(b) - size) % 2:
        raise ValueError(f"not encoded peaks: {len(b)} bytes")
    version, scale = _HEADER.unpack_from(b)
    if version != _VERSION:
        raise ValueError(f"unknown peaks format version {version}")
    if not math.isfinite(scale) or scale < 0:
        raise ValueError("encoded peaks carry an invalid scale")
    q = np.frombuffer(b, dtype=np.int8, offset=size).reshape(2, -1)
    return q.astype(np.float32) * np.float32(scale / _Q)


def normalised(peaks: np.ndarray, *, max_gain_db: float = MAX_GAIN_DB) -> tuple[np.ndarray, float]:
    """Scale peaks so the loudest reaches full height, with a capped gain.

    Quiet clips become visible in a thumbnail; digital silence stays flat (gain
    0 dB), and a near-silent clip is raised by at most ``max_gain_db`` so its noise
    floor does not pass for a signal. A clip peaking above 1.0 (possible in float
    files) is scaled down to fit.

    Parameters
    ----------
    peaks : np.ndarray, shape (2, n_bins)
        Minima and maxima, e.g. from :func:`decode_peaks`.
    max_gain_db : float
        Largest gain applied, in dB.

    Returns
    -------
    peaks_scaled : np.ndarray, shape (2, n_bins), float32
        The scaled peaks, within [-1, 1].
    gain_db : float
        The gain applied, in dB (0.0 for silence); show it so users know a
        thumbnail was amplified.
    """
    p = np.asarray(peaks, dtype=np.float32)
    peak = float(np.abs(p).max()) if p.size else 0.0
    if not peak > 0.0 or not math.isfinite(peak):
        return p.copy(), 0.0
    gain_db = min(-20.0 * math.log10(peak), float(max_gain_db))
    scaled = p * np.float32(10.0 ** (gain_db / 20.0))
    # float32 rounding can overshoot 1.0 by an ulp; a thumbnail must stay in its box.
    np.clip(scaled, -1.0, 1.0, out=scaled)
    return scaled, gain_db
