"""The grid's origin filter (original clips, derived clips or both) and what a derived card says.

:class:`OriginFilter` is a part of :class:`~audiosoup_widgets.widgets.SampleGrid` (a
mixin, so the grid stays the one writer of ``state.origin_filter``): the toolbar's
"Origin" box keeps the clips as loaded, the clips derived from them by an augmentation
recipe, or both. The store does the filtering (the ``origin`` key of
:class:`~audiosoup_widgets.services.SampleFilters`).

A derived clip's card says so: "derived from <parent> · <recipe>", as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AudiosoupError, ValidationError
from .base import handler

if TYPE_CHECKING:
    from collections.abc import Sequence
    from contextlib import AbstractContextManager

    from ..services import SampleRecord, Services
    from ..state import ReviewState

__all__ = ["OriginFilter", "ORIGIN_ITEMS", "derived_note"]

#: The origin box's choices (``None``: every clip).
ORIGIN_ITEMS: tuple[dict[str, Any], ...] = (
    {"title": "Originals and derived", "value": None},
    {"title": "Originals", "value": "original"},
    {"title": "Derived", "value": "derived"},
)


def derived_note(parent: str, recipe: str) -> str:
    """Return what a derived clip's card says about where it comes from."""
    text = f"derived from {parent}" if parent else "derived"
    return f"{text} · {recipe}" if recipe else text


class OriginFilter:
    """The grid's origin filter and derived cards (mixed into :class:`SampleGrid`)."""

    if TYPE_CHECKING:
        state: ReviewState
        services: Services

        def _write(self) -> AbstractContextManager[None]: ...

    @handler("filtering by origin")
    def vue_set_origin(self, data: Any) -> None:
        """Keep original clips (``"original"``), derived ones (``"derived"``) or both (None)."""
        if data not in (None, "original", "derived"):
            raise ValidationError("invalid origin; choose originals, derived or both")
        with self._write():
            self.state.origin_filter = data
            self.state.page = 0

    def _mark_derived(
        self, cards: list[dict[str, Any]], records: Sequence[SampleRecord]
    ) -> list[dict[str, Any]]:
        """Add ``derived`` (a plain sentence, or "") to each card of ``records``."""
        derived = [r for r in records if r.parent_id is not None]
        if not derived:
            return cards
        try:
            recipes = {rec.id: rec.name for rec in self.services.augment.recipes(self.state.dataset)}
        except AudiosoupError:
            recipes = {}  # the cards still say they are derived
        parents: dict[int, str] = {}
        notes: dict[int, str] = {}
        for r in derived:
            pid = int(r.parent_id or 0)
            if pid not in parents:
                try:
                    parents[pid] = self.services.samples.get(pid).file_name
                except AudiosoupError:
                    parents[pid] = ""  # the parent was deleted: the clip is still derived
            notes[r.id] = derived_note(parents[pid], recipes.get(r.recipe_id or 0, ""))
        return [{**c, "derived": notes.get(c["id"], "")} for c in cards]
