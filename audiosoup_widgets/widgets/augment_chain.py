"""The Augment tab's chain: steps of transforms with checked values, and the lists it shows.

:class:`Chain` is the chain the reviewer is building, held on the server: each step a
transform from the augmentation service's list and a value per parameter. Every change
the browser asks for is checked here against the transform's safe range (its kind,
whole-number steps, a minimum not above its maximum) before the service checks the
whole chain again; a refused value leaves the chain as it was and says why in one line.

:func:`transform_items` and :func:`recipe_items` turn what the service returns into the
plain dictionaries the template shows (names and explanations as text).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ValidationError

__all__ = ["Chain", "transform_items", "latest_recipes", "recipe_items", "MAX_STEPS", "MAX_VARIANTS"]

#: Most steps in one chain, and most variants made of each clip at once.
MAX_STEPS, MAX_VARIANTS = 8, 10


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _slider_step(kind: str, lo: float, hi: float, multiple: int | None) -> float:
    if kind == "int":
        return float(multiple or 1)
    if kind == "bool":
        return 1.0
    span = hi - lo
    if span <= 0:
        return 1.0
    raw = span / 100
    return float(f"{raw:.1g}")


def _label(name: str) -> str:
    """Return a parameter's name as words: ``min_gain_db`` -> ``Min gain``, ``p`` -> ``Chance``."""
    if name == "p":
        return "Chance"
    words = [w for w in name.split("_") if w not in ("db", "freq")]
    text = " ".join(words) or name
    return text[:1].upper() + text[1:]


def _param(name: str, p: Any) -> dict[str, Any]:
    kind = str(_get(p, "kind", "float") or "float")
    lo, hi = float(_get(p, "min", 0.0)), float(_get(p, "max", 1.0))
    multiple = _get(p, "multiple_of")
    default = _get(p, "default", lo)
    return {
        "name": name,
        "label": _label(name),
        "kind": kind,
        "min": lo,
        "max": hi,
        "default": bool(default) if kind == "bool" else float(default),
        "unit": str(_get(p, "unit", "") or ""),
        "help": str(_get(p, "help", "") or ""),
        "multiple_of": int(multiple) if multiple else None,
        "step": _slider_step(kind, lo, hi, int(multiple) if multiple else None),
    }


def transform_items(raw: Iterable[Any]) -> list[dict[str, Any]]:
    """Return the service's transforms as the template lists them (in the service's order)."""
    items = []
    for t in raw:
        params = _get(t, "params", {}) or {}
        if isinstance(params, Mapping):
            plist = [_param(str(k), v) for k, v in params.items()]
        else:
            plist = [_param(str(_get(p, "name")), p) for p in params]
        name = str(_get(t, "name"))
        items.append(
            {
                "name": name,
                "title": str(_get(t, "title", name) or name),
                "explanation": str(_get(t, "explanation", "") or ""),
                "params": plist,
            }
        )
    return items


def latest_recipes(raw: Iterable[Any]) -> dict[str, Any]:
    """Return each recipe name's latest stored version (records listed oldest first), by name."""
    latest: dict[str, Any] = {}
    for r in raw:
        name = str(_get(r, "name", ""))
        if name not in latest or _get(r, "version", 0) >= _get(latest[name], "version", 0):
            latest[name] = r
    return latest


