"""A classifier on chosen features of a dataset, its run history, and the label suspects.

:func:`fit_model` reads the stored summaries of the chosen features (or families), the
labels, splits and speakers, runs :func:`~audiosoup_widgets.analysis.model.fit_and_score`
(cross-validation on the train split, grouped by speaker when speakers are known, the
validation split scored by the model fitted on all of train, cleanlab's label issues)
and records the run with every judged clip's suspicion. The test split's rows are dropped
as soon as the summaries are read: no fit, score or suspicion uses them;
:func:`score_test` is the separate step that scores that split, when a user asks.

:func:`label_suspects` is what ``audiosoup suspects`` runs: a fresh run (the latest run's
features and model by default) and its suspects as a DataFrame, most suspicious first,
or the stored suspects of a given run. Clips a reviewer kept, or called ambiguous, are
left out while their label and audio are unchanged; clips whose label changed since the
run (an accepted suggestion) too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from ..terminal import one_line
from .compute import open_store

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..store import Store
    from ..store.records import ModelRunRecord

__all__ = [
    "FitReport",
    "fit_model",
    "label_suspects",
    "score_test",
    "run_history",
    "resolve_features",
    "suspects_report",
    "SUSPECT_FRAME_COLUMNS",
]

#: ``progress(stage, done, total)``; stages ``reading``, ``fitting`` (cross-validation, the
#: validation fit, cleanlab), ``explaining`` (nearest clips of the suggestions), ``saving``.
Progress = Callable[[str, int, int], None]
#: Columns of :func:`label_suspects`'s DataFrame.
SUSPECT_FRAME_COLUMNS = ("sample_id", "path", "label", "suggested", "score", "rank", "top3", "decision")


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def resolve_features(
    features: Sequence[str] | str | None, *, stored: Sequence[str] | None = None
) -> list[str]:
    """Return the feature ids meant by ``features``: ids, family names, or ``all``.

    Parameters
    ----------
    features : str or sequence of str, optional
        Feature ids and family names (``spectral``, ``rhythmic``, ``deltas``), as a list or
        one comma-separated text; ``all`` or None means every feature in ``stored``.
    stored : sequence of str, optional
        The features with stored summaries (what "every feature" means).

    Raises
    ------
    ValidationError
        An unknown feature or family, or nothing chosen.
    """
    from ..features.registry import FAMILIES, FEATURES, features_in

    if isinstance(features, str):
        features = [f for f in (p.strip() for p in features.split(",")) if f]
    if not features or list(features) == ["all"]:
        names = [f for f in FEATURES if stored is None or f in stored]
        if not names:
            raise ValidationError("choose the features to use (no feature summaries are stored yet)")
        return names
    out: list[str] = []
    for name in features:
        if name in FAMILIES:
            out.extend(spec.id for spec in features_in(name))
        elif name in FEATURES:
            out.append(name)
        else:
            raise ValidationError(
                f"unknown feature or family {name!r}; choose from {', '.join((*FAMILIES, *FEATURES))}"
            )
    return list(dict.fromkeys(out))


def _stored(store: Store, dataset: str) -> list[str]:
    from ..features.params import FeatureParams

    fp = FeatureParams()
    return [f for f, key in store.stored_features(dataset) if key == fp.key_for(f)]


@dataclass
class _Data:
    """The clips a run uses: train and validation, with features, labels, speakers."""

    ids: np.ndarray
    x: np.ndarray
    labels: list[str]
    splits: list[str]
    speakers: list[str | None]
    columns: list[str]
    left_out: int = 0


def _read(store: Store, dataset: str, names: Sequence[str], *, test: bool = False) -> _Data:
    """Read the features, labels, splits and speakers of the labelled clips with features.

    Without ``test`` the test split's clips are dropped as soon as they are read (their
    rows never reach the model); with it, only the train and test clips are kept.
    """
    from .frames import feature_frame

    table = store.model_table(dataset)
    frame = feature_frame(dataset, list(names), db=store)
    ids = np.asarray(table["sample_id"], dtype=np.int64)
    if not np.array_equal(ids, frame["sample_id"].to_numpy(dtype=np.int64)):
        raise ValidationError("the dataset changed while it was read; run again")
    cols = [c for c in frame.columns if c not in ("sample_id", "path", "label", "split")]
    x = frame[cols].to_numpy(dtype=np.float64)
    labels, splits, speakers = list(table["label"]), list(table["split"]), list(table["speaker"])
    split_of = np.asarray([s if s is not None else "train" for s in splits], dtype=object)
    wanted = ("train", "test") if test else ("train", "validation")
    keep = np.isin(split_of, wanted) & np.asarray([lab is not None for lab in labels])
    has = ~np.isnan(x).all(axis=1) if cols else np.zeros(len(ids), bool)
    left_out = int((keep & ~has).sum())
    keep &= has
    idx = np.flatnonzero(keep)
    return _Data(
        ids=ids[idx],
        x=x[idx],
        labels=[str(labels[i]) for i in idx],
        splits=[str(split_of[i]) for i in idx],
        speakers=[speakers[i] for i in idx],
        columns=cols,
        left_out=left_out,
    )


@dataclass
class FitReport:
    """A recorded model run, how it compares with the previous one, and its label issues."""

    run: ModelRunRecord
    change: str | None = None
    n_issues: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return the scores as the terminal prints them."""
        r, s = self.run, self.run.scores
        lines = [
            f"model run {r.id} of {r.dataset!r}: {r.model} on {', '.join(r.features)}  "
            f"[{r.n_train:,} train, {r.n_validation:,} validation clips; {r.duration:.1f} s]"
        ]
        cv = s.get("cv") or {}
        grouped = "grouped by speaker" if s.get("grouped") else "not grouped (no speakers known)"
        lines.append(
            f"  cross-validated on train ({s.get('folds')} folds, {grouped}): accuracy "
            f"{_f(cv.get('accuracy'))}, balanced accuracy {_f(cv.get('balanced_accuracy'))}"
        )
        val = s.get("validation")
        if val:
            lines.append(
                f"  validation: accuracy {_f(val.get('accuracy'))}, "
                f"balanced accuracy {_f(val.get('balanced_accuracy'))}"
            )
            lines.append("  recall per label: " + ", ".join(f"{k} {_f(v)}" for k, v in val["recall"].items()))
            lines += _confusion(val["confusion"])
        else:
            lines.append("  validation: no validation clips")
        lines.append(f"  label suspects: {self.n_issues:,} (audiosoup suspects --dataset ... --run {r.id})")
        if self.change:
            lines.append(f"  since the previous run: {self.change}")
        lines += [f"  note: {n}" for n in [*s.get("notes", []), *self.notes]]
        return "\n".join(lines)


