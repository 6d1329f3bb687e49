"""Words every layer shares: the dataset splits a sample can belong to."""

from __future__ import annotations

#: The splits a sample can be stored in (``None``: not assigned).
SPLITS: tuple[str, ...] = ("train", "validation", "test")

__all__ = ["SPLITS"]
