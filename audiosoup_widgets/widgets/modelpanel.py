"""ModelPanel: train a classifier on the ticked features, its scores, confusion matrix and run history.

The model view's second part, below :class:`~.ranking.FeatureRanking`. It reads the
ticked features (``state.model_features``), fits the chosen classifier off the main
thread (:class:`~.background.LatestJob`, with the fit's stages as a progress line) and
shows the latest run's scores: cross-validated (train split, folds grouped by speaker)
and validation accuracy and balanced accuracy, recall per label, the sentence of what
changed since the previous run, and the validation split's confusion matrix (bqplot).
A click on a cell filters the grid to that cell's clips. The run history lists every
run, newest first.

A fit needs no reviewer's name: it changes no clip, and a run without one is recorded
as such. After a fit, :meth:`ReviewState.saved` tells the other views (suspect badges).

The loop: every saved edit elsewhere (an accepted suggestion, a relabel, an edit in the
editor) counts; after ``retrain_after`` of them (10 by default; 0 turns it off) the
latest run's model is fitted again on its features, in the background, and the panel
says how the suspects moved ("4 suspects fixed, 1 new, 12 still suspected") beside the
change in scores.
"""

from __future__ import annotations

from typing import Any

import bqplot as bq
import ipywidgets as ipw
import numpy as np
from ipywidgets import Widget, widget_serialization
from traitlets import Dict, Instance, Int, List, Unicode

from ..errors import AudiosoupError, ValidationError
from ..services import FEATURES, MODELS, FitReport, Services
from ..services.protocols import ModelServices
from ..state import ReviewState
from .background import Job, LatestJob
from .base import SafeTemplate, fmt_when, handler

__all__ = ["ModelPanel", "MODEL_TITLES", "MATRIX_SOURCE", "NOTHING_TICKED"]

#: What the model menu says.
MODEL_TITLES = {"logreg": "Logistic regression", "forest": "Random forest"}
#: How the grid names a filter that came from a cell of the confusion matrix.
MATRIX_SOURCE = "the confusion matrix"
#: The line shown (and the refusal) while no feature is ticked.
NOTHING_TICKED = "Tick features or a family above to train a model on them."
_STAGES = {
    "reading": "Reading the feature summaries",
    "fitting": "Fitting and cross-validating the model",
    "explaining": "Finding the nearest clips of the suggested labels",
    "saving": "Saving the run",
}
_NAME_CHARS = 16  # longest label name shown on the matrix axes
#: Saved edits after which the latest model is fitted again, by default (0: only on Train).
RETRAIN_AFTER = 10
_MAX_RETRAIN_AFTER = 10_000
_CELL = 30  # pixels per matrix row


