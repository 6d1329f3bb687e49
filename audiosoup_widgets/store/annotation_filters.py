"""Annotations as SQL filters of sample queries: disagreements, tags and reviewer flags.

:func:`annotation_conditions` turns the annotation fields of a
:class:`~audiosoup_widgets.store.queries.SampleQuery` into conditions on ``samples.id``:

* ``disagreement``: the sample's current votes hold two or more distinct labels;
* ``tags``: the sample carries any of these tags;
* ``reviewer_flags``: the sample carries any of these reviewer flags (not the quality
  flags of ingest, which ``status`` filters).

Each is a subquery over the annotation tables' indexes, and every value travels as a
bound parameter, so a page of 100,000 clips is still one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, select

from ..errors import ValidationError
from .models import MAX_TAG, AnnotationFlag, AnnotationTag, AnnotationVote, Sample

if TYPE_CHECKING:
    from .queries import SampleQuery

__all__ = ["annotation_conditions", "check_annotation_filters", "MAX_FILTER_WORDS"]

#: Most tags or flags one filter may name.
MAX_FILTER_WORDS = 50


def _words(values: Iterable[Any], what: str) -> tuple[str, ...]:
    if isinstance(values, (str, bytes)):
        values = (values,)
    out = tuple(values)
    if len(out) > MAX_FILTER_WORDS:
        raise ValidationError(f"at most {MAX_FILTER_WORDS} {what} in a filter")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_TAG for v in out):
        raise ValidationError(f"{what} in a filter must be text of 1 to {MAX_TAG} characters")
    return out


def check_annotation_filters(query: SampleQuery) -> None:
    """Check a query's annotation fields and store them as tuples (raises ValidationError)."""
    object.__setattr__(query, "tags", _words(query.tags, "tags"))
    object.__setattr__(query, "reviewer_flags", _words(query.reviewer_flags, "reviewer flags"))
    if not isinstance(query.disagreement, bool):
        raise ValidationError("the disagreement filter is true or false")


def annotation_conditions(query: SampleQuery) -> list[ColumnElement[bool]]:
    """Return the conditions on ``samples.id`` of a query's annotation fields (none when unset)."""
    conds: list[ColumnElement[bool]] = []
    if query.disagreement:
        disputed = (
            select(AnnotationVote.sample_id)
            .group_by(AnnotationVote.sample_id)
            .having(func.count(func.distinct(AnnotationVote.label)) >= 2)
        )
        conds.append(Sample.id.in_(disputed))
    if query.tags:
        tagged = select(AnnotationTag.sample_id).where(AnnotationTag.tag.in_(query.tags))
        conds.append(Sample.id.in_(tagged))
    if query.reviewer_flags:
        flagged = select(AnnotationFlag.sample_id).where(AnnotationFlag.flag.in_(query.reviewer_flags))
        conds.append(Sample.id.in_(flagged))
    return conds
