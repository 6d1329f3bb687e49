"""The augmentation transforms: a curated set of audiomentations' waveform transforms.

This module owns the catalogue (:data:`TRANSFORMS`) of the transforms a recipe may
use, each named by its audiomentations class, with a plain-language explanation and
the parameters it takes: their safe ranges, defaults and units. It validates a step's
parameters (:func:`validate_step`) and builds the audiomentations object
(:func:`build`). It draws no random numbers itself; :mod:`.recipes` seeds and
isolates the global generators audiomentations draws from.

audiomentations (and librosa under it) is imported only when a transform is built, so
listing the catalogue costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecipeError

__all__ = [
    "ParamValue",
    "ParamSpec",
    "TransformSpec",
    "TRANSFORMS",
    "get_transform",
    "validate_step",
    "build",
    "background_files",
]

ParamValue = float | int | bool
"""The value of one transform parameter (YAML numbers and booleans)."""

KINDS: tuple[str, ...] = ("float", "int", "bool")

# Shift refuses a fade shorter than this (audiomentations' DURATION_EPSILON), except 0.
_MIN_FADE_S = 0.00025


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a transform: its safe range, default and meaning.

    Parameters
    ----------
    min, max : float
        The safe range, inclusive (0 and 1 for a boolean).
    default : float, int or bool
        The value a recipe step gets when it leaves the parameter out. It may differ
        from audiomentations' own default (``p`` is 1.0 here: a step always applies).
    unit : str
        The unit shown beside the value ("dB", "Hz", "s", "" for none).
    help : str
        One plain sentence on what the parameter does.
    kind : {'float', 'int', 'bool'}
        The type of value: a number, a whole number, or true/false.
    multiple_of : int or None
        A whole number the value must be a multiple of (filter roll-offs: 6 dB/octave).
    """

    min: float
    max: float
    default: ParamValue
    unit: str = ""
    help: str = ""
    kind: str = "float"
    multiple_of: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")


@dataclass(frozen=True)
class TransformSpec:
    """Everything a recipe editor and a validator need to know about one transform.

    Parameters
    ----------
    name : str
        The audiomentations class name, also the transform's name in a recipe.
    title : str
        A short human title.
    explanation : str
        A plain-language paragraph (2-4 sentences) a non-expert can follow.
    params : dict of str to ParamSpec
        The parameters a step may set, in display order; each is a keyword argument
        of the audiomentations class.
    needs_background : bool
        Whether :func:`build` needs background clips (``background_paths``).
    """

    name: str
    title: str
    explanation: str
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    needs_background: bool = False

    @property
    def ranges(self) -> tuple[tuple[str, str], ...]:
        """The ``(min_x, max_x)`` parameter pairs whose minimum may not exceed the maximum."""
        return tuple(
            (name, "max_" + name[4:])
            for name in self.params
            if name.startswith("min_") and "max_" + name[4:] in self.params
        )

    def defaults(self) -> dict[str, ParamValue]:
        """Every parameter at its default."""
        return {name: spec.default for name, spec in self.params.items()}


_P = ParamSpec(
    0.0, 1.0, 1.0, "", "The chance that a variant gets this step at all (1 = always, 0.5 = half of them)."
)


def _rolloff(default: int, which: str) -> ParamSpec:
    return ParamSpec(
        6,
        48,
        default,
        "dB/octave",
        f"The {which} steepness of the filter's edge, drawn per variant in steps of 6 dB/octave.",
        kind="int",
        multiple_of=6,
    )


