"""Recipes: their YAML, keys and seeds, and applying them reproducibly."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import noise, speech_like

from audiosoup_widgets.audio.recipes import (
    Recipe,
    Step,
    apply_recipe,
    recipe_from_dict,
    recipe_from_yaml,
    recipe_key,
    recipe_to_dict,
    recipe_to_yaml,
    variant_seed,
)
from audiosoup_widgets.errors import RecipeError

SR = 16000
EXAMPLE = """seed: 7
steps:
  - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}
  - AddGaussianSNR: {min_snr_db: 10, max_snr_db: 30, p: 1.0}
  - Shift: {min_shift: -0.1, max_shift: 0.1, p: 1.0}
"""
# Every transform but the background noise, each on, so every draw matters.
FULL = Recipe(
    seed=3,
    steps=(
        Step.of("Gain"),
        Step.of("AddGaussianSNR"),
        Step.of("Shift"),
        Step.of("TimeStretch"),
        Step.of("PitchShift"),
        Step.of("LowPassFilter"),
        Step.of("HighPassFilter"),
        Step.of("BandPassFilter"),
        Step.of("ClippingDistortion", {"min_percentile_threshold": 2}),
    ),
)
ROOT = Path(__file__).resolve().parents[2]


def refused(fn, arg) -> str:
    with pytest.raises(RecipeError) as info:
        fn(arg)
    assert "\n" not in info.value.message
    return info.value.message


# -- YAML and dict forms ---------------------------------------------------------------
def test_the_example_reads_and_writes_back_exactly():
    recipe = recipe_from_yaml(EXAMPLE)
    assert recipe.seed == 7
    assert [s.transform for s in recipe.steps] == ["Gain", "AddGaussianSNR", "Shift"]
    assert recipe.steps[0].given() == {"min_gain_db": -6, "max_gain_db": 6, "p": 1.0}
    assert recipe_to_yaml(recipe) == EXAMPLE
    assert recipe_from_yaml(recipe_to_yaml(recipe)) == recipe
    assert recipe_from_dict(recipe_to_dict(recipe)) == recipe
    assert recipe_to_dict(recipe) == {
        "seed": 7,
        "steps": [
            {"Gain": {"min_gain_db": -6, "max_gain_db": 6, "p": 1.0}},
            {"AddGaussianSNR": {"min_snr_db": 10, "max_snr_db": 30, "p": 1.0}},
            {"Shift": {"min_shift": -0.1, "max_shift": 0.1, "p": 1.0}},
        ],
    }


def test_yaml_round_trip_of_every_transform_and_switches():
    text = recipe_to_yaml(FULL)
    assert recipe_from_yaml(text) == FULL
    with_switch = Recipe(seed=0, steps=(Step.of("Shift", {"rollover": False}), Step.of("Gain", {})))
    text = recipe_to_yaml(with_switch)
    assert "  - Shift: {rollover: false}\n  - Gain: {}\n" in text
    assert recipe_from_yaml(text) == with_switch


def test_parameters_keep_the_transforms_order_whatever_the_input():
    a = Step.of("Gain", {"p": 1.0, "max_gain_db": 6, "min_gain_db": -6})
    b = Step.of("Gain", {"min_gain_db": -6, "max_gain_db": 6, "p": 1.0})
    assert a == b and list(a.given()) == ["min_gain_db", "max_gain_db", "p"]
    shuffled = recipe_from_yaml("seed: 7\nsteps:\n  - Gain: {p: 1.0, max_gain_db: 6, min_gain_db: -6}\n")
    assert (
        recipe_to_yaml(shuffled) == "seed: 7\nsteps:\n  - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}\n"
    )
    # Keys in another order (as PostgreSQL's JSONB hands them back) read to an equal recipe.
    assert recipe_from_dict(
        {"steps": [{"Gain": {"p": 1.0, "min_gain_db": -6, "max_gain_db": 6}}], "seed": 7}
    ) == (shuffled)


def test_a_step_without_parameters_reads_as_defaults():
    recipe = recipe_from_yaml("seed: 1\nsteps:\n  - Gain:\n  - PitchShift: {}\n")
    assert recipe.steps[0].kwargs() == {"min_gain_db": -6.0, "max_gain_db": 6.0, "p": 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the recipe is empty"),
        ("seed: [1\n", "the recipe is not valid YAML"),
        ("- Gain: {}\n", "a recipe must be a mapping with 'seed' and 'steps', not list"),
        ("seed: 1\n", "the recipe has no 'steps'"),
        ("steps: [{Gain: {}}]\n", "the recipe has no 'seed'"),
        ("seed: 1\nsteps: []\nname: x\n", "unknown recipe key 'name'; a recipe has 'seed' and 'steps'"),
        ("seed: 1\nsteps: []\n", "a recipe needs at least one step"),
        ("seed: 1\nsteps: {Gain: {}}\n", "'steps' must be a list of steps, not dict"),
        ("seed: 1\nsteps: [Gain]\n", "step 1 must be one 'Transform: {parameters}' mapping, not 'Gain'"),
        ("seed: 1\nsteps: [{Gain: {}, Shift: {}}]\n", "step 1 must be one 'Transform: {parameters}' mapping"),
        ("seed: 1\nsteps: [{Gain: 3}]\n", "step 1: 'Gain' parameters must be a mapping, not 3"),
        ("seed: 1\nsteps: [{Gain: {}}, {Echo: {}}]\n", "step 2: unknown transform 'Echo'; choose one of: "),
        ("seed: 1\nsteps: [{Gain: {p: 2}}]\n", "step 1: Gain.p = 2 is out of range [0, 1]"),
        (
            "seed: 1\nsteps: [{Gain: {min_gain_db: 9}}]\n",
            "step 1: Gain: min_gain_db (9) is greater than max_gain_db (6)",
        ),
        ("seed: x\nsteps: [{Gain: {}}]\n", "the recipe's seed must be a whole number, not 'x'"),
        ("seed: -1\nsteps: [{Gain: {}}]\n", "the recipe's seed must be from 0 to "),
        ("seed: !!python/object:os.system {}\nsteps: []\n", "the recipe is not valid YAML"),
    ],
)
def test_anything_but_a_recipe_is_refused_in_one_line(text, message):
    assert refused(recipe_from_yaml, text).startswith(message)


def test_yaml_errors_name_the_line():
    message = refused(recipe_from_yaml, "seed: 1\nsteps:\n  - Gain: {p: [}\n")
    assert message.endswith("found '}' at line 3, column 16")
    assert refused(recipe_from_yaml, 42) == "a recipe's YAML must be text, not int"


def test_too_many_steps():
    assert refused(recipe_from_dict, {"seed": 1, "steps": [{"Gain": {}}] * 33}) == (
        "a recipe has at most 32 steps, not 33"
    )


# -- keys and seeds ------------------------------------------------------------------------
def test_key_is_stable_and_canonical():
    recipe = recipe_from_yaml(EXAMPLE)
    key = recipe_key(recipe)
    assert len(key) == 16 and int(key, 16) >= 0
    # The same recipe written differently: floats for ints, defaults spelt out, keys reordered.
    same = recipe_from_yaml(
        "seed: 7\nsteps:\n"
        "  - Gain: {max_gain_db: 6.0, min_gain_db: -6.0}\n"
        "  - AddGaussianSNR: {min_snr_db: 10.0, max_snr_db: 30.0, p: 1}\n"
        "  - Shift: {min_shift: -0.1, max_shift: 0.1, rollover: true, fade_duration: 0.005}\n"
    )
    assert same != recipe and recipe_key(same) == key
    assert recipe_key(Recipe(seed=8, steps=recipe.steps)) != key
    assert recipe_key(Recipe(seed=7, steps=recipe.steps[::-1])) != key
    # Stable across releases and processes: a hand-recorded value.
    assert key == "5bd780b18aa357f8"


def test_variant_seed_is_sha256_of_its_inputs():
    recipe = recipe_from_yaml(EXAMPLE)
    payload = f'["audiosoup-augment",1,7,"{recipe_key(recipe)}","abc",2]'
    expected = int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "big") >> 1
    assert variant_seed(recipe, parent_key="abc", variant=2) == expected
    seeds = {variant_seed(recipe, parent_key=p, variant=v) for p in ("a", "b") for v in range(3)}
    assert len(seeds) == 6 and all(0 <= s < 2**63 for s in seeds)
    with pytest.raises(RecipeError, match="parent_key must be a non-empty string"):
        variant_seed(recipe, parent_key="", variant=0)
    with pytest.raises(RecipeError, match="variant must be a whole number from 0"):
        variant_seed(recipe, parent_key="a", variant=-1)


# -- applying ------------------------------------------------------------------------------
def test_gain_matches_the_decibel_formula():
    y = speech_like(SR, seconds=0.5)
    for db in (-6.0, 3.5, 12.0):
        recipe = Recipe(seed=1, steps=(Step.of("Gain", {"min_gain_db": db, "max_gain_db": db}),))
        out = apply_recipe(y, SR, recipe, parent_key="p")
        np.testing.assert_allclose(out, y * 10 ** (db / 20), rtol=1e-6, atol=0)
        assert out.dtype == np.float32


@pytest.mark.parametrize("rollover", [True, False])
@pytest.mark.parametrize("fraction", [0.25, -0.1])
def test_shift_is_a_roll(rollover, fraction):
    y = speech_like(SR, seconds=0.5)
    params = {"min_shift": fraction, "max_shift": fraction, "rollover": rollover, "fade_duration": 0.0}
    out = apply_recipe(y, SR, Recipe(seed=1, steps=(Step.of("Shift", params),)), parent_key="p")
    # audiomentations: np.roll by round(fraction * length); without rollover the gap is zeros.
    k = round(fraction * len(y))
    expected = np.roll(y, k)
    if not rollover:
        if k > 0:
            expected[:k] = 0
        else:
            expected[k:] = 0
    np.testing.assert_array_equal(out, expected)


def test_input_is_left_alone_and_lengths_follow_audiomentations():
    y = speech_like(SR, seconds=0.5).astype(np.float64)
    before = y.copy()
    out = apply_recipe(y, SR, FULL, parent_key="p")
    np.testing.assert_array_equal(y, before)
    assert out.shape == y.shape and out.dtype == np.float32 and out.flags.c_contiguous
    params = {"min_rate": 1.25, "max_rate": 1.25, "leave_length_unchanged": False}
    stretch = Recipe(seed=1, steps=(Step.of("TimeStretch", params),))
    assert abs(len(apply_recipe(y, SR, stretch, parent_key="p")) - len(y) / 1.25) <= 2


def test_same_inputs_give_bit_identical_audio_in_any_order():
    clips = {f"clip{i}": speech_like(SR, seconds=0.4, seed=i) for i in range(3)}
    jobs = [(k, v) for k in clips for v in range(2)]
    first = {(k, v): apply_recipe(clips[k], SR, FULL, parent_key=k, variant=v) for k, v in jobs}
    random.seed(123)
    np.random.seed(456)
    random.random()
    np.random.normal(size=10)
    again = {(k, v): apply_recipe(clips[k], SR, FULL, parent_key=k, variant=v) for k, v in reversed(jobs)}
    for job in jobs:
        assert first[job].tobytes() == again[job].tobytes(), job
    # Another variant, parent or seed is other audio.
    assert not np.array_equal(first[("clip0", 0)], first[("clip0", 1)])
    other_parent = apply_recipe(clips["clip0"], SR, FULL, parent_key="clip1", variant=0)
    assert not np.array_equal(first[("clip0", 0)], other_parent)
    other_seed = apply_recipe(clips["clip0"], SR, Recipe(seed=4, steps=FULL.steps), parent_key="clip0")
    assert not np.array_equal(first[("clip0", 0)], other_seed)


def test_threads_applying_at_once_get_the_same_bytes():
    from concurrent.futures import ThreadPoolExecutor

    clips = {f"c{i}": speech_like(SR, seconds=0.3, seed=i) for i in range(4)}
    jobs = [(k, v) for k in clips for v in range(3)]
    alone = {job: apply_recipe(clips[job[0]], SR, FULL, parent_key=job[0], variant=job[1]) for job in jobs}
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(
                lambda job: apply_recipe(clips[job[0]], SR, FULL, parent_key=job[0], variant=job[1]), jobs
            )
        )
    for job, out in zip(jobs, together, strict=True):
        assert out.tobytes() == alone[job].tobytes(), job


def test_the_callers_random_state_is_restored():
    random.seed(5)
    np.random.seed(6)
    py_state = random.getstate()
    np_state = np.random.get_state()
    apply_recipe(speech_like(SR, seconds=0.3), SR, FULL, parent_key="p")
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


def test_a_step_with_p_below_one_is_drawn_per_variant():
    recipe = Recipe(seed=1, steps=(Step.of("Gain", {"min_gain_db": 6, "max_gain_db": 6, "p": 0.5}),))
    y = speech_like(SR, seconds=0.2)
    outs = [apply_recipe(y, SR, recipe, parent_key="p", variant=v) for v in range(40)]
    applied = [not np.array_equal(out, y) for out in outs]
    assert 5 < sum(applied) < 35


def test_background_noise_from_clips_is_reproducible_whatever_their_order(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / "_background_noise_" / f"n{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, noise(SR, seconds=2.0, seed=i, level=0.2), SR)
        paths.append(path)
    recipe = Recipe(seed=9, steps=(Step.of("AddBackgroundNoise", {"min_snr_db": 10, "max_snr_db": 10}),))
    assert recipe.needs_background and not FULL.needs_background
    y = speech_like(SR, seconds=0.5)
    a = apply_recipe(y, SR, recipe, parent_key="p", background_paths=paths)
    b = apply_recipe(y, SR, recipe, parent_key="p", background_paths=[str(p) for p in reversed(paths)])
    assert a.tobytes() == b.tobytes() and a.shape == y.shape
    # Mixed at the asked signal-to-noise ratio.
    residual = a - y
    snr = 20 * np.log10(np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(residual**2)))
    assert snr == pytest.approx(10.0, abs=0.01)
    with pytest.raises(RecipeError, match="needs background clips"):
        apply_recipe(y, SR, recipe, parent_key="p")


def test_bad_audio_is_refused():
    with pytest.raises(RecipeError, match=r"mono audio \(one dimension\), not shape \(2, 10\)"):
        apply_recipe(np.zeros((2, 10), np.float32), SR, FULL, parent_key="p")
    with pytest.raises(RecipeError, match="sample rate must be a positive whole number"):
        apply_recipe(np.zeros(10, np.float32), 0, FULL, parent_key="p")
    with pytest.raises(RecipeError, match="samples must be floating point"):
        apply_recipe(np.zeros(10, np.int16), SR, FULL, parent_key="p")


_CHILD = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from signals import speech_like
from audiosoup_widgets.audio.recipes import apply_recipe, recipe_from_yaml
recipe = recipe_from_yaml(open(sys.argv[2]).read())
out = apply_recipe(speech_like(16000, seconds=0.4, seed=1), 16000, recipe, parent_key="clip1", variant=1)
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_a_fresh_process_makes_the_same_bytes(tmp_path):
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(recipe_to_yaml(FULL))
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT / "tests"), str(recipe_file)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    here = apply_recipe(speech_like(SR, seconds=0.4, seed=1), SR, FULL, parent_key="clip1", variant=1)
    assert result.stdout.strip() == hashlib.sha256(here.tobytes()).hexdigest()
