"""Stored feature summaries as a pandas DataFrame: one row per sample, one column per value.

:func:`feature_frame` reads what :mod:`~audiosoup_widgets.jobs.compute` stored; it
never computes, and says which command to run when summaries are missing.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FeatureError
from .compute import feature_names, feature_params, open_store
from .summaries import read_summary_matrix

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..features.params import FeatureParams
    from ..store import Store

__all__ = ["feature_frame"]


def feature_frame(
    dataset: str,
    features: Sequence[str] | None = None,
    *,
    db: Store | str | None = None,
    label: str | None = None,
    split: str | None = None,
    params: FeatureParams | dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Return the stored feature summaries of a dataset as a pandas DataFrame.

    Parameters
    ----------
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: all).
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    label, split : str, optional
        Keep only samples with this label or in this split.
    params : FeatureParams or dict, optional
        Which parameter set's summaries to read (default: the defaults).

    Returns
    -------
    pandas.DataFrame
        One row per sample: ``sample_id``, ``path``, ``label``, ``split``, then
        one float32 column per summary value named ``<feature>_<stat>_<index>``
        (``stat`` is ``mean`` or ``std`` over time). Samples not computed yet
        have NaN.

    Raises
    ------
    FeatureError
        ``not_computed`` if the dataset has samples but no stored summaries of
        a requested feature; the message names the command to run.
    """
    import pandas as pd

    store = open_store(db)
    names = feature_names(features)
    fp = feature_params(params)
    base = store.sample_columns(dataset, label=label, split=split)
    ids = np.asarray(base["sample_id"], dtype=np.int64)
    frame = pd.DataFrame(
        {
            "sample_id": ids,
            "path": pd.array(base["path"], dtype="string"),
            "label": pd.array(base["label"], dtype="string"),
            "split": pd.array(base["split"], dtype="string"),
        }
    )
    # The filters go to the store with the dataset; every sample of the table is a row.
    read = read_summary_matrix(store, dataset, names, params=fp, label=label, split=split)
    missing = [name for name in names if name not in read.features]
    if missing and len(ids):
        # Rows without feature columns look like success; say what to run instead.
        every = set(missing) == set(feature_names(None))
        what = "feature summaries" if every else f"summaries of {', '.join(missing)}"
        which = "" if every else f" --features {','.join(missing)}"
        params_note = "" if fp == feature_params(None) else " (with the same --param values)"
        raise FeatureError(
            f"no {what} are stored for {dataset!r} yet; run: audiosoup features compute "
            f"--dataset {shlex.quote(dataset)}{which}{params_note}",
            code="not_computed",
        )
    if read.columns:
        values = read.values
        if not np.array_equal(read.ids, ids):
            # Samples added since the computation have no summaries yet: NaN rows.
            values = np.full((len(ids), len(read.columns)), np.nan, np.float32)
            pos = np.searchsorted(ids, read.ids).clip(0, max(len(ids) - 1, 0))
            keep = ids[pos] == read.ids if len(ids) else np.zeros(len(read.ids), bool)
            values[pos[keep]] = read.values[keep]
        frame = pd.concat([frame, pd.DataFrame(values, columns=read.columns, copy=False)], axis=1)
    return frame
