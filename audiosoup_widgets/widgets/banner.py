"""ErrorBanner: the one place where a user sees what went wrong, in plain words.

It shows ``state.error`` (set through :meth:`ReviewState.report`, which never lets a
traceback through) pinned to the top of the page, above the review dialog, and
clears it when dismissed.
"""

from __future__ import annotations

from typing import Any

from traitlets import Unicode, dlink

from ..state import ReviewState
from .base import SafeTemplate, handler

__all__ = ["ErrorBanner"]


class ErrorBanner(SafeTemplate):
    """A dismissible banner showing ``state.error``.

    Parameters
    ----------
    state : ReviewState
        Shared state; the banner only reads ``error`` and clears it on dismiss. It
        needs no services.
    """

    template_file = (__file__, "banner.vue")

    error = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState) -> None:
        super().__init__()
        self.state = state
        dlink((state, "error"), (self, "error"))

    @handler("dismissing the message")
    def vue_dismiss(self, data: Any = None) -> None:
        """Hide the message."""
        self.state.clear_error()
