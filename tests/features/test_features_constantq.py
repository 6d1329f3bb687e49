"""The batched constant-Q transform, with each clip's own tuning, equals librosa's."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from featuretest_helpers import quietly
from signals import chirp, noise, tone

from audiosoup_widgets.features.constantq import cqt_magnitude


@pytest.mark.parametrize("sr", [11025, 44100])
def test_batched_cqt_with_per_clip_tuning_equals_librosa(sr):
    batch = np.stack([chirp(sr, seconds=0.5), noise(sr, seconds=0.5), tone(sr, seconds=0.5)])
    tunings = np.array([-0.5, 0.0, 0.37])
    with quietly():  # the public engine silences librosa itself; this helper does not
        cqt = cqt_magnitude(batch, sr, tunings, hop_length=512, n_bins=252, bins_per_octave=36)
    with quietly():
        for i, y in enumerate(batch):
            expected = np.abs(librosa.cqt(y, sr=sr, n_bins=252, bins_per_octave=36, tuning=tunings[i]))
            np.testing.assert_array_equal(cqt[i], expected)