def _f(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _features_text(features: list[str]) -> str:
    titles = [FEATURES[f].title if f in FEATURES else f for f in features]
    return ", ".join(titles)


class ModelPanel(SafeTemplate):
    """Train a classifier on the ticked features; its scores, confusion matrix and run history.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads ``view``, ``dataset``, ``model_features`` and
        ``reviewer``, bumps ``revision`` after a fit (:meth:`ReviewState.saved`) and
        filters the grid (:meth:`ReviewState.filter_to`).
    services : Services
        ``services.model`` fits, lists the runs and gives a matrix cell's clips.
    """

    template_file = (__file__, "modelpanel.vue")

    ticked_text = Unicode("").tag(sync=True)
    can_train = Unicode("").tag(sync=True)
    model = Unicode("logreg").tag(sync=True)
    model_items = List(Dict()).tag(sync=True)
    busy = Dict().tag(sync=True)
    message = Unicode("").tag(sync=True)
    scores = Dict().tag(sync=True)
    recall = List(Dict()).tag(sync=True)
    matrix = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    matrix_height = Unicode("0px").tag(sync=True)
    history = List(Dict()).tag(sync=True)
    retrain_after = Int(RETRAIN_AFTER).tag(sync=True)
    edits = Int(0).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.model_items = [{"value": k, "title": MODEL_TITLES[k]} for k in MODELS]
        self._job = LatestJob("audiosoup-model")
        self._labels: list[str] = []
        self._shown: str | None = None
        self._own_save = False  # True while the panel itself bumps the revision
        self._build_matrix()
        state.observe(self._on_ticks, names=["model_features"])
        state.observe(self._on_view, names=["view", "dataset"])
        state.observe(self._on_saved, names=["revision"])
        self._on_ticks({})
        self._on_view({})

    @property
    def _model(self) -> ModelServices:
        return self.services.model

    # -- figure -------------------------------------------------------------------------

    def _build_matrix(self) -> None:
        self._rows = bq.OrdinalScale(reverse=True)
        self._cols = bq.OrdinalScale()
        # Light enough at the top that the counts stay readable on every cell.
        self._colour = bq.ColorScale(colors=["#f6f8fa", "#74a9cf"], min=0.0)
        self._cells = bq.GridHeatMap(
            row=np.arange(2),
            column=np.arange(2),
            color=np.zeros((2, 2)),
            scales={"row": self._rows, "column": self._cols, "color": self._colour},
            display_format=".0f",
            stroke="#ffffff",
            font_style={"font-size": "12px", "fill": "#1f2328"},
        )
        self._cells.on_element_click(self._clicked)
        self._row_axis = bq.Axis(scale=self._rows, side="left", label="given label", label_offset="-8px")
        self._col_axis = bq.Axis(
            scale=self._cols, side="bottom", label="predicted label", label_offset="40px"
        )
        self._figure = bq.Figure(
            marks=[self._cells],
            axes=[self._row_axis, self._col_axis],
            fig_margin={"top": 8, "bottom": 64, "left": 130, "right": 8},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height="300px"),
        )

    def _draw_matrix(self, labels: list[str], matrix: list[list[int]]) -> None:
        n = len(labels)
        self._labels = list(labels)
        names = {i: _short(lab) for i, lab in enumerate(labels)}
        widest = max((len(v) for v in names.values()), default=4)
        counts = np.asarray(matrix, dtype=np.float64).reshape(n, n)
        # Row, column and colour change sizes together: validated once all three are set.
        with self._cells.hold_sync(), self._cells.hold_trait_notifications():
            self._cells.row = np.arange(n)
            self._cells.column = np.arange(n)
            self._cells.color = counts
            self._colour.max = float(max(counts.max(), 1.0)) if n else 1.0
        self._row_axis.tick_labels = names
        self._col_axis.tick_labels = names
        # Many columns: names slanted, each ending at its tick.
        slanted = n > 5
        self._col_axis.tick_rotate = -40 if slanted else 0
        self._col_axis.tick_style = {"text-anchor": "end"} if slanted else {}
        bottom = 34 + (int(widest * 4.2) if slanted else 8)
        self._col_axis.label_offset = f"{bottom - 14}px"
        self._figure.fig_margin = {"top": 8, "bottom": bottom, "left": 40 + widest * 7, "right": 8}
        self.matrix_height = f"{max(220, n * _CELL + bottom + 16)}px"
        self._figure.layout.height = self.matrix_height
        self.matrix = self._figure

    # -- state -> view ------------------------------------------------------------------

    def _on_ticks(self, change: dict[str, Any]) -> None:
        features = list(self.state.model_features)
        self.ticked_text = (
            f"{len(features)} ticked: {_features_text(features)}" if features else NOTHING_TICKED
        )
        self.can_train = "yes" if features else ""

    def _on_saved(self, change: dict[str, Any]) -> None:
        """Count a saved edit; after ``retrain_after`` of them, fit the latest model again."""
        if self._own_save:
            return
        self.edits += 1
        if self.retrain_after and self.edits >= self.retrain_after and not self.busy:
            run = self._model.latest_run(self.state.dataset) if self.state.dataset else None
            if run is not None:
                self._fit(list(run.features), run.model, why=f"Retraining after {self.edits} edits")

    def _on_view(self, change: dict[str, Any]) -> None:
        s = self.state
        if change.get("name") == "dataset":
            self._job.cancel()
            self.busy = {}
            self._shown = None
            self.edits = 0
            self._clear()
        if s.view == "model" and self._shown != s.dataset:
            self._shown = s.dataset
            self._refresh()

    def _clear(self) -> None:
        with self.hold_sync():
            self.scores, self.recall, self.history, self.message = {}, [], [], ""
            self.matrix, self.matrix_height = None, "0px"
        self._labels = []

    def _refresh(self, change_sentence: str | None = None) -> None:
        """Read the runs of the dataset: the history, and the newest run's scores."""
        dataset = self.state.dataset
        if not dataset:
            self._clear()
            return
        runs = self._model.history(dataset)
        self.history = [
            {
                "id": run.id,
                "when": fmt_when(run.created_at),
                "reviewer": run.reviewer or "(no name)",
                "model": MODEL_TITLES.get(run.model, run.model),
                "features": _features_text(list(run.features)),
                "balanced": _f((run.scores.get("validation") or {}).get("balanced_accuracy")),
                "change": sentence or "",
            }
            for run, sentence in runs
        ]
        if not runs:
            self._clear()
            return
        run, sentence = runs[0]
        self._show_run(run, change_sentence if change_sentence is not None else sentence)

    def _show_run(self, run: Any, sentence: str | None) -> None:
        sc = run.scores
        cv = sc.get("cv") or {}
        val = sc.get("validation") or {}
        self.scores = {
            "run": run.id,
            "model": MODEL_TITLES.get(run.model, run.model),
            "features": _features_text(list(run.features)),
            "cv_accuracy": _f(cv.get("accuracy")),
            "cv_balanced": _f(cv.get("balanced_accuracy")),
            "val_accuracy": _f(val.get("accuracy")) if val else "no validation clips",
            "val_balanced": _f(val.get("balanced_accuracy")) if val else "–",
            "folds": f"{sc.get('folds')} folds, "
            + ("grouped by speaker" if sc.get("grouped") else "not grouped (no speakers known)"),
            "clips": f"{run.n_train:,} train and {run.n_validation:,} validation clips",
            "change": sentence or "",
            "notes": list(sc.get("notes") or []),
        }
        if val:
            conf = val["confusion"]
            labels, matrix = list(conf["labels"]), conf["matrix"]
            self.recall = [
                {"label": lab, "recall": _f(val["recall"].get(lab)), "n": f"{sum(matrix[i]):,}"}
                for i, lab in enumerate(labels)
            ]
            self._draw_matrix(labels, matrix)
        else:
            self.recall, self.matrix, self.matrix_height, self._labels = [], None, "0px", []

    # -- training -----------------------------------------------------------------------

    @handler("choosing the model")
    def vue_set_model(self, data: Any) -> None:
        """Choose the classifier (``data``: one of :data:`~audiosoup_widgets.services.MODELS`)."""
        if data not in MODELS:
            raise ValidationError("Choose logistic regression or a random forest.")
        self.model = str(data)

    @handler("training the model")
    def vue_train(self, data: Any = None) -> None:
        """Fit the chosen classifier on the ticked features, off the main thread."""
        features = list(self.state.model_features)
        if not features:
            self.message = NOTHING_TICKED
            return
        self._fit(features, self.model)

    @handler("setting when the model retrains")
    def vue_set_retrain_after(self, data: Any) -> None:
        """Retrain after ``data`` saved edits (a whole number, 0 to turn it off)."""
        try:
            n = int(str(data).strip())
        except ValueError:
            raise ValidationError("Retrain after a whole number of edits (0: only on Train).") from None
        if not 0 <= n <= _MAX_RETRAIN_AFTER:
            raise ValidationError(f"Retrain after 0 to {_MAX_RETRAIN_AFTER:,} edits.")
        self.retrain_after = n

    def _fit(self, features: list[str], model: str, *, why: str | None = None) -> None:
        dataset = self.state.dataset
        reviewer = self.state.reviewer or None
        service = self._model

        def work(job: Job) -> FitReport:
            def report(stage: str, done: int, total: int) -> None:
                job.progress((stage, done, total))

            return service.fit(dataset, features=features, model=model, reviewer=reviewer, progress=report)

        self.message = ""
        self.edits = 0
        self.busy = {"stage": why or _STAGES["reading"], "done": 0, "total": 1}
        self._job.submit(work, on_done=self._trained, on_error=self._failed, on_progress=self._progressed)

    def _progressed(self, info: Any) -> None:
        stage, done, total = info
        self.busy = {"stage": _STAGES.get(stage, stage), "done": int(done), "total": int(total)}

    def _trained(self, report: FitReport) -> None:
        self.busy = {}
        try:
            self._own_save = True
            try:
                self.state.saved()  # suspect badges and the grid follow the new run
            finally:
                self._own_save = False
            self._refresh(change_sentence=report.change)
            moved = self._model.suspect_change(self.state.dataset)
            if moved:
                self.scores = {**self.scores, "suspects": moved}
            if report.notes:
                self.scores = {**self.scores, "notes": [*self.scores.get("notes", []), *report.notes]}
        except Exception as exc:  # noqa: BLE001 - a job callback must report, not raise
            self.message = self.state.report(exc, context="showing the model's scores")

    def _failed(self, exc: BaseException) -> None:
        self.busy = {}
        if isinstance(exc, ValidationError) or (
            isinstance(exc, AudiosoupError) and exc.code == "not_computed"
        ):
            # Nothing ticked, no summaries, too few clips per label: said here, not as an error.
            self.message = exc.message
            return
        self.message = self.state.report(exc, context="training the model")

    # -- the matrix ---------------------------------------------------------------------

    def _clicked(self, mark: Any, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        self.vue_cell({"given": data.get("rowNum"), "predicted": data.get("columnNum")})

    @handler("showing a cell's clips")
    def vue_cell(self, data: Any) -> None:
        """Filter the grid to the validation clips of one cell (``{"given": i, "predicted": j}``)."""
        if not isinstance(data, dict):
            raise ValidationError("Click a cell of the confusion matrix.")
        ids = self._model.confusion_ids(self.state.dataset, data.get("given"), data.get("predicted"))
        if not ids:
            given, predicted = self._labels[data["given"]], self._labels[data["predicted"]]
            self.message = f"No validation clip labelled {given!r} was predicted as {predicted!r}."
            return
        self.message = ""
        self.state.filter_to(ids, source=MATRIX_SOURCE)
        self.state.show("clips")

    def close(self) -> None:
        """Close the widget and its figure; let the worker thread end."""
        self._job.close()
        self._figure.close()
        super().close()
