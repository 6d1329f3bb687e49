"""AugmentService: the catalogue as plain values, chains checked, a preview equal to what is
stored, WAVs for A/B, a selection augmented, listed and deleted."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from audiosoup_widgets.audio.recipes import apply_recipe, recipe_from_yaml
from audiosoup_widgets.errors import RecipeError, ValidationError
from audiosoup_widgets.jobs.augment import parent_key, to_pcm16
from audiosoup_widgets.services import AugmentService
from audiosoup_widgets.services.protocols import AugmentServices
from audiosoup_widgets.store import SampleQuery

RECIPE = """\
seed: 5
steps:
  - Gain: {min_gain_db: -6.0, max_gain_db: 6.0}
  - AddGaussianSNR: {min_snr_db: 15.0, max_snr_db: 30.0}
  - Shift: {min_shift: -0.2, max_shift: 0.2}
"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data"))


def test_the_protocol_matches_the_service():
    import inspect

    for name in ("transforms", "validate_chain", "preview", "wav_bytes", "apply_to", "recipes", "delete"):
        want = list(inspect.signature(getattr(AugmentServices, name)).parameters)
        assert list(inspect.signature(getattr(AugmentService, name)).parameters) == want, name


def test_transforms_are_plain_json_values(words):
    services, _, _ = words
    catalogue = services.augment.transforms()
    names = [t["name"] for t in catalogue]
    assert {"Gain", "AddGaussianSNR", "Shift", "PitchShift"} <= set(names)
    json.dumps(catalogue)  # plain values only
    gain = catalogue[names.index("Gain")]
    assert gain["params"]["min_gain_db"]["unit"] == "dB"


def test_a_chain_is_checked_into_a_recipe(words):
    services, _, _ = words
    form = [{"transform": "Gain", "params": {"min_gain_db": -3.0, "max_gain_db": 3.0}}]
    recipe = services.augment.validate_chain(form, seed=2)
    assert recipe == recipe_from_yaml("seed: 2\nsteps:\n  - Gain: {min_gain_db: -3.0, max_gain_db: 3.0}\n")
    assert services.augment.validate_chain([{"Gain": {}}]).steps[0].transform == "Gain"
    with pytest.raises(RecipeError, match="out of range"):
        services.augment.validate_chain([{"transform": "Gain", "params": {"min_gain_db": 99}}])
    with pytest.raises(RecipeError, match="unknown transform"):
        services.augment.validate_chain([{"transform": "Nope"}])


def test_a_preview_is_what_would_be_stored_and_decodes_once(words, monkeypatch):
    services, store, ids = words
    record = services.samples.get(next(iter(ids.values())))
    recipe = recipe_from_yaml(RECIPE)
    import audiosoup_widgets.services.audio as audio_module

    calls = []
    real = audio_module.decode
    monkeypatch.setattr(audio_module, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    original, augmented, sr = services.augment.preview(record, recipe)
    assert original.dtype == augmented.dtype == np.float32 and sr == 16000
    want = to_pcm16(
        apply_recipe(original, sr, recipe, parent_key=parent_key(record.path, record.content_hash))
    )
    np.testing.assert_array_equal(np.rint(augmented * 32767).astype(np.int16), want)
    assert not np.array_equal(services.augment.preview(record, recipe, variant=1)[1], augmented)
    wav, wav_sr = sf.read(io.BytesIO(services.augment.wav_bytes(record, recipe)), dtype="int16")
    assert wav_sr == sr
    np.testing.assert_array_equal(wav, want)
    assert len(calls) == 1  # the decoded clip comes from the audio cache afterwards
    # What apply_to stores is the preview, bit for bit.
    report = services.augment.apply_to([record.id], recipe, name="p")
    assert report.created == 1
    (derived,) = store.page_samples(SampleQuery("words", origin="derived"))
    np.testing.assert_array_equal(sf.read(derived.path, dtype="int16")[0], want)
    # A derived clip plays like any other, from the data folder.
    played, _ = sf.read(io.BytesIO(services.audio.wav_bytes(services.samples.get(derived.id))), dtype="int16")
    np.testing.assert_array_equal(played, want)
    with pytest.raises(ValidationError):
        services.augment.preview(record, recipe, variant=-1)


def test_a_selection_is_augmented_listed_and_deleted(words):
    services, store, ids = words
    chosen = sorted(ids.values())[:3]
    recipe = recipe_from_yaml(RECIPE)
    seen: list[tuple[int, int]] = []
    report = services.augment.apply_to(
        chosen, recipe, name="sel", variants=2, reviewer="ana", progress=lambda d, t: seen.append((d, t))
    )
    assert (report.created, report.existing, report.failed) == (6, 0, [])
    assert seen[-1] == (6, 6)
    derived = store.page_samples(SampleQuery("words", origin="derived"), page_size=200)
    assert len(derived) == 6
    assert services.samples.count({"dataset": "words"}) == len(ids) + 6  # caches dropped
    assert services.augment.apply_to(chosen, recipe, name="sel", variants=2).created == 0
    assert [r.name for r in services.augment.recipes("words")] == ["sel"]
    assert services.augment.delete("words", "sel") == 6
    assert store.page_samples(SampleQuery("words", origin="derived")) == []
    with pytest.raises(ValidationError):
        services.augment.apply_to([], recipe, name="x")
