"""Comparing clips and groups of clips: effect sizes, class templates, shared decibel scales.

Owns the maths behind the cross-sample views: Cohen's d per summary column between two
labels or selections (and the largest per feature), the class template (the mean of a
label's clips, of their summaries or of their equal-length spectrograms), several power
spectrograms on one decibel reference, and the difference of two clips' spectrograms with
a symmetric limit for a diverging colour scale.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from audiosoup_widgets.errors import ValidationError

__all__ = [
    "EFFECT_COLUMNS",
    "cohens_d",
    "db_scale",
    "difference",
    "effect_sizes",
    "equal_length",
    "feature_of_column",
    "per_feature",
    "summary_column_parts",
    "symmetric_limit",
    "template",
]

EFFECT_COLUMNS: tuple[str, ...] = ("column", "d", "abs_d", "mean_a", "mean_b", "n_a", "n_b")
"""Columns of :func:`effect_sizes`' table, in order."""

_SUMMARY_COLUMN = re.compile(r"^(?P<feature>.+)_(?P<stat>mean|std)_(?P<index>\d+)$")


def _group_stats(
    values: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per column: count of finite values, their mean and their variance (``ddof=1``)."""
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    filled = np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / count
        centred = np.where(finite, values - mean, 0.0)
        var = (centred**2).sum(axis=0) / (count - 1)
    # A column whose values are all equal has variance exactly 0; rounding in the mean
    # would otherwise leave a tiny positive one and turn d = 0/0 into a huge number.
    low = np.where(finite, values, np.inf).min(axis=0, initial=np.inf)
    high = np.where(finite, values, -np.inf).max(axis=0, initial=-np.inf)
    var[(count >= 1) & (low == high)] = 0.0
    return count.astype(np.int64), mean, var


def _columns_2d(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2:
        raise ValidationError(f"{name} must be 1-D or 2-D (rows, columns), not {array.ndim}-D")
    return array


def cohens_d(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return Cohen's d of each column between two groups of rows.

    ``d = (mean_a - mean_b) / s``, with the pooled standard deviation
    ``s = sqrt(((n_a - 1) var_a + (n_b - 1) var_b) / (n_a + n_b - 2))`` and
    sample variances (``ddof=1``). This is Cohen's d with the pooled SD of
    Hedges, without Hedges' small-sample correction: for 20 clips a side the
    correction would shrink d by 2 %. Positive d: group ``a`` is higher.

    Each column is computed over its own finite values: a NaN (or infinity) is
    left out of that column only.

    Parameters
    ----------
    a, b : array_like, shape (n_a, d) and (n_b, d)
        The two groups' rows (a 1-D array is one column).

    Returns
    -------
    ndarray of float64, shape (d,)
        d per column. NaN where a group has fewer than two finite values; 0 where
        both groups are constant at the same value; +/-inf where both are
        constant at different values (a perfect separation).

    Raises
    ------
    ValidationError
        Groups with a different number of columns.
    """
    first, second = _columns_2d(a, "a"), _columns_2d(b, "b")
    if first.shape[1] != second.shape[1]:
        raise ValidationError(f"the groups have {first.shape[1]} and {second.shape[1]} columns")
    return _cohens_d(*_group_stats(first), *_group_stats(second))


def _cohens_d(
    n_a: npt.NDArray[np.int64],
    mean_a: npt.NDArray[np.float64],
    var_a: npt.NDArray[np.float64],
    n_b: npt.NDArray[np.int64],
    mean_b: npt.NDArray[np.float64],
    var_b: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    valid = (n_a >= 2) & (n_b >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
        delta = mean_a - mean_b
        d = delta / pooled
    d[(pooled == 0) & (delta == 0)] = 0.0
    d[~valid] = np.nan
    return np.asarray(d, dtype=np.float64)


def effect_sizes(a: pd.DataFrame, b: pd.DataFrame, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return Cohen's d of every summary column between two groups, largest first.

    Parameters
    ----------
    a, b : pandas.DataFrame
        The two groups' rows (two labels, or two selections), for example from
        ``feature_frame``.
    columns : sequence of str, optional
        The columns to compare (default: the floating-point columns both frames
        have, in ``a``'s order: the summaries, not the integer sample ids).

    Returns
    -------
    pandas.DataFrame
        One row per column with :data:`EFFECT_COLUMNS`: ``column``, ``d``
        (:func:`cohens_d`), ``abs_d``, ``mean_a``, ``mean_b`` and the counts of
        finite values ``n_a``, ``n_b``; sorted by ``abs_d`` descending, NaN last,
        ties in column order.

    Raises
    ------
    ValidationError
        A requested column missing from either frame.
    """
    if columns is None:
        chosen = [
            str(name)
            for name in a.columns
            if name in b.columns
            and pd.api.types.is_float_dtype(a[name])
            and pd.api.types.is_float_dtype(b[name])
        ]
    else:
        chosen = list(columns)
        missing = [name for name in chosen if name not in a.columns or name not in b.columns]
        if missing:
            raise ValidationError(f"columns not in both groups: {', '.join(map(str, missing[:5]))}")
    first = _columns_2d(a[chosen].to_numpy(dtype=np.float64, na_value=np.nan), "a")
    second = _columns_2d(b[chosen].to_numpy(dtype=np.float64, na_value=np.nan), "b")
    n_a, mean_a, var_a = _group_stats(first)
    n_b, mean_b, var_b = _group_stats(second)
    d = _cohens_d(n_a, mean_a, var_a, n_b, mean_b, var_b)
    table = pd.DataFrame(
        {
            "column": pd.Series(chosen, dtype=object),
            "d": d,
            "abs_d": np.abs(d),
            "mean_a": np.where(n_a > 0, mean_a, np.nan),
            "mean_b": np.where(n_b > 0, mean_b, np.nan),
            "n_a": n_a,
            "n_b": n_b,
        },
        columns=list(EFFECT_COLUMNS),
    )
    return _largest_first(table)


def _largest_first(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by ``abs_d`` descending, NaN last, ties in their order."""
    ranked = table.sort_values("abs_d", ascending=False, kind="stable", na_position="last")
    return ranked.reset_index(drop=True)


def summary_column_parts(name: str) -> tuple[str, str, int]:
    """Split a summary column name ``<feature>_<mean|std>_<index>`` into its parts.

    The statistic and index are matched from the right, so feature ids may
    contain underscores (``mfcc_delta_std_3`` is feature ``mfcc_delta``).

    Parameters
    ----------
    name : str
        A column name as written by ``features.summaries.summary_columns``.

    Returns
    -------
    tuple of (str, str, int)
        Feature id, ``"mean"`` or ``"std"``, row index.

    Raises
    ------
    ValidationError
        A name that is not a summary column.
    """
    match = _SUMMARY_COLUMN.match(name)
    if match is None:
        raise ValidationError(f"not a feature summary column: {name!r}")
    return match["feature"], match["stat"], int(match["index"])


def feature_of_column(name: str) -> str:
    """Return the feature id of a summary column (see :func:`summary_column_parts`).

    Parameters
    ----------
    name : str
        A column name such as ``stack_memory_mean_12``.

    Returns
    -------
    str
        The feature id, here ``stack_memory``.
    """
    return summary_column_parts(name)[0]


def per_feature(
    effects: pd.DataFrame, *, feature_of: Callable[[str], str] = feature_of_column
) -> pd.DataFrame:
    """Return the largest effect of each feature, largest first.

    Parameters
    ----------
    effects : pandas.DataFrame
        A table from :func:`effect_sizes`.
    feature_of : callable
        Maps a column name to its feature (default :func:`feature_of_column`).

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature``, ``d`` and ``abs_d`` of its column with
        the largest ``|d|``, that ``column``, and ``n_columns`` (its columns);
        sorted by ``abs_d`` descending, NaN last (a feature with no defined d),
        ties in order of first appearance.
    """
    if effects.empty:
        return pd.DataFrame({"feature": [], "d": [], "abs_d": [], "column": [], "n_columns": []})
    table = effects.assign(feature=[feature_of(str(name)) for name in effects["column"]])
    rows: list[dict[str, Any]] = []
    # groupby(sort=False) keeps the order of first appearance, which the stable sort keeps for ties.
    for feature, group in table.groupby("feature", sort=False):
        ranked = group.sort_values("abs_d", ascending=False, kind="stable", na_position="last")
        top = ranked.iloc[0]
        rows.append(
            {
                "feature": feature,
                "d": top["d"],
                "abs_d": top["abs_d"],
                "column": top["column"],
                "n_columns": len(group),
            }
        )
    return _largest_first(pd.DataFrame(rows))


def template(stack: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
    """Return the class template: the mean over clips, ignoring NaN.

    Parameters
    ----------
    stack : array_like, shape (n, ...)
        One entry per clip of a label: summaries ``(n, d)`` or spectrograms
        ``(n, rows, frames)`` of equal shape (pick them with :func:`equal_length`).
        Average spectrograms as power, then put them on a decibel scale
        (:func:`db_scale`); an average of decibels is a geometric mean.

    Returns
    -------
    ndarray, shape stack.shape[1:]
        The element-wise mean over the clips that have a finite value there, NaN
        where none has (or with no clip). float32 input gives float32 (summed in
        float64), other input float64.
    """
    array = np.asarray(stack)
    if array.ndim < 1:
        raise ValidationError("a template needs a stack of clips (n, ...), not a scalar")
    out_dtype = np.float32 if array.dtype == np.float32 else np.float64
    finite = np.isfinite(array)
    count = finite.sum(axis=0)
    total = np.where(finite, array, 0).sum(axis=0, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.asarray(mean, dtype=out_dtype)


def equal_length(shapes: Sequence[int | tuple[int, ...]]) -> npt.NDArray[np.int64]:
    """Return the positions of the clips that share the most common shape.

    A template of spectrograms averages frame by frame, so it takes clips of one
    length: the most common one, and of equally common lengths the longest.

    Parameters
    ----------
    shapes : sequence of int or tuple of int
        Each clip's frame count, or its spectrogram's shape (``(rows, frames)``).

    Returns
    -------
    ndarray of int64
        Positions into ``shapes`` of the clips of the modal shape, ascending
        (empty for no clips).
    """
    keys = [(shape,) if isinstance(shape, int | np.integer) else tuple(shape) for shape in shapes]
    if not keys:
        return np.zeros(0, dtype=np.int64)
    counts = Counter(keys)
    modal = max(counts, key=lambda key: (counts[key], int(np.prod(key)), key))
    return np.asarray([i for i, key in enumerate(keys) if key == modal], dtype=np.int64)


def db_scale(
    powers: Sequence[npt.ArrayLike], *, top_db: float | None = 80.0, amin: float = 1e-10
) -> tuple[list[npt.NDArray[np.float32]], float, float]:
    """Put several power spectrograms on one decibel scale.

    ``10 * log10(max(S, amin) / ref)`` with one reference for all, the largest
    power of any of them, so that 0 dB is the loudest point of the loudest clip
    and equal colours mean equal power. Every value is floored at
    ``-top_db`` below the common maximum. For one spectrogram this is
    ``librosa.power_to_db(S, ref=np.max, amin=amin, top_db=top_db)``; for
    several it is that of their concatenation, split back (librosa's own
    floor would follow each array's maximum instead).

    Parameters
    ----------
    powers : sequence of array_like
        Power spectrograms (any shapes); NaN stays NaN.
    top_db : float or None
        Range below the maximum; ``None`` for no floor.
    amin : float
        Smallest power (librosa's default for power).

    Returns
    -------
    spectrograms : list of ndarray of float32
        The decibel arrays, in order.
    vmin, vmax : float
        The shared colour range: the common maximum (0 dB, unless all powers are
        below ``amin``) and ``top_db`` below it (with no floor, the smallest value).

    Raises
    ------
    ValidationError
        No spectrogram, or a negative ``top_db``.
    """
    if len(powers) == 0:
        raise ValidationError("db_scale needs at least one spectrogram")
    if top_db is not None and top_db < 0:
        raise ValidationError(f"top_db must be positive, not {top_db}")
    arrays = [np.asarray(power, dtype=np.float64) for power in powers]
    peaks = [float(np.nanmax(array)) for array in arrays if array.size and not np.isnan(array).all()]
    ref = max([amin, *peaks])
    # Written as librosa writes it, so that one spectrogram gives its numbers exactly.
    scaled = [10.0 * np.log10(np.maximum(array, amin)) - 10.0 * np.log10(ref) for array in arrays]
    highs = [float(np.nanmax(array)) for array in scaled if array.size and not np.isnan(array).all()]
    vmax = max(highs) if highs else 0.0
    if top_db is not None:
        vmin = vmax - float(top_db)
        scaled = [np.maximum(array, vmin) for array in scaled]  # NaN stays NaN
    else:
        lows = [float(np.nanmin(array)) for array in scaled if array.size and not np.isnan(array).all()]
        vmin = min(lows) if lows else vmax
    return [array.astype(np.float32) for array in scaled], vmin, vmax


def difference(
    a_db: npt.ArrayLike, b_db: npt.ArrayLike, *, floor: float | None = None
) -> npt.NDArray[np.float32]:
    """Return ``a_db - b_db`` of two clips' decibel spectrograms, the shorter padded.

    Frames are the last axis. The shorter spectrogram is padded at its end with
    ``floor``, the level of silence on the shared scale, rather than the longer
    one cropped: the difference then shows the sound one clip has after the
    other has ended. Positive where ``a`` is louder. Use :func:`symmetric_limit`
    for the colour range.

    Parameters
    ----------
    a_db, b_db : array_like, shape (rows, frames_a) and (rows, frames_b)
        Decibel spectrograms on one reference (:func:`db_scale`).
    floor : float, optional
        Padding value (default: the smaller of the two arrays' finite minima,
        the ``vmin`` of :func:`db_scale` when both reach the floor).

    Returns
    -------
    ndarray of float32, shape (rows, max(frames_a, frames_b))
        The difference in dB.

    Raises
    ------
    ValidationError
        Spectrograms of different row counts (or dimensions).
    """
    first = np.asarray(a_db, dtype=np.float64)
    second = np.asarray(b_db, dtype=np.float64)
    if first.ndim < 1 or first.shape[:-1] != second.shape[:-1]:
        raise ValidationError(f"spectrograms of shapes {first.shape} and {second.shape} cannot be compared")
    if floor is None:
        lows = [float(np.nanmin(x)) for x in (first, second) if x.size and not np.isnan(x).all()]
        floor = min(lows) if lows else 0.0
    frames = max(first.shape[-1], second.shape[-1])

    def padded(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        width = [(0, 0)] * (array.ndim - 1) + [(0, frames - array.shape[-1])]
        return np.pad(array, width, constant_values=floor)

    return (padded(first) - padded(second)).astype(np.float32)


def symmetric_limit(diff: npt.ArrayLike, *, quantile: float = 1.0, minimum: float = 1.0) -> float:
    """Return the limit ``L`` of a diverging colour scale ``[-L, L]`` for a difference.

    Parameters
    ----------
    diff : array_like
        A difference from :func:`difference`.
    quantile : float
        Quantile of ``|diff|`` to use: 1.0 for the largest difference, 0.99 to
        keep a few extreme cells from washing out the rest.
    minimum : float
        Smallest limit (dB), so that identical clips still get a usable scale.

    Returns
    -------
    float
        ``max(minimum, quantile of |diff| over finite cells)``; 0 is the middle colour.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValidationError(f"quantile must be between 0 and 1, not {quantile}")
    values = np.abs(np.asarray(diff, dtype=np.float64))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float(minimum)
    return max(float(minimum), float(np.quantile(values, quantile)))
