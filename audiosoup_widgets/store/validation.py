"""Checks of what a user types into an edit: reviewer name, reason, label name, metadata.

Shared by every writer of the store (edits, bulk relabel, model decisions, annotations);
each returns the cleaned value or raises :class:`ValidationError` with one plain sentence.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from .models import MAX_NAME, MAX_TEXT

__all__ = ["MAX_META_KEYS", "validate_reviewer", "validate_reason", "validate_label_name", "validate_meta"]

MAX_META_KEYS = 50


def validate_reviewer(name: str) -> str:
    """Return a cleaned reviewer name or raise :class:`ValidationError`."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("enter your name before editing")
    name = name.strip()
    if len(name) > 100:
        raise ValidationError("reviewer name longer than 100 characters")
    return name


def validate_reason(reason: str | None) -> str | None:
    """Return a cleaned reason for an edit (None when empty) or raise :class:`ValidationError`."""
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_TEXT):
        raise ValidationError(f"a reason must be text of at most {MAX_TEXT} characters")
    return (reason.strip() or None) if reason else None


def validate_label_name(name: str) -> str:
    """Return a cleaned label name or raise :class:`ValidationError`."""
    if not isinstance(name, str):
        raise ValidationError("label must be text")
    name = name.strip()
    if not name:
        raise ValidationError("label cannot be empty")
    if len(name) > MAX_NAME:
        raise ValidationError(f"label longer than {MAX_NAME} characters")
    if any(ord(c) < 32 for c in name):
        raise ValidationError("label cannot contain control characters")
    return name


def validate_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Check custom metadata: a flat mapping of short keys to short scalar values."""
    if not isinstance(meta, dict):
        raise ValidationError("metadata must be key/value pairs")
    if len(meta) > MAX_META_KEYS:
        raise ValidationError(f"at most {MAX_META_KEYS} metadata keys")
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if not isinstance(k, str) or not k.strip() or len(k) > 100:
            raise ValidationError("metadata keys must be 1 to 100 characters")
        if v is not None and not isinstance(v, (str, int, float, bool)):
            raise ValidationError(f"metadata value for {k!r} must be text or a number")
        if isinstance(v, str) and len(v) > 1000:
            raise ValidationError(f"metadata value for {k!r} longer than 1000 characters")
        out[k.strip()] = v
    return out
