"""Near-duplicate groups of feature rows: standardised, reduced, searched by chunked brute force.

This module owns :func:`near_duplicate_groups` and its result, :class:`NearGroups`: the
rule of cleanlab's ``NearDuplicateIssueManager`` (a pair closer than a fraction of the
median nearest-neighbour distance) over feature summaries with missing cells, at the
scale of a dataset (100,000 rows of 352 columns take about 30 s of processor time, most
of it the neighbour search). :mod:`~audiosoup_widgets.analysis.qc` turns its groups into
findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = ["NEIGHBOURS", "COMPONENTS", "NearGroups", "near_duplicate_groups"]

#: Neighbours examined per distinct row: cleanlab's default ``k``.
NEIGHBOURS = 10
#: Principal components kept from wider feature matrices before the neighbour search.
COMPONENTS = 32

# Query rows per chunk of the search: one progress report each, bounded memory.
_CHUNK = 8192


@dataclass(frozen=True)
class NearGroups:
    """Near-duplicate groups of feature rows and the numbers behind them.

    Attributes
    ----------
    groups : list of np.ndarray of int
        Row positions (into the features given) of each group of 2+ rows, ascending,
        the groups ordered by their first row.
    links : list of float
        Per group, its longest pair distance under the radius (0.0 for a group of
        identical rows): how loose the group is.
    median : float
        Median nearest-neighbour distance over distinct rows (positive distances);
        NaN with fewer than two distinct rows.
    radius : float
        ``threshold * median``: pairs closer than this are near duplicates.
    dimensions : int
        Columns of the space searched (standardised columns, or principal components).
    """

    groups: list[np.ndarray]
    links: list[float]
    median: float
    radius: float
    dimensions: int


def near_duplicate_groups(
    features: np.ndarray, *, threshold: float, progress: Callable[[str], None] | None = None
) -> NearGroups:
    """Group rows whose features are closer than ``threshold`` times the typical spacing.

    Parameters
    ----------
    features : np.ndarray, shape (n, d)
        One row per clip. Columns that are all non-finite, or constant, are left out;
        rows with fewer finite cells than half the remaining columns (no features, or
        too few to compare) belong to no group; other non-finite cells take their
        column's median.
    threshold : float
        The fraction of the median nearest-neighbour distance under which a pair is a
        near duplicate (cleanlab's 0.13 in :class:`~audiosoup_widgets.analysis.qc.QcThresholds`).
    progress : callable, optional
        ``progress(message)`` before the search and after each chunk of it.

    Returns
    -------
    NearGroups
        The groups (connected through pairs under the radius), with the median and
        the radius.

    Notes
    -----
    Identical rows are merged first and searched once: copies would fill each other's
    neighbour lists, and their zero distances would drag the median, and the radius
    with it, to 0 (cleanlab floors the median at a tiny epsilon instead, which then
    finds nothing but the copies). The median is also taken over positive distances
    only, for rows that become equal after standardising. The distinct rows are
    standardised (mean 0, variance 1 per column, so no unit dominates); wider than
    :data:`COMPONENTS` columns, they are projected on their first principal axes,
    which hold most of the variance of correlated summaries. Each distinct row's
    :data:`NEIGHBOURS` nearest neighbours come from scikit-learn's brute-force search
    in float32, chunk by chunk, and their distances are recomputed in float64. The
    distance is Euclidean (cleanlab defaults to cosine above 3 columns; on
    standardised columns, centred at 0, a cosine would call far-apart rows on one ray
    from the centre equal).
    """
    x = np.where(np.isfinite(features), features, np.nan)
    x = x[:, ~np.isnan(x).all(axis=0)]
    # Imputed cells make rows alike: a row with more of them than values is no evidence.
    rows = np.flatnonzero(2 * (~np.isnan(x)).sum(axis=1) >= x.shape[1])
    x = x[rows][:, ~np.isnan(x[rows]).all(axis=0)]
    if len(rows) < 2 or x.shape[1] == 0:
        return NearGroups([], [], float("nan"), float("nan"), 0)
    x = np.where(np.isnan(x), np.nanmedian(x, axis=0), x) + 0.0  # + 0.0 turns -0.0 into 0.0
    if progress is not None:
        progress(f"near duplicates: preparing {len(rows):,} clips x {x.shape[1]} columns")
    distinct, inverse = _distinct_rows(x)
    z, dims = _standardised(distinct)
    m = len(z)
    pairs_i = pairs_j = np.zeros(0, dtype=np.int64)
    dist = np.zeros(0)
    median = radius = float("nan")
    if m > 1:
        nb, nd = _neighbours(z, progress)
        positive = nd[:, 0][nd[:, 0] > 0]
        median = float(np.median(positive)) if len(positive) else 0.0
        radius = threshold * median
        close = nd < radius
        pairs_i, pairs_j, dist = np.nonzero(close)[0], nb[close], nd[close]
    comp = _components(m, pairs_i, pairs_j)
    link = np.zeros(m)
    np.maximum.at(link, comp[pairs_i], dist)
    row_comp = comp[inverse]
    order = np.argsort(row_comp, kind="stable")
    starts = np.flatnonzero(np.diff(row_comp[order], prepend=-1))
    found = [(rows[g], float(link[row_comp[g[0]]])) for g in np.split(order, starts[1:]) if len(g) > 1]
    found.sort(key=lambda g: int(g[0][0]))
    return NearGroups([g for g, _ in found], [d for _, d in found], median, radius, dims)


def _row_hashes(x: np.ndarray) -> np.ndarray:
    """Return a 64-bit hash of each row's bits: a sum of the words times fixed odd numbers."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    words = np.random.default_rng(0).integers(0, 2**62, size=x.shape[1], dtype=np.uint64)
    odd = words * np.uint64(2) + np.uint64(1)  # odd: every word changes the sum
    out: np.ndarray = (bits * odd).sum(axis=1)
    return out


def _distinct_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct rows of ``x`` (no NaN, no -0.0) and the position of each row among them."""
    # Hashing the rows, then checking, is several times faster than np.unique(axis=0)'s
    # lexicographic sort; the order (by hash) does not depend on the order of the rows.
    _, first, inverse = np.unique(_row_hashes(x), return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if np.array_equal(x[first][inverse], x):
        return x[first], inverse
    distinct, inverse = np.unique(x, axis=0, return_inverse=True)  # two rows' hashes collided
    return distinct, inverse.reshape(-1)


def _standardised(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Standardise the non-constant columns; project on :data:`COMPONENTS` principal axes if wider."""
    x = x[:, np.ptp(x, axis=0) > 0]
    if x.shape[1] == 0:
        return np.zeros((len(x), 1)), 0
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    if z.shape[1] <= COMPONENTS:
        return z, z.shape[1]
    if len(z) < z.shape[1]:
        # Fewer clips than columns (a small dataset with every feature: 148 x 2,400): the
        # same principal coordinates from the n x n Gram matrix, z V = U S, in a fraction of
        # the time of the d x d covariance.
        values, u = np.linalg.eigh(z @ z.T)
        k = min(COMPONENTS, len(z))
        scale = np.sqrt(np.clip(values[::-1][:k], 0.0, None))
        gram: np.ndarray = u[:, ::-1][:, :k] * scale
        return gram, k
    # Eigenvectors of the covariance: exact, deterministic and cheap for n >> d; only the
    # subspace matters (distances do not see the axes' signs).
    _, vectors = np.linalg.eigh(z.T @ z)
    out: np.ndarray = z @ vectors[:, ::-1][:, :COMPONENTS]
    return out, COMPONENTS


def _neighbours(z: np.ndarray, progress: Callable[[str], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's nearest other rows and their float64 distances, nearest first, shape (m, k)."""
    m = len(z)
    k = min(NEIGHBOURS, m - 1)
    # float32 halves the search time; the few distances kept are recomputed in float64.
    z32 = z.astype(np.float32)
    search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(z32)
    nb = np.empty((m, k), dtype=np.int64)
    nd = np.empty((m, k))
    for start in range(0, m, _CHUNK):
        stop = min(m, start + _CHUNK)
        idx = search.kneighbors(z32[start:stop], return_distance=False)
        # Drop the row itself (first, unless float32 ties it with a very close row).
        others = idx != np.arange(start, stop)[:, None]
        keep = np.argsort(~others, axis=1, kind="stable")[:, :k]
        chunk = np.take_along_axis(idx, keep, axis=1)
        d = np.sqrt(((z[start:stop, None, :] - z[chunk]) ** 2).sum(axis=2))
        order = np.argsort(d, axis=1, kind="stable")
        nb[start:stop] = np.take_along_axis(chunk, order, axis=1)
        nd[start:stop] = np.take_along_axis(d, order, axis=1)
        if progress is not None:
            progress(f"near duplicates: {stop:,} of {m:,} distinct clips searched")
    return nb, nd


def _components(m: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Return the connected component of each of ``m`` nodes joined by edges ``(i, j)``: its smallest node."""
    label = np.arange(m)
    while True:
        li, lj = label[i], label[j]
        low = np.minimum(li, lj)
        new = label.copy()
        # Hook each root under the smallest root it touches, then jump pointers to roots.
        np.minimum.at(new, li, low)
        np.minimum.at(new, lj, low)
        while not np.array_equal(new[new], new):
            new = new[new]
        if np.array_equal(new, label):
            return label
        label = new
