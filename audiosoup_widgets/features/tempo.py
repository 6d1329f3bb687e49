"""The beat tracker's tempo estimate in bounded memory, for long or high-rate clips.

``librosa.beat.beat_track`` estimates the tempo first (``librosa.feature.tempo``): the
mean over time of an autocorrelation tempogram whose window is 8 s of onset frames.
It builds that tempogram whole, ``window x frames`` values in several copies, and the
window grows with the frame rate: at 768 kHz a 3-second clip needed over 2 GB. This
module computes the same estimate with the tempogram built a block of frames at a
time (:data:`BLOCK_ELEMENTS` values), so memory is bounded whatever the clip.

Each column of the tempogram is the same (librosa's own padding, framing,
autocorrelation and normalisation); only the order in which the mean adds the
columns differs, by float rounding. The engine uses librosa's own path whenever the
whole tempogram has at most :data:`MAX_ELEMENTS` values (any batch or segment of at
most 2**21 samples at 48 kHz or below), so its values there stay bit for bit librosa's.
"""

from __future__ import annotations

import librosa
import numpy as np

__all__ = ["BLOCK_ELEMENTS", "MAX_ELEMENTS", "beat_tempo"]

MAX_ELEMENTS = 2**22
"""Tempogram values (all clips of a batch) above which the estimate is made in blocks.

librosa holds about 70 bytes per value at its peak (float64 FFTs), so about 300 MB here.
"""
BLOCK_ELEMENTS = 2**20
"""Tempogram values per block of the bounded path (about 75 MB at the peak)."""

_AC_SIZE = 8.0  # librosa.feature.tempo defaults, as beat_track calls it
_STD_BPM = 1.0
_MAX_TEMPO = 320.0


def beat_tempo(
    envelope: np.ndarray,
    *,
    sr: float,
    hop_length: int,
    start_bpm: float,
    max_elements: int = MAX_ELEMENTS,
    block_elements: int = BLOCK_ELEMENTS,
) -> np.ndarray | None:
    """Return the tempo ``beat_track`` would estimate, or None when librosa's own path fits.

    Parameters
    ----------
    envelope : np.ndarray [shape=(B, frames)]
        Onset strength envelopes.
    sr : float
        Sample rate of the audio.
    hop_length : int
        Samples between envelope frames.
    start_bpm : float
        The tempo prior's centre.
    max_elements : int
        Tempogram size up to which None is returned (``beat_track`` estimates the
        tempo itself, with the whole tempogram).
    block_elements : int
        Tempogram values computed at once on the bounded path.

    Returns
    -------
    np.ndarray [shape=(B, 1)] or None
        Beats per minute per clip, shaped as ``librosa.feature.tempo`` returns them, to
        pass to ``beat_track(bpm=...)``.
    """
    n_clips, n = envelope.shape
    win = int(librosa.time_to_frames(_AC_SIZE, sr=sr, hop_length=hop_length))
    if n_clips * win * n <= max_elements:
        return None
    # librosa.feature.tempogram(center=True): ramp-padded, framed with hop 1, windowed.
    half = win // 2
    padded = np.pad(envelope, [(0, 0), (half, half)], mode="linear_ramp", end_values=[0, 0])
    frames = librosa.util.frame(padded, frame_length=win, hop_length=1)[..., :n]
    window = librosa.filters.get_window("hann", win, fftbins=True)[:, np.newaxis]
    block = max(1, block_elements // (n_clips * win))
    total = np.zeros((n_clips, win), dtype=np.float64)
    for start in range(0, n, block):
        part = frames[..., start : start + block] * window
        tg = librosa.util.normalize(librosa.autocorrelate(part, axis=-2), norm=np.inf, axis=-2)
        total += tg.sum(axis=-1, dtype=np.float64)
    mean = (total / n)[..., np.newaxis]
    # The rest of librosa.feature.tempo: log-normal prior around start_bpm, max tempo.
    bpms = librosa.tempo_frequencies(win, hop_length=hop_length, sr=sr)
    with np.errstate(divide="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(start_bpm)) / _STD_BPM) ** 2
    logprior[: int(np.argmax(bpms < _MAX_TEMPO))] = -np.inf
    best = np.argmax(np.log1p(1e6 * mean) + logprior[:, np.newaxis], axis=-2)
    tempi: np.ndarray = np.take(bpms, best)
    return tempi