def _confusion(conf: dict[str, Any]) -> list[str]:
    """Return the confusion matrix as terminal lines: numbered columns, named rows."""
    labels, matrix = conf["labels"], conf["matrix"]
    width = max(2, len(str(len(labels))), *(len(str(v)) for row in matrix for v in row))
    name = min(24, max(len(one_line(lab)) for lab in labels))
    lines = ["  confusion (rows: given label; columns: predicted, numbered as the rows):"]
    lines.append(
        "    " + " " * (name + width + 2) + " ".join(f"{j + 1:>{width}}" for j in range(len(labels)))
    )
    for i, (lab, row) in enumerate(zip(labels, matrix, strict=True)):
        text = one_line(lab)[:name]
        lines.append(f"    {i + 1:>{width}} {text:<{name}} " + " ".join(f"{v:>{width}}" for v in row))
    return lines


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def _family_of() -> dict[str, str]:
    from ..features.registry import FEATURES

    return {k: spec.family for k, spec in FEATURES.items()}


def fit_model(
    dataset: str,
    *,
    features: Sequence[str] | str | None = None,
    model: str = "logreg",
    params: dict[str, Any] | None = None,
    db: Store | str | None = None,
    reviewer: str | None = None,
    n_splits: int = 5,
    workers: int = 1,
    progress: Progress | None = None,
) -> FitReport:
    """Fit a classifier on chosen features, score it, find label suspects, record the run.

    Parameters
    ----------
    dataset : str
        Dataset name.
    features : str or sequence of str, optional
        Feature ids or families (``"mfcc,chroma"``, ``["rhythmic"]``); default every
        feature with stored summaries.
    model : {'logreg', 'forest'}
        Standardised logistic regression (the default) or a random forest.
    params : dict, optional
        Classifier parameters over the defaults.
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    reviewer : str, optional
        Who runs it (recorded with the run).
    n_splits : int
        Cross-validation folds wanted.
    workers : int
        Folds fitted in parallel (processes).
    progress : callable, optional
        ``progress(stage, done, total)``: ``reading``, ``fitting``, ``explaining``, ``saving``.

    Returns
    -------
    FitReport

    Raises
    ------
    ValidationError
        Unknown features or model, too few clips per label, no train clips.
    FeatureError
        The chosen features have no stored summaries (the message names the command).
    """
    from threadpoolctl import threadpool_limits

    from ..analysis.model import describe_change, fit_and_score, model_params, nearest_of_label

    report = progress or _quiet
    started = time.monotonic()
    store = open_store(db)
    store.get_dataset(dataset)
    kw = model_params(model, params)
    names = resolve_features(features, stored=_stored(store, dataset) if not features else None)
    report("reading", 0, 1)
    data = _read(store, dataset, names)
    report("reading", 1, 1)
    if not len(data.ids):
        raise ValidationError(f"{dataset!r} has no labelled train or validation clips with these features")
    report("fitting", 0, 1)
    # One thread per process: BLAS threads on shared cores slow a small fit tenfold.
    with threadpool_limits(limits=1):
        result = fit_and_score(
            data.x,
            data.labels,
            data.splits,
            groups=data.speakers,
            model=model,
            params=kw,
            n_splits=n_splits,
            n_jobs=workers,
        )
        report("fitting", 1, 1)
        report("explaining", 0, 1)
        issues = result.ranking[: int(result.is_issue.sum())]
        pool_labels = [data.labels[i] for i in result.pool]
        near = nearest_of_label(
            data.x[result.pool],
            pool_labels,
            issues,
            [result.classes[result.suggested[i]] for i in issues],
        )
    report("explaining", 1, 1)
    report("saving", 0, 1)
    nearest: list[list[int] | None] = [None] * len(result.pool)
    for pos, rows in zip(issues.tolist(), near, strict=True):
        nearest[pos] = [int(data.ids[result.pool[r]]) for r in rows]
    rank = np.empty(len(result.pool), np.int64)
    rank[result.ranking] = np.arange(1, len(result.pool) + 1)
    notes = [f"{data.left_out:,} labelled clips without stored summaries left out"] if data.left_out else []
    previous = store.latest_model_run(dataset)
    n_valid = sum(1 for s in data.splits if s == "validation")
    run_id = store.save_model_run(
        dataset,
        model=model,
        params=kw,
        features=names,
        scores=result.scores(),
        n_train=len(data.ids) - n_valid,
        n_validation=n_valid,
        duration=time.monotonic() - started,
        reviewer=reviewer,
        suspects={
            "sample_id": data.ids[result.pool],
            "label": pool_labels,
            "suggested": [result.classes[j] for j in result.suggested],
            "score": result.score.tolist(),
            "rank": rank.tolist(),
            "is_issue": result.is_issue.tolist(),
            "top3": result.top(),
            "nearest": nearest,
            # Every judged clip's class probabilities: the reviewers' consensus weighs them.
            "probs": result.probabilities.tolist(),
        },
    )
    report("saving", 1, 1)
    run = store.get_model_run(run_id)
    change = None
    if previous is not None:
        change = describe_change(_as_dict(previous), _as_dict(run), family_of=_family_of())
    return FitReport(run=run, change=change, n_issues=int(result.is_issue.sum()), notes=notes)


