"""ErrorBanner: the one place where a user sees what went wrong, in plain words.

It shows ``state.error`` (set through :meth:`ReviewState.report`, which never lets a
traceback through) pinned to the top of the page, above the review dialog, and
clears it when dismissed.
"""

from __future__ import annotations

from traitlets import Unicode

from ..state import ReviewState
from .base import SafeTemplate, handler

__all__ = ["ErrorBanner"]


class ErrorBanner(SafeTemplate):
    """A dismissible banner showing ``state.error``.

    Parameters
    ----------
    state : ReviewState
        Shared state; the banner only reads ``error`` and clears it on dismiss.
    """

    template_file = (__file__, "banner.vue")

    error = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.error = state.error
        state.observe(self._on_error, names=["error"])

    def _on_error(self, change) -> None:
        self.error = change["new"]

    @handler("dismissing the message")
    def vue_dismiss(self, data=None) -> None:
        """Hide the message."""
        self.state.clear_error()
