"""The composition root: one state, one set of services, the widgets, and the page layout.

:func:`build_review_app` is the only place that knows every part. It opens the
store, builds :class:`~audiosoup_widgets.services.ReviewServices` on it, picks the
dataset, builds :class:`~audiosoup_widgets.state.ReviewState`, hands both (and
nothing else) to each widget, and lays them out: error banner, title, the view tabs,
one container per view (the clips view holds the selection bar and the sample grid),
and the review dialog whose "Edit", "Annotate", "Augment" and "Features" tabs show the
metadata editor, the annotation panel, the augmentation panel and the feature explorer;
the quality view opens with the reviewers' agreement card. No widget builds services of its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ipyvuetify.Html import Html

from .config import reviewer_identity
from .errors import AudiosoupError, NotFoundError
from .services import ReviewServices
from .state import VIEWS, ReviewState
from .store import Store
from .widgets import (
    AgreementCard,
    AnnotatePanel,
    AugmentPanel,
    ComparisonView,
    ErrorBanner,
    FeatureExplorer,
    FeatureRanking,
    MetadataEditor,
    ModelPanel,
    QualityPanel,
    ReviewDialog,
    SampleGrid,
    SelectionBar,
    SimilarityMap,
    SuspectPanel,
    ViewTabs,
    VocabularyPanel,
)

if TYPE_CHECKING:  # pragma: no cover
    from .jobs.ingest import LoadReport

log = logging.getLogger(__name__)

__all__ = ["ReviewApp", "build_review_app", "show"]

_TITLE = "Audio Soup · review"
_INTRO = (
    "Listen to the clips, fix labels and text, and explore each clip's features. "
    "Every change is saved as you make it."
)


@dataclass(eq=False)
class ReviewApp:
    """The assembled review app; display it (or its ``widget``) in JupyterLab or Voila.

    Attributes
    ----------
    state : ReviewState
        The shared state every widget observes.
    store : Store
    services : ReviewServices
    grid : SampleGrid
    selection : SelectionBar
        The checked samples' count and actions (shown while any are checked).
    review : ReviewDialog
        The modal review of the selected sample (tabs: overview, edit, features).
    suspect : SuspectPanel
        In the review's overview: why the model doubts the clip's label, and the answers.
    annotate : AnnotatePanel
        The review's "Annotate" tab: votes (blind), tags, flags, time regions, notes.
    augment : AugmentPanel
        The review's "Augment" tab: a chain of transforms heard, seen and applied.
    agreement : AgreementCard
        At the top of the quality view: the reviewers' agreement on the dataset's labels.
    editor : MetadataEditor
    explorer : FeatureExplorer
    banner : ErrorBanner
    tabs : ViewTabs
        The row of tabs switching between the views.
    similarity_map : SimilarityMap
        The similarity map view (reads nothing until it is first shown).
    quality : QualityPanel
        The quality view: distributions, class balance, findings.
    vocabulary : VocabularyPanel
        Below it: label names that look alike (merged in one step), texts against labels.
    comparison : ComparisonView
        The compare view: the clips of ``state.compare_ids`` side by side.
    ranking : FeatureRanking
        The model view's first part: which features separate the labels, ticks for a model.
    model_panel : ModelPanel
        The model view's second part: train a classifier, its scores, matrix and run history.
    views : dict of str to ipyvuetify widget
        Each view's container, by name (see :data:`~audiosoup_widgets.state.VIEWS`); only
        the one in ``state.view`` is displayed.
    widget : ipyvuetify widget
        The whole page.
    """

    state: ReviewState
    store: Store
    services: ReviewServices
    grid: SampleGrid
    selection: SelectionBar
    review: ReviewDialog
    editor: MetadataEditor
    explorer: FeatureExplorer
    banner: ErrorBanner
    tabs: ViewTabs
    similarity_map: SimilarityMap
    quality: QualityPanel
    comparison: ComparisonView
    ranking: FeatureRanking
    model_panel: ModelPanel
    views: dict[str, Html]
    widget: Html
    suspect: SuspectPanel
    vocabulary: VocabularyPanel
    annotate: AnnotatePanel
    augment: AugmentPanel
    agreement: AgreementCard
    _warm: threading.Thread | None = field(default=None, repr=False)
    #: What :func:`show` loaded (None for an app built on stored datasets).
    load_report: LoadReport | None = field(default=None, repr=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close the app's widgets (the store stays open)."""
        parts: list[Any] = [
            self.widget,
            *self.views.values(),
            self.tabs,
            self.comparison,
            self.ranking,
            self.model_panel,
            self.banner,
            self.review,
            self.suspect,
            self.annotate,
            self.augment,
            self.agreement,
            self.editor,
            self.explorer,
            self.selection,
            self.quality,
            self.vocabulary,
            self.grid,
            self.similarity_map,
        ]
        for part in parts:
            part.close()


