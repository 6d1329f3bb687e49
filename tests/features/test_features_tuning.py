"""The batched tuning estimate, reimplemented for speed, equals librosa's clip by clip."""

from __future__ import annotations

import librosa
import numpy as np
from featuretest_helpers import no_warnings, quietly

from audiosoup_widgets.features.tuning import estimate_tunings


def test_batched_tuning_estimate_equals_librosa_per_clip():
    rng = np.random.default_rng(7)
    for sr in (8000, 16000, 44100):
        t = np.arange(sr // 2) / sr
        batch = np.stack(
            [
                rng.uniform(0.1, 1)
                * np.sin(
                    2 * np.pi * rng.uniform(60, 3000) * t + rng.uniform(0, 3) * np.sin(2 * np.pi * 2 * t)
                )
                + rng.uniform(0, 0.3) * rng.standard_normal(t.size)
                for _ in range(10)
            ]
            + [np.zeros(t.size), 1e-6 * rng.standard_normal(t.size)]
        ).astype(np.float32)
        magnitude = np.abs(librosa.stft(batch))
        with no_warnings():
            cqt_tunings = estimate_tunings(magnitude, sr, bins_per_octave=36)
            stft_tunings = estimate_tunings(magnitude**2, sr, bins_per_octave=12)
        with quietly():
            for i, y in enumerate(batch):
                assert cqt_tunings[i] == librosa.estimate_tuning(y=y, sr=sr, bins_per_octave=36)
                assert stft_tunings[i] == librosa.estimate_tuning(
                    S=np.abs(librosa.stft(y)) ** 2, sr=sr, bins_per_octave=12
                )
