"""The grid's toolbar vocabulary: the sort choices shown, and a search text from the browser checked."""

from __future__ import annotations

from typing import Any

from ..services import MAX_SEARCH
from .base import as_str

__all__ = ["SORT_ITEMS", "clean_search"]

#: Sort choices shown to users: (value, title). Values are checked against the store's allow-list.
SORT_ITEMS = (
    ("id", "Order loaded"),
    ("path", "File name (A-Z)"),
    ("-path", "File name (Z-A)"),
    ("label", "Label (A-Z)"),
    ("-label", "Label (Z-A)"),
    ("duration", "Shortest first"),
    ("-duration", "Longest first"),
    ("split", "Split"),
    ("speaker", "Speaker"),
    ("sample_rate", "Sample rate (low first)"),
    ("-sample_rate", "Sample rate (high first)"),
    ("-id", "Newest first"),
    ("-suspicion", "Most suspicious first"),
)


def clean_search(data: Any) -> str:
    """Check a search text from the browser: a string within the length limit, printable."""
    text = as_str(data if data is not None else "", name="search text", max_len=MAX_SEARCH) or ""
    return "".join(c for c in text if c.isprintable()).strip()
