"""Similarity maps of a dataset: stored feature summaries in, stored 2-D coordinates out.

:func:`project_features` is the public entry (and what the map view runs in the
background): it reads the summaries of all features, or of one family, projects them
with :func:`~audiosoup_widgets.analysis.projection.project` and stores the points with
an input key (:func:`~audiosoup_widgets.analysis.projection.input_key`). The stored map
is reused for as long as that key matches the summaries: a map does not jump when it
is shown again. When summaries change (new clips, a recomputation) the map is
recomputed and aligned onto the stored one, so the clips that were there keep their
place. It never computes features; it names the command that does.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import FeatureError, ValidationError
from .compute import feature_params, open_store
from .summaries import read_summary_matrix

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..features.params import FeatureParams
    from ..store import Store
    from ..store.records import ProjectionRecord

__all__ = [
    "ALL",
    "MAP_METHODS",
    "MapUpdate",
    "map_family",
    "map_features",
    "project_features",
    "read_summaries",
    "update_map",
]

#: The family name a map of every feature is stored under.
ALL = "all"
#: Projection methods, fastest first (mirrors the analysis code's METHODS without importing it).
MAP_METHODS: tuple[str, ...] = ("pca", "umap")

#: ``progress(stage, done, total)``; stages ``reading``, ``projecting``, ``saving``.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MapUpdate:
    """A dataset's map after :func:`update_map`.

    Attributes
    ----------
    record : ProjectionRecord
        The stored map (points in sample-id order, with current labels and splits).
    recomputed : bool
        Whether the coordinates were computed now (False: the stored map was current).
    features : tuple of str
        The features whose summaries the map was computed from.
    n_missing : int
        Samples of the dataset without any summary of those features (not on the map).
    """

    record: ProjectionRecord
    recomputed: bool
    features: tuple[str, ...]
    n_missing: int


def map_family(family: str | None) -> str:
    """Return the stored family name of a map: ``all`` for None, else a checked family."""
    from ..features.registry import FAMILIES

    if family is None or family == ALL:
        return ALL
    if family not in FAMILIES:
        raise ValidationError(
            f"unknown feature family {family!r}; choose one of {', '.join((ALL, *FAMILIES))}"
        )
    return family


def map_features(family: str | None) -> list[str]:
    """Return the feature ids a map of ``family`` (None or ``all``: every feature) is made of."""
    from ..features.registry import FEATURES, features_in

    name = map_family(family)
    return list(FEATURES) if name == ALL else [spec.id for spec in features_in(name)]


def _check_method(method: str) -> str:
    if method not in MAP_METHODS:
        raise ValidationError(f"unknown map method {method!r}; choose one of {', '.join(MAP_METHODS)}")
    return method


def read_summaries(
    store: Store, dataset: str, features: Sequence[str], *, params: FeatureParams | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], list[str]]:
    """Read the stored summaries of ``features`` as one matrix, one row per sample that has any.

    Parameters
    ----------
    store : Store
    dataset : str
    features : sequence of str
        Feature ids, in column order.
    params : FeatureParams, optional
        Which parameter set's summaries (default: the defaults).

    Returns
    -------
    ids : ndarray of int64, shape (n,)
        Sample ids in increasing order.
    values : ndarray of float32, shape (n, d)
        The features' summaries side by side; NaN where a sample lacks one of them.
    used : list of str
        The features that had any stored summary (the others contribute no column).
    """
    read = read_summary_matrix(store, dataset, features, params=params)
    return read.ids, read.values, read.features


def _not_computed(dataset: str, family: str, features: Sequence[str]) -> FeatureError:
    which = "" if family == ALL else f" --features {','.join(features)}"
    what = "feature summaries" if family == ALL else f"summaries of the {family} features"
    return FeatureError(
        f"no {what} are stored for {dataset!r} yet, so there is nothing to map; run: "
        f"audiosoup features compute --dataset {shlex.quote(dataset)}{which}",
        code="not_computed",
    )


def update_map(
    dataset: str,
    *,
    family: str | None = None,
    method: str = "pca",
    db: Store | str | None = None,
    recompute: bool = False,
    params: FeatureParams | dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> MapUpdate:
    """Bring a dataset's stored map up to date and return it (see :func:`project_features`).

    Returns
    -------
    MapUpdate

    Raises
    ------
    ValidationError
        An unknown family or method.
    NotFoundError
        An unknown dataset.
    FeatureError
        ``not_computed``: the dataset has samples but no summaries of the map's features.
    """
    from ..analysis.projection import align, input_key, project

    name = map_family(family)
    _check_method(method)
    features = map_features(name)
    fp = feature_params(params)
    store = open_store(db)
    size = store.get_dataset(dataset).n_samples
    report: Progress = progress or _quiet
    report("reading", 0, 1)
    ids, values, used = read_summaries(store, dataset, features, params=fp)
    report("reading", 1, 1)
    if not len(ids):
        if size:
            raise _not_computed(dataset, name, features)
        return MapUpdate(_empty(dataset, name, method), False, (), 0)
    keys = ",".join(f"{f}={fp.key_for(f)}" for f in used)
    key = input_key(ids, values, method=method, extra=f"{name}|{keys}")
    stored = store.load_projection(dataset, family=name, method=method)
    if stored is not None and stored.input_key == key and not recompute:
        return MapUpdate(stored, False, tuple(used), size - len(ids))
    xy = project(values, method=method, progress=lambda done, total: report("projecting", done, total))
    present = np.isfinite(xy).all(axis=1)
    ids, xy = ids[present], xy[present]
    if stored is not None and len(stored.sample_ids) and len(ids):
        # Keep the clips already on screen where they were: same rotation, side and scale.
        previous = np.full(xy.shape, np.nan, np.float64)
        pos = np.searchsorted(stored.sample_ids, ids).clip(0, len(stored.sample_ids) - 1)
        known = stored.sample_ids[pos] == ids
        previous[known, 0] = stored.x[pos[known]]
        previous[known, 1] = stored.y[pos[known]]
        xy = align(previous, xy)
    report("saving", 0, 1)
    store.save_projection(dataset, family=name, method=method, input_key=key, sample_ids=ids, xy=xy)
    record = store.load_projection(dataset, family=name, method=method)
    report("saving", 1, 1)
    if record is None:  # every clip was deleted meanwhile, or none had a finite row
        record = _empty(dataset, name, method)
    return MapUpdate(record, True, tuple(used), size - len(ids))


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _empty(dataset: str, family: str, method: str) -> ProjectionRecord:
    """Return a map without points (a dataset without clips)."""
    import datetime as dt

    from ..store.records import ProjectionRecord

    return ProjectionRecord(
        dataset=dataset,
        family=family,
        method=method,
        input_key="",
        computed_at=dt.datetime.now(dt.UTC),
        sample_ids=np.zeros(0, np.int64),
        x=np.zeros(0, np.float32),
        y=np.zeros(0, np.float32),
        label=[],
        split=[],
    )


def project_features(
    dataset: str,
    *,
    family: str | None = None,
    method: str = "pca",
    db: Store | str | None = None,
    recompute: bool = False,
    params: FeatureParams | dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Return a dataset's similarity map: one 2-D point per clip with stored summaries.

    The coordinates are stored. A later call returns the stored ones while the
    summaries they came from are unchanged (the same clips with the same values,
    the same method and parameters), and recomputes them otherwise, aligned onto
    the stored map so that clips keep their place.

    Parameters
    ----------
    dataset : str
        Dataset name.
    family : {None, 'spectral', 'rhythmic', 'deltas'}
        Map the summaries of one feature family; None (or ``'all'``) maps every
        stored feature.
    method : {'pca', 'umap'}
        ``pca`` (the default: seconds for 100,000 clips) or ``umap`` (umap-learn, an
        optional dependency; minutes for 100,000 clips).
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    recompute : bool
        Recompute even if the stored map is current.
    params : FeatureParams or dict, optional
        Which parameter set's summaries to read (default: the defaults).
    progress : callable, optional
        ``progress(stage, done, total)`` with stage ``reading``, ``projecting`` or ``saving``.

    Returns
    -------
    pandas.DataFrame
        ``sample_id``, ``x``, ``y`` (float32), ``label`` and ``split`` (current
        values, may be missing), in sample-id order. Clips without any summary of
        the mapped features are left out.

    Raises
    ------
    ValidationError
        An unknown family or method.
    NotFoundError
        An unknown dataset.
    FeatureError
        ``not_computed`` when no summaries are stored; the message names the command.
    ConfigError
        ``method='umap'`` without umap-learn installed.
    """
    import pandas as pd

    rec = update_map(
        dataset,
        family=family,
        method=method,
        db=db,
        recompute=recompute,
        params=params,
        progress=progress,
    ).record
    return pd.DataFrame(
        {
            "sample_id": rec.sample_ids,
            "x": rec.x,
            "y": rec.y,
            "label": pd.array(rec.label, dtype="string"),
            "split": pd.array(rec.split, dtype="string"),
        }
    )