def build_review_app(
    db: str | Store | None = None, dataset: str | None = None, *, warm_up: bool = True
) -> ReviewApp:
    """Build the review app on a database.

    Parameters
    ----------
    db : str or Store, optional
        Database URL (default: ``AUDIOSOUP_DATABASE_URL``, then the embedded SQLite
        file) or an open :class:`~audiosoup_widgets.store.Store`.
    dataset : str, optional
        Dataset to show first (default: the first one by name). An unknown name is
        reported in the error banner and the first dataset is shown instead.
    warm_up : bool
        Compile the feature engine in a background thread so the first rhythm plot
        does not wait for numba.

    Under JupyterHub, or behind a proxy whose user header the operator declared
    trusted, the reviewer is the signed-in user and cannot be typed over (see
    :func:`audiosoup_widgets.config.reviewer_identity`).

    Returns
    -------
    ReviewApp
    """
    from .store import connect

    store = db if isinstance(db, Store) else connect(db)
    services = ReviewServices(store)
    names = [d.name for d in services.samples.datasets()]
    unknown = dataset is not None and dataset not in names
    state = ReviewState(dataset=(None if unknown else dataset) or (names[0] if names else ""))
    identity = reviewer_identity()
    if identity is not None:
        try:
            state.sign_in(identity.name, source=identity.source)
        except AudiosoupError as exc:  # e.g. a proxy sent a name over 100 characters
            state.report(exc)
    if unknown:
        state.report(
            NotFoundError(
                f"There is no dataset named {dataset!r}; showing {names[0]!r} instead."
                if names
                else f"There is no dataset named {dataset!r} yet."
            )
        )

    grid = SampleGrid(state, services)
    selection = SelectionBar(state, services)
    editor = MetadataEditor(state, services)
    explorer = FeatureExplorer(state, services)
    review = ReviewDialog(state, services)
    review.edit_view, review.features_view = editor, explorer
    suspect = SuspectPanel(state, services)
    review.why_view = suspect
    annotate = AnnotatePanel(state, services)
    review.annotate_view = annotate
    augment = AugmentPanel(state, services)
    review.augment_view = augment
    banner = ErrorBanner(state)
    header = Html(
        tag="div",
        class_="audiosoup-header",
        style_="margin: 4px 2px 12px;",
        children=[
            Html(tag="div", style_="font-size: 22px; font-weight: 600; color: #1f2328;", children=[_TITLE]),
            Html(tag="div", style_="font-size: 14px; color: #57606a;", children=[_INTRO]),
        ],
    )
    tabs = ViewTabs(state, services)
    quality = QualityPanel(state, services)
    vocabulary = VocabularyPanel(state, services)
    # Agreement is a dataset-wide measure of the labels' quality: it heads the quality view.
    agreement = AgreementCard(state, services)
    comparison = ComparisonView(state, services)
    similarity_map = SimilarityMap(state, services)
    ranking = FeatureRanking(state, services)
    model_panel = ModelPanel(state, services)
    contents: dict[str, list[Any]] = {
        "clips": [selection, grid],
        "quality": [agreement, quality, vocabulary],
        "map": [similarity_map],
        "compare": [comparison],
        # A column: the ranking, then the model panel below it.
        "model": [ranking, model_panel],
    }
    views = {
        name: Html(tag="div", class_=f"audiosoup-view audiosoup-view-{name}", children=contents[name])
        for name in VIEWS
    }
    _show_one(state, views)
    page = Html(
        tag="div",
        class_="audiosoup-app",
        style_="padding: 8px 12px; max-width: 1600px;",
        children=[banner, header, tabs, *views.values(), review],
    )
    warm = None
    if warm_up:
        warm = threading.Thread(target=services.features.warm_up, name="audiosoup-warm-up", daemon=True)
        warm.start()
    return ReviewApp(
        state=state,
        store=store,
        services=services,
        grid=grid,
        selection=selection,
        review=review,
        editor=editor,
        explorer=explorer,
        banner=banner,
        tabs=tabs,
        similarity_map=similarity_map,
        quality=quality,
        comparison=comparison,
        ranking=ranking,
        model_panel=model_panel,
        views=views,
        widget=page,
        suspect=suspect,
        vocabulary=vocabulary,
        annotate=annotate,
        augment=augment,
        agreement=agreement,
        _warm=warm,
    )


def _show_one(state: ReviewState, views: dict[str, Html]) -> None:
    """Display the container of ``state.view`` and hide the others (they keep their state)."""

    def update(change: dict[str, Any] | None = None) -> None:
        for name, box in views.items():
            box.style_ = "" if name == state.view else "display: none;"

    update()
    state.observe(update, names=["view"])


def show(
    df: Any,
    *,
    audio: str = "path",
    label: str | None = "label",
    split: str | None = None,
    text: str | None = None,
    speaker: str | None = None,
    dataset: str | None = None,
    db: str | Store | None = None,
    workers: int | None = None,
    warm_up: bool = True,
) -> ReviewApp:
    """Load a pandas DataFrame of audio files into a store and return the review app on it.

    The last expression of a notebook cell, ``show(df)`` displays the app inline.
    Running it again with the same table finds the dataset it made: nothing is
    duplicated and edits made in the app are kept.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per clip.
    audio : str
        The column of file paths (absolute, or relative to the working folder).
    label, split, text, speaker : str, optional
        The columns holding them (None for none); ``label`` defaults to ``"label"``.
    dataset : str, optional
        Dataset name (default: derived from the folder holding every file).
    db : str or Store, optional
        Database URL or open store (default: ``AUDIOSOUP_DATABASE_URL``, then the
        embedded SQLite file in the data folder).
    workers : int, optional
        Decoder processes.
    warm_up : bool
        Compile the feature engine in the background (see :func:`build_review_app`).

    Returns
    -------
    ReviewApp
        Showing the dataset; ``app.load_report`` says what was loaded and which
        rows were skipped (a missing or broken file costs its row alone).

    Raises
    ------
    ConfigError
        If a named column is missing (one line naming it) or no row names a file.
    """
    from .jobs.ingest import load_frame
    from .store import connect

    store = db if isinstance(db, Store) else connect(db)
    report = load_frame(
        store,
        df,
        audio=audio,
        label=label,
        split=split,
        text=text,
        speaker=speaker,
        dataset=dataset,
        workers=workers,
    )
    if report.skipped:
        # Said under the cell, where the table was given: each skipped row, one line each.
        print(report.summary())
    app = build_review_app(store, report.dataset, warm_up=warm_up)
    app.load_report = report
    return app