def _as_dict(run: ModelRunRecord) -> dict[str, Any]:
    return {"features": run.features, "model": run.model, "scores": run.scores}


def run_history(dataset: str, *, db: Store | str | None = None) -> list[tuple[ModelRunRecord, str | None]]:
    """Return the dataset's runs, newest first, each with how it moved from the run before it."""
    from ..analysis.model import describe_change

    store = open_store(db)
    runs = store.model_runs(dataset)
    fam = _family_of()
    out: list[tuple[ModelRunRecord, str | None]] = []
    for i, run in enumerate(runs):
        before = runs[i + 1] if i + 1 < len(runs) else None
        out.append(
            (run, None if before is None else describe_change(_as_dict(before), _as_dict(run), family_of=fam))
        )
    return out


def label_suspects(
    dataset: str,
    *,
    db: Store | str | None = None,
    run: int | None = None,
    features: Sequence[str] | str | None = None,
    model: str | None = None,
    reviewer: str | None = None,
    include_reviewed: bool = False,
    workers: int = 1,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Return the clips whose label the model doubts, most suspicious first.

    Without ``run``, fits a fresh run first (:func:`fit_model`): with ``features`` and
    ``model`` when given, else those of the dataset's latest run (every stored feature
    and logistic regression when there is none). With ``run``, reads that run's
    stored suspects.

    Parameters
    ----------
    dataset : str
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    run : int, optional
        A recorded run whose suspects to read.
    features, model
        For a fresh run (see :func:`fit_model`).
    reviewer : str, optional
        Recorded with a fresh run.
    include_reviewed : bool
        Also clips a reviewer kept or called ambiguous (``decision`` says which).
    workers : int
        Folds fitted in parallel.
    progress : callable, optional
        As :func:`fit_model`'s.

    Returns
    -------
    pandas.DataFrame
        :data:`SUSPECT_FRAME_COLUMNS`: ``sample_id``, ``path`` (as the store records it),
        ``label`` (the clip's label), ``suggested`` (the model's label), ``score``
        (1 - the model's probability of the given label), ``rank`` (1: most suspicious
        of the run), ``top3`` (``[(label, probability), ...]``) and ``decision``. The
        run's id is in ``frame.attrs["run"]``.
    """
    import pandas as pd

    store = open_store(db)
    store.get_dataset(dataset)
    if run is None:
        latest = store.latest_model_run(dataset)
        if features is None and latest is not None:
            features = latest.features
        if model is None:
            model = latest.model if latest is not None else "logreg"
        run = fit_model(
            dataset,
            features=features,
            model=model,
            db=store,
            reviewer=reviewer,
            workers=workers,
            progress=progress,
        ).run.id
    else:
        store.get_model_run(run, dataset=dataset)
    records = store.run_suspects(run, include_reviewed=include_reviewed)
    frame = pd.DataFrame(
        {
            "sample_id": np.asarray([r.sample_id for r in records], dtype=np.int64),
            "path": [r.path for r in records],
            "label": [r.current_label for r in records],
            "suggested": [r.suggested for r in records],
            "score": np.asarray([r.score for r in records], dtype=np.float64),
            "rank": np.asarray([r.rank for r in records], dtype=np.int64),
            "top3": [list(r.top3) for r in records],
            "decision": [r.decision for r in records],
        },
        columns=list(SUSPECT_FRAME_COLUMNS),
    )
    frame.attrs["run"] = run
    frame.attrs["dataset"] = dataset
    return frame


def suspects_report(frame: pd.DataFrame) -> dict[str, Any]:
    """Return the ``--report`` JSON of :func:`label_suspects`'s frame, most suspicious first."""
    return {
        "dataset": frame.attrs.get("dataset"),
        "run": frame.attrs.get("run"),
        "suspects": [
            {
                "sample_id": int(sid),
                "path": str(path),
                "label": label,
                "suggested": str(sug),
                "score": round(float(score), 6),
            }
            for sid, path, label, sug, score in zip(
                frame["sample_id"],
                frame["path"],
                frame["label"],
                frame["suggested"],
                frame["score"],
                strict=True,
            )
        ],
    }


