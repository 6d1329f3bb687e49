"""Audio Soup widgets: review, listen to and curate audio datasets in Jupyter and Voila.

The public API is imported lazily, so a worker process that only decodes audio
or computes features does not pay for SQLAlchemy or the widget libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AudiosoupError,
    ConflictError,
    DecodeError,
    FeatureError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from .version import __version__

_LAZY = {
    "Store": "store",
    "connect": "store",
    "compute_features": "features",
    "FEATURES": "features",
    "feature_frame": "jobs.frames",
    "project_features": "jobs.projection",
    "rank_features": "jobs.ranking",
    "export_features": "jobs.export",
    "compute_dataset": "jobs.compute",
    "load_dataset": "jobs.ingest",
    "fit_model": "jobs.model",
    "label_suspects": "jobs.model",
    "agreement": "jobs.agreement",
    "search_text": "jobs.text",
    "label_merge_suggestions": "jobs.text",
    "tag_merge_suggestions": "jobs.text",
    "ReviewState": "state",
    "SampleGrid": "widgets",
    "MetadataEditor": "widgets",
    "FeatureExplorer": "widgets",
    "build_review_app": "app",
    "show": "app",
    "labels_frame": "jobs.labels",
    "export_dataset": "jobs.labels",
    "augment": "jobs.augment",
    "delete_augmented": "jobs.augment",
    "invariance_check": "jobs.invariance",
}

__all__ = [
    "AudiosoupError",
    "ConflictError",
    "DecodeError",
    "FeatureError",
    "NotFoundError",
    "StoreError",
    "ValidationError",
    "__version__",
    "Store",
    "connect",
    "compute_features",
    "FEATURES",
    "feature_frame",
    "project_features",
    "rank_features",
    "export_features",
    "compute_dataset",
    "load_dataset",
    "fit_model",
    "label_suspects",
    "agreement",
    "search_text",
    "label_merge_suggestions",
    "tag_merge_suggestions",
    "ReviewState",
    "SampleGrid",
    "MetadataEditor",
    "FeatureExplorer",
    "build_review_app",
    "show",
    "labels_frame",
    "export_dataset",
    "augment",
    "delete_augmented",
    "invariance_check",
]

if TYPE_CHECKING:  # pragma: no cover
    from .app import build_review_app, show
    from .features import FEATURES, compute_features
    from .jobs.agreement import agreement
    from .jobs.augment import augment, delete_augmented
    from .jobs.compute import compute_dataset
    from .jobs.export import export_features
    from .jobs.frames import feature_frame
    from .jobs.ingest import load_dataset
    from .jobs.invariance import invariance_check
    from .jobs.labels import export_dataset, labels_frame
    from .jobs.model import fit_model, label_suspects
    from .jobs.projection import project_features
    from .jobs.ranking import rank_features
    from .jobs.text import label_merge_suggestions, search_text
    from .state import ReviewState
    from .store import Store, connect
    from .widgets import FeatureExplorer, MetadataEditor, SampleGrid


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'audiosoup_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
