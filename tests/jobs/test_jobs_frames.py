"""Stored summaries as a DataFrame: columns, filters, samples not computed yet, and what to run."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from signals import tone

from audiosoup_widgets import feature_frame
from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.features.params import FeatureParams
from audiosoup_widgets.jobs.compute import compute_dataset
from audiosoup_widgets.jobs.ingest import load_dataset
from audiosoup_widgets.store import SampleQuery, Store


def test_missing_summaries_name_the_command_to_run(loaded: Store):
    with pytest.raises(FeatureError) as info:
        feature_frame("sc", ["mfcc"], db=loaded)
    assert info.value.code == "not_computed"
    assert "audiosoup features compute --dataset sc --features mfcc" in info.value.message
    with pytest.raises(FeatureError) as info:
        feature_frame("sc", ["mfcc"], db=loaded, params=FeatureParams(n_mfcc=13))
    assert "(with the same --param values)" in info.value.message


def test_filters_and_samples_added_since_the_computation(loaded: Store, tmp_path):
    compute_dataset(loaded, "sc", features=["mfcc"], workers=1)
    n = loaded.count_samples(SampleQuery("sc"))
    sf.write(tmp_path / "sc" / "yes" / "added_nohash_0.wav", tone(sr=16000, seconds=1.0, noise=0.02), 16000)
    load_dataset(loaded, tmp_path / "sc", dataset="sc", workers=1)
    frame = feature_frame("sc", ["mfcc"], db=loaded)
    assert len(frame) == n + 1
    added = frame[frame["path"].str.endswith("added_nohash_0.wav")]
    assert len(added) == 1 and added.filter(like="mfcc_").isna().all().all()
    assert frame.drop(added.index).filter(like="mfcc_").notna().all().all()
    assert frame["mfcc_mean_0"].dtype == np.float32
    yes = feature_frame("sc", ["mfcc"], db=loaded, label="yes")
    assert set(yes["label"]) == {"yes"} and len(yes) == 9
    test = feature_frame("sc", ["mfcc"], db=loaded, split="test")
    assert set(test["split"]) == {"test"} and 0 < len(test) < n
