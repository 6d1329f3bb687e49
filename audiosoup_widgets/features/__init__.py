"""Pure audio features: the registry, the batch engine, summaries and export formats.

This subpackage depends on numpy, librosa (and pyarrow/PyYAML for export) and on
:mod:`audiosoup_widgets.errors` only: never on the store or on any UI library, so it
can run in a worker process or a notebook without them.

>>> from audiosoup_widgets.features import compute_features, FEATURES
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use: the registry, parameters and export formats are
# light, but the engine loads librosa and numba's compiled code (seconds, tens of
# MB), which a dashboard kernel or the CLI's argument parser should not pay for
# until a feature is actually computed.
_LAZY = {
    "feature_coords": "coords",
    "compute_features": "engine",
    "compute_features_with_status": "engine",
    "unpad": "engine",
    "warm_up": "engine",
    "FORMATS": "export",
    "make_provenance": "export",
    "read_export": "export",
    "write_export": "export",
    "ENGINE_VERSION": "params",
    "STATUSES": "params",
    "FeatureParams": "params",
    "FeatureResult": "params",
    "FAMILIES": "registry",
    "FEATURES": "registry",
    "Axis": "registry",
    "FeatureSpec": "registry",
    "features_in": "registry",
    "get_feature": "registry",
    "full_to_record": "summaries",
    "record_to_full": "summaries",
    "summarize": "summaries",
    "summary_columns": "summaries",
    "summary_row": "summaries",
}

if TYPE_CHECKING:  # pragma: no cover
    from .coords import feature_coords
    from .engine import compute_features, compute_features_with_status, unpad, warm_up
    from .export import FORMATS, make_provenance, read_export, write_export
    from .params import ENGINE_VERSION, STATUSES, FeatureParams, FeatureResult
    from .registry import FAMILIES, FEATURES, Axis, FeatureSpec, features_in, get_feature
    from .summaries import (
        full_to_record,
        record_to_full,
        summarize,
        summary_columns,
        summary_row,
    )

__all__ = [
    "Axis",
    "ENGINE_VERSION",
    "FAMILIES",
    "FEATURES",
    "FORMATS",
    "FeatureParams",
    "FeatureResult",
    "FeatureSpec",
    "STATUSES",
    "compute_features",
    "compute_features_with_status",
    "feature_coords",
    "features_in",
    "full_to_record",
    "get_feature",
    "make_provenance",
    "read_export",
    "record_to_full",
    "summarize",
    "summary_columns",
    "summary_row",
    "unpad",
    "warm_up",
    "write_export",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
