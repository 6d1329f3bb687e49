"""Similarity maps: 2-D projections of per-clip feature summaries.

Owns the preparation of a summary matrix (missing values, constant columns, z-scores), the
projection itself (PCA by default, UMAP as an option), the key that tells whether stored
coordinates are current, and the alignment of a recomputed map onto the stored one so that
points keep their place on screen.

The jobs read the matrix from the store (``Store.summary_matrix``: sample ids and float32
values) and store what :func:`project` returns together with :func:`input_key`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from audiosoup_widgets import jitcache
from audiosoup_widgets.errors import ConfigError, ValidationError

__all__ = [
    "EXACT_NEIGHBOURS_MAX",
    "METHODS",
    "PROJECTION_VERSION",
    "align",
    "input_key",
    "prepare_matrix",
    "project",
    "rows_with_values",
    "usable_columns",
]

METHODS: tuple[str, ...] = ("pca", "umap")
"""The projection methods :func:`project` knows; ``"pca"`` is the default."""

PROJECTION_VERSION = 1
"""Version of the maths below; part of :func:`input_key`, so a change makes stored maps stale."""

EXACT_NEIGHBOURS_MAX = 50_000
"""Up to this many rows UMAP gets exact nearest neighbours from scikit-learn.

Measured: exact neighbours of 10,000 rows take about half a second, and they spare
pynndescent's numba compilation (about 40 s in a fresh process). Above this, exact
neighbours grow quadratically and UMAP's own approximate search is faster.
"""

UMAP_NEIGHBOURS = 15
"""UMAP's ``n_neighbors`` (its default), fewer when there are fewer rows."""

UMAP_PCA_DIMENSIONS = 50
"""UMAP runs on this many principal components: faster neighbours, less noise."""

_BLOCK = 4096  # rows per block of the float64 passes: about 35 MB at a time for 352 columns

Progress = Callable[[int, int], None]


def _as_matrix(values: npt.ArrayLike, *, name: str = "values") -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValidationError(f"{name} must be a 2-D array (rows, columns), not {array.ndim}-D")
    if array.dtype.kind not in "fiub":
        raise ValidationError(f"{name} must be numeric, not {array.dtype}")
    return array


