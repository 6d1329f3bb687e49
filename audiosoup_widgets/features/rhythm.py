"""Rhythm features of a batch: tempogram, beat tracking and beat-synchronous stack memory.

Each function takes the batch's arrays (clips on axis 0) and returns what librosa
returns for each clip on its own: the tempogram's edge padding is done row by row,
silent clips get no beats whatever they are tracked with, and a clip without beats
still gets one segment of stack memory. The tempo estimate behind the beat tracker
lives in :mod:`~audiosoup_widgets.features.tempo`.
"""

from __future__ import annotations

import numpy as np

from .. import jitcache

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["stack_memory", "tempogram", "track_beats"]


def tempogram(envelope: np.ndarray, win_length: int, sr: float, hop_length: int) -> np.ndarray:
    """``librosa.feature.tempogram(onset_envelope=envelope, win_length=...)``, batched.

    librosa pads the envelope with ``np.pad(mode="linear_ramp")``, which on a batch
    rounds every row differently as soon as one row's edge value is 0: pad row by
    row here, then let librosa frame, autocorrelate and normalise.
    """
    n = envelope.shape[-1]
    half = win_length // 2
    ramp = np.arange(half, dtype=envelope.dtype)
    left = ramp * (envelope[..., :1] / half)
    right = (ramp * (envelope[..., -1:] / half))[..., ::-1]
    padded = np.concatenate([left, envelope, right], axis=-1)
    tg: np.ndarray = librosa.feature.tempogram(
        onset_envelope=padded, sr=sr, hop_length=hop_length, win_length=win_length, center=False
    )
    return tg[..., :n]


def track_beats(
    envelope: np.ndarray, sr: float, *, hop_length: int, start_bpm: float, tightness: float
) -> list[np.ndarray]:
    """Beat frames of every clip, as ``librosa.beat.beat_track(onset_envelope=...)``.

    beat_track returns no beats for an all-zero envelope, but only when the whole
    batch is zero: the active clips are tracked together and silent ones get none.

    Parameters
    ----------
    envelope : np.ndarray [shape=(B, t)]
        Onset strength of each clip (median over mel bands, as ``beat_track(y=...)``).
    sr : float
    hop_length : int
    start_bpm, tightness : float
        The beat tracker's prior tempo and tightness.

    Returns
    -------
    list of np.ndarray
        Per clip, the frame indices of its beats (possibly none).
    """
    active = np.flatnonzero(envelope.any(axis=-1))
    beats = [np.array([], dtype=int) for _ in range(len(envelope))]
    if active.size:
        from .tempo import beat_tempo

        # librosa's tempo estimate builds an 8-s-window tempogram whole: beyond a
        # size (long or high-rate clips) estimate it in blocks, the same way.
        bpm = beat_tempo(envelope[active], sr=sr, hop_length=hop_length, start_bpm=start_bpm)
        _, dense = librosa.beat.beat_track(
            onset_envelope=envelope[active],
            sr=sr,
            hop_length=hop_length,
            start_bpm=start_bpm,
            tightness=tightness,
            bpm=bpm,
            sparse=False,
        )
        for j, b in enumerate(active):
            beats[b] = np.flatnonzero(dense[j])
    return beats


def stack_memory(chroma: np.ndarray, beats: list[np.ndarray], *, n_steps: int, delay: int) -> np.ndarray:
    """Beat-synchronous stack memory of every clip, padded to one width.

    Per clip, ``librosa.feature.stack_memory(librosa.util.sync(chroma, beats,
    aggregate=np.median), n_steps=n_steps, delay=delay)``. With no beats librosa's
    ``sync()`` takes the empty index list for a list of slices and returns no
    columns, which ``stack_memory`` refuses: such a clip gets one segment instead
    (frame 0 is always a segment boundary, so this is what sync does with beats).

    Parameters
    ----------
    chroma : np.ndarray [shape=(B, 12, t)]
    beats : list of np.ndarray
        Beat frames of each clip (:func:`track_beats`).
    n_steps, delay : int
        Memory steps and the delay between them, in beat segments.

    Returns
    -------
    np.ndarray [shape=(B, 12 * n_steps, segments)]
        Clips with fewer segments are padded on the right with all-NaN columns.
    """
    stacks = []
    for clip_chroma, clip_beats in zip(chroma, beats, strict=True):
        if delay > 0:
            stacks.append(_stack(_sync_median(clip_chroma, clip_beats), n_steps, delay))
        else:  # librosa's edge handling for non-causal stacking
            stacks.append(
                librosa.feature.stack_memory(
                    librosa.util.sync(clip_chroma, clip_beats.tolist() or [0], aggregate=np.median),
                    n_steps=n_steps,
                    delay=delay,
                )
            )
    return _pad_stack(stacks)


def _sync_median(data: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``librosa.util.sync(data, beats, aggregate=np.median)`` without its generic checks.

    The segments are librosa's: frame 0, the beats, and the end, deduplicated.
    """
    n = data.shape[-1]
    bounds = np.unique(np.clip(np.concatenate([[0, n], beats]), 0, n)).astype(int)
    out = np.empty(data.shape[:-1] + (len(bounds) - 1,), dtype=data.dtype)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        out[..., i] = np.median(data[..., a:b], axis=-1)
    return out


def _stack(data: np.ndarray, n_steps: int, delay: int) -> np.ndarray:
    """``librosa.feature.stack_memory(data, n_steps, delay)`` for ``delay > 0``.

    Step ``k`` holds the data ``k * delay`` frames earlier, zeros before the start.
    """
    d, t = data.shape[-2], data.shape[-1]
    out = np.zeros(data.shape[:-2] + (d * n_steps, t), dtype=data.dtype)
    for k in range(n_steps):
        shift = k * delay
        if shift < t:
            out[..., k * d : (k + 1) * d, shift:] = data[..., : t - shift]
    return out


def _pad_stack(arrays: list[np.ndarray]) -> np.ndarray:
    # Clips have different numbers of beats: pad on the right with all-NaN columns.
    width = max(a.shape[-1] for a in arrays)
    out = np.full(
        (len(arrays),) + arrays[0].shape[:-1] + (width,),
        np.nan,
        dtype=np.result_type(arrays[0].dtype, np.float32),
    )
    for b, a in enumerate(arrays):
        out[b, ..., : a.shape[-1]] = a
    return out
