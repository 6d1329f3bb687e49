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
sort, suspects_only       :class:`~audiosoup_widgets.widgets.SampleGrid`
search_by_meaning         :class:`~audiosoup_widgets.widgets.SampleGrid`
disagreements_only, tag_. :class:`~audiosoup_widgets.widgets.SampleGrid` (and ``flag_filter``)
origin_filter             :class:`~audiosoup_widgets.widgets.SampleGrid`
selected_sample_id        :class:`~audiosoup_widgets.widgets.SampleGrid`, :meth:`ReviewState.open_review`
open_request              :class:`~audiosoup_widgets.widgets.SampleGrid`, :meth:`ReviewState.open_review`
total, page_ids           :class:`~audiosoup_widgets.widgets.SampleGrid` (from the services)
n_pages, filtered         :class:`ReviewState` itself (derived, see below)
panel                     :class:`~audiosoup_widgets.widgets.ReviewDialog`
revision                  :meth:`ReviewState.saved`
reviewer                  :meth:`ReviewState.sign`, :meth:`ReviewState.sign_in`
reviewer_source           :meth:`ReviewState.sign_in`
selected_features         :class:`~audiosoup_widgets.widgets.FeatureExplorer`
model_features            :class:`~audiosoup_widgets.widgets.FeatureRanking`
selection, selected_since :meth:`ReviewState.select` / :meth:`ReviewState.clear_selection`
id_filter, id_filter_...  :meth:`ReviewState.filter_to` / :meth:`ReviewState.clear_id_filter`
compare_ids               :class:`~audiosoup_widgets.widgets.SelectionBar`
view                      :meth:`ReviewState.show`
error                     :meth:`ReviewState.report` / :meth:`ReviewState.clear_error`
========================  ==============================================

The composition root only sets initial values, through the constructor.