_SPECS: tuple[TransformSpec, ...] = (
    TransformSpec(
        name="Gain",
        title="Gain (louder or quieter)",
        explanation=(
            "Makes the whole clip louder or quieter by a random amount between the two "
            "limits, in decibels: +6 dB is about twice the amplitude, -6 dB about half. "
            "It teaches a model that loudness alone does not change what a sound is. "
            "Large gains can push peaks past full scale."
        ),
        params={
            "min_gain_db": ParamSpec(-24.0, 24.0, -6.0, "dB", "The smallest gain drawn."),
            "max_gain_db": ParamSpec(-24.0, 24.0, 6.0, "dB", "The largest gain drawn."),
            "p": _P,
        },
    ),
    TransformSpec(
        name="AddGaussianSNR",
        title="Hiss (Gaussian noise at a signal-to-noise ratio)",
        explanation=(
            "Adds steady hiss, like a noisy microphone, at a random signal-to-noise ratio "
            "between the two limits: the level of the clip over the level of the noise, in "
            "decibels. A lower number means more noise; 10 dB is clearly noisy, 30 dB faint."
        ),
        params={
            "min_snr_db": ParamSpec(0.0, 60.0, 10.0, "dB", "The noisiest ratio drawn."),
            "max_snr_db": ParamSpec(0.0, 60.0, 30.0, "dB", "The cleanest ratio drawn."),
            "p": _P,
        },
    ),
    TransformSpec(
        name="AddBackgroundNoise",
        title="Background noise from the dataset's own clips",
        explanation=(
            "Mixes in a stretch of a real background recording, such as the clips of Speech "
            "Commands' _background_noise_ label, picked at random with a random start, at a "
            "random signal-to-noise ratio between the two limits. A lower number means "
            "louder background. The background clips are chosen when the recipe is applied."
        ),
        params={
            "min_snr_db": ParamSpec(0.0, 40.0, 5.0, "dB", "The loudest background drawn."),
            "max_snr_db": ParamSpec(0.0, 40.0, 25.0, "dB", "The quietest background drawn."),
            "p": _P,
        },
        needs_background=True,
    ),
    TransformSpec(
        name="Shift",
        title="Time shift",
        explanation=(
            "Moves the sound earlier or later inside the clip by a random fraction of its "
            "length (0.1 is a tenth of it; negative moves it earlier). With rollover, what "
            "falls off one end comes back at the other; without, the gap is silence. The "
            "clip keeps its length, and a short fade hides the seam."
        ),
        params={
            "min_shift": ParamSpec(-0.5, 0.5, -0.1, "of the length", "The earliest shift drawn."),
            "max_shift": ParamSpec(-0.5, 0.5, 0.1, "of the length", "The latest shift drawn."),
            "rollover": ParamSpec(
                0, 1, True, "", "Wrap what falls off one end around to the other end.", kind="bool"
            ),
            "fade_duration": ParamSpec(
                0.0,
                0.05,
                0.005,
                "s",
                f"A fade at the seam to avoid a click (0 for none, else at least {_MIN_FADE_S} s).",
            ),
            "p": _P,
        },
    ),
    TransformSpec(
        name="TimeStretch",
        title="Time stretch (faster or slower, same pitch)",
        explanation=(
            "Plays the sound faster or slower by a random rate between the two limits "
            "without changing its pitch: 1.1 is 10% faster, 0.9 10% slower. By default "
            "the clip keeps its length: a faster sound ends in silence, a slower one is cut."
        ),
        params={
            "min_rate": ParamSpec(0.5, 2.0, 0.9, "x", "The slowest rate drawn."),
            "max_rate": ParamSpec(0.5, 2.0, 1.1, "x", "The fastest rate drawn."),
            "leave_length_unchanged": ParamSpec(
                0, 1, True, "", "Pad or cut the result back to the clip's length.", kind="bool"
            ),
            "p": _P,
        },
    ),
    TransformSpec(
        name="PitchShift",
        title="Pitch shift (higher or lower, same speed)",
        explanation=(
            "Raises or lowers the pitch by a random number of semitones between the two "
            "limits without changing the speed: 12 semitones is an octave, 1 or 2 sound "
            "like a slightly different voice. Large shifts sound artificial."
        ),
        params={
            "min_semitones": ParamSpec(-12.0, 12.0, -2.0, "semitones", "The lowest shift drawn."),
            "max_semitones": ParamSpec(-12.0, 12.0, 2.0, "semitones", "The highest shift drawn."),
            "p": _P,
        },
    ),
    TransformSpec(
        name="LowPassFilter",
        title="Low-pass filter (muffled)",
        explanation=(
            "Keeps the low frequencies and removes those above a random cutoff between the "
            "two limits, so the sound gets muffled, as through a wall or a cheap speaker. "
            "A lower cutoff muffles more; the roll-off says how sharp the edge is."
        ),
        params={
            "min_cutoff_freq": ParamSpec(50.0, 20000.0, 2000.0, "Hz", "The lowest cutoff drawn."),
            "max_cutoff_freq": ParamSpec(50.0, 20000.0, 7500.0, "Hz", "The highest cutoff drawn."),
            "min_rolloff": _rolloff(12, "gentlest"),
            "max_rolloff": _rolloff(24, "sharpest"),
            "p": _P,
        },
    ),
    TransformSpec(
        name="HighPassFilter",
        title="High-pass filter (thin)",
        explanation=(
            "Removes the low frequencies below a random cutoff between the two limits and "
            "keeps those above, so the sound gets thinner, like a small phone speaker, and "
            "low rumble disappears. A higher cutoff thins it more."
        ),
        params={
            "min_cutoff_freq": ParamSpec(20.0, 8000.0, 50.0, "Hz", "The lowest cutoff drawn."),
            "max_cutoff_freq": ParamSpec(20.0, 8000.0, 500.0, "Hz", "The highest cutoff drawn."),
            "min_rolloff": _rolloff(12, "gentlest"),
            "max_rolloff": _rolloff(24, "sharpest"),
            "p": _P,
        },
    ),
    TransformSpec(
        name="BandPassFilter",
        title="Band-pass filter (telephone)",
        explanation=(
            "Keeps only a band of frequencies around a random centre and removes the rest, "
            "like a telephone line or a radio. The bandwidth is a fraction of the centre "
            "frequency: a smaller fraction keeps a narrower band."
        ),
        params={
            "min_center_freq": ParamSpec(50.0, 10000.0, 200.0, "Hz", "The lowest centre drawn."),
            "max_center_freq": ParamSpec(50.0, 10000.0, 4000.0, "Hz", "The highest centre drawn."),
            "min_bandwidth_fraction": ParamSpec(0.1, 1.99, 0.5, "of the centre", "The narrowest band drawn."),
            "max_bandwidth_fraction": ParamSpec(0.1, 1.99, 1.99, "of the centre", "The widest band drawn."),
            "min_rolloff": _rolloff(12, "gentlest"),
            "max_rolloff": _rolloff(24, "sharpest"),
            "p": _P,
        },
    ),
    TransformSpec(
        name="ClippingDistortion",
        title="Clipping distortion (overdriven)",
        explanation=(
            "Flattens the loudest peaks, the way an overdriven microphone or a recording "
            "made too loud does: a random percentage of the samples, between the two limits, "
            "is cut to the level of the rest. More clipping sounds harsher."
        ),
        params={
            "min_percentile_threshold": ParamSpec(
                0, 40, 0, "%", "The smallest share of samples clipped.", kind="int"
            ),
            "max_percentile_threshold": ParamSpec(
                0, 40, 20, "%", "The largest share of samples clipped.", kind="int"
            ),
            "p": _P,
        },
    ),
)

