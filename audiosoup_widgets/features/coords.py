"""Plot axis coordinates of a feature's rows and columns, in real units.

The engine returns bare matrices; :func:`feature_coords` says where each row and
column of one sits on its axes (Hz, BPM, seconds, beat segments), with the same
parameters and sample-rate adaptations the engine used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import jitcache
from .adapt import plan_for
from .params import FeatureParams
from .registry import get_feature

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["feature_coords"]


def feature_coords(
    feature_id: str, *, sr: float, n_frames: int, params: FeatureParams | None = None
) -> tuple[np.ndarray | None, np.ndarray]:
    """Return the coordinates of a feature's rows and columns, for axes.

    Parameters
    ----------
    feature_id : str
        A registered feature id.
    sr : float
        Sample rate in Hz.
    n_frames : int
        Number of columns of the feature.
    params : FeatureParams, optional

    Returns
    -------
    rows : np.ndarray [shape=(rows,)] or None
        Row positions in the unit of the spec's ``y_axis`` (Hz, BPM, index;
        lower band edges for spectral contrast); None for a line feature.
        The first tempogram row (lag 0) is ``inf`` BPM.
    columns : np.ndarray [shape=(n_frames,)]
        Frame centres in seconds, or beat-segment indices for ``stack_memory``.
    """
    spec = get_feature(feature_id)
    p = params or FeatureParams()
    plan = plan_for(float(sr), p.n_fft, p)
    columns = librosa.frames_to_time(np.arange(n_frames), sr=sr, hop_length=p.hop_length)

    def mel_bands() -> np.ndarray:
        # The centre frequencies of the mel spectrogram's rows, shared by its deltas.
        fmax = p.mel_fmax or sr / 2.0
        hz: np.ndarray = librosa.mel_frequencies(n_mels=p.n_mels, fmin=p.mel_fmin, fmax=fmax)
        return hz

    rows: dict[str, Callable[[], np.ndarray | None]] = {
        "mel_spectrogram": mel_bands,
        "power_spectrogram": lambda: librosa.fft_frequencies(sr=sr, n_fft=p.n_fft),
        "spectral_contrast": lambda: np.concatenate(
            ([0.0], p.contrast_fmin * 2.0 ** np.arange(plan.n_bands))
        ),
        "tempogram": lambda: librosa.tempo_frequencies(p.tempo_win_length, sr=sr, hop_length=p.hop_length),
        "fourier_tempogram": lambda: librosa.fourier_tempo_frequencies(
            sr=sr, win_length=p.tempo_win_length, hop_length=p.hop_length
        ),
        "onset_strength": lambda: None,
        "mfcc": lambda: np.arange(p.n_mfcc, dtype=float),
        "mfcc_delta": lambda: np.arange(p.n_mfcc, dtype=float),
        "mfcc_delta2": lambda: np.arange(p.n_mfcc, dtype=float),
        "mel_delta": mel_bands,
        "mel_delta2": mel_bands,
    }
    if spec.id == "stack_memory":
        columns = np.arange(n_frames, dtype=float)
    compute = rows.get(spec.id)
    if compute is None:  # categorical axes: pitch classes, tonnetz dims, memory steps
        n_rows = {"chroma": 12, "tonnetz": 6}.get(spec.id, 12 * p.stack_n_steps)
        return np.arange(n_rows, dtype=float), columns
    return compute(), columns
