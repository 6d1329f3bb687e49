"""ReviewState: the one shared model of the review app (traitlets only, no widgets).

The grid, the review dialog, the metadata editor and the feature explorer never
see each other; they meet here. Each trait has exactly one writer, named in its
``help``; every other part only observes it (always with ``names=[...]``):

========================  ==============================================
trait                     written by
========================  ==============================================
dataset, page, page_size  :class:`~audiosoup_widgets.widgets.SampleGrid`
label_filter, split_...   :class:`~audiosoup_widgets.widgets.SampleGrid`
search, status_filter     :class:`~audiosoup_widgets.widgets.SampleGrid`
sort                      :class:`~audiosoup_widgets.widgets.SampleGrid`
selected_sample_id        :class:`~audiosoup_widgets.widgets.SampleGrid`
open_request              :class:`~audiosoup_widgets.widgets.SampleGrid`
total, page_ids           :class:`~audiosoup_widgets.widgets.SampleGrid` (from the services)
n_pages, filtered         :class:`ReviewState` itself (derived, see below)
panel                     :class:`~audiosoup_widgets.widgets.ReviewDialog`
revision, reviewer        :class:`~audiosoup_widgets.widgets.MetadataEditor`
selected_features         :class:`~audiosoup_widgets.widgets.FeatureExplorer`
error                     :meth:`ReviewState.report` / :meth:`ReviewState.clear_error`
========================  ==============================================

The composition root only sets initial values, through the constructor.

Derived values live here, not in the widgets (as glue-jupyter's viewer states do):
``n_pages`` follows ``total`` and ``page_size``, ``filtered`` follows the filters,
and :meth:`ReviewState.filters` is the filter the services count and page by.

``revision`` is a notice, not a cache key: the services invalidate their own caches
when an edit goes through them; the editor bumps ``revision`` after a save so that
the other views re-read what they show.

``error`` is the exception: every part can fail, so every part reports through
:meth:`ReviewState.report`, the single code path that writes it (and that turns
exceptions into plain messages, logging the details).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from traitlets import Bool, Enum, HasTraits, Int, List, TraitError, Unicode, observe, validate

from .errors import AudiosoupError
from .services import PAGE_SIZES, SampleFilters

log = logging.getLogger(__name__)

__all__ = ["ReviewState", "PANELS", "GENERIC_ERROR", "plain_message"]

#: What the review dialog shows: nothing (closed), the overview, the editor, the features.
PANELS = ("", "review", "edit", "features")
#: The message shown for an unexpected exception (details go to the log).
GENERIC_ERROR = "Something went wrong; details are in the log."
MAX_ERROR = 500


def plain_message(exc: BaseException) -> str:
    """Return the plain one-line message a user may see for ``exc``.

    Our own errors carry a message written for users; anything else is an
    unexpected failure whose text (and traceback) only goes to the log.

    Parameters
    ----------
    exc : BaseException
        The exception caught by a handler.

    Returns
    -------
    str
    """
    if isinstance(exc, AudiosoupError):
        return exc.message
    return GENERIC_ERROR


class ReviewState(HasTraits):
    """Selection, filters, page and reviewer shared by the review widgets.

    Parameters
    ----------
    **kwargs
        Initial trait values (the composition root sets ``dataset`` this way).
    """

    dataset = Unicode("", help="Dataset being reviewed (writer: SampleGrid).")
    page = Int(0, help="0-based page of the grid (writer: SampleGrid).")
    page_size = Int(24, help="Cards per page (writer: SampleGrid).")
    label_filter = List(Unicode(), help="Keep samples with any of these labels (writer: SampleGrid).")
    split_filter = Unicode(None, allow_none=True, help="train/validation/test or None (writer: SampleGrid).")
    search = Unicode("", help="Text searched in file names and text (writer: SampleGrid).")
    status_filter = Unicode(None, allow_none=True, help="ok/flagged or None (writer: SampleGrid).")
    sort = Unicode("id", help="Allow-listed sort column, '-' prefix descending (writer: SampleGrid).")
    selected_sample_id = Int(None, allow_none=True, help="The selected sample (writer: SampleGrid).")
    open_request = Int(0, help="Bumped when the user asks to open the review (writer: SampleGrid).")
    panel = Enum(PANELS, default_value="", help="What the review dialog shows (writer: ReviewDialog).")
    revision = Int(0, help="Bumped after every saved edit (writer: MetadataEditor).")
    reviewer = Unicode("", help="The reviewer's name, recorded with edits (writer: MetadataEditor).")
    selected_features = List(Unicode(), help="Feature ids chosen for export (writer: FeatureExplorer).")
    error = Unicode("", help="Plain message for the error panel (writer: report/clear_error).")
    total = Int(0, help="Samples matching the filters (writer: SampleGrid, from the services).")
    page_ids = List(Int(), help="Ids of the samples on the visible page, in order (writer: SampleGrid).")
    n_pages = Int(1, help="Pages of the filtered samples (writer: ReviewState, derived).")
    filtered = Bool(False, help="Whether any filter is set (writer: ReviewState, derived).")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._derive_paging()
        self._derive_filtered()

    @validate("page")
    def _page_not_negative(self, proposal: dict[str, Any]) -> int:
        return max(0, int(proposal["value"]))

    @validate("page_size")
    def _page_size_allowed(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value not in PAGE_SIZES:
            raise TraitError(f"page size must be one of {PAGE_SIZES}")
        return value

    # -- derived values ----------------------------------------------------------

    @observe("total", "page_size")
    def _on_paging(self, change: dict[str, Any]) -> None:
        self._derive_paging()

    @observe("label_filter", "split_filter", "search", "status_filter")
    def _on_filters(self, change: dict[str, Any]) -> None:
        self._derive_filtered()

    def _derive_paging(self) -> None:
        self.n_pages = max(1, math.ceil(self.total / self.page_size))

    def _derive_filtered(self) -> None:
        self.filtered = bool(self.label_filter or self.split_filter or self.search or self.status_filter)

    @property
    def page_exists(self) -> bool:
        """Whether ``page`` is one of the ``n_pages`` pages (a count may shrink under it)."""
        return self.page < self.n_pages

    def filters(self) -> SampleFilters:
        """Return the current filter as the services take it."""
        return SampleFilters(
            dataset=self.dataset,
            labels=tuple(self.label_filter),
            split=self.split_filter,
            search=self.search,
            status=self.status_filter,
            sort=self.sort,
        )

    # -- the error channel -------------------------------------------------------

    def report(self, problem: BaseException | str, *, context: str = "") -> str:
        """Show a plain message in the error panel; log the details.

        Parameters
        ----------
        problem : BaseException or str
            A caught exception (mapped by :func:`plain_message`; unexpected ones
            are logged with their traceback) or a message written for users.
        context : str
            What the user was doing, for the log.

        Returns
        -------
        str
            The message shown.
        """
        if isinstance(problem, BaseException):
            if isinstance(problem, AudiosoupError):
                log.info("refused %s: %s", context or "action", problem.message)
            else:
                log.error("unexpected error during %s", context or "an action", exc_info=problem)
            message = plain_message(problem)
        else:
            message = str(problem)
        message = " ".join(message.split())[:MAX_ERROR]
        if message == self.error:
            # Re-showing the same message must still reach observers (it may have been hidden).
            self.error = ""
        self.error = message
        return message

    def clear_error(self) -> None:
        """Hide the error panel."""
        self.error = ""