Derived values live here, not in the widgets (as glue-jupyter's viewer states do):
``n_pages`` follows ``total`` and ``page_size``, ``filtered`` follows the filters,
and :meth:`ReviewState.filters` is the filter the services count and page by.

``revision`` is a notice, not a cache key: the services invalidate their own caches
when an edit goes through them; whoever saved (the editor, the selection bar's bulk
relabel) calls :meth:`ReviewState.saved` so that the other views re-read what they
show. ``reviewer`` is set through :meth:`ReviewState.sign`, the one code path that
checks the name, from wherever the user types it.

The selection (the checked cards, up to :data:`MAX_SELECTION` ids) and the id filter
(a selection, a map lasso or a quality finding shown as a grid filter) are sets many
views add to, so they are written by the state's own methods, the one code path that
checks ids; views call those methods and never assign the traits. ``selected_since``
is when the current selection was started (an empty selection or a replaced one
starts anew): a bulk change skips samples someone else saved after it.

``error`` is the exception: every part can fail, so every part reports through
:meth:`ReviewState.report`, the single code path that writes it (and that turns
exceptions into plain messages, logging the details).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from typing import Any

from traitlets import Bool, Enum, HasTraits, Instance, Int, List, TraitError, Unicode, observe, validate

from .errors import AudiosoupError, ValidationError
from .services import PAGE_SIZES, SampleFilters, as_sample_id, validate_reviewer

log = logging.getLogger(__name__)

__all__ = [
    "ReviewState",
    "PANELS",
    "VIEWS",
    "GENERIC_ERROR",
    "MAX_SELECTION",
    "MAX_SOURCE",
    "plain_message",
]

#: What the review dialog shows: nothing (closed), the overview, the editor, the annotations,
#: the features.
PANELS = ("", "review", "edit", "annotate", "augment", "features")
#: The message shown for an unexpected exception (details go to the log).
GENERIC_ERROR = "Something went wrong; details are in the log."
MAX_ERROR = 500
#: The most ids a selection or an id filter holds (a dataset of a million clips).
MAX_SELECTION = 1_000_000
#: Longest description of where an id filter came from ("the map selection").
MAX_SOURCE = 120
#: The page's views: the clip grid, the dataset's quality, the similarity map, the comparison,
#: the model (which features separate the labels).
VIEWS = ("clips", "quality", "map", "compare", "model")
#: How :meth:`ReviewState.select` combines ids with the current selection.
SELECT_MODES = ("add", "remove", "replace")


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
    suspects_only = Bool(False, help="Keep only the latest model run's label suspects (writer: SampleGrid).")
    search_by_meaning = Bool(
        False, help="Search texts by meaning, closest first, not by their letters (writer: SampleGrid)."
    )
    disagreements_only = Bool(
        False,
        help="Keep only clips whose reviewers' votes disagree (writer: SampleGrid).",
    )
    tag_filter = List(Unicode(), help="Keep clips carrying any of these tags (writer: SampleGrid).")
    flag_filter = List(
        Unicode(),
        help="Keep clips a reviewer flagged so, any of these (writer: SampleGrid).",
    )
    origin_filter = Enum(
        ("original", "derived"),
        default_value=None,
        allow_none=True,
        help="Keep 'original' clips, 'derived' ones (augmented) or None for both (writer: SampleGrid).",
    )
    selected_sample_id = Int(
        None, allow_none=True, help="The selected sample (writer: SampleGrid, open_review)."
    )
    open_request = Int(
        0, help="Bumped when the user asks to open the review (writer: SampleGrid, open_review)."
    )
    panel = Enum(PANELS, default_value="", help="What the review dialog shows (writer: ReviewDialog).")
    revision = Int(0, help="Bumped after every saved edit (writer: saved).")
    reviewer = Unicode("", help="The reviewer's name, recorded with edits (writer: sign, sign_in).")
    reviewer_source = Unicode(
        "", help="Who vouches for the reviewer (JupyterHub, a proxy header); '' if typed (writer: sign_in)."
    )
    selected_features = List(Unicode(), help="Feature ids chosen for export (writer: FeatureExplorer).")
    model_features = List(
        Unicode(), help="Feature ids ticked to fit a model on, in registry order (writer: FeatureRanking)."
    )
    selection = Instance(
        frozenset, args=((),), help="Ids of the checked samples (writer: select/clear_selection)."
    )
    selected_since = Instance(
        dt.datetime,
        allow_none=True,
        default_value=None,
        help="When the selection was started, UTC; None when empty (writer: select/clear_selection).",
    )
    id_filter = Instance(
        tuple, allow_none=True, default_value=None, help="Keep only these ids, or None (writer: filter_to)."
    )
    id_filter_source = Unicode("", help="Where the id filter came from, for the grid (writer: filter_to).")
    compare_ids = List(Int(), help="Samples to compare side by side, 2 to 6 (writer: SelectionBar).")
    view = Enum(VIEWS, default_value="clips", help="The view the page shows (writer: show).")
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

    @observe(
        "label_filter",
        "split_filter",
        "search",
        "status_filter",
        "id_filter",
        "suspects_only",
        "disagreements_only",
        "tag_filter",
        "flag_filter",
        "origin_filter",
    )
    def _on_filters(self, change: dict[str, Any]) -> None:
        self._derive_filtered()

    def _derive_paging(self) -> None:
        self.n_pages = max(1, math.ceil(self.total / self.page_size))

    def _derive_filtered(self) -> None:
        self.filtered = bool(
            self.label_filter
            or self.split_filter
            or self.search
            or self.status_filter
            or self.id_filter is not None
            or self.suspects_only
            or self.disagreements_only
            or self.tag_filter
            or self.flag_filter
            or self.origin_filter
        )

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
            search="" if self.search_by_meaning else self.search,
            status=self.status_filter,
            sort=self.sort,
            ids=self.id_filter,
            suspects=self.suspects_only,
            semantic=self.search if self.search_by_meaning else "",
            disagreement=self.disagreements_only,
            tags=tuple(self.tag_filter),
            reviewer_flags=tuple(self.flag_filter),
            origin=self.origin_filter,
        )

    # -- the selection and the id filter ------------------------------------------

    def select(self, ids: Iterable[object], *, mode: str = "add") -> int:
        """Change the selection: add ``ids``, remove them, or replace it with them.

        Parameters
        ----------
        ids : iterable
            Sample ids (checked: positive integers).
        mode : {'add', 'remove', 'replace'}

        Returns
        -------
        int
            The number of samples selected afterwards.

        Raises
        ------
        ValidationError
            For an id that is not a positive integer, an unknown mode, or a selection
            over :data:`MAX_SELECTION`.
        """
        if mode not in SELECT_MODES:
            raise ValidationError(f"unknown selection mode {mode!r}")
        given = _checked_ids(ids)
        if mode == "add":
            new = self.selection | given
        elif mode == "remove":
            new = self.selection - given
        else:
            new = given
        if len(new) > MAX_SELECTION:
            raise ValidationError(f"a selection holds at most {MAX_SELECTION:,} samples")
        if new != self.selection:
            # Ids added later keep the first time: a bulk change then skips more, never fewer.
            started = not self.selection or mode == "replace"
            with self.hold_trait_notifications():
                if not new:
                    self.selected_since = None
                elif started:
                    self.selected_since = dt.datetime.now(dt.UTC)
                self.selection = new
        return len(new)

    def clear_selection(self) -> None:
        """Unselect every sample."""
        if self.selection:
            with self.hold_trait_notifications():
                self.selected_since = None
                self.selection = frozenset()

    def saved(self) -> int:
        """Tell every view that something was saved (bump ``revision``); return the new value."""
        self.revision += 1
        return self.revision

    def sign(self, name: object) -> str:
        """Set the reviewer's name recorded with edits, after checking it; return it cleaned.

        Raises
        ------
        ValidationError
            For an empty name or one longer than 100 characters.
        """
        if not isinstance(name, str):
            raise ValidationError("enter your name before editing")
        checked = validate_reviewer(name)
        if self.reviewer_source and checked != self.reviewer:
            raise ValidationError(
                f"you are signed in as {self.reviewer} through {self.reviewer_source}; "
                "that name cannot be changed here"
            )
        self.reviewer = checked
        return checked

    def sign_in(self, name: str, *, source: str) -> str:
        """Set the reviewer the server vouches for (JupyterHub, a trusted proxy); it cannot be typed over.

        Raises
        ------
        ValidationError
            For an empty name or one longer than 100 characters.
        """
        checked = validate_reviewer(name)
        with self.hold_trait_notifications():
            self.reviewer = checked
            self.reviewer_source = source
        return checked

    def filter_to(self, ids: Iterable[object], *, source: str) -> int:
        """Show only ``ids`` in the grid (with the other filters), saying where they came from.

        Parameters
        ----------
        ids : iterable
            Sample ids (checked); an empty set shows nothing.
        source : str
            What the ids are, for the grid's note ("the selection", "the map selection").

        Returns
        -------
        int
            The number of ids in the filter.
        """
        checked = _checked_ids(ids)
        if len(checked) > MAX_SELECTION:
            raise ValidationError(f"a filter holds at most {MAX_SELECTION:,} samples")
        text = " ".join(str(source).split())[:MAX_SOURCE] or "a list of clips"
        with self.hold_trait_notifications():
            self.id_filter_source = text
            self.id_filter = tuple(sorted(checked))
        return len(checked)

    def show(self, view: str) -> None:
        """Switch the page to ``view`` (one of :data:`VIEWS`).

        Any part may ask (a finding shows its clips in the grid, "compare" opens the
        comparison), so the switch is a method, not a trait a view assigns.
        """
        if view not in VIEWS:
            raise ValidationError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
        self.view = view

    def open_review(self, sample_id: object) -> int:
        """Select ``sample_id`` and ask for its review, from a view other than the grid (the map).

        Returns
        -------
        int
            The checked id.
        """
        sid = _checked_ids((sample_id,))
        (checked,) = sid
        with self.hold_trait_notifications():
            self.selected_sample_id = checked
            self.open_request += 1
        return checked

    def clear_id_filter(self) -> None:
        """Show every sample again (the other filters stay)."""
        with self.hold_trait_notifications():
            self.id_filter = None
            self.id_filter_source = ""

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


def _checked_ids(ids: Iterable[object]) -> frozenset[int]:
    if isinstance(ids, str | bytes):
        raise ValidationError("ids must be a list of sample ids")
    try:
        return frozenset(as_sample_id(i) for i in ids)
    except TypeError:
        raise ValidationError("ids must be a list of sample ids") from None
