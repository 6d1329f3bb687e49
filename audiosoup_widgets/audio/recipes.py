"""Augmentation recipes: an ordered chain of transforms with a seed, and applying it.

This module owns the recipe (:class:`Recipe` of :class:`Step`), its YAML and dict forms,
its canonical key (:func:`recipe_key`), the seed of each derived clip
(:func:`variant_seed`) and applying a recipe to one clip (:func:`apply_recipe`).

A recipe in YAML names each transform by its audiomentations class with that class's
keyword arguments::

    seed: 7
    steps:
      - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}
      - AddGaussianSNR: {min_snr_db: 10, max_snr_db: 30, p: 1.0}

Determinism: audiomentations draws from Python's ``random`` and numpy's global
generator. :func:`apply_recipe` seeds both from :func:`variant_seed` (a SHA-256 of the
recipe's seed, its key, the parent clip's key and the variant number, never Python's
salted ``hash``) and restores their previous state afterwards, under one lock, so the
same recipe, parent and variant give bit-identical audio in any process and in any
order, and the caller's own random draws are left as they were.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import RecipeError
from .transforms import ParamValue, build, get_transform, validate_step

__all__ = [
    "RECIPE_FORMAT",
    "MAX_STEPS",
    "Step",
    "Recipe",
    "recipe_from_dict",
    "recipe_to_dict",
    "recipe_from_yaml",
    "recipe_to_yaml",
    "canonical_spec",
    "recipe_key",
    "variant_seed",
    "apply_recipe",
]

RECIPE_FORMAT = 1
"""The version of the canonical form hashed by :func:`recipe_key` and :func:`variant_seed`."""

MAX_STEPS = 32
"""The most steps a recipe may chain."""

MAX_SEED = 2**63 - 1
"""The largest recipe seed (it is stored as a signed 64-bit integer)."""

_MAX_YAML_CHARS = 65536

# Held while the global generators are seeded and in use, so two threads applying
# recipes (a Dask worker's threads, the dashboard's background jobs) never interleave.
_RNG_LOCK = threading.RLock()


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Step:
    """One step of a recipe: a transform and the parameters it sets.

    Parameters
    ----------
    transform : str
        The audiomentations class name (a key of
        :data:`~audiosoup_widgets.audio.transforms.TRANSFORMS`).
    params : tuple of (str, value)
        The parameters as written; those left out take their default. Use :meth:`of` to
        build a step from a mapping. Checked on construction, and kept in the
        transform's display order (so the order they were written in, or a database's
        JSON reordering, never makes two steps differ).
    """

    transform: str
    params: tuple[tuple[str, ParamValue], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.params, tuple):
            raise RecipeError(f"{self.transform}: parameters must be a tuple of (name, value) pairs")
        validate_step(self.transform, dict(self.params))
        order = list(get_transform(self.transform).params)
        object.__setattr__(self, "params", tuple(sorted(self.params, key=lambda kv: order.index(kv[0]))))

    @classmethod
    def of(cls, transform: str, params: Mapping[str, ParamValue] | None = None) -> Step:
        """Build a step from a mapping of parameters (checked)."""
        if params is not None and not isinstance(params, Mapping):
            raise RecipeError(f"{transform}: parameters must be a mapping, not {_show(params)}")
        return cls(transform, tuple((params or {}).items()))

    def given(self) -> dict[str, ParamValue]:
        """Return the parameters as written (in the transform's display order)."""
        return dict(self.params)

    def kwargs(self) -> dict[str, ParamValue]:
        """Every parameter, defaults filled in (the transform's keyword arguments)."""
        return validate_step(self.transform, dict(self.params))


@dataclass(frozen=True)
class Recipe:
    """An ordered chain of transforms and the seed their random draws start from.

    Parameters
    ----------
    seed : int
        From 0 to :data:`MAX_SEED`. Another seed gives other variants.
    steps : tuple of Step
        One to :data:`MAX_STEPS` steps, applied in order.
    """

    seed: int
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise RecipeError(f"the recipe's seed must be a whole number, not {_show(self.seed)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise RecipeError(f"the recipe's seed must be from 0 to {MAX_SEED}, not {self.seed}")
        if not isinstance(self.steps, tuple) or not all(isinstance(s, Step) for s in self.steps):
            raise RecipeError("the recipe's steps must be a tuple of Step")
        if not self.steps:
            raise RecipeError("a recipe needs at least one step")
        if len(self.steps) > MAX_STEPS:
            raise RecipeError(f"a recipe has at most {MAX_STEPS} steps, not {len(self.steps)}")

    @property
    def needs_background(self) -> bool:
        """Whether applying it needs background clips (an ``AddBackgroundNoise`` step)."""
        return any(get_transform(s.transform).needs_background for s in self.steps)


def recipe_from_dict(data: object) -> Recipe:
    """Read a recipe from its dict form (``{"seed": 7, "steps": [{"Gain": {...}}, ...]}``).

    Raises
    ------
    RecipeError
        One line naming the step and what is wrong, for anything but that shape or a
        refused parameter.
    """
    if not isinstance(data, Mapping):
        raise RecipeError(f"a recipe must be a mapping with 'seed' and 'steps', not {type(data).__name__}")
    extra = [k for k in data if k not in ("seed", "steps")]
    if extra:
        raise RecipeError(f"unknown recipe key {_show(extra[0])}; a recipe has 'seed' and 'steps'")
    for key in ("seed", "steps"):
        if key not in data:
            raise RecipeError(f"the recipe has no {key!r}")
    raw_steps = data["steps"]
    if not isinstance(raw_steps, list | tuple):
        raise RecipeError(f"'steps' must be a list of steps, not {type(raw_steps).__name__}")
    steps = []
    for i, item in enumerate(raw_steps, start=1):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise RecipeError(f"step {i} must be one 'Transform: {{parameters}}' mapping, not {_show(item)}")
        ((name, params),) = item.items()
        if params is not None and not isinstance(params, Mapping):
            raise RecipeError(f"step {i}: {_show(name)} parameters must be a mapping, not {_show(params)}")
        try:
            steps.append(Step.of(name, params))
        except RecipeError as exc:
            raise RecipeError(f"step {i}: {exc.message}") from None
    return Recipe(seed=data["seed"], steps=tuple(steps))


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Return the recipe's dict form (JSON- and YAML-ready), parameters as written."""
    return {"seed": recipe.seed, "steps": [{s.transform: s.given()} for s in recipe.steps]}


def recipe_from_yaml(text: str) -> Recipe:
    """Read a recipe from YAML (``yaml.safe_load``; see the module's example).

    Raises
    ------
    RecipeError
        One line: text that is not YAML (with its line), too long, or not a recipe.
    """
    if not isinstance(text, str):
        raise RecipeError(f"a recipe's YAML must be text, not {type(text).__name__}")
    if len(text) > _MAX_YAML_CHARS:
        raise RecipeError(f"the recipe is longer than {_MAX_YAML_CHARS} characters")
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RecipeError(f"the recipe is not valid YAML: {exc.problem or 'unreadable'}{where}") from None
    except yaml.YAMLError:
        raise RecipeError("the recipe is not valid YAML") from None
    if data is None:
        raise RecipeError("the recipe is empty")
    return recipe_from_dict(data)


def recipe_to_yaml(recipe: Recipe) -> str:
    """Write a recipe as YAML (``yaml.safe_dump``), one flow-style line per step.

    The text reads back (:func:`recipe_from_yaml`) to an equal recipe.
    """
    # Each step on one line, as people write them; the width keeps a long step unwrapped.
    lines = [yaml.safe_dump({"seed": recipe.seed}, sort_keys=False).rstrip("\n"), "steps:"]
    for step in recipe.steps:
        text = yaml.safe_dump(
            {step.transform: step.given()}, default_flow_style=None, sort_keys=False, width=2**31 - 1
        )
        lines.append("  - " + text.rstrip("\n"))
    return "\n".join(lines) + "\n"


def canonical_spec(recipe: Recipe) -> dict[str, Any]:
    """Return the recipe in canonical form: every parameter filled in, numbers of one type.

    Two recipes that do the same thing (one writes ``6``, the other ``6.0``, or leaves a
    parameter at its default) have the same canonical form and :func:`recipe_key`.
    """
    return {
        "format": RECIPE_FORMAT,
        "seed": recipe.seed,
        "steps": [[s.transform, s.kwargs()] for s in recipe.steps],
    }


def recipe_key(recipe: Recipe) -> str:
    """Return a short, stable key of the recipe: 16 hex digits of the SHA-256 of its canonical JSON."""
    text = json.dumps(canonical_spec(recipe), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def variant_seed(recipe: Recipe, *, parent_key: str, variant: int = 0) -> int:
    """Return the seed of one derived clip, from 0 to 2**63 - 1 (a signed 64-bit column).

    Parameters
    ----------
    recipe : Recipe
        The recipe (its seed and :func:`recipe_key` enter the hash).
    parent_key : str
        A stable key of the parent clip: its content hash, or an id string such as
        ``"sample:42"``. The same key must be given whenever the variant is remade.
    variant : int
        Which variant of this parent (0, 1, 2, ...).
    """
    if not isinstance(parent_key, str) or not parent_key:
        raise RecipeError(f"parent_key must be a non-empty string, not {_show(parent_key)}")
    if isinstance(variant, bool) or not isinstance(variant, int) or variant < 0:
        raise RecipeError(f"variant must be a whole number from 0, not {_show(variant)}")
    payload = json.dumps(
        ["audiosoup-augment", RECIPE_FORMAT, recipe.seed, recipe_key(recipe), parent_key, variant],
        separators=(",", ":"),
    )
    return int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[:8], "big") >> 1


def apply_recipe(
    y: np.ndarray,
    sr: int,
    recipe: Recipe,
    *,
    parent_key: str,
    variant: int = 0,
    background_paths: Sequence[str | Path] | None = None,
) -> np.ndarray:
    """Apply a recipe's steps in order to one mono clip; return a new float32 array.

    Parameters
    ----------
    y : ndarray, shape (n,)
        The parent's samples (mono; any float dtype, converted to float32). Never modified.
    sr : int
        Its sample rate in Hz.
    recipe : Recipe
        The steps and seed.
    parent_key : str
        A stable key of the parent (see :func:`variant_seed`).
    variant : int
        Which variant of this parent.
    background_paths : sequence of path, optional
        The background clips for ``AddBackgroundNoise`` steps (ignored by the others).
        The same set must be given to remake the same variant; their order does not matter.

    Returns
    -------
    ndarray, shape (m,), float32
        The derived clip. Its length is the parent's (``m == n``) for every transform
        except ``TimeStretch`` with ``leave_length_unchanged: false``, whose output is
        about ``n / rate`` long, as in audiomentations. Values are not clipped: a gain
        or added noise may exceed full scale (a writer of PCM files must clip).

    Raises
    ------
    RecipeError
        For audio that is not mono, a bad sample rate, parent key or variant, or missing
        background clips.
    """
    samples = np.asarray(y)
    if samples.ndim != 1:
        raise RecipeError(f"a recipe applies to mono audio (one dimension), not shape {samples.shape}")
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise RecipeError(f"the sample rate must be a positive whole number, not {_show(sr)}")
    if not np.issubdtype(samples.dtype, np.floating):
        raise RecipeError(f"samples must be floating point, not {samples.dtype}")
    seed = variant_seed(recipe, parent_key=parent_key, variant=variant)
    out = np.array(samples, dtype=np.float32, copy=True, order="C")
    transforms = [
        build(s.transform, s.given(), background_paths=background_paths if _needs(s) else None)
        for s in recipe.steps
    ]
    with _RNG_LOCK:
        py_state = random.getstate()
        np_state = np.random.get_state()
        try:
            random.seed(seed)
            # numpy's legacy seed takes 32-bit words: both halves of the 63-bit seed.
            np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
            for transform in transforms:
                out = transform(out, int(sr))
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
    return np.ascontiguousarray(out, dtype=np.float32)


def _needs(step: Step) -> bool:
    return get_transform(step.transform).needs_background
