"""The transform catalogue: every transform's parameters checked with one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from signals import speech_like

from audiosoup_widgets.audio.transforms import TRANSFORMS, ParamSpec, build, validate_step
from audiosoup_widgets.errors import RecipeError, ValidationError

SR = 16000
NAMES = list(TRANSFORMS)
CURATED = {
    "Gain",
    "AddGaussianSNR",
    "AddBackgroundNoise",
    "Shift",
    "TimeStretch",
    "PitchShift",
    "LowPassFilter",
    "HighPassFilter",
    "BandPassFilter",
    "ClippingDistortion",
}


def refused(name, params) -> str:
    with pytest.raises(RecipeError) as info:
        validate_step(name, params)
    message = info.value.message
    assert message and "\n" not in message
    assert isinstance(info.value, ValidationError)
    return message


def test_the_curated_set_is_named_by_audiomentations_classes():
    import audiomentations

    assert set(TRANSFORMS) == CURATED
    for name, spec in TRANSFORMS.items():
        assert spec.name == name
        assert hasattr(audiomentations, name)
        assert spec.title and len(spec.explanation.split(". ")) >= 2
        assert "p" in spec.params
        for pname, p in spec.params.items():
            assert isinstance(p, ParamSpec)
            assert p.help, (name, pname)
            if p.kind != "bool":
                assert p.min <= p.default <= p.max, (name, pname)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_valid_and_filled_in(name):
    spec = TRANSFORMS[name]
    assert validate_step(name, {}) == spec.defaults()
    assert validate_step(name, None) == spec.defaults()
    # Keyword arguments of the audiomentations class, one for one.
    import inspect

    import audiomentations

    accepted = inspect.signature(getattr(audiomentations, name)).parameters
    assert set(spec.params) <= set(accepted)


def test_unknown_transform():
    assert refused("Reverb", {}) == ("unknown transform 'Reverb'; choose one of: " + ", ".join(TRANSFORMS))
    assert refused(3, {}).startswith("unknown transform 3;")


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter(name):
    message = refused(name, {"loudness": 1})
    assert message.startswith(f"{name}: unknown parameter 'loudness'; it takes: ")
    assert refused(name, [1, 2]).startswith(f"{name}: parameters must be a mapping")


@pytest.mark.parametrize("name", NAMES)
def test_out_of_range_and_wrong_types(name):
    for pname, p in TRANSFORMS[name].params.items():
        if p.kind == "bool":
            assert refused(name, {pname: 1}) == f"{name}.{pname} must be true or false, not 1"
            continue
        message = refused(name, {pname: p.max + 1})
        assert message.startswith(f"{name}.{pname} = ") and "is out of range" in message
        assert f"[{p.min:g}, {p.max:g}]" in message
        assert "is out of range" in refused(name, {pname: p.min - 1})
        assert refused(name, {pname: True}) == f"{name}.{pname} must be a number, not True"
        assert refused(name, {pname: "6"}) == f"{name}.{pname} must be a number, not '6'"
        assert "must be a finite number" in refused(name, {pname: float("nan")})


@pytest.mark.parametrize("name", NAMES)
def test_minimum_above_maximum(name):
    spec = TRANSFORMS[name]
    assert spec.ranges, name
    for low, high in spec.ranges:
        lo, hi = spec.params[low], spec.params[high]
        step = lo.multiple_of or (1 if lo.kind == "int" else 0.5)
        params = {low: hi.min + step, high: hi.min} if hi.min + step <= lo.max else None
        assert params is not None
        message = refused(name, params)
        assert message.startswith(f"{name}: {low} (") and f"is greater than {high} (" in message


def test_whole_numbers_and_multiples():
    assert refused("ClippingDistortion", {"max_percentile_threshold": 10.5}) == (
        "ClippingDistortion.max_percentile_threshold must be a whole number, not 10.5"
    )
    out = validate_step("ClippingDistortion", {"max_percentile_threshold": 10.0})
    assert out["max_percentile_threshold"] == 10
    assert refused("LowPassFilter", {"max_rolloff": 20}) == (
        "LowPassFilter.max_rolloff = 20 must be a multiple of 6"
    )
    assert refused("Shift", {"fade_duration": 0.0001}).startswith("Shift.fade_duration must be 0 (no fade)")


def test_values_come_back_canonical():
    out = validate_step("Gain", {"min_gain_db": -6, "max_gain_db": 6})
    assert out == {"min_gain_db": -6.0, "max_gain_db": 6.0, "p": 1.0}
    assert all(type(v) is float for v in out.values())
    assert refused("Gain", {"min_gain_db": -30}) == "Gain.min_gain_db = -30 is out of range [-24, 24] dB"


def test_user_text_in_messages_is_escaped_and_short():
    message = refused("Gain", {"bad\nname" + "x" * 100: 1})
    assert "\n" not in message and "\\n" in message and len(message) < 200


@pytest.mark.parametrize("name", sorted(CURATED - {"AddBackgroundNoise"}))
def test_each_transform_builds_and_keeps_the_length(name):
    import audiomentations

    y = speech_like(SR, seconds=0.5)
    transform = build(name, {})
    assert isinstance(transform, getattr(audiomentations, name))
    assert transform.p == 1.0
    out = transform(y.copy(), SR)
    assert out.shape == y.shape and out.dtype == np.float32
    assert not np.array_equal(out, y)


def test_background_noise_needs_existing_audio_files(tmp_path):
    import soundfile as sf

    with pytest.raises(RecipeError, match="needs background clips, and none were given"):
        build("AddBackgroundNoise", {})
    with pytest.raises(RecipeError, match="is not an existing file"):
        build("AddBackgroundNoise", {}, background_paths=[tmp_path / "missing.wav"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RecipeError, match="is not a supported audio file"):
        build("AddBackgroundNoise", {}, background_paths=[tmp_path / "notes.txt"])
    sf.write(tmp_path / "b.wav", np.full(SR, 0.1, np.float32), SR)
    sf.write(tmp_path / "a.wav", np.full(SR, 0.1, np.float32), SR)
    paths = [tmp_path / "b.wav", str(tmp_path / "a.wav")]
    transform = build("AddBackgroundNoise", {}, background_paths=paths)
    # Sorted, so the clip a seed picks does not depend on the caller's order.
    assert [p.rsplit("/", 1)[-1] for p in transform.sound_file_paths] == ["a.wav", "b.wav"]
