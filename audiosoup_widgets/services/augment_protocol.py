"""The augmentation lab's part of the typed seam (re-exported by :mod:`.protocols`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the records and results, for the annotations only
    import numpy as np

    from ..audio.recipes import Recipe
    from ..jobs.augment import AugmentReport
    from ..store.records import RecipeRecord, SampleRecord

__all__ = ["AugmentServices"]


class AugmentServices(Protocol):
    """The augmentation lab (:class:`~.augment.AugmentService`)."""

    def transforms(self) -> list[dict[str, Any]]:
        """Return every transform a recipe may use, as plain dicts."""

    def validate_chain(self, steps: Sequence[Mapping[str, Any]], *, seed: int = ...) -> Recipe:
        """Return the recipe of a chain of steps, each checked (one-line RecipeError)."""

    def preview(
        self, record: SampleRecord, recipe: Recipe, *, variant: int = ...
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Return a clip's audio and its augmented copy (as stored), float32, and the rate."""

    def wav_bytes(self, record: SampleRecord, recipe: Recipe, *, variant: int = ...) -> bytes:
        """Return the augmented copy as a 16-bit WAV (A/B listening)."""

    def apply_to(
        self,
        ids: Iterable[object],
        recipe: Recipe,
        *,
        name: str,
        variants: int = ...,
        reviewer: str | None = ...,
        progress: Callable[[int, int], None] | None = ...,
    ) -> AugmentReport:
        """Make and store augmented copies of the clips ``ids``."""

    def recipes(self, dataset: str) -> list[RecipeRecord]:
        """Return the recipes stored for a dataset."""

    def save(self, dataset: str, recipe: Recipe, *, name: str, reviewer: str) -> RecipeRecord:
        """Store a recipe under a name without making clips."""

    def delete(self, dataset: str, recipe: str | int) -> int:
        """Delete a recipe's derived clips (rows and files); return how many."""
