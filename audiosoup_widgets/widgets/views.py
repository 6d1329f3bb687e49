"""ViewTabs: the page's views (clips, quality, map, compare, model) as one row of tabs.

It shows ``state.view`` and switches it through :meth:`ReviewState.show`; the
composition root shows the chosen view's widgets and hides the others. The compare
tab carries the number of clips waiting to be compared.
"""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Int, List, Unicode, dlink

from ..services import Services
from ..state import VIEWS, ReviewState
from .base import SafeTemplate, handler

__all__ = ["ViewTabs", "VIEW_TITLES"]

#: What each view's tab says.
VIEW_TITLES = {
    "clips": "Clips",
    "quality": "Quality",
    "map": "Similarity map",
    "compare": "Compare",
    "model": "Model",
}


class ViewTabs(SafeTemplate):
    """Tabs switching the page between its views.

    Parameters
    ----------
    state : ReviewState
        Shared state; the tabs read ``view`` and ``compare_ids`` and switch views with
        :meth:`ReviewState.show`.
    services : Services
        Not used yet; every widget takes the same two arguments.
    """

    template_file = (__file__, "views.vue")

    view = Unicode("clips").tag(sync=True)
    tabs = List(Dict()).tag(sync=True)
    n_compare = Int(0).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.tabs = [{"value": v, "title": VIEW_TITLES[v]} for v in VIEWS]
        dlink((state, "view"), (self, "view"))
        dlink((state, "compare_ids"), (self, "n_compare"), transform=len)

    @handler("switching the view")
    def vue_show(self, data: Any) -> None:
        """Show the view named ``data``."""
        self.state.show(str(data) if isinstance(data, str) else "")
