"""ModelService: a classifier on chosen features, its run history, and the review of label suspects.

The use cases of the model view, over :mod:`audiosoup_widgets.jobs.model` and the store:

* :meth:`ModelService.fit` fits, scores and records a run; :meth:`ModelService.history`
  lists the runs with what changed between them;
* :meth:`ModelService.suspects` gives a page of cards their badges (label, suggested
  label, score) from the latest run with suspects; :meth:`ModelService.explain` says why
  a clip is suspected: the model's top three labels and the three nearest clips of the
  suggested label, by name;
* :meth:`ModelService.accept` relabels a clip as suggested (an edit with its reason,
  through :class:`~audiosoup_widgets.services.samples.SampleService`, so its caches
  follow); :meth:`ModelService.keep` and :meth:`ModelService.ambiguous` record a
  decision in the clip's history without changing it. Either way the clip is no longer a
  suspect for its label until its label or audio changes.

The latest run of each dataset is cached until a fit or a decision through this service;
either also drops the sample service's cached counts (the "suspects only" filter's change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..errors import NotFoundError, ValidationError
from ..jobs.model import FitReport, fit_model, run_history
from ..store import Store
from ..store.records import ModelRunRecord, SampleRecord, SuspectRecord
from .samples import SampleService, as_sample_id

__all__ = ["ModelService", "Explanation", "MODELS", "MAX_BADGE_IDS"]

#: The classifiers a user can pick (the analysis' own list).
MODELS: tuple[str, ...] = ("logreg", "forest")
#: Most clips one badge request may ask about (a page of cards is at most 200).
MAX_BADGE_IDS = 1000


@dataclass(frozen=True)
class Explanation:
    """Why the model doubts a clip's label.

    Attributes
    ----------
    sample_id : int
    run_id : int
    label : str
        The label the run judged.
    suggested : str
        The model's most probable label.
    score : float
        1 - the model's probability of the given label.
    is_issue : bool
        Whether cleanlab counts it as a label issue.
    top3 : tuple of (str, float)
        The model's three most probable labels and their probabilities.
    nearest : tuple of (int, str)
        The nearest clips of the suggested label: (sample id, file name).
    decision : str or None
        ``keep`` or ``ambiguous`` if a reviewer decided and nothing changed since.
    """

    sample_id: int
    run_id: int
    label: str
    suggested: str
    score: float
    is_issue: bool
    top3: tuple[tuple[str, float], ...]
    nearest: tuple[tuple[int, str], ...]
    decision: str | None = None


class ModelService:
    """Fit and review: model runs, their history and the label suspects of a dataset.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        Edits (an accepted suggestion) go through it, so its caches stay true.
    """

    def __init__(self, store: Store, samples: SampleService) -> None:
        self._store = store
        self._samples = samples
        self._latest: dict[str, ModelRunRecord | None] = {}

    # -- runs --------------------------------------------------------------------------

    def fit(
        self,
        dataset: str,
        *,
        features: Sequence[str] | str,
        model: str = "logreg",
        reviewer: str | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> FitReport:
        """Fit, score and record a classifier on the ticked features or families.

        ``progress(stage, done, total)`` hears of the stages (``reading``, ``fitting``,
        ``explaining``, ``saving``).

        Raises
        ------
        ValidationError
            No feature ticked, an unknown one, an unknown model, too few clips per label.
        FeatureError
            The features have no stored summaries yet.
        """
        if not features or (not isinstance(features, str) and not list(features)):
            raise ValidationError("tick at least one feature or family")
        if model not in MODELS:
            raise ValidationError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
        report = fit_model(
            dataset, features=features, model=model, db=self._store, reviewer=reviewer, progress=progress
        )
        self._latest.pop(dataset, None)
        self._samples.forget()  # counts of "suspects only" follow the new run
        return report

    def history(self, dataset: str) -> list[tuple[ModelRunRecord, str | None]]:
        """Return the runs, newest first, each with a sentence on what changed since the one before."""
        return run_history(dataset, db=self._store)

    def latest_run(self, dataset: str) -> ModelRunRecord | None:
        """Return the dataset's newest run with stored suspects (cached until a fit or decision)."""
        if dataset not in self._latest:
            self._latest[dataset] = self._store.latest_model_run(dataset, with_suspects=True)
        return self._latest[dataset]

    def confusion_ids(self, dataset: str, given: object, predicted: object) -> list[int]:
        """Return the validation clips of one confusion-matrix cell of the latest run.

        The run stores, per judged clip, the label it had and the model's most probable
        label (the prediction the matrix counts), but not its split: a clip counts as a
        validation clip if its split is ``validation`` now. The ids are those of the run's
        validation clips labelled ``labels[given]`` and predicted ``labels[predicted]``,
        where ``labels`` is the order of the run's validation confusion matrix.

        Parameters
        ----------
        dataset : str
        given, predicted : int
            Row (given label) and column (predicted label) of the matrix.

        Raises
        ------
        NotFoundError
            No run yet, or it had no validation clips.
        ValidationError
            A row or column outside the matrix.
        """
        run = self.latest_run(dataset)
        validation = None if run is None else (run.scores.get("validation") or None)
        if run is None or validation is None:
            raise NotFoundError("no model run with validation clips yet; train a model first")
        labels = list(validation["confusion"]["labels"])
        rows: list[int] = []
        for value in (given, predicted):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(labels):
                raise ValidationError("that cell is not in the confusion matrix")
            rows.append(value)
        label, suggested = labels[rows[0]], labels[rows[1]]
        table = self._store.model_table(dataset)
        in_validation = {
            int(sid)
            for sid, split in zip(table["sample_id"], table["split"], strict=True)
            if split == "validation"
        }
        judged = self._store.run_suspects(
            run.id, issues_only=False, include_reviewed=True, include_stale=True
        )
        return sorted(
            s.sample_id
            for s in judged
            if s.sample_id in in_validation and s.label == label and s.suggested == suggested
        )

    def suspect_change(self, dataset: str) -> str | None:
        """Say how the label suspects moved between the two newest runs with stored suspects.

        ``"4 suspects fixed, 1 new, 12 still suspected"``: fixed are the previous run's label
        issues the newest run no longer flags (an accepted suggestion, a corrected label, a
        better model), new are issues the previous run did not flag. None with fewer than
        two such runs.
        """
        runs = self._store.model_runs(dataset)[:2]  # the newest runs keep their suspects
        if len(runs) < 2:
            return None
        now, before = (
            {s.sample_id for s in self._store.run_suspects(r.id, include_reviewed=True, include_stale=True)}
            for r in runs
        )
        fixed, new, still = len(before - now), len(now - before), len(now & before)
        return f"{fixed:,} suspects fixed, {new:,} new, {still:,} still suspected"

    # -- suspects ----------------------------------------------------------------------

    def suspects(self, dataset: str, ids: Iterable[object]) -> dict[int, SuspectRecord]:
        """Return the badges of a page of cards: each current suspect among ``ids``, by id.

        Only cleanlab's issues of the latest run whose label is unchanged and that no
        reviewer kept or called ambiguous; an empty dict when there is no run.
        """
        wanted = [as_sample_id(i) for i in ids]
        if len(wanted) > MAX_BADGE_IDS:
            raise ValidationError(f"at most {MAX_BADGE_IDS} clips per request")
        run = self.latest_run(dataset)
        if run is None or not wanted:
            return {}
        return {s.sample_id: s for s in self._store.run_suspects(run.id, ids=wanted)}

    def _judged(self, sample_id: object) -> tuple[SampleRecord, ModelRunRecord, SuspectRecord]:
        record = self._samples.get(sample_id, fresh=True)
        run = self.latest_run(record.dataset)
        found = (
            []
            if run is None
            else self._store.run_suspects(
                run.id, ids=[record.id], issues_only=False, include_reviewed=True, include_stale=True
            )
        )
        if run is None or not found:
            raise NotFoundError("no model run has judged this clip yet; fit a model first")
        return record, run, found[0]

    def explain(self, sample_id: object) -> Explanation:
        """Say why a clip is suspected: the model's top 3 labels, the 3 nearest clips of the suggestion."""
        _, run, s = self._judged(sample_id)
        names = []
        for nid in s.nearest:
            try:
                names.append((nid, self._samples.get(nid).file_name))
            except NotFoundError:  # deleted since the run
                continue
        return Explanation(
            sample_id=s.sample_id,
            run_id=run.id,
            label=s.label,
            suggested=s.suggested,
            score=s.score,
            is_issue=s.is_issue,
            top3=s.top3,
            nearest=tuple(names),
            decision=s.decision,
        )

    def accept(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> SampleRecord:
        """Relabel a clip as the model suggests: an edit in its history, with its reason.

        Raises
        ------
        ValidationError
            The clip's label changed since the run, or the model agrees with it.
        ConflictError
            Someone edited the clip in between (nothing is written).
        """
        record, run, s = self._judged(sample_id)
        if s.stale:
            raise ValidationError("this clip's label changed since the model judged it; fit the model again")
        if s.suggested == record.label:
            raise ValidationError("the model agrees with this clip's label: nothing to accept")
        why = f"accepted the suggestion of model run {run.id} (score {s.score:.2f})"
        if reason and reason.strip():
            why = f"{why}: {reason.strip()}"
        saved = self._samples.update(record, reviewer=reviewer, label=s.suggested, reason=why)
        self._latest.pop(record.dataset, None)
        return saved

    def keep(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> None:
        """Keep the clip's label: it is no longer a suspect for it until its label or audio changes."""
        self._decide(sample_id, "keep", reviewer, reason)

    def ambiguous(self, sample_id: object, *, reviewer: str, reason: str | None = None) -> None:
        """Call the clip ambiguous: recorded, and no longer listed until its label or audio changes."""
        self._decide(sample_id, "ambiguous", reviewer, reason)

    def _decide(self, sample_id: object, decision: str, reviewer: str, reason: str | None) -> None:
        record, run, s = self._judged(sample_id)
        if s.stale:
            raise ValidationError("this clip's label changed since the model judged it; fit the model again")
        why = reason.strip() if reason and reason.strip() else None
        if why is None:
            why = f"{decision}: model run {run.id} suggested {s.suggested!r} (score {s.score:.2f})"
        self._store.record_decision(
            record.id, decision=decision, reviewer=reviewer, reason=why, run_id=run.id
        )
        self._latest.pop(record.dataset, None)
        self._samples.forget()  # the clip left "suspects only": its counts changed
