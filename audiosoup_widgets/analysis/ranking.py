"""Which features separate the labels: ANOVA F and mutual information, with intervals.

Owns the arithmetic of the feature ranking. Per summary column it scores how well the
column separates the labels, for the whole label set (scope ``"all"``) and for each
label against all the others (scope: that label), with two scores:

* the ANOVA F statistic, exactly scikit-learn's ``f_classif`` (per column, over the rows
  where that column is finite), computed from per-label moments so that the one-vs-rest
  problems and every bootstrap resample cost a few matrix products, not a refit;
* the mutual information in nats, exactly scikit-learn's ``mutual_info_classif`` with
  ``n_neighbors=3`` and ``random_state=seed`` (Ross's k-nearest-neighbour estimator).
  Each column is one-dimensional, so the neighbours come from sorted columns instead of
  a tree per column; this is what makes hundreds of columns take seconds rather than
  minutes. It is computed on at most :data:`MI_ROWS` rows (a seeded sample drawn label
  by label in proportion to the labels' sizes).

Intervals (95 %):

* F: :data:`N_BOOT` stratified bootstrap resamples (rows drawn with replacement within
  each label, so every label keeps its size and a small label never vanishes);
* MI, scope ``"all"`` only: :data:`N_HALF` half samples (half of each label's rows,
  without replacement; the one-vs-rest MI has no interval, as it would cost one more
  estimate per label and half sample, minutes for hundreds of columns). A
  bootstrap resample repeats rows, and a repeated row is its own nearest neighbour at
  distance zero, which inflates the k-nearest-neighbour estimate; half samples repeat
  nothing, and the spread of a half-sample estimate around the full one is about the
  spread of the full estimate around the truth (``var(T_n/2 - T_n) ~ var(T_n)``).

Both intervals are the estimate plus the 2.5th and 97.5th percentiles of the resampled
values' deviations from their own mean (the percentile interval re-centred on the
estimate, since F grows on resamples and MI shrinks on half samples), and never go
below 0. All resampling is seeded: the same input gives the same table.

A feature's score is the largest of its summary columns' (means and standard
deviations of every row), and a family's the largest of its features' columns: a
feature separates the labels if any of its values does, and a mean would rank a
feature with 256 columns (mel bands), most of them uninformative, below one with two.
Its interval is that of the largest value, taken resample by resample.

Edge cases: a column that is constant (over its finite values) scores 0 in both
scores; a column or scope with too few finite rows (fewer than two labels present, or
no more rows than labels) scores NaN; perfect separation by F (no spread inside the
labels) is ``inf``, as in scikit-learn. Fewer than two labels raise
:class:`~audiosoup_widgets.errors.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import digamma

from audiosoup_widgets.errors import ValidationError

__all__ = [
    "ALL",
    "LEVELS",
    "MI_ROWS",
    "N_BOOT",
    "N_HALF",
    "RANK_COLUMNS",
    "Scores",
    "anova_f",
    "mutual_info",
    "rank_columns",
    "score_columns",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: The scope of the whole label set (other scopes are label names: that label vs the rest).
ALL = "all"
#: The levels of the ranking table, finest first.
LEVELS: tuple[str, ...] = ("column", "feature", "family")
#: Bootstrap resamples behind each F interval.
N_BOOT = 100
#: Half samples behind each MI interval.
N_HALF = 10
#: Rows the mutual information is estimated on, at most (a seeded, label-stratified sample).
MI_ROWS = 1000
#: Neighbours of the mutual information estimator (scikit-learn's default).
N_NEIGHBORS = 3

RANK_COLUMNS: tuple[str, ...] = (
    "level",
    "scope",
    "name",
    "feature",
    "family",
    "rank",
    "f",
    "f_low",
    "f_high",
    "mi",
    "mi_low",
    "mi_high",
    "column",
    "n",
    "n_label",
)
"""Columns of :func:`rank_columns`' table, in order."""


def _codes(y: Sequence[object] | npt.ArrayLike) -> tuple[I64, list[str]]:
    labels = pd.Series(np.asarray(y, dtype=object)).astype("string")
    if labels.isna().any():
        raise ValidationError("every row needs a label (leave unlabelled rows out)")
    codes, uniques = pd.factorize(labels, sort=True)
    classes = [str(u) for u in uniques]
    if len(classes) < 2:
        only = f" (only {classes[0]!r})" if classes else ""
        raise ValidationError(f"ranking features needs at least two labels{only}: nothing to separate")
    return codes.astype(np.int64), classes


