"""The grid's annotation filters: disagreements, tags, reviewer flags.

:class:`AnnotationFilters` is a part of :class:`~audiosoup_widgets.widgets.SampleGrid`
(a mixin, so the grid stays the one writer of its state traits): the "Disagreements"
switch keeps the clips whose reviewers' label votes differ, the tag box keeps the
clips carrying any chosen tag, and the flag box those a reviewer flagged so. The
store does the filtering, for any size of dataset (the ``disagreement``, ``tags`` and
``reviewer_flags`` keys of :class:`~audiosoup_widgets.services.SampleFilters`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .base import as_str, handler

if TYPE_CHECKING:
    from ..services import Services
    from ..state import ReviewState

__all__ = ["AnnotationFilters", "NO_MODEL", "MAX_FILTER_TAGS"]

#: Why the suspicion sort and filter are off.
NO_MODEL = "fit a model first"
#: Most tags (or flags) one filter holds, and most tags the tag box offers.
MAX_FILTER_TAGS, MAX_TAG_ITEMS = 20, 200


def _words(data: Any, *, name: str) -> list[str]:
    if data is None:
        data = []
    if not isinstance(data, list) or len(data) > MAX_FILTER_TAGS:
        raise ValidationError(f"invalid {name} filter")
    return list(dict.fromkeys((as_str(x, name=name, max_len=64) or "").strip() for x in data if x))


class AnnotationFilters:
    """The grid's annotation filters (mixed into :class:`SampleGrid`)."""

    if TYPE_CHECKING:
        state: ReviewState
        services: Services
        tag_items: list[str]
        flag_items: list[str]

        def _write(self) -> AbstractContextManager[None]: ...

    def _annotation_items(self, dataset: str) -> Iterator[tuple[str, list[str]]]:
        """Yield the tag and flag choices of the toolbar's boxes."""
        ann = self.services.annotations
        yield "tag_items", [t for t, _ in ann.tag_vocabulary(dataset, limit=MAX_TAG_ITEMS)]
        yield "flag_items", list(ann.flags)

    def _clear_annotation_filters(self) -> None:
        s = self.state
        s.disagreements_only = False
        s.tag_filter = []
        s.flag_filter = []

    @handler("keeping the disagreements")
    def vue_set_disagreements(self, data: Any) -> None:
        """Keep only clips whose reviewers' votes disagree (``data`` true) or every clip."""
        if not isinstance(data, bool):
            raise ValidationError("invalid choice")
        with self._write():
            self.state.disagreements_only = data
            self.state.page = 0

    @handler("filtering by tag")
    def vue_set_tag_filter(self, data: Any) -> None:
        """Keep clips carrying any tag of ``data`` (a list; empty for all)."""
        tags = _words(data, name="tag")
        with self._write():
            self.state.tag_filter = tags
            self.state.page = 0

    @handler("filtering by flag")
    def vue_set_flag_filter(self, data: Any) -> None:
        """Keep clips a reviewer flagged with any flag of ``data`` (a list; empty for all)."""
        flags = _words(data, name="flag")
        if set(flags) - set(self.services.annotations.flags):
            raise ValidationError("unknown flag in filter")
        with self._write():
            self.state.flag_filter = flags
            self.state.page = 0