def score_test(
    dataset: str, *, run: int | None = None, db: Store | str | None = None, reviewer: str | None = None
) -> ModelRunRecord:
    """Score a run's model on the test split: the separate step a user asks for.

    The run's features, model and parameters are fitted on the train split and scored on
    the test split; the scores are recorded with the run (``test_scores``, when, by whom).

    Parameters
    ----------
    dataset : str
    run : int, optional
        The run (default: the latest).
    db : str or Store, optional
    reviewer : str, optional
        Who asked.

    Returns
    -------
    ModelRunRecord
        The run with its test scores.
    """
    from threadpoolctl import threadpool_limits

    from ..analysis.model import score_split

    store = open_store(db)
    store.get_dataset(dataset)
    rec = store.latest_model_run(dataset) if run is None else store.get_model_run(run, dataset=dataset)
    if rec is None:
        raise ValidationError(f"{dataset!r} has no model run yet; run: audiosoup model fit --dataset ...")
    data = _read(store, dataset, rec.features, test=True)
    train = [i for i, s in enumerate(data.splits) if s == "train"]
    test = [i for i, s in enumerate(data.splits) if s == "test"]
    with threadpool_limits(limits=1):
        scores = score_split(
            data.x[train],
            [data.labels[i] for i in train],
            data.x[test],
            [data.labels[i] for i in test],
            model=rec.model,
            params=rec.params,
        )
    store.save_test_scores(rec.id, scores=scores, reviewer=reviewer)
    return store.get_model_run(rec.id)