def rows_with_values(values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return which rows hold at least one finite value.

    Parameters
    ----------
    values : array_like, shape (n, d)
        Feature summaries, one row per clip (NaN where not computed).

    Returns
    -------
    ndarray of bool, shape (n,)
        False for a row that is entirely NaN or infinite: a clip with nothing
        computed, which has no place on a map.
    """
    array = _as_matrix(values)
    if array.shape[1] == 0:
        return np.zeros(array.shape[0], dtype=bool)
    return np.asarray(np.isfinite(array).any(axis=1))


def usable_columns(values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return which columns carry information: at least two distinct finite values.

    Parameters
    ----------
    values : array_like, shape (n, d)
        Feature summaries, one row per clip.

    Returns
    -------
    ndarray of bool, shape (d,)
        False for a column that is entirely NaN or infinite, or constant over its
        finite values; :func:`prepare_matrix` drops those columns.
    """
    array = _as_matrix(values)
    if array.shape[0] == 0:
        return np.zeros(array.shape[1], dtype=bool)
    # fmin/fmax skip NaN (no all-NaN warnings); infinities are masked to NaN first (rare:
    # the copy is not made for the usual NaN-only matrix).
    masked = np.where(np.isinf(array), np.nan, array) if np.isinf(array).any() else array
    low = np.fmin.reduce(masked, axis=0)
    high = np.fmax.reduce(masked, axis=0)
    return np.asarray(high > low)


def prepare_matrix(values: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Turn feature summaries into a complete, standardised float32 matrix.

    In order:

    1. infinities count as missing, like NaN;
    2. columns without two distinct finite values (:func:`usable_columns`:
       all missing, or constant) are dropped, since they carry no information
       and a constant column has no scale;
    3. every missing value becomes its column's median (over the rows that
       have it), which neither shifts nor stretches a column much;
    4. each column is standardised to mean 0 and standard deviation 1
       (population SD, ``ddof=0``), so that every summary weighs the same
       whatever its unit (decibels, hertz, beats per minute).

    Means and deviations are accumulated in float64, block by block, so that
    100,000 rows cost no float64 copy of the matrix.

    Parameters
    ----------
    values : array_like, shape (n, d)
        Feature summaries, one row per clip, NaN where not computed.

    Returns
    -------
    ndarray of float32, shape (n, k)
        The kept columns (``k = usable_columns(values).sum()``, possibly 0),
        in their original order.

    Notes
    -----
    A row that is entirely missing is kept and becomes the column medians:
    it lands near the middle of a map although nothing is known about it. Leave
    such rows out first (:func:`rows_with_values`); :func:`project` does, and
    gives them NaN coordinates.
    """
    return _prepare(_as_matrix(values), None)


def _prepare(array: npt.NDArray[Any], rows: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.float32]:
    """:func:`prepare_matrix` of ``array[rows]``, with one copy of the matrix."""
    # Rows without values hold only NaN, so leaving them out changes no column's range.
    keep = usable_columns(array)
    selected = array
    if rows is not None and not rows.all():
        selected = array[np.ix_(rows, keep)] if not keep.all() else array[rows]
    elif not keep.all():
        selected = array[:, keep]
    # One owned float32 copy of the kept cells, edited in place from here on.
    matrix = np.array(selected, dtype=np.float32, copy=True if selected is array else None)
    if matrix.size == 0:
        return matrix
    missing = ~np.isfinite(matrix)
    if missing.any():
        # Column by column, and only where something is missing: nanmedian over the whole
        # matrix would copy it.
        for column in np.flatnonzero(missing.any(axis=0)):
            values = matrix[:, column]
            gaps = missing[:, column]
            values[gaps] = np.median(values[~gaps])
    mean, std = _column_moments(matrix)
    matrix -= mean.astype(np.float32)
    matrix /= std.astype(np.float32)
    return matrix


def _column_moments(
    matrix: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Column means and population SDs in float64, two passes over row blocks."""
    n = matrix.shape[0]
    total = np.zeros(matrix.shape[1])
    for start in range(0, n, _BLOCK):
        total += matrix[start : start + _BLOCK].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(matrix.shape[1])
    for start in range(0, n, _BLOCK):
        block = matrix[start : start + _BLOCK].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", block, block)
    std = np.sqrt(squares / n)
    # A kept column has two distinct values, so its SD is positive; the guard is for
    # values so close that their spread underflows.
    std[~(std > 0)] = 1.0
    return mean, std


def project(
    values: npt.ArrayLike,
    *,
    method: str = "pca",
    random_state: int = 0,
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """Place clips on a 2-D similarity map from their feature summaries.

    Rows are prepared by :func:`prepare_matrix` (median imputation, constant
    columns dropped, z-scores), then projected:

    ``"pca"``
        The first two principal components (scikit-learn, eigenvectors of the
        covariance matrix in float32: about 1.3 s of CPU for 100,000 x 352, end to end). The sign
        of each component is fixed so that its largest loading (by magnitude)
        is positive: a rerun, or the same rows in another order, gives the same
        map instead of a mirrored one. The result does not depend on row order
        beyond float32 rounding.
    ``"umap"``
        UMAP (umap-learn, an optional dependency: ``pip install
        audiosoup-widgets[umap]``) with ``n_neighbors=15`` and a fixed
        ``random_state``, on the first 50 principal components. The same input
        gives the same map; another row order gives another (equally valid)
        layout. Up to :data:`EXACT_NEIGHBOURS_MAX` rows the neighbours are exact.

    With fewer than three rows there is nothing to fit, whatever the method: no
    row gives an empty map, one row sits at the origin and two rows lie on the
    x axis, symmetric about the origin (their first principal component). Rows
    that are all alike (no usable column) all sit at the origin.

    Parameters
    ----------
    values : array_like, shape (n, d)
        Feature summaries, one row per clip, NaN where not computed.
    method : {"pca", "umap"}
        Projection method.
    random_state : int
        Seed of the randomised parts (UMAP; PCA uses none).
    progress : callable, optional
        ``progress(done, total)`` after each stage (preparing, reducing, fitting).

    Returns
    -------
    ndarray of float32, shape (n, 2)
        Coordinates in the input's row order; NaN for rows without any finite value.

    Raises
    ------
    ValidationError
        An unknown method, or values that are not a numeric 2-D array.
    ConfigError
        ``method="umap"`` without umap-learn installed (code ``missing_dependency``).
    """
    if method not in METHODS:
        raise ValidationError(f"unknown projection method {method!r}: choose one of {', '.join(METHODS)}")
    array = _as_matrix(values)
    if method == "umap":
        umap = _import_umap()  # before the work: a missing package fails at once
    report: Progress = progress if progress is not None else _no_progress
    stages = 3 if method == "pca" else 4
    report(0, stages)
    out = np.full((array.shape[0], 2), np.nan, dtype=np.float32)
    present = rows_with_values(array)
    matrix = _prepare(array, present)
    report(1, stages)
    if method == "pca" or matrix.shape[0] < 3 or matrix.shape[1] == 0:
        # Also UMAP's answer when there is nothing to lay out: a line, or one point.
        coords = _pca(matrix, 2)
        report(stages - 1, stages)
    else:
        reduced = _pca(matrix, UMAP_PCA_DIMENSIONS)
        report(2, stages)
        coords = _umap(umap, reduced, random_state=random_state)
        report(3, stages)
    out[present] = coords
    report(stages, stages)
    return out


def _no_progress(done: int, total: int) -> None:
    return None


def _pca(matrix: npt.NDArray[np.float32], n_components: int) -> npt.NDArray[np.float32]:
    """Scores on the first ``n_components`` principal components, zero-padded, signs fixed."""
    from sklearn.decomposition import PCA

    n, d = matrix.shape
    out = np.zeros((n, n_components), dtype=np.float32)
    # n rows span at most n - 1 dimensions around their mean; components beyond the data's
    # rank would be arbitrary directions, so those coordinates stay 0.
    fitted = min(n_components, n - 1, d)
    if fitted <= 0:
        return out
    # Covariance eigenvectors: exact (no randomness, so no dependence on row order) and
    # the fastest for many rows of few columns (0.3 s against 2.5 s randomized and 10 s
    # for a full SVD, at 100,000 x 352 in float32).
    solver = "covariance_eigh" if d <= 1000 else "auto"
    # copy=False: the matrix is ours and already centred; sklearn need not copy it again.
    pca = PCA(n_components=fitted, svd_solver=solver, random_state=0, copy=False)
    scores = np.asarray(pca.fit_transform(matrix), dtype=np.float32)
    components = np.asarray(pca.components_)
    largest = components[np.arange(fitted), np.abs(components).argmax(axis=1)]
    scores *= np.where(largest < 0, -1.0, 1.0).astype(np.float32)
    out[:, :fitted] = scores
    return out


def _import_umap() -> Any:
    try:
        jitcache.install()  # umap's numba cache in our folder, one compiler at a time
        with jitcache.lock(), warnings.catch_warnings():
            # "Tensorflow not installed; ParametricUMAP will be unavailable"
            warnings.simplefilter("ignore", ImportWarning)
            import umap
    except ImportError:
        raise ConfigError(
            "the UMAP map needs umap-learn: pip install audiosoup-widgets[umap]", code="missing_dependency"
        ) from None
    return umap


def _umap(umap: Any, matrix: npt.NDArray[np.float32], *, random_state: int) -> npt.NDArray[np.float32]:
    n = matrix.shape[0]
    neighbours = min(UMAP_NEIGHBOURS, n - 1)
    options: dict[str, Any] = {}
    if n <= EXACT_NEIGHBOURS_MAX:
        from sklearn.neighbors import NearestNeighbors

        distances, indices = NearestNeighbors(n_neighbors=neighbours).fit(matrix).kneighbors(matrix)
        options["precomputed_knn"] = (indices, distances.astype(np.float32), None)
    model = umap.UMAP(
        n_components=2,
        n_neighbors=neighbours,
        random_state=random_state,
        n_jobs=1,  # a seed makes umap single-threaded anyway; saying so spares its warning
        # Spectral initialisation needs more points than dimensions plus a few.
        init="spectral" if n > 10 else "random",
        **options,
    )
    with warnings.catch_warnings():
        # Expected and harmless here: we never call transform() on new data, and a map
        # of separate clusters is laid out with a fallback initialisation.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*connected components", category=UserWarning)
        coords = model.fit_transform(matrix)
    return np.asarray(coords, dtype=np.float32)


def input_key(ids: npt.ArrayLike, values: npt.ArrayLike, *, method: str, extra: str = "") -> str:
    """Return a short hash of a projection's input, to tell stored coordinates current or stale.

    The hash covers the sample ids with their values (rows taken in id order, so
    the order a query returned them in does not matter), the values' shape, the
    method and :data:`PROJECTION_VERSION`. Values are hashed as float64 with every
    NaN alike and ``-0.0`` as ``0.0``: float32 and float64 copies of the same
    numbers give the same key. Put what else decides the map into ``extra`` (the
    feature ids, their parameters' key, the random state).

    Parameters
    ----------
    ids : array_like, shape (n,)
        Sample ids of the rows (integers or strings), unique.
    values : array_like, shape (n, d)
        The summaries that are projected.
    method : str
        Projection method.
    extra : str
        Anything else the coordinates depend on.

    Returns
    -------
    str
        32 hexadecimal characters (the first half of a SHA-256).
    """
    matrix = _as_matrix(values)
    keys = np.asarray(ids)
    if keys.ndim != 1 or keys.shape[0] != matrix.shape[0]:
        raise ValidationError(f"ids must be one per row: {keys.shape} ids for {matrix.shape[0]} rows")
    order = np.argsort(keys, kind="stable")
    digest = hashlib.sha256()
    header = f"audiosoup-projection/{PROJECTION_VERSION}\0{method}\0{extra}\0{matrix.shape}\0"
    digest.update(header.encode())
    if keys.dtype.kind in "iub":
        digest.update(b"int\0" + np.ascontiguousarray(keys[order], dtype="<i8").tobytes())
    else:
        digest.update(b"str\0" + "\x1f".join(str(key) for key in keys[order]).encode())
    digest.update(b"\0")
    for start in range(0, matrix.shape[0], _BLOCK):
        block = np.asarray(matrix[order[start : start + _BLOCK]], dtype="<f8") + 0.0  # -0.0 -> 0.0
        block[np.isnan(block)] = np.nan  # one NaN bit pattern
        digest.update(block.tobytes())
    return digest.hexdigest()[:32]


def align(
    previous_xy: npt.ArrayLike, new_xy: npt.ArrayLike, *, scale: bool = True
) -> npt.NDArray[np.float32]:
    """Rotate, reflect, scale and shift a recomputed map onto the stored one.

    Fits, by orthogonal Procrustes (scipy), the similarity transform that brings
    the new coordinates of the rows present in both maps closest (least squares)
    to their previous coordinates, and applies it to every new row: a map
    recomputed after new clips arrived keeps the old clips where they were, and
    the new clips fall in with them. Distances between points change only by
    the common scale factor.

    Parameters
    ----------
    previous_xy : array_like, shape (n, 2)
        The stored coordinates, row for row with ``new_xy``; NaN for rows that
        were not on the previous map.
    new_xy : array_like, shape (n, 2)
        The recomputed coordinates (NaN rows stay NaN).
    scale : bool
        Also fit a common scale factor (otherwise rotation, reflection and shift).

    Returns
    -------
    ndarray of float32, shape (n, 2)
        ``new_xy`` in the previous map's frame. With no row in common it is
        returned unchanged; with one, only shifted.
    """
    from scipy.linalg import orthogonal_procrustes

    previous = np.asarray(previous_xy, dtype=np.float64)
    new = np.asarray(new_xy, dtype=np.float64)
    if previous.ndim != 2 or previous.shape[1] != 2 or previous.shape != new.shape:
        raise ValidationError(
            f"align needs two (n, 2) maps of the same rows, not {previous.shape} and {new.shape}"
        )
    both = np.isfinite(previous).all(axis=1) & np.isfinite(new).all(axis=1)
    if not both.any():
        return new.astype(np.float32)
    target, source = previous[both], new[both]
    target_mean: npt.NDArray[np.float64] = target.mean(axis=0)
    source_mean: npt.NDArray[np.float64] = source.mean(axis=0)
    target0, source0 = target - target_mean, source - source_mean
    spread = float((source0**2).sum())
    if both.sum() < 2 or spread == 0.0:
        return (new - source_mean + target_mean).astype(np.float32)
    rotation: npt.NDArray[np.float64]
    rotation, singular_sum = orthogonal_procrustes(source0, target0)
    factor = float(singular_sum) / spread if scale else 1.0
    return ((new - source_mean) @ rotation * factor + target_mean).astype(np.float32)