def recipe_items(latest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return a dataset's saved recipes (their latest versions) as the template lists them."""
    out = []
    for name, r in sorted(latest.items()):
        spec = _get(r, "spec", {}) or {}
        steps = spec.get("steps", ()) if isinstance(spec, Mapping) else ()
        out.append({"name": name, "version": int(_get(r, "version", 1) or 1), "n_steps": len(list(steps))})
    return out


def _fmt(x: float) -> str:
    return f"{x:g}"


class Chain:
    """The chain under construction: steps (transform, parameter values) and a seed.

    Parameters
    ----------
    transforms : list of dict
        The transforms offered (:func:`transform_items`).
    """

    def __init__(self, transforms: list[dict[str, Any]]) -> None:
        self.transforms = {t["name"]: t for t in transforms}
        self.steps: list[dict[str, Any]] = []
        self.seed = 0

    def copy(self) -> Chain:
        """Return an independent copy (to restore after a refused change)."""
        other = Chain([])
        other.transforms = self.transforms
        other.steps = copy.deepcopy(self.steps)
        other.seed = self.seed
        return other

    def _transform(self, name: str) -> dict[str, Any]:
        t = self.transforms.get(name)
        if t is None:
            raise ValidationError("Unknown transform; choose one from the list.")
        return t

    def _index(self, index: int) -> int:
        if not 0 <= index < len(self.steps):
            raise ValidationError("That step is not in the chain.")
        return index

    @staticmethod
    def _defaults(t: dict[str, Any]) -> dict[str, Any]:
        return {p["name"]: p["default"] if p["kind"] != "int" else int(p["default"]) for p in t["params"]}

    def add(self, name: str) -> None:
        """Add a step of transform ``name`` at its defaults, at the end."""
        t = self._transform(name)
        if len(self.steps) >= MAX_STEPS:
            raise ValidationError(f"A chain holds at most {MAX_STEPS} steps.")
        self.steps.append({"transform": name, "params": self._defaults(t)})

    def replace(self, index: int, name: str) -> None:
        """Make step ``index`` a step of transform ``name`` at its defaults."""
        t = self._transform(name)
        self.steps[self._index(index)] = {"transform": name, "params": self._defaults(t)}

    def remove(self, index: int) -> None:
        """Remove step ``index``."""
        del self.steps[self._index(index)]

    def move(self, index: int, by: int) -> None:
        """Move step ``index`` up (``by`` = -1) or down (+1); nothing past either end."""
        i = self._index(index)
        j = i + by
        if not 0 <= j < len(self.steps):
            raise ValidationError("That step cannot move further.")
        self.steps[i], self.steps[j] = self.steps[j], self.steps[i]

    def set(self, index: int, name: str, value: Any) -> None:
        """Set one parameter of step ``index``, or raise a one-line :class:`ValidationError`."""
        step = self.steps[self._index(index)]
        t = self.transforms[step["transform"]]
        spec = next((p for p in t["params"] if p["name"] == name), None)
        if spec is None:
            raise ValidationError(f"{t['title']} has no parameter “{name}”.")
        step["params"] = {**step["params"], name: self._checked(t, spec, value)}
        self._check_pairs(t, step["params"])

    @staticmethod
    def _checked(t: dict[str, Any], spec: dict[str, Any], value: Any) -> Any:
        what = f"{t['title']}: {spec['label']}"
        if spec["kind"] == "bool":
            if not isinstance(value, bool):
                raise ValidationError(f"{what} is on or off.")
            return value
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValidationError(f"{what} must be a number.") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"{what} must be a number.")
        unit = f" {spec['unit']}" if spec["unit"] else ""
        if not spec["min"] <= value <= spec["max"]:
            raise ValidationError(
                f"{what} = {_fmt(value)} is outside its safe range, "
                f"{_fmt(spec['min'])} to {_fmt(spec['max'])}{unit}."
            )
        if spec["kind"] == "int":
            if value != int(value):
                raise ValidationError(f"{what} must be a whole number.")
            value = int(value)
            if spec["multiple_of"] and value % spec["multiple_of"]:
                raise ValidationError(f"{what} must be a multiple of {spec['multiple_of']}{unit}.")
            return value
        return float(value)

    @staticmethod
    def _check_pairs(t: dict[str, Any], params: dict[str, Any]) -> None:
        for name, value in params.items():
            if name.startswith("min_") and "max_" + name[4:] in params and value > params["max_" + name[4:]]:
                label = name[4:].replace("_", " ")
                raise ValidationError(
                    f"{t['title']}: the smallest {label} ({_fmt(value)}) is above the largest "
                    f"({_fmt(params['max_' + name[4:]])}); move one of them."
                )

    def as_steps(self) -> list[dict[str, Any]]:
        """Return the steps as the service takes them: ``[{"transform", "params"}]``."""
        return copy.deepcopy(self.steps)

    def items(self) -> list[dict[str, Any]]:
        """Return the steps as the template shows them (each parameter with its range and value)."""
        out = []
        for i, step in enumerate(self.steps):
            t = self.transforms.get(
                step["transform"], {"title": step["transform"], "explanation": "", "params": []}
            )
            out.append(
                {
                    "index": i,
                    "transform": step["transform"],
                    "title": t["title"],
                    "explanation": t["explanation"],
                    "params": [
                        {**p, "value": step["params"].get(p["name"], p["default"])} for p in t["params"]
                    ],
                }
            )
        return out

    @classmethod
    def from_recipe(cls, transforms: list[dict[str, Any]], recipe: Any) -> Chain:
        """Return the chain of a saved recipe (its steps and seed)."""
        chain = cls(transforms)
        for step in _get(recipe, "steps", ()) or ():
            name = str(_get(step, "transform", _get(step, "name", "")))
            t = chain._transform(name)
            params = {**cls._defaults(t), **dict(_get(step, "params", {}) or {})}
            chain.steps.append({"transform": name, "params": params})
        chain.seed = int(_get(recipe, "seed", 0) or 0)
        return chain
