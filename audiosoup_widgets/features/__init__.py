"""Pure audio features: the registry, the batch engine, summaries and export formats.

This subpackage depends on numpy, librosa (and pyarrow/PyYAML for export) and on
:mod:`audiosoup_widgets.errors` only: never on the store or on any UI library, so it
can run in a worker process or a notebook without them.

>>> from audiosoup_widgets.features import compute_features, FEATURES
"""

from __future__ import annotations

from .coords import feature_coords
from .engine import compute_features, compute_features_with_status, unpad, warm_up
from .export import FORMATS, make_provenance, read_export, write_export
from .params import ENGINE_VERSION, STATUSES, FeatureParams, FeatureResult
from .registry import FAMILIES, FEATURES, Axis, FeatureSpec, features_in, get_feature
from .summaries import full_to_record, record_to_full, summarize, summary_columns, summary_row

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