TRANSFORMS: dict[str, TransformSpec] = {spec.name: spec for spec in _SPECS}
"""Every transform a recipe may use, by audiomentations class name, in display order."""


def _show(value: object) -> str:
    """Show a value in a one-line message: escaped (repr) and short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def get_transform(name: object) -> TransformSpec:
    """Return the transform called ``name``.

    Raises
    ------
    RecipeError
        If no transform has that name.
    """
    spec = TRANSFORMS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise RecipeError(f"unknown transform {_show(name)}; choose one of: {', '.join(TRANSFORMS)}")
    return spec


def _check_value(transform: str, name: str, spec: ParamSpec, value: object) -> ParamValue:
    where = f"{transform}.{name}"
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise RecipeError(f"{where} must be true or false, not {_show(value)}")
        return value
    # bool is an int to Python; a recipe that says "true" for a number is a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecipeError(f"{where} must be a number, not {_show(value)}")
    if not math.isfinite(value):
        raise RecipeError(f"{where} must be a finite number, not {_show(value)}")
    if spec.kind == "int":
        if value != int(value):
            raise RecipeError(f"{where} must be a whole number, not {_show(value)}")
        value = int(value)
    else:
        value = float(value)
    if not spec.min <= value <= spec.max:
        unit = f" {spec.unit}" if spec.unit else ""
        raise RecipeError(f"{where} = {value:g} is out of range [{spec.min:g}, {spec.max:g}]{unit}")
    if spec.multiple_of and value % spec.multiple_of:
        raise RecipeError(f"{where} = {value:g} must be a multiple of {spec.multiple_of}")
    return value


def validate_step(name: object, params: object = None) -> dict[str, ParamValue]:
    """Check one step's parameters and return all of them, defaults filled in.

    Parameters
    ----------
    name : str
        The transform's audiomentations class name (a key of :data:`TRANSFORMS`).
    params : mapping of str to value, optional
        The parameters the step sets; those left out take their default.

    Returns
    -------
    dict
        Every parameter of the transform in display order: floats as ``float``, whole
        numbers as ``int``, switches as ``bool`` (canonical, so equal steps compare equal).

    Raises
    ------
    RecipeError
        One line: an unknown transform or parameter, a value of the wrong type, out of
        its range, or a minimum greater than its maximum.
    """
    spec = get_transform(name)
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise RecipeError(f"{spec.name}: parameters must be a mapping of name to value, not {_show(params)}")
    for key in params:
        if key not in spec.params:
            raise RecipeError(
                f"{spec.name}: unknown parameter {_show(key)}; it takes: {', '.join(spec.params)}"
            )
    out = spec.defaults()
    for key, value in params.items():
        out[key] = _check_value(spec.name, key, spec.params[key], value)
    for low, high in spec.ranges:
        if out[low] > out[high]:
            raise RecipeError(f"{spec.name}: {low} ({out[low]:g}) is greater than {high} ({out[high]:g})")
    fade = out.get("fade_duration")
    if spec.name == "Shift" and isinstance(fade, float) and 0 < fade < _MIN_FADE_S:
        raise RecipeError(f"Shift.fade_duration must be 0 (no fade) or at least {_MIN_FADE_S} s")
    return out


def background_files(paths: Sequence[str | Path] | None) -> list[str]:
    """Return the background clips of ``AddBackgroundNoise``, checked, in a stable order.

    The order is sorted and duplicates dropped, so the clip a seed picks does not depend
    on the order the caller listed them in.

    Raises
    ------
    RecipeError
        If there are none, or one is not an existing file audiomentations can read.
    """
    if not paths:
        raise RecipeError("AddBackgroundNoise needs background clips, and none were given")
    out = sorted({str(p) for p in paths})
    for p in out:
        if not p.lower().endswith(_supported_extensions()):
            raise RecipeError(f"background clip {_show(Path(p).name)} is not a supported audio file")
        if not Path(p).is_file():
            raise RecipeError(f"background clip {_show(Path(p).name)} is not an existing file")
    return out


def _supported_extensions() -> tuple[str, ...]:
    _audiomentations()
    from audiomentations.core.utils import SUPPORTED_EXTENSIONS  # type: ignore[import-untyped]

    return tuple(SUPPORTED_EXTENSIONS)


def _audiomentations() -> Any:
    """Import audiomentations, librosa's compiled code first under the cache lock."""
    from .. import jitcache

    jitcache.import_librosa()
    import audiomentations  # type: ignore[import-untyped]

    return audiomentations


