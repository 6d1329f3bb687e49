"""SelectionBar: how many samples are checked, and what to do with them.

It shows the size of the state's ``selection`` and its actions: compare (2 to
:data:`MAX_COMPARE` clips side by side: it writes ``state.compare_ids``), show only the
selection in the grid (an id filter), download the selection's feature summaries, and
clear. It appears only while something is selected. Later actions (relabel, tag,
augment) join here.
"""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Int, List, Unicode

from ..errors import ValidationError
from ..services import EXPORT_FORMATS, Services
from ..state import ReviewState
from .base import SafeTemplate, handler

__all__ = ["SelectionBar", "MIN_COMPARE", "MAX_COMPARE"]

#: Fewest and most clips a comparison shows side by side.
MIN_COMPARE, MAX_COMPARE = 2, 6


class SelectionBar(SafeTemplate):
    """The count of checked samples and their actions.

    Parameters
    ----------
    state : ReviewState
        Shared state; the bar reads ``selection``, writes ``compare_ids``, and changes the
        selection and the id filter through the state's methods.
    services : Services
        Where a selection's download comes from.
    """

    template_file = (__file__, "selection.vue")

    n_selected = Int(0).tag(sync=True)
    formats = List(Unicode(), default_value=list(EXPORT_FORMATS)).tag(sync=True)
    min_compare = Int(MIN_COMPARE).tag(sync=True)
    max_compare = Int(MAX_COMPARE).tag(sync=True)
    note = Unicode("").tag(sync=True)
    busy = Unicode("").tag(sync=True)
    download = Dict().tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        #: The last download built: (name, mime, bytes), for tests and for saving again.
        self.last_download: tuple[str, str, bytes] | None = None
        state.observe(self._on_selection, names=["selection"])
        self._on_selection({})

    def _on_selection(self, change: dict[str, Any]) -> None:
        self.n_selected = len(self.state.selection)
        if not self.n_selected:
            self.note = ""

    def _ordered(self) -> list[int]:
        return sorted(self.state.selection)

    @handler("comparing the selection")
    def vue_compare(self, data: Any = None) -> None:
        """Show the selected clips side by side (2 to :data:`MAX_COMPARE` of them)."""
        ids = self._ordered()
        if not MIN_COMPARE <= len(ids) <= MAX_COMPARE:
            raise ValidationError(
                f"Select {MIN_COMPARE} to {MAX_COMPARE} clips to compare; {len(ids):,} are selected."
            )
        self.state.compare_ids = ids
        self.state.show("compare")

    @handler("showing only the selection")
    def vue_filter(self, data: Any = None) -> None:
        """Show only the selected clips in the grid."""
        if not self.state.selection:
            raise ValidationError("Nothing is selected.")
        self.state.filter_to(self.state.selection, source="the selection")
        self.state.show("clips")

    @handler("clearing the selection")
    def vue_clear(self, data: Any = None) -> None:
        """Uncheck every sample."""
        self.state.clear_selection()

    @handler("downloading the selection's features")
    def vue_export_features(self, data: Any) -> None:
        """Download the stored feature summaries of the selection in the format ``data``."""
        if data not in EXPORT_FORMATS:
            raise ValidationError(f"unknown export format; choose one of {', '.join(EXPORT_FORMATS)}")
        ids = self._ordered()
        self.busy = "Preparing the download..."
        try:
            name, data_bytes, mime = self.services.exports.selection(self.state.dataset, ids, str(data))
        finally:
            self.busy = ""
        self.note = f"{name} ({len(data_bytes) / 1024:,.0f} KB): feature summaries of {len(ids):,} clips."
        self.download = {"name": name, "mime": mime, "size": len(data_bytes)}
        self.send({"method": "download", "args": [{"name": name, "mime": mime}]}, buffers=[data_bytes])
        self.last_download = (name, mime, data_bytes)
