"""AugmentService: the augmentation lab's use cases.

The transforms offered (the registry as plain values), a chain of steps checked into
a recipe, a fast preview of one clip (its decoded audio comes from
:class:`~audiosoup_widgets.services.audio.AudioService`'s cache, so trying one
setting after another decodes once), the augmented clip as a WAV for A/B listening,
and a recipe applied to a selection, listed and deleted
(:mod:`audiosoup_widgets.jobs.augment`). A preview is exactly what would be stored:
the same seed (the clip's relative path and content hash, the variant) and the same
16-bit rounding.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..audio.recipes import Recipe
from ..errors import ValidationError
from ..jobs.augment import AugmentReport, augment_dataset, delete_augmented, parent_key, to_pcm16
from ..store import Store
from ..store.records import RecipeRecord, SampleRecord
from .audio import AudioService
from .samples import SampleService, as_sample_id

__all__ = ["AugmentService", "IN_PROCESS_ITEMS"]

#: Up to this many clips (parents times variants) are made in the kernel's own process:
#: starting worker processes costs more than it saves.
IN_PROCESS_ITEMS = 200


def _plain(value: Any) -> Any:
    """Return a registry entry as plain dicts, lists, numbers and text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class AugmentService:
    """Transforms, recipes, previews and derived clips of one store.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        Records and their files (its caches are dropped after clips are added or deleted).
    audio : AudioService
        Decoded audio, cached by content.
    """

    def __init__(self, store: Store, samples: SampleService, audio: AudioService) -> None:
        self._store = store
        self._samples = samples
        self._audio = audio

    def transforms(self) -> list[dict[str, Any]]:
        """Return every transform a recipe may use, as plain dicts (name first)."""
        from ..audio.transforms import TRANSFORMS

        out = []
        for name, spec in TRANSFORMS.items():
            entry = _plain(spec)
            out.append({"name": name, **(entry if isinstance(entry, dict) else {"spec": entry})})
        return out

    def validate_chain(self, steps: Sequence[Mapping[str, Any]], *, seed: int = 0) -> Recipe:
        """Return the recipe of a chain of steps, each checked.

        Parameters
        ----------
        steps : sequence of mapping
            Each step as ``{"transform": name, "params": {...}}`` (a form's values) or as
            the recipe file writes it, ``{name: {...}}``.
        seed : int
            The recipe's seed.

        Raises
        ------
        RecipeError
            For an unknown transform or a parameter out of range, in one line.
        """
        from ..audio.recipes import recipe_from_dict

        chain = [
            {step["transform"]: dict(step.get("params") or {})}
            if isinstance(step, Mapping) and "transform" in step
            else step
            for step in steps
        ]
        return recipe_from_dict({"seed": seed, "steps": chain})

    def preview(
        self, record: SampleRecord, recipe: Recipe, *, variant: int = 0
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Return a clip's audio and its augmented copy (as it would be stored), float32.

        Returns
        -------
        original : np.ndarray, float32
        augmented : np.ndarray, float32
            Rounded to 16-bit steps, as the stored FLAC file holds it.
        sr : int
        """
        from ..audio.recipes import apply_recipe

        if variant < 0:
            raise ValidationError("variant must be 0 or more")
        y, sr = self._audio.decode(record)
        out = apply_recipe(
            y, sr, recipe, parent_key=parent_key(record.path, record.content_hash), variant=variant
        )
        pcm = to_pcm16(out)
        return y, (pcm.astype(np.float32) / np.float32(32767.0)), sr

    def wav_bytes(self, record: SampleRecord, recipe: Recipe, *, variant: int = 0) -> bytes:
        """Return the augmented copy of a clip as a 16-bit WAV file (for A/B listening)."""
        import soundfile as sf

        _, out, sr = self.preview(record, recipe, variant=variant)
        buf = io.BytesIO()
        sf.write(buf, to_pcm16(out), sr, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    def apply_to(
        self,
        ids: Iterable[object],
        recipe: Recipe,
        *,
        name: str,
        variants: int = 1,
        reviewer: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> AugmentReport:
        """Make and store ``variants`` augmented copies of the clips ``ids`` (one dataset).

        Derived clips among ``ids`` are left out (a copy of a copy is never made).
        """
        wanted = [as_sample_id(i) for i in ids]
        if not wanted:
            raise ValidationError("select at least one clip to augment")
        dataset = self._samples.get(wanted[0]).dataset
        small = len(wanted) * max(variants, 1) <= IN_PROCESS_ITEMS
        report = augment_dataset(
            dataset,
            recipe,
            name=name,
            variants=variants,
            ids=wanted,
            db=self._store,
            workers=1 if small else None,
            progress=progress,
            reviewer=reviewer,
        )
        self._samples.forget()
        return report

    def recipes(self, dataset: str) -> list[RecipeRecord]:
        """Return the recipes stored for a dataset."""
        return self._store.list_recipes(dataset)

    def save(self, dataset: str, recipe: Recipe, *, name: str, reviewer: str) -> RecipeRecord:
        """Store ``recipe`` under ``name`` without making clips (a new version, or the latest if equal)."""
        return self._store.save_recipe(dataset, name, recipe, reviewer=reviewer)

    def delete(self, dataset: str, recipe: str | int) -> int:
        """Delete a recipe's derived clips (rows and files); return how many."""
        n = delete_augmented(dataset, recipe, db=self._store)
        self._samples.forget()
        return n
