"""The feature registry is complete and honest; parameter keys follow the dependency graph."""

from __future__ import annotations

import ast
import dataclasses
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import audiosoup_widgets.features as features_pkg
from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.features import (
    FAMILIES,
    FEATURES,
    FeatureParams,
    compute_features,
    features_in,
    get_feature,
)
from audiosoup_widgets.features import params as params_module
from audiosoup_widgets.features.registry import INTERMEDIATE_PARAMS

REQUIRED = {
    "spectral": ["mel_spectrogram", "power_spectrogram", "spectral_contrast", "chroma", "tonnetz"],
    "rhythmic": ["onset_strength", "tempogram", "fourier_tempogram"],
    "deltas": ["mfcc", "mfcc_delta", "mfcc_delta2", "mel_delta", "mel_delta2", "stack_memory"],
}
PARAM_NAMES = {f.name for f in dataclasses.fields(FeatureParams)}


def test_every_required_feature_is_registered_in_its_family_and_order():
    assert FAMILIES == ("spectral", "rhythmic", "deltas")
    assert list(FEATURES) == [i for family in FAMILIES for i in REQUIRED[family]]
    for family, ids in REQUIRED.items():
        assert [spec.id for spec in features_in(family)] == ids


@pytest.mark.parametrize("feature_id", list(FEATURES))
def test_each_spec_explains_links_and_labels(feature_id):
    spec = get_feature(feature_id)
    assert spec.id == feature_id and spec.title
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", spec.explanation.strip()) if s]
    assert 2 <= len(sentences) <= 4, sentences
    assert len(spec.links) >= 2
    urls = [url for _, url in spec.links]
    assert all(title and url.startswith("https://") for title, url in spec.links)
    assert any("wikipedia.org" in url for url in urls)
    assert any(url.startswith("https://librosa.org/doc/") for url in urls)
    for axis in (spec.y_axis, spec.x_axis):
        assert axis.name and axis.unit, axis
        assert axis.scale in ("linear", "log", "mel", "categorical")
    assert spec.kind in ("image", "line")
    assert spec.db in ("power", "amplitude", None)
    assert spec.params and set(spec.params) <= PARAM_NAMES
    assert spec.value_unit


def test_categorical_axes_name_their_rows_and_match_the_computed_rows():
    values = compute_features(np.sin(np.arange(16000) * 0.2).astype(np.float32), 16000)
    for feature_id, spec in FEATURES.items():
        if spec.y_axis.ticks:
            assert len(spec.y_axis.ticks) == values[feature_id].shape[0], feature_id
    assert get_feature("chroma").y_axis.ticks[0] == "C"
    assert len(get_feature("tonnetz").y_axis.ticks) == 6


def test_explanations_are_honest_about_short_clips():
    assert "padding" in get_feature("tempogram").explanation
    assert "padding" in get_feature("fourier_tempogram").explanation
    assert "fewer bands" in get_feature("spectral_contrast").explanation


def test_unknown_ids_and_families_are_refused_with_one_line():
    with pytest.raises(FeatureError) as info:
        get_feature("zero_crossings")
    assert info.value.code == "unknown_feature"
    assert "\n" not in info.value.message and "mel_spectrogram" in info.value.message
    with pytest.raises(FeatureError) as info:
        features_in("timbre")
    assert info.value.code == "unknown_family"


def test_magnitude_features_say_how_to_convert_to_db():
    assert get_feature("mel_spectrogram").db == "power"
    assert get_feature("power_spectrogram").db == "power"
    assert get_feature("fourier_tempogram").db == "amplitude"
    assert get_feature("spectral_contrast").db is None  # already in dB


# -- Parameters and cache keys ----------------------------------------------------------------
def test_params_default_to_librosas_defaults():
    p = FeatureParams()
    assert (p.n_fft, p.hop_length, p.n_mels, p.n_mfcc) == (2048, 512, 128, 20)
    assert (p.n_bands, p.contrast_fmin, p.contrast_quantile) == (6, 200.0, 0.02)
    assert (p.tempo_win_length, p.delta_width) == (384, 9)
    assert (p.stack_n_steps, p.stack_delay) == (2, 1)
    assert p.as_dict()["n_fft"] == 2048 and set(p.as_dict()) == PARAM_NAMES


def test_keys_are_short_stable_and_type_insensitive():
    a, b = FeatureParams(), FeatureParams(n_fft=2048.0, contrast_fmin=200)
    for feature_id in FEATURES:
        key = a.key_for(feature_id)
        assert re.fullmatch(r"[0-9a-f]{16}", key)
        assert key == b.key_for(feature_id) == FeatureParams().key_for(feature_id)


def test_engine_version_is_part_of_every_key(monkeypatch):
    before = {i: FeatureParams().key_for(i) for i in FEATURES}
    monkeypatch.setattr(params_module, "ENGINE_VERSION", "999")
    assert all(FeatureParams().key_for(i) != key for i, key in before.items())