def _moments(x: F64, codes: I64, k: int) -> tuple[F64, F64, F64]:
    """Per label and column: count of finite values, their mean, their sum of squared deviations."""
    d = x.shape[1]
    n, mean, ss = np.zeros((k, d)), np.zeros((k, d)), np.zeros((k, d))
    for c in range(k):
        rows = x[codes == c]
        finite = np.isfinite(rows)
        n[c] = finite.sum(axis=0)
        filled = np.where(finite, rows, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[c] = np.where(n[c] > 0, filled.sum(axis=0) / n[c], 0.0)
        ss[c] = (np.where(finite, rows - mean[c], 0.0) ** 2).sum(axis=0)
    return n, mean, ss


def _f_from_moments(n: F64, mean: F64, ss: F64) -> tuple[F64, F64]:
    """F of the label set and of each label against the rest, from per-label moments.

    ``n``, ``mean`` and ``ss`` have shape ``(..., k, d)``; returns ``(..., d)`` and
    ``(..., k, d)``.
    """
    present = n > 0
    total = n.sum(axis=-2)
    k_eff = present.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        grand = (n * mean).sum(axis=-2) / total
        dev = np.where(present, mean - grand[..., np.newaxis, :], 0.0)
        between_each = n * dev**2
        ssb = between_each.sum(axis=-2)
        ssw = ss.sum(axis=-2)
        f_all = _ratio(ssb, ssw, k_eff - 1, total - k_eff)
        rest = total[..., np.newaxis, :] - n
        shift = n**2 * dev**2 / rest
        ssb_k = between_each + shift
        ssw_k = np.maximum(ssw[..., np.newaxis, :] + (ssb[..., np.newaxis, :] - between_each) - shift, 0.0)
        f_ovr = _ratio(ssb_k, ssw_k, np.where(present & (rest > 0), 1, 0), total[..., np.newaxis, :] - 2)
    return f_all, f_ovr


def _ratio(ssb: F64, ssw: F64, dfb: npt.ArrayLike, dfw: npt.ArrayLike) -> F64:
    dfb_a = np.broadcast_to(np.asarray(dfb, dtype=np.float64), ssb.shape)
    dfw_a = np.broadcast_to(np.asarray(dfw, dtype=np.float64), ssb.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (ssb / dfb_a) / (ssw / dfw_a)
    f = np.where((ssb == 0) & (ssw == 0), 0.0, f)
    return np.where((dfb_a < 1) | (dfw_a < 1), np.nan, f)


def _constant(x: F64) -> npt.NDArray[np.bool_]:
    low = np.where(np.isfinite(x), x, np.inf).min(axis=0, initial=np.inf)
    high = np.where(np.isfinite(x), x, -np.inf).max(axis=0, initial=-np.inf)
    return np.asarray(low == high, dtype=bool)


def anova_f(x: npt.ArrayLike, y: Sequence[object] | npt.ArrayLike) -> tuple[F64, F64, list[str]]:
    """Return the ANOVA F of every column, for the label set and each label against the rest.

    Parameters
    ----------
    x : array_like, shape (n, d)
        Values; each column is scored over its finite rows.
    y : array_like, shape (n,)
        Labels.

    Returns
    -------
    f_all : ndarray of float64, shape (d,)
        ``sklearn.feature_selection.f_classif(x, y)[0]`` on finite columns.
    f_ovr : ndarray of float64, shape (k, d)
        Row ``i``: F of label ``labels[i]`` against all other rows.
    labels : list of str
        The labels, sorted.
    """
    values = np.asarray(x, dtype=np.float64)
    codes, classes = _codes(y)
    f_all, f_ovr = _f_from_moments(*_moments(values, codes, len(classes)))
    flat = _constant(values)
    f_all[flat & np.isfinite(f_all)] = 0.0
    f_ovr[:, flat] = np.where(np.isnan(f_ovr[:, flat]), np.nan, 0.0)
    return f_all, f_ovr, classes


def _boot_f(x: F64, codes: I64, k: int, n_boot: int, rng: np.random.Generator) -> tuple[F64, F64]:
    """F of ``n_boot`` stratified bootstrap resamples: shapes (B, d) and (B, k, d)."""
    d = x.shape[1]
    n = np.zeros((n_boot, k, d))
    mean = np.zeros((n_boot, k, d))
    ss = np.zeros((n_boot, k, d))
    for c in range(k):
        rows = x[codes == c]
        size = len(rows)
        draws = rng.integers(0, size, (n_boot, size)) + (np.arange(n_boot) * size)[:, np.newaxis]
        weights = np.bincount(draws.ravel(), minlength=n_boot * size).reshape(n_boot, size)
        weights32 = weights.astype(np.float32)
        finite = np.isfinite(rows)
        have = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.where(have > 0, np.where(finite, rows, 0.0).sum(axis=0) / have, 0.0)
        dev = np.where(finite, rows - centre, 0.0).astype(np.float32)
        count = (weights32 @ finite.astype(np.float32)).astype(np.float64) if not finite.all() else None
        cnt = count if count is not None else np.full((n_boot, d), float(size))
        s = (weights32 @ dev).astype(np.float64)
        q = (weights32 @ (dev * dev)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            n[:, c] = cnt
            mean[:, c] = np.where(cnt > 0, centre + s / cnt, 0.0)
            ss[:, c] = np.where(cnt > 0, np.maximum(q - s * s / cnt, 0.0), 0.0)
    return _f_from_moments(n, mean, ss)


def _kth_distance(s: F64, k: int) -> F64:
    """Distance of each value of sorted columns ``s`` (n, d) to its k-th nearest other value."""
    m = s.shape[0]
    pad = np.full((k, s.shape[1]), np.inf)
    padded = np.vstack([-pad, s, pad])
    best = np.full(s.shape, np.inf)
    # The k neighbours and the value itself are k + 1 consecutive sorted values: try each window.
    for j in range(k + 1):
        left = s - padded[k - j : k - j + m]
        right = padded[2 * k - j : 2 * k - j + m] - s
        np.minimum(best, np.maximum(left, right), out=best)
    return best


def _mi_block(z: F64, codes: I64, k: int, n_neighbors: int) -> F64:
    """Ross's estimator per column of finite, jittered ``z`` (scikit-learn's ``_compute_mi_cd``)."""
    counts = np.bincount(codes, minlength=k)
    keep = counts[codes] > 1
    z, codes = z[keep], codes[keep]
    n, d = z.shape
    if n == 0:
        return np.zeros(d)
    radius = np.empty((n, d))
    k_all = np.empty(n)
    for c in np.flatnonzero(counts > 1):
        rows = np.flatnonzero(codes == c)
        kk = min(n_neighbors, len(rows) - 1)
        order = np.argsort(z[rows], axis=0, kind="stable")
        r_sorted = _kth_distance(np.take_along_axis(z[rows], order, axis=0), kk)
        r = np.empty_like(r_sorted)
        np.put_along_axis(r, order, r_sorted, axis=0)
        radius[rows] = np.nextafter(r, 0)
        k_all[rows] = kk
    zt = np.ascontiguousarray(z.T)
    m_all = _within(np.sort(zt, axis=1), zt, np.ascontiguousarray(radius.T))
    mi = digamma(n) + digamma(k_all).mean() - digamma(counts[codes]).mean() - digamma(m_all).mean(axis=1)
    return np.asarray(np.maximum(mi, 0.0), dtype=np.float64)


def _within(ordered: F64, x: F64, rad: F64) -> F64:
    """How many values of each sorted row of ``ordered`` (d, n) lie within ``rad`` of ``x`` (d, n).

    A value counts when ``|value - x| <= rad``, as a tree's radius query decides.
    """
    d, n = ordered.shape
    hi = np.empty((d, n), np.int64)
    lo = np.empty((d, n), np.int64)
    for j in range(d):
        hi[j] = np.searchsorted(ordered[j], x[j] + rad[j], "right")
        lo[j] = np.searchsorted(ordered[j], x[j] - rad[j], "left")
    ext = np.concatenate([np.full((d, 1), -np.inf), ordered, np.full((d, 1), np.inf)], axis=1)
    # x + rad is rounded: move each bound one value at a time until the distance decides.
    for _ in range(n):
        after = np.take_along_axis(ext, hi + 1, axis=1)
        last = np.take_along_axis(ext, hi, axis=1)
        step = ((hi < n) & (np.abs(after - x) <= rad)).astype(np.int64)
        step -= (hi > 0) & (last > x) & (np.abs(last - x) > rad)
        if not step.any():
            break
        hi += step
    for _ in range(n):
        before = np.take_along_axis(ext, lo, axis=1)
        first = np.take_along_axis(ext, lo + 1, axis=1)
        step = ((lo > 0) & (np.abs(before - x) <= rad)).astype(np.int64)
        step -= (lo < n) & (first < x) & (np.abs(first - x) > rad)
        if not step.any():
            break
        lo -= step
    return (hi - lo).astype(np.float64)


def _jitter(x: F64, seed: int) -> F64:
    """Scale and jitter columns exactly as ``mutual_info_classif`` does before estimating."""
    std = x.std(axis=0)
    z = x / np.where(std > 0, std, 1.0)
    means = np.maximum(1, np.mean(np.abs(z), axis=0))
    rng = np.random.RandomState(seed)
    return np.asarray(z + 1e-10 * means * rng.standard_normal(size=z.shape), dtype=np.float64)


def mutual_info(
    x: npt.ArrayLike, y: Sequence[object] | npt.ArrayLike, *, seed: int = 0, n_neighbors: int = N_NEIGHBORS
) -> F64:
    """Return the mutual information (nats) of every column with the labels.

    Equal to ``sklearn.feature_selection.mutual_info_classif(x, y, n_neighbors=n_neighbors,
    random_state=seed)`` for finite, non-constant columns (constant ones score 0 here).

    Parameters
    ----------
    x : array_like, shape (n, d)
        Finite values.
    y : array_like, shape (n,)
        Labels.
    seed : int
        Seed of the jitter that breaks ties.
    n_neighbors : int
        Neighbours of the estimator.

    Returns
    -------
    ndarray of float64, shape (d,)
    """
    values = np.asarray(x, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValidationError("mutual_info needs finite values (score_columns handles missing ones)")
    codes, classes = _codes(y)
    mi = _mi_block(_jitter(values, seed), codes, len(classes), n_neighbors)
    mi[_constant(values)] = 0.0
    return mi


@dataclass(frozen=True)
class Scores:
    """Column scores and their resamples; scope 0 is the label set, scope ``i + 1`` label ``i``.

    Attributes
    ----------
    labels : list of str
    f, mi : ndarray of float64, shape (1 + k, d)
    f_boot : ndarray of float64, shape (n_boot, 1 + k, d)
    mi_half : ndarray of float64, shape (n_half, 1 + k, d)
        NaN but for scope 0.
    n : ndarray of int64, shape (d,)
        Rows with a finite value, per column.
    label_sizes : ndarray of int64, shape (k,)
    """

    labels: list[str]
    f: F64
    mi: F64
    f_boot: F64
    mi_half: F64
    n: I64
    label_sizes: I64


def _stratified(codes: I64, k: int, cap: int, rng: np.random.Generator) -> I64:
    """Sorted row indices: at most ``cap`` rows, each label in proportion (at least 2 if it has them)."""
    if len(codes) <= cap:
        return np.arange(len(codes))
    counts = np.bincount(codes, minlength=k)
    take = np.minimum(counts, np.maximum(np.floor(counts * cap / len(codes)).astype(np.int64), 2))
    picked = [rng.choice(np.flatnonzero(codes == c), int(take[c]), replace=False) for c in range(k)]
    return np.sort(np.concatenate(picked))


def _mi_scopes(z: F64, codes: I64, k: int, scopes: int) -> F64:
    out = [_mi_block(z, codes, k, N_NEIGHBORS)]
    out += [_mi_block(z, (codes == c).astype(np.int64), 2, N_NEIGHBORS) for c in range(scopes - 1)]
    return np.stack(out)


def score_columns(
    x: npt.ArrayLike,
    y: Sequence[object] | npt.ArrayLike,
    *,
    one_vs_rest: bool = True,
    n_boot: int = N_BOOT,
    n_half: int = N_HALF,
    mi_rows: int = MI_ROWS,
    seed: int = 0,
) -> Scores:
    """Score every column: F and MI, point estimates and resamples (see the module notes).

    Parameters
    ----------
    x : array_like, shape (n, d)
        Values; NaN where a row lacks a column.
    y : array_like, shape (n,)
        Labels.
    one_vs_rest : bool
        Also score each label against the rest (scopes ``1..k``).
    n_boot, n_half : int
        Bootstrap resamples (F) and half samples (MI) behind the intervals.
    mi_rows : int
        Rows the mutual information is estimated on, at most.
    seed : int

    Returns
    -------
    Scores
    """
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 2:
        raise ValidationError(f"x must be 2-D (rows, columns), not {values.ndim}-D")
    codes, classes = _codes(y)
    if len(codes) != len(values):
        raise ValidationError(f"{len(values)} rows of values but {len(codes)} labels")
    k = len(classes)
    scopes = 1 + k if one_vs_rest else 1
    rng = np.random.default_rng(seed)
    flat = _constant(values)
    f_all, f_ovr = _f_from_moments(*_moments(values, codes, k))
    b_all, b_ovr = _boot_f(values, codes, k, n_boot, rng)
    f = np.concatenate([f_all[np.newaxis], f_ovr])[:scopes]
    f_boot = np.concatenate([b_all[:, np.newaxis], b_ovr], axis=1)[:, :scopes]
    sub = _stratified(codes, k, mi_rows, rng)
    xs, cs = values[sub], codes[sub]
    halves = [
        np.sort(np.concatenate([rng.permutation(r)[: max(1, len(r) // 2)] for r in _rows_by_label(cs, k)]))
        for _ in range(n_half)
    ]
    mi = np.full((scopes, values.shape[1]), np.nan)
    mi_half = np.full((n_half, scopes, values.shape[1]), np.nan)
    finite = np.isfinite(xs)
    # Columns missing in the same rows are estimated together (usually one group: all of them).
    groups: dict[bytes, list[int]] = {}
    for j in range(values.shape[1]):
        groups.setdefault(np.packbits(finite[:, j]).tobytes(), []).append(j)
    for cols in groups.values():
        rows = finite[:, cols[0]]
        if len(np.unique(cs[rows])) < 2:
            continue
        z = _jitter(xs[rows][:, cols], seed)
        mi[:, cols] = _mi_scopes(z, cs[rows], k, scopes)
        where = np.cumsum(rows) - 1
        for h, half in enumerate(halves):
            part = where[half[rows[half]]]
            if len(np.unique(cs[rows][part])) >= 2:
                mi_half[h, 0, cols] = _mi_block(z[part], cs[rows][part], k, N_NEIGHBORS)
    for arr in (f, mi):
        arr[:, flat] = np.where(np.isnan(arr[:, flat]), np.nan, 0.0)
    for arr in (f_boot, mi_half):
        arr[:, :, flat] = np.where(np.isnan(arr[:, :, flat]), np.nan, 0.0)
    return Scores(
        labels=classes,
        f=f,
        mi=mi,
        f_boot=f_boot,
        mi_half=mi_half,
        n=np.isfinite(values).sum(axis=0).astype(np.int64),
        label_sizes=np.bincount(codes, minlength=k).astype(np.int64),
    )


def _rows_by_label(codes: I64, k: int) -> list[I64]:
    return [np.flatnonzero(codes == c) for c in range(k)]


def _interval(estimate: F64, resamples: F64) -> tuple[F64, F64]:
    """Estimate plus the 2.5th and 97.5th percentiles of the resamples' deviations from their mean."""
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(resamples), resamples, np.nan)
        ok = np.isfinite(finite).any(axis=0)
        safe = np.where(ok, finite, 0.0)
        dev = safe - np.nanmean(safe, axis=0)
        low = estimate + np.nanpercentile(dev, 2.5, axis=0)
        high = estimate + np.nanpercentile(dev, 97.5, axis=0)
    low = np.where(ok, np.maximum(low, 0.0), np.where(np.isinf(estimate), estimate, np.nan))
    high = np.where(ok, high, np.where(np.isinf(estimate), estimate, np.nan))
    return low, high


def _group_max(values: F64, groups: list[I64]) -> F64:
    """Largest value of each group of columns along the last axis (NaN if all are NaN)."""
    out = np.full((*values.shape[:-1], len(groups)), np.nan)
    for g, cols in enumerate(groups):
        block = values[..., cols]
        has = ~np.isnan(block).all(axis=-1)
        out[..., g] = np.where(has, np.max(np.where(np.isnan(block), -np.inf, block), axis=-1), np.nan)
    return out


def rank_columns(
    scores: Scores,
    columns: Sequence[str],
    features: Mapping[str, str],
    families: Mapping[str, str],
    *,
    levels: Sequence[str] = LEVELS,
    by: str = "f",
) -> pd.DataFrame:
    """Return the ranking table: one row per level, scope and column, feature or family.

    Parameters
    ----------
    scores : Scores
        From :func:`score_columns`.
    columns : sequence of str, length d
        Column names.
    features : mapping of str to str
        Column -> feature id.
    families : mapping of str to str
        Feature id -> family.
    levels : sequence of {'column', 'feature', 'family'}
    by : {'f', 'mi'}
        The score ``rank`` orders by (1: separates best) within a level and scope.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RANK_COLUMNS`: ``level``; ``scope`` (:data:`ALL` or a label,
        that label against the rest); ``name`` (the column, feature or family);
        ``feature`` and ``family`` (empty where they do not apply); ``rank``; ``f``,
        ``f_low``, ``f_high``, ``mi``, ``mi_low``, ``mi_high`` (estimates and 95 %
        intervals); ``column`` (the summary column the score comes from); ``n``
        (rows with a value in that column); ``n_label`` (rows of the scope's label;
        the whole set for :data:`ALL`). Sorted by level, scope, rank.
    """
    if by not in ("f", "mi"):
        raise ValidationError(f"rank by 'f' or 'mi', not {by!r}")
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise ValidationError(f"unknown level {bad[0]!r}; choose from {', '.join(LEVELS)}")
    cols = list(columns)
    feat_of = [features[c] for c in cols]
    names: dict[str, list[tuple[str, str, str, list[int]]]] = {
        "column": [(c, feat_of[j], families[feat_of[j]], [j]) for j, c in enumerate(cols)],
        "feature": [],
        "family": [],
    }
    for feat in dict.fromkeys(feat_of):
        names["feature"].append((feat, feat, families[feat], [j for j, f in enumerate(feat_of) if f == feat]))
    for fam in dict.fromkeys(families[f] for f in feat_of):
        names["family"].append((fam, "", fam, [j for j, f in enumerate(feat_of) if families[f] == fam]))
    scope_names = [ALL, *scores.labels][: scores.f.shape[0]]
    sizes = [int(scores.label_sizes.sum()), *scores.label_sizes.tolist()]
    parts = []
    for level in levels:
        entries = names[level]
        groups = [np.asarray(e[3], dtype=np.int64) for e in entries]
        f, mi = _group_max(scores.f, groups), _group_max(scores.mi, groups)
        f_low, f_high = _interval(f, _group_max(scores.f_boot, groups))
        mi_low, mi_high = _interval(mi, _group_max(scores.mi_half, groups))
        key = scores.f if by == "f" else scores.mi
        for s, scope in enumerate(scope_names):
            best = [int(g[np.argmax(np.nan_to_num(key[s, g], nan=-np.inf))]) for g in groups]
            part = pd.DataFrame(
                {
                    "level": level,
                    "scope": scope,
                    "name": [e[0] for e in entries],
                    "feature": [e[1] for e in entries],
                    "family": [e[2] for e in entries],
                    "f": f[s],
                    "f_low": f_low[s],
                    "f_high": f_high[s],
                    "mi": mi[s],
                    "mi_low": mi_low[s],
                    "mi_high": mi_high[s],
                    "column": [cols[b] for b in best],
                    "n": scores.n[best],
                    "n_label": sizes[s],
                }
            )
            part["rank"] = part[by].rank(method="min", ascending=False, na_option="bottom").astype(np.int64)
            parts.append(part.sort_values(["rank", "name"], kind="stable"))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(RANK_COLUMNS))
    return frame[list(RANK_COLUMNS)]
