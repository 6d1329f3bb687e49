"""Where a clip comes from, as a filter of sample queries: original or derived (augmented).

An original clip was loaded from disk (``parent_id`` NULL); a derived one was made from a
parent by an augmentation recipe (``parent_id`` set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement

from ..errors import ValidationError
from .models import Sample

if TYPE_CHECKING:
    from .queries import SampleQuery

__all__ = ["ORIGINS", "check_origin", "origin_conditions"]

ORIGINS: tuple[str, ...] = ("original", "derived")
"""The values of :attr:`SampleQuery.origin` (None: both)."""


def check_origin(query: SampleQuery) -> None:
    """Check a query's ``origin`` (raises ValidationError)."""
    if query.origin is not None and query.origin not in ORIGINS:
        raise ValidationError(f"unknown origin {query.origin!r}; choose one of {', '.join(ORIGINS)}")


def origin_conditions(query: SampleQuery) -> list[ColumnElement[bool]]:
    """Return the condition of a query's ``origin`` (none when unset)."""
    if query.origin == "original":
        return [Sample.parent_id.is_(None)]
    if query.origin == "derived":
        return [Sample.parent_id.is_not(None)]
    return []
