"""Which features separate a dataset's labels: stored summaries in, a ranking table out.

:func:`rank_features` reads the stored summaries of the train split's labelled samples
and scores them with :mod:`audiosoup_widgets.analysis.ranking` (ANOVA F and mutual
information, for the whole label set and each label against the rest, with 95 %
intervals). It never computes features; it names the command that does.

Which rows: samples in the ``train`` split that have a label. Validation and test
samples never take part, so a ranking cannot leak what a held-out set looks like. A
dataset whose samples have no split at all (no held-out set to protect) is ranked on
all its labelled samples, and the table says so in its ``split`` column (``"all"``
instead of ``"train"``). A dataset with splits but no labelled train sample is refused.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import FeatureError, ValidationError
from .compute import feature_names, feature_params, open_store

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..features.params import FeatureParams
    from ..store import Store

__all__ = ["rank_features", "read_labelled"]


def read_labelled(
    store: Store, dataset: str, features: Sequence[str], *, split: str | None, params: FeatureParams
) -> tuple[npt.NDArray[np.float32], list[str], list[str], list[str]]:
    """Read the summaries of a split's labelled samples (``split=None``: every labelled sample).

    Returns
    -------
    values : ndarray of float32, shape (n, d)
        One row per labelled sample with any stored summary; NaN where it lacks one.
    labels : list of str, length n
    columns : list of str, length d
        Summary column names (``<feature>_<mean|std>_<index>``).
    used : list of str
        The features with stored summaries among ``features``.
    """
    from .summaries import read_summary_matrix

    label_of = {sid: lab for sid, _, lab, _ in store.sample_table(dataset, split=split) if lab is not None}
    ids = np.fromiter(label_of, np.int64, len(label_of))
    # One read of every feature for these samples (the set is pushed into the query);
    # a sample with none of the summaries is left out.
    found = read_summary_matrix(store, dataset, features, params=params, ids=ids, split=split, align=False)
    labels = [str(label_of[int(sid)]) for sid in found.ids]
    return found.values, labels, found.columns, found.features


def rank_features(
    dataset: str,
    features: Sequence[str] | None = None,
    *,
    db: Store | str | None = None,
    level: str = "feature",
    by: str = "f",
    one_vs_rest: bool = True,
    params: FeatureParams | dict[str, Any] | None = None,
    n_boot: int | None = None,
    n_half: int | None = None,
    mi_rows: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Rank the features by how well they separate the labels of a dataset's train split.

    Parameters
    ----------
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: every feature with stored summaries).
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    level : {'feature', 'column', 'family', 'all'}
        Rank summary columns, features (the best of their columns), families (the best
        of their features' columns), or return all three levels.
    by : {'f', 'mi'}
        The score ``rank`` orders by: ANOVA F or mutual information.
    one_vs_rest : bool
        Also score each label against the rest (a scope per label).
    params : FeatureParams or dict, optional
        Which parameter set's summaries to read (default: the defaults).
    n_boot, n_half, mi_rows : int, optional
        Bootstrap resamples for F, half samples for MI, rows MI is estimated on
        (defaults: :data:`~audiosoup_widgets.analysis.ranking.N_BOOT`,
        :data:`~audiosoup_widgets.analysis.ranking.N_HALF`,
        :data:`~audiosoup_widgets.analysis.ranking.MI_ROWS`).
    seed : int
        Seed of every resample and of the MI estimator: the same data gives the same table.

    Returns
    -------
    pandas.DataFrame
        One row per level, scope and name, sorted by level, scope (``"all"`` first,
        then the labels) and rank:

        ``level`` (``column``, ``feature`` or ``family``); ``scope`` (``"all"``: the
        whole label set; a label: that label against the rest); ``name``;
        ``feature``, ``family``; ``rank`` (1 separates best, by ``by``); ``f``,
        ``f_low``, ``f_high`` (ANOVA F and its 95 % bootstrap interval); ``mi``,
        ``mi_low``, ``mi_high`` (mutual information in nats and its 95 % interval,
        NaN for one-vs-rest scopes); ``column`` (the summary column the score comes
        from); ``n`` (rows with a value in that column); ``n_label`` (rows of the
        scope's label); ``split`` (``"train"``, or ``"all"`` for a dataset without
        splits). ``frame.attrs`` holds ``dataset``, ``split``, ``n_rows``,
        ``labels``, ``features`` and the seconds spent ``reading`` and ``computing``.

    Raises
    ------
    NotFoundError
        An unknown dataset.
    ValidationError
        An unknown level or score, fewer than two labels among the rows, or no
        labelled train sample in a dataset with splits.
    FeatureError
        ``not_computed``: no stored summaries of the requested features; the message
        names the command to run.
    """
    from ..analysis.ranking import LEVELS, MI_ROWS, N_BOOT, N_HALF, rank_columns, score_columns
    from ..features.registry import FEATURES

    levels = LEVELS if level == "all" else (level,)
    if level != "all" and level not in LEVELS:
        raise ValidationError(f"unknown level {level!r}; choose from {', '.join((*LEVELS, 'all'))}")
    if by not in ("f", "mi"):
        raise ValidationError(f"rank by 'f' or 'mi', not {by!r}")
    store = open_store(db)
    names = feature_names(features)
    fp = feature_params(params)
    started = time.perf_counter()
    split: str | None = "train"
    values, labels, columns, used = read_labelled(store, dataset, names, split=split, params=fp)
    if not labels:
        splits = {s for _, _, _, s in store.sample_table(dataset)}
        if splits == {None}:
            split = None
            values, labels, columns, used = read_labelled(store, dataset, names, split=None, params=fp)
        elif "train" not in splits:
            raise ValidationError(
                f"{dataset!r} has no sample in the train split; the ranking uses the train "
                "split only, so that validation and test samples stay unseen"
            )
    if not used:
        which = "" if features is None else f" --features {','.join(names)}"
        raise FeatureError(
            f"no feature summaries are stored for {dataset!r} yet, so there is nothing to rank; "
            f"run: audiosoup features compute --dataset {shlex.quote(dataset)}{which}",
            code="not_computed",
        )
    if not labels:
        raise ValidationError(f"no labelled sample of {dataset!r}'s train split has stored summaries")
    reading = time.perf_counter() - started
    scores = score_columns(
        values,
        labels,
        one_vs_rest=one_vs_rest,
        n_boot=N_BOOT if n_boot is None else n_boot,
        n_half=N_HALF if n_half is None else n_half,
        mi_rows=MI_ROWS if mi_rows is None else mi_rows,
        seed=seed,
    )
    feature_of = {c: name for name in used for c in columns if c.rsplit("_", 2)[0] == name}
    frame = rank_columns(
        scores, columns, feature_of, {f: FEATURES[f].family for f in used}, levels=levels, by=by
    )
    frame["split"] = "train" if split else "all"
    frame.attrs.update(
        dataset=dataset,
        split=frame["split"].iloc[0] if len(frame) else ("train" if split else "all"),
        n_rows=len(labels),
        labels=scores.labels,
        features=used,
        reading=reading,
        computing=time.perf_counter() - started - reading,
    )
    return frame
