"""Invariance check: a model that tells a low tone from a high one is flipped by a pitch shift
of an octave on every low clip, and left alone by a small gain change."""

from __future__ import annotations

import pytest
import soundfile as sf
from signals import tone

from audiosoup_widgets.errors import ValidationError
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.jobs.invariance import invariance_check
from audiosoup_widgets.jobs.model import fit_model
from audiosoup_widgets.store import Store


@pytest.fixture
def tones(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'inv.sqlite3'}")
    store.upgrade()
    for label, base in (("low", 300.0), ("high", 600.0)):
        (tmp_path / "t" / label).mkdir(parents=True)
        for i in range(10):
            y = tone(16000, freq=base * (1 + 0.01 * (i - 5)), level=0.3, noise=0.02, seed=i)
            sf.write(tmp_path / "t" / label / f"{i}.wav", y, 16000, subtype="PCM_16")
    load_dataset(store, tmp_path / "t", dataset="t", layout="folders", workers=1)
    return store


def test_an_octave_up_flips_the_low_clips_and_a_small_gain_flips_none(tones):
    with pytest.raises(ValidationError, match="no model run"):
        invariance_check("t", db=tones)
    compute_dataset(tones, "t", features=["mfcc"], workers=1)
    fit_model("t", features=["mfcc"], db=tones, n_splits=2)
    steps = {
        "octave up": {"PitchShift": {"min_semitones": 12.0, "max_semitones": 12.0}},
        "gain -1 dB": {"Gain": {"min_gain_db": -1.0, "max_gain_db": -1.0}},
    }
    frame = invariance_check("t", db=tones, transforms=steps, n_clips=12, seed=1)
    assert list(frame.columns) == ["transform", "label", "n", "flipped"]
    rows = {(r.transform, r.label): (r.n, r.flipped) for r in frame.itertuples()}
    assert sum(n for (t, _), (n, _) in rows.items() if t == "octave up") == 12
    # 300 Hz an octave up is 600 Hz: a "high" clip to the model.
    assert rows[("octave up", "low")][1] == 1.0
    assert rows[("gain -1 dB", "low")][1] == 0.0 and rows[("gain -1 dB", "high")][1] == 0.0