def build(
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    background_paths: Sequence[str | Path] | None = None,
) -> Any:
    """Build the audiomentations transform of one validated step.

    Parameters
    ----------
    name : str
        The transform's audiomentations class name.
    params : mapping, optional
        The step's parameters (validated here; those left out take their default).
    background_paths : sequence of path, optional
        The background clips, needed by ``AddBackgroundNoise`` alone (its
        ``sounds_path``); sorted and checked by :func:`background_files`.

    Returns
    -------
    audiomentations.core.transforms_interface.BaseWaveformTransform
        A fresh transform. Calling it draws from Python's ``random`` and numpy's global
        generator: :func:`~audiosoup_widgets.audio.recipes.apply_recipe` seeds and
        restores them around the call.

    Raises
    ------
    RecipeError
        For a refused step, or background clips missing or unusable.
    """
    kwargs: dict[str, Any] = dict(validate_step(name, params))
    spec = TRANSFORMS[name]
    if spec.needs_background:
        kwargs["sounds_path"] = background_files(background_paths)
        kwargs["noise_rms"] = "relative"
    cls = getattr(_audiomentations(), spec.name)
    try:
        return cls(**kwargs)
    except (ValueError, AssertionError) as exc:  # the library's own checks, past ours
        raise RecipeError(f"{spec.name}: {str(exc).splitlines()[0] if str(exc) else 'refused'}") from exc
