"""The composition root: one state, one set of services, the widgets, and the page layout.

:func:`build_review_app` is the only place that knows every part. It opens the
store, builds :class:`~audiosoup_widgets.services.ReviewServices` on it, picks the
dataset, builds :class:`~audiosoup_widgets.state.ReviewState`, hands both (and
nothing else) to each widget, and lays them out: error banner, title, the sample
grid, and the review dialog whose "Edit" and "Features" tabs show the metadata
editor and the feature explorer. No widget builds services of its own.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ipyvuetify.Html import Html

from .errors import NotFoundError
from .services import ReviewServices
from .state import ReviewState
from .store import Store
from .widgets import ErrorBanner, FeatureExplorer, MetadataEditor, ReviewDialog, SampleGrid

log = logging.getLogger(__name__)

__all__ = ["ReviewApp", "build_review_app"]

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
    review : ReviewDialog
        The modal review of the selected sample (tabs: overview, edit, features).
    editor : MetadataEditor
    explorer : FeatureExplorer
    banner : ErrorBanner
    widget : ipyvuetify widget
        The whole page.
    """

    state: ReviewState
    store: Store
    services: ReviewServices
    grid: SampleGrid
    review: ReviewDialog
    editor: MetadataEditor
    explorer: FeatureExplorer
    banner: ErrorBanner
    widget: Html
    _warm: threading.Thread | None = field(default=None, repr=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close the app's widgets (the store stays open)."""
        for part in (self.widget, self.banner, self.review, self.editor, self.explorer, self.grid):
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
    if unknown:
        state.report(
            NotFoundError(
                f"There is no dataset named {dataset!r}; showing {names[0]!r} instead."
                if names
                else f"There is no dataset named {dataset!r} yet."
            )
        )

    grid = SampleGrid(state, services)
    editor = MetadataEditor(state, services)
    explorer = FeatureExplorer(state, services)
    review = ReviewDialog(state, services)
    review.edit_view, review.features_view = editor, explorer
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
    page = Html(
        tag="div",
        class_="audiosoup-app",
        style_="padding: 8px 12px; max-width: 1600px;",
        children=[banner, header, grid, review],
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
        review=review,
        editor=editor,
        explorer=explorer,
        banner=banner,
        widget=page,
        _warm=warm,
    )
