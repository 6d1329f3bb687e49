"""The one reader of stored feature summaries: sample ids in, one matrix and its column names out.

Frames (:func:`~audiosoup_widgets.jobs.frames.feature_frame`), exports, maps
(:mod:`~audiosoup_widgets.jobs.projection`), the quality check
(:func:`~audiosoup_widgets.jobs.qc.summary_matrix`) and the group comparisons of the
services all read summaries through :func:`read_summary_matrix`. The store hands back
one block per layout (:meth:`~audiosoup_widgets.store.Store.summary_blocks`); this
module puts them side by side under the columns of
:func:`~audiosoup_widgets.features.summaries.summary_columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..store.vectors import stack_blocks
from .compute import feature_params

if TYPE_CHECKING:  # pragma: no cover
    from ..features.params import FeatureParams
    from ..store import Store

__all__ = ["SummaryMatrix", "read_summary_matrix"]


@dataclass(frozen=True)
class SummaryMatrix:
    """Stored summaries side by side.

    Attributes
    ----------
    ids : ndarray of int64, shape (n,)
        The rows' sample ids: those asked for, in that order (see ``align``), or else
        every sample with any of the summaries, by id.
    values : ndarray of float32, shape (n, d)
        NaN where a sample lacks a feature.
    columns : list of str
        ``<feature>_<stat>_<row>`` of each column.
    features : list of str
        The features with any stored summary, in column order (the others have no column).
    n_rows : list of int
        Each of those features' rows (it takes ``2 * n_rows`` columns: means, then stds).
    """

    ids: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]
    columns: list[str]
    features: list[str]
    n_rows: list[int]

    def feature_values(self, feature: str) -> npt.NDArray[np.float32]:
        """Return one feature's columns (an empty ``(n, 0)`` array if it has none)."""
        col = 0
        for f, n in zip(self.features, self.n_rows, strict=True):
            if f == feature:
                return self.values[:, col : col + 2 * n]
            col += 2 * n
        return self.values[:, :0]


def read_summary_matrix(
    store: Store,
    dataset: str,
    features: Sequence[str] | None = None,
    *,
    family: str | None = None,
    params: FeatureParams | dict[str, Any] | None = None,
    ids: Sequence[int] | npt.NDArray[np.int64] | None = None,
    label: str | None = None,
    split: str | None = None,
    align: bool = True,
) -> SummaryMatrix:
    """Read the stored summaries of ``features`` (or of one family) as one matrix.

    Parameters
    ----------
    store : Store
    dataset : str
    features : sequence of str, optional
        Feature ids, in column order (default: every feature, or ``family``'s).
    family : str, optional
        A feature family (see :data:`~audiosoup_widgets.features.registry.FAMILIES`),
        when ``features`` is not given.
    params : FeatureParams or dict, optional
        Which parameter set's summaries (default: the defaults).
    ids : sequence of int, optional
        Only these samples (the set is pushed down into the store query).
    label, split : str, optional
        Keep only samples with this label or in this split.
    align : bool
        With ``ids``, one row per id in that order, NaN for a sample without summaries
        (the default); False: only the samples with any summary, by id.

    Returns
    -------
    SummaryMatrix
    """
    from ..features.registry import FEATURES, features_in
    from ..features.summaries import summary_columns

    if features is None:
        names = [spec.id for spec in features_in(family)] if family is not None else list(FEATURES)
    else:
        names = list(features)
    fp = feature_params(params)
    wanted = None if ids is None else np.asarray(ids, dtype=np.int64)
    blocks = store.summary_blocks(
        dataset, [(name, fp.key_for(name)) for name in names], label=label, split=split, ids=wanted
    )
    target = wanted if align else None
    row_ids, values, used, n_rows = stack_blocks(blocks, names, ids=target)
    columns = [c for f, n in zip(used, n_rows, strict=True) for c in summary_columns(f, n)]
    return SummaryMatrix(row_ids, values, columns, used, n_rows)
