"""Synthetic audio signals for the tests: every test and fixture makes its signals here.

A plain module (tests/ is on ``sys.path``): ``from signals import tone``. Every
function takes the sample rate first and returns float32 samples; each is
deterministic (noise comes from ``numpy.random.default_rng(seed)``).
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.signal

__all__ = ["tone", "chirp", "clicks", "noise", "speech_like", "word"]


def tone(
    sr: int = 16000,
    *,
    seconds: float = 1.0,
    freq: float = 440.0,
    level: float = 0.5,
    channels: int | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Return a sine tone, shape ``(frames,)`` or ``(frames, channels)``, float32.

    ``frames`` is ``round(sr * seconds)``. With ``channels`` each channel's
    frequency is ``freq * (1 + 0.01 * c)``, so channels differ. ``noise`` adds
    Gaussian noise of ``noise * level`` standard deviation (seeded by ``seed``),
    so different seeds give different bytes.
    """
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    if channels is None:
        y = level * np.sin(2 * np.pi * freq * t)
        shape: tuple[int, ...] = (n,)
    else:
        cols = [np.sin(2 * np.pi * freq * (1 + 0.01 * c) * t) for c in range(channels)]
        y = level * np.stack(cols, axis=1)
        shape = (n, channels)
    if noise:
        y = y + noise * level * np.random.default_rng(seed).standard_normal(shape)
    return y.astype(np.float32)


def chirp(sr: int, *, seconds: float = 1.0, level: float = 0.5) -> np.ndarray:
    """Return a log sweep from 80 Hz to 0.4 ``sr``, shape ``(frames,)``, float32."""
    t = np.arange(int(sr * seconds)) / sr
    return (level * scipy.signal.chirp(t, f0=80.0, t1=seconds, f1=0.4 * sr, method="log")).astype(np.float32)


def clicks(sr: int, *, seconds: float = 1.0, bpm: float = 150.0) -> np.ndarray:
    """Return librosa clicks at ``bpm`` from 50 ms on, shape ``(frames,)``, float32."""
    times = np.arange(0.05, seconds, 60.0 / bpm)
    return librosa.clicks(times=times, sr=sr, length=int(sr * seconds)).astype(np.float32)


def noise(sr: int, *, seconds: float = 1.0, seed: int = 0, level: float = 0.1) -> np.ndarray:
    """Return white Gaussian noise of ``level`` standard deviation, shape ``(frames,)``, float32."""
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(sr * seconds))).astype(np.float32)


def speech_like(sr: int, *, seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    """Return a voiced, syllabic signal (pulses through vowel formants), shape ``(frames,)``, float32."""
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


def word(
    sr: int = 16000, *, seconds: float = 1.0, f0: float = 220.0, level: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Return a voiced 'word' (harmonics, smooth envelope, a little noise), shape ``(frames,)``, float32."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    env = np.clip(np.sin(np.pi * np.clip((t - 0.2 * seconds) / (0.6 * seconds), 0, 1)), 0, 1)
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    hiss = np.random.default_rng(seed).standard_normal(n) * 0.01
    y = env * harmonics / 2.5 + hiss * env
    return (level * y / max(np.abs(y).max(), 1e-9)).astype(np.float32)
