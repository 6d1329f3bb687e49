"""The feature tests' signal set and rates, and librosa's own answers to compare with.

A plain module (not a conftest) so test modules can import it by a unique name.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import librosa
import numpy as np
from signals import chirp, clicks, noise, speech_like, tone

RATES = (8000, 11025, 16000, 22050, 44100, 48000)


#: The synthetic signals (from ``signals``) every feature is checked on, by name.
SIGNALS = {
    "sine": tone,
    "chirp": chirp,
    "clicks": clicks,
    "noise": noise,
    "speech_like": speech_like,
}


def librosa_reference(y: np.ndarray, sr: int, adaptations: dict | None = None) -> dict:
    """Every feature computed by librosa directly, one clip, defaults (plus adaptations)."""
    with quietly():
        return _reference(y, sr, adaptations or {})


def _reference(y: np.ndarray, sr: int, adaptations: dict) -> dict:
    n_bands = adaptations.get("spectral_contrast", {}).get("n_bands", 6)
    n_octaves = adaptations.get("tonnetz", {}).get("cqt_n_octaves", 7)
    delta = adaptations.get("mfcc_delta", {})
    width, mode = delta.get("delta_width", 9), delta.get("delta_mode", "interp")
    mfcc = librosa.feature.mfcc(y=y, sr=sr)
    # The log-mel behind the MFCCs: librosa.feature.mfcc(y=y) takes power_to_db of this.
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    _, beats = librosa.beat.beat_track(y=y, sr=sr)
    # librosa's sync() returns no column for an empty beat list; the engine uses one segment.
    synced = librosa.util.sync(chroma, beats if len(beats) else [0], aggregate=np.median)
    return {
        "mel_spectrogram": librosa.feature.melspectrogram(y=y, sr=sr),
        "power_spectrogram": np.abs(librosa.stft(y)) ** 2,
        "spectral_contrast": librosa.feature.spectral_contrast(y=y, sr=sr, n_bands=n_bands),
        "chroma": chroma,
        "tonnetz": librosa.feature.tonnetz(y=y, sr=sr, n_octaves=n_octaves),
        "onset_strength": librosa.onset.onset_strength(y=y, sr=sr),
        "tempogram": librosa.feature.tempogram(y=y, sr=sr),
        "fourier_tempogram": np.abs(librosa.feature.fourier_tempogram(y=y, sr=sr)),
        "mfcc": mfcc,
        "mfcc_delta": librosa.feature.delta(mfcc, width=width, mode=mode),
        "mfcc_delta2": librosa.feature.delta(mfcc, order=2, width=width, mode=mode),
        "mel_delta": librosa.feature.delta(log_mel, width=width, mode=mode),
        "mel_delta2": librosa.feature.delta(log_mel, order=2, width=width, mode=mode),
        "stack_memory": librosa.feature.stack_memory(synced),
    }


def assert_close(actual: np.ndarray, expected: np.ndarray, *, name: str = "", rtol: float = 1e-5) -> None:
    """Equal up to ``rtol`` of the largest magnitude of ``expected``."""
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    err = float(np.max(np.abs(actual.astype(np.float64) - expected), initial=0.0))
    assert err <= rtol * scale, f"{name}: max error {err:.3g} > {rtol:g} x {scale:.3g}"


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    """Fail if any warning is emitted inside the block (whatever the global filters)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert not caught, [f"{w.category.__name__}: {w.message}" for w in caught]


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Silence librosa's own warnings while computing reference values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
