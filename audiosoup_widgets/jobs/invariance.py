"""Invariance check: how often a transform flips the latest model run's predicted label.

The latest run (:mod:`audiosoup_widgets.jobs.model`) stores its features, model and
parameters but not the fitted model, so the model is fitted again on the run's train
clips (the same pipeline, seed and stored summaries). A sample of clips is decoded;
each clip's features are computed by the feature engine
(:func:`~audiosoup_widgets.features.engine.compute_features`, summarised by
:func:`~audiosoup_widgets.features.summaries.summarize`) from the original audio and
from each transformed copy, and the share whose predicted label differs is reported per
transform and label: "a pitch shift of +4 semitones flips 30 % of yes".

Both predictions come from features computed here, the same way, so a flip is the
transform's doing and not a difference between stored and recomputed summaries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudiosoupError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..audio.recipes import Recipe
    from ..store import Store

__all__ = ["DEFAULT_TRANSFORMS", "invariance_check"]

#: The transforms checked by default: one step each, at fixed strength (min = max).
DEFAULT_TRANSFORMS: dict[str, dict[str, dict[str, float]]] = {
    "pitch shift +4 semitones": {"PitchShift": {"min_semitones": 4.0, "max_semitones": 4.0}},
    "pitch shift -4 semitones": {"PitchShift": {"min_semitones": -4.0, "max_semitones": -4.0}},
    "time stretch x1.2": {"TimeStretch": {"min_rate": 1.2, "max_rate": 1.2}},
    "gain -12 dB": {"Gain": {"min_gain_db": -12.0, "max_gain_db": -12.0}},
    "noise at 10 dB SNR": {"AddGaussianSNR": {"min_snr_db": 10.0, "max_snr_db": 10.0}},
    "low-pass 2 kHz": {"LowPassFilter": {"min_cutoff_freq": 2000.0, "max_cutoff_freq": 2000.0}},
}

COLUMNS = ("transform", "label", "n", "flipped")


def _recipes(transforms: Mapping[str, Any] | None, seed: int) -> dict[str, Recipe]:
    """Return each transform as a recipe: a Recipe, or one step ``{Name: {params}}``."""
    from ..audio.recipes import Recipe, recipe_from_dict

    given = DEFAULT_TRANSFORMS if transforms is None else transforms
    if not given:
        raise ValidationError("name at least one transform to check")
    return {
        str(name): t if isinstance(t, Recipe) else recipe_from_dict({"seed": seed, "steps": [t]})
        for name, t in given.items()
    }


def invariance_check(
    dataset: str,
    *,
    db: Store | str | None = None,
    transforms: Mapping[str, Any] | None = None,
    n_clips: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Report, per transform and label, the share of clips whose predicted label flips.

    Parameters
    ----------
    dataset : str
        A dataset with a model run (``audiosoup model fit``).
    db : Store or str, optional
        An open store or a database URL.
    transforms : mapping, optional
        Name to a :class:`~audiosoup_widgets.audio.recipes.Recipe` or to one step
        (``{"PitchShift": {"min_semitones": 4, "max_semitones": 4}}``); default
        :data:`DEFAULT_TRANSFORMS`.
    n_clips : int
        Clips checked at most, drawn with ``seed`` from the run's validation clips (its
        train clips when there are none), original clips only.
    seed : int
        Draws the clips, and seeds the transforms.

    Returns
    -------
    pandas.DataFrame
        Columns ``transform``, ``label`` (the clip's label), ``n`` (clips checked),
        ``flipped`` (share from 0 to 1 whose prediction changed), one row per transform
        and label, in the order given, labels sorted.

    Raises
    ------
    ValidationError
        If the dataset has no model run, or no clip to check.
    """
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from ..analysis.model import build_pipeline
    from ..audio.decode import decode
    from ..audio.recipes import apply_recipe
    from ..config import clip_root
    from ..features.engine import compute_features
    from ..features.summaries import summarize, summary_row
    from .augment import parent_key
    from .compute import open_store
    from .model import _read

    if n_clips < 1:
        raise ValidationError("n_clips must be 1 or more")
    recipes = _recipes(transforms, seed)
    store = open_store(db)
    store.get_dataset(dataset)
    run = store.latest_model_run(dataset)
    if run is None:
        raise ValidationError(f"{dataset!r} has no model run yet; run: audiosoup model fit --dataset ...")
    data = _read(store, dataset, run.features)
    train = [i for i, s in enumerate(data.splits) if s == "train"]
    pool = [i for i, s in enumerate(data.splits) if s == "validation"] or train
    originals = set(store.sample_ids(_original_query(dataset)))
    pool = [i for i in pool if int(data.ids[i]) in originals]
    if not pool:
        raise ValidationError(f"{dataset!r} has no labelled original clips with features to check")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(pool, size=min(n_clips, len(pool)), replace=False).tolist())
    y_train = np.asarray([data.labels[i] for i in train], dtype=object)
    root = store.dataset_root(dataset)

    def features(y: np.ndarray, sr: int) -> np.ndarray:
        row = summary_row(summarize(compute_features(y, sr, run.features)))
        return np.asarray([row.get(c, np.nan) for c in data.columns], dtype=np.float64)

    names = list(recipes)
    base: list[np.ndarray] = []
    moved: dict[str, list[np.ndarray]] = {n: [] for n in names}
    labels: list[str] = []
    for i in chosen:
        record = store.get_sample(int(data.ids[i]), dataset=dataset)
        path = os.path.join(root, record.path)
        try:
            y, sr = decode(path, sr=None, mono=True, root=clip_root(path, root))
        except AudiosoupError:  # a clip that cannot be read is left out, not the check
            continue
        key = parent_key(record.path, record.content_hash)
        labels.append(data.labels[i])
        base.append(features(y, sr))
        for name in names:
            moved[name].append(features(apply_recipe(y, sr, recipes[name], parent_key=key), sr))
    if not labels:
        raise ValidationError(f"none of the chosen clips of {dataset!r} could be decoded")
    with threadpool_limits(limits=1):
        pipe = build_pipeline(run.model, run.params).fit(data.x[train], y_train)
        before = pipe.predict(np.nan_to_num(np.vstack(base)))
        rows = []
        label_arr = np.asarray(labels, dtype=object)
        for name in names:
            after = pipe.predict(np.nan_to_num(np.vstack(moved[name])))
            for label in sorted(set(labels)):
                mask = label_arr == label
                rows.append((name, label, int(mask.sum()), float(np.mean(after[mask] != before[mask]))))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _original_query(dataset: str) -> Any:
    from ..store import SampleQuery

    return SampleQuery(dataset=dataset, origin="original")
