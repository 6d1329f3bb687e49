"""Audio Soup widgets: review, listen to and curate audio datasets in Jupyter and Voila."""

from __future__ import annotations

from .errors import (
    AudiosoupError,
    ConflictError,
    DecodeError,
    FeatureError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from .store import Store, connect

__version__ = "0.1.0"

__all__ = [
    "AudiosoupError", "ConflictError", "DecodeError", "FeatureError", "NotFoundError",
    "StoreError", "ValidationError", "Store", "connect", "__version__",
]