CHANGES = {
    "n_fft": 1024,
    "hop_length": 256,
    "n_mels": 64,
    "mel_fmin": 20.0,
    "mel_fmax": 7000.0,
    "n_mfcc": 13,
    "contrast_fmin": 100.0,
    "n_bands": 4,
    "contrast_quantile": 0.05,
    "tuning": 0.1,
    "cqt_n_octaves": 6,
    "cqt_bins_per_octave": 24,
    "tempo_win_length": 200,
    "delta_width": 5,
    "start_bpm": 100.0,
    "tightness": 50.0,
    "stack_n_steps": 3,
    "stack_delay": 2,
}


def test_changing_a_parameter_changes_exactly_the_keys_that_depend_on_it():
    assert set(CHANGES) == PARAM_NAMES
    base = FeatureParams()
    for name, value in CHANGES.items():
        changed = dataclasses.replace(base, **{name: value})
        moved = {i for i in FEATURES if changed.key_for(i) != base.key_for(i)}
        assert moved == {i for i, spec in FEATURES.items() if name in spec.params}, name


def test_the_dependency_graph_is_the_real_one():
    depends_on_mels = {i for i, s in FEATURES.items() if "n_mels" in s.params}
    assert depends_on_mels == {
        "mel_spectrogram",
        "onset_strength",
        "tempogram",
        "fourier_tempogram",
        "mfcc",
        "mfcc_delta",
        "mfcc_delta2",
        "mel_delta",
        "mel_delta2",
        "stack_memory",
    }
    assert "n_fft" not in get_feature("tonnetz").params
    assert set(INTERMEDIATE_PARAMS["beats"]) <= set(get_feature("stack_memory").params)
    assert set(get_feature("power_spectrogram").params) == {"n_fft", "hop_length"}


def test_the_dependency_graph_matches_the_values():
    """A parameter outside a feature's list does not change its values, and vice versa."""
    sr = 16000
    y = np.random.default_rng(0).standard_normal(sr).astype(np.float32) * 0.1
    y[::4000] += 0.9
    base = compute_features(y, sr)
    for name in (
        "n_mels",
        "n_mfcc",
        "delta_width",
        "tempo_win_length",
        "stack_n_steps",
        "tightness",
        "contrast_quantile",
        "cqt_n_octaves",
        "tuning",
    ):
        changed = compute_features(
            y, sr, params=dataclasses.replace(FeatureParams(), **{name: CHANGES[name]})
        )
        for feature_id, spec in FEATURES.items():
            same = changed[feature_id].shape == base[feature_id].shape and np.array_equal(
                changed[feature_id], base[feature_id], equal_nan=True
            )
            if name not in spec.params:
                assert same, f"{name} changed {feature_id} but is not in its params"


@pytest.mark.parametrize(
    "bad",
    [
        {"n_fft": 0},
        {"delta_width": 4},
        {"delta_width": 1},
        {"stack_delay": 0},
        {"contrast_quantile": 1.5},
        {"cqt_bins_per_octave": 20},
        {"n_mels": 2.5},
        {"tuning": 2.0},
        {"mel_fmin": 500.0, "mel_fmax": 100.0},
        {"hop_length": "x"},
    ],
)
def test_invalid_params_are_refused(bad):
    with pytest.raises(FeatureError) as info:
        FeatureParams(**bad)
    assert info.value.code == "invalid_params"


# -- Dependency rule ---------------------------------------------------------------------------
FORBIDDEN = ("sqlalchemy", "ipywidgets", "ipyvuetify", "ipyvue", "bqplot", "traitlets", "psycopg2", "voila")


def test_feature_modules_import_nothing_of_the_store_or_the_ui():
    package_dir = Path(features_pkg.__file__).parent
    for source in package_dir.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 2:  # from .. import: only ground modules
                    targets = [node.module] if node.module else [a.name for a in node.names]
                    assert set(targets) <= {"errors", "jitcache"}, f"{source.name}: from .. import {targets}"
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith(FORBIDDEN + ("audiosoup_widgets",)), (
                    f"{source.name} imports {name}"
                )


def test_importing_the_feature_package_loads_no_store_or_ui_module():
    # Load the subpackage without running the parent package's __init__ (which wires
    # the store): what the subpackage itself pulls in is what a worker would load.
    root = Path(features_pkg.__file__).parents[2]
    code = textwrap.dedent(f"""
        import sys, types
        parent = types.ModuleType("audiosoup_widgets")
        parent.__path__ = [{str(root / "audiosoup_widgets")!r}]
        sys.modules["audiosoup_widgets"] = parent
        import audiosoup_widgets.features
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r}
                        or m.startswith("audiosoup_widgets.") and not m.startswith(
                            ("audiosoup_widgets.features", "audiosoup_widgets.errors",
                             "audiosoup_widgets.jitcache")))
        print(",".join(loaded))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""
