"""Synthetic test audio with known structure, and librosa's own answers to compare with.

A plain module (not a conftest) so test modules can import it by a unique name.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import librosa
import numpy as np
import scipy.signal

RATES = (8000, 11025, 16000, 22050, 44100, 48000)


def sine(sr: int, *, seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(sr: int, *, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * scipy.signal.chirp(t, f0=80.0, t1=seconds, f1=0.4 * sr, method="log")
            ).astype(np.float32)


def clicks(sr: int, *, seconds: float = 1.0, bpm: float = 150.0) -> np.ndarray:
    times = np.arange(0.05, seconds, 60.0 / bpm)
    return librosa.clicks(times=times, sr=sr, length=int(sr * seconds)).astype(np.float32)


def noise(sr: int, *, seconds: float = 1.0, seed: int = 0, amp: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal(int(sr * seconds))).astype(np.float32)


def speech_like(sr: int, *, seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    """A voiced, syllabic signal: a glottal pulse train through vowel formants."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 1.5 * t)  # intonation
    phase = np.cumsum(f0 / sr)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(float)
    voiced = pulses + 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    for formant, bandwidth in ((700, 110), (1220, 120), (2600, 160)):
        if formant < sr / 2:
            r = np.exp(-np.pi * bandwidth / sr)
            a = [1, -2 * r * np.cos(2 * np.pi * formant / sr), r * r]
            out += scipy.signal.lfilter([1 - r], a, voiced)
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.5  # syllables
    out *= envelope
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


SIGNALS = {
    "sine": sine,
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
        "stack_memory": librosa.feature.stack_memory(synced),
    }


def assert_close(actual: np.ndarray, expected: np.ndarray, *, name: str = "",
                 rtol: float = 1e-5) -> None:
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
