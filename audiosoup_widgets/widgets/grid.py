"""SampleGrid: one page of sample cards with filters, paging, keyboard and playback.

The grid owns the browsing part of :class:`~audiosoup_widgets.state.ReviewState`
(dataset, filters, sort, page, page size, selection, open requests). Every card of
a page is rendered by ONE template (``grid.vue``) with a ``v-for`` over plain card
dictionaries, so a page costs one widget, not one per sample. A card's waveform is
an SVG path made here from the stored peaks (numbers only), scaled so quiet clips
are visible, with the gain shown. Audio is decoded only when a card is played and
travels to the browser as a WAV in a binary message buffer.

Each card has a checkbox: a click checks one card, a shift-click the cards between it
and the last one checked (in page order), and the summary line checks the whole page or
every sample matching the filters (read on the server, for any size). The checked
cards are the state's ``selection``; an id filter (a selection, a map lasso, a quality
finding) shows as a note with a button that removes it.

Search runs as the user types: each keystroke sends the field's text, which is
checked at once, and the query runs :data:`SEARCH_DELAY` seconds after the last
one (Enter searches at once). The toolbar's boxes are sized from their longest
choice (``field_widths``), so each shows its whole value at any page width.

A switch beside the search box searches by meaning instead: the clips whose text is
closest to the words typed ("wind" finds "a light breeze"), closest first, with the
other filters still applied (the text service ranks, the store filters and pages).

Once a model has been fitted, the cards of label suspects carry a badge, the sort
offers "Most suspicious first" and a switch keeps the suspects only (both done by the
store, for any size); without a run both say "fit a model first".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from traitlets import Bool, Dict, Int, List, Unicode, dlink

from ..errors import NotFoundError, ValidationError
from ..services import (
    MAX_PLAY_SECONDS,
    MAX_SEARCH,
    PAGE_SIZES,
    SORTS,
    SPLITS,
    STATUSES,
    Services,
)
from ..state import ReviewState
from .background import Debouncer
from .base import SafeTemplate, as_int, as_str, handler
from .cards import _card, wave_path
from .gridbar import SORT_ITEMS, clean_search
from .gridfilters import NO_MODEL, AnnotationFilters
from .gridorigin import ORIGIN_ITEMS, OriginFilter

log = logging.getLogger(__name__)

__all__ = ["SampleGrid", "wave_path", "SORT_ITEMS", "SEARCH_DELAY"]

_KEYS = ("ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown", " ", "Enter")
#: Widest toolbar box, in characters (a longer dataset name is cut with an ellipsis).
MAX_BOX_CHARS = 48
#: Seconds after the last keystroke before a typed search runs.
SEARCH_DELAY = 0.3
#: State traits the grid shows as they are: (state trait, synced trait of the grid).
_MIRRORED = (
    ("dataset", "dataset"),
    ("label_filter", "labels"),
    ("split_filter", "split"),
    ("status_filter", "status"),
    ("search", "search"),
    ("sort", "sort"),
    ("page", "page"),
    ("page_size", "page_size"),
    ("selected_sample_id", "selected_id"),
    ("total", "total"),
    ("n_pages", "n_pages"),
    ("filtered", "filtered"),
    ("suspects_only", "suspects_only"),
    ("search_by_meaning", "by_meaning"),
    ("disagreements_only", "disagreements_only"),
    ("tag_filter", "tag_filter"),
    ("flag_filter", "flag_filter"),
    ("origin_filter", "origin"),
)
#: The state traits that change the query (the grid re-reads when one does).
_QUERY = [s for s, _ in _MIRRORED if s not in ("selected_sample_id", "total", "n_pages", "filtered")]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


class SampleGrid(OriginFilter, AnnotationFilters, SafeTemplate):
    """Paginated cards of one dataset's samples, with filters, sort and playback.

    Parameters
    ----------
    state : ReviewState
        The shared state; the grid writes the browsing traits, ``total`` and ``page_ids``.
    services : Services
        Where samples, counts and audio come from.
    """

    template_file = (__file__, "grid.vue")

    # Everything below is a server-to-browser view; the browser cannot write it.
    cards = List(Dict()).tag(sync=True)
    total = Int(0).tag(sync=True)
    n_pages = Int(1).tag(sync=True)
    page = Int(0).tag(sync=True)
    page_size = Int(24).tag(sync=True)
    page_sizes = List(Int(), default_value=list(PAGE_SIZES)).tag(sync=True)
    selected_id = Int(None, allow_none=True).tag(sync=True)
    dataset = Unicode("").tag(sync=True)
    dataset_items = List(Dict()).tag(sync=True)
    label_items = List(Dict()).tag(sync=True)
    labels = List(Unicode()).tag(sync=True)
    split = Unicode(None, allow_none=True).tag(sync=True)
    split_items = List(Dict()).tag(sync=True)
    status = Unicode(None, allow_none=True).tag(sync=True)
    status_items = List(Dict()).tag(sync=True)
    search = Unicode("").tag(sync=True)
    sort = Unicode("id").tag(sync=True)
    sort_items = List(Dict()).tag(sync=True)
    filtered = Bool(False).tag(sync=True)
    message = Unicode("").tag(sync=True)
    max_search = Int(MAX_SEARCH).tag(sync=True)
    field_widths = Dict().tag(sync=True)
    max_play_seconds = Int(int(MAX_PLAY_SECONDS)).tag(sync=True)
    checked = List(Int()).tag(sync=True)
    n_selected = Int(0).tag(sync=True)
    id_filter_note = Unicode("").tag(sync=True)
    suspects_only = Bool(False).tag(sync=True)
    by_meaning = Bool(False).tag(sync=True)
    has_model = Bool(False).tag(sync=True)
    disagreements_only = Bool(False).tag(sync=True)
    tag_filter = List(Unicode()).tag(sync=True)
    flag_filter = List(Unicode()).tag(sync=True)
    tag_items = List(Unicode()).tag(sync=True)
    flag_items = List(Unicode()).tag(sync=True)
    origin = Unicode(None, allow_none=True).tag(sync=True)
    origin_items = List(Dict(), default_value=list(ORIGIN_ITEMS)).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._writing = False
        self._typed: str | None = None
        self._search_later = Debouncer(SEARCH_DELAY, self._search_typed)
        self.split_items = [{"title": "All splits", "value": None}] + [
            {"title": s.capitalize(), "value": s} for s in SPLITS
        ]
        # The box shows the title; the menu adds the subtitle (a long title would widen the box).
        self.status_items = [
            {"title": "Any status", "value": None},
            {"title": "OK", "value": "ok"},
            {
                "title": "Flagged",
                "value": "flagged",
                "subtitle": "silent, quiet, clipped, DC offset or invalid samples",
            },
        ]
        self.sort_items = self._sort_items()
        self.field_widths = self._widths([])
        # What the toolbar and pager show is the state itself, kept in step by links.
        for source, target in _MIRRORED:
            dlink((state, source), (self, target), transform=_copy)
        state.observe(self._on_query, names=_QUERY)
        state.observe(self._on_revision, names=["revision"])
        state.observe(self._on_selection, names=["selection", "page_ids"])
        state.observe(self._on_id_filter, names=["id_filter", "id_filter_source"])
        # The last card checked or unchecked: a shift-click spans from it.
        self._anchor: int | None = None
        self._on_selection({})
        self._safe_refresh()

    # -- state -> view ---------------------------------------------------------------

    def _on_query(self, change: dict[str, Any]) -> None:
        if not self._writing:
            self._safe_refresh()

    def _on_revision(self, change: dict[str, Any]) -> None:
        self._safe_refresh()

    def _on_selection(self, change: dict[str, Any]) -> None:
        selection = self.state.selection
        with self.hold_sync():
            self.checked = [i for i in self.state.page_ids if i in selection]
            self.n_selected = len(selection)

    def _on_id_filter(self, change: dict[str, Any]) -> None:
        s = self.state
        if change.get("name") == "id_filter":
            # A new set of clips starts on its first page (the grid is the page's one writer).
            if self._writing:
                s.page = 0  # the write under way refreshes once it ends
            else:
                try:
                    with self._write():
                        s.page = 0
                except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
                    self.message = s.report(exc, context="filtering to a list of clips")
        n = len(s.id_filter) if s.id_filter is not None else 0
        noun = "clip" if n == 1 else "clips"
        self.id_filter_note = f"{n:,} {noun} from {s.id_filter_source}" if s.id_filter is not None else ""

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self.message = self.state.report(exc, context="showing the samples")

    def _widths(self, dataset_items: list[dict[str, Any]]) -> dict[str, int]:
        """Characters each toolbar box needs: its longest choice, so any choice shows whole."""

        def longest(items: list[dict[str, Any]]) -> int:
            return min(MAX_BOX_CHARS, max((len(str(i["title"])) for i in items), default=10))

        return {
            "dataset": longest(dataset_items),
            "split": longest(self.split_items),
            "status": longest(self.status_items),
            "sort": longest(self.sort_items),
        }

    def _sort_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [{"title": t, "value": val} for val, t in SORT_ITEMS]
        if not self.has_model:
            items[-1] = {**items[-1], "disabled": True, "subtitle": NO_MODEL}
        return items

    def refresh(self) -> None:
        """Re-read the current page (and count) through the services and update the cards."""
        s = self.state
        samples = self.services.samples
        datasets = samples.datasets()
        dataset_items = [{"title": f"{d.name} ({d.n_samples:,})", "value": d.name} for d in datasets]
        if not s.dataset:
            with self.hold_sync():
                self.dataset_items = dataset_items
                self.field_widths = self._widths(dataset_items)
                s.total, s.page_ids = 0, []
                self.cards = []
                self.message = (
                    "No dataset loaded yet. Load a folder of audio with "
                    "'audiosoup load <folder>' and reload this page."
                    if not datasets
                    else "Choose a dataset."
                )
            return
        labels = samples.labels(s.dataset)
        filters = s.filters()
        has_model = self.services.model.latest_run(s.dataset) is not None
        with self.hold_sync():
            s.total = samples.count(filters)
            records = samples.page(filters, page=s.page, page_size=s.page_size) if s.page_exists else []
            s.page_ids = [r.id for r in records]
            if records and s.selected_sample_id not in s.page_ids and not s.panel:
                # Keep keyboard work flowing: a fresh page starts with its first card selected
                # (not under an open review: an accepted suggestion may move its clip away).
                s.selected_sample_id = records[0].id
            if s.total == 0:
                message = (
                    "No samples match these filters." if s.filtered else "This dataset has no samples yet."
                )
            elif not records:
                message = f"Page {s.page + 1} does not exist; there are {s.n_pages:,} pages."
            else:
                message = ""
            self.dataset_items = dataset_items
            self.field_widths = self._widths(dataset_items)
            self.label_items = [
                {"title": f"{lab.name} ({lab.n_samples:,})", "value": lab.name} for lab in labels
            ]
            self.message = message
            for name, items in self._annotation_items(s.dataset):
                setattr(self, name, items)
            if has_model != self.has_model:
                self.has_model = has_model
                self.sort_items = self._sort_items()
            badges = self.services.model.suspects(s.dataset, s.page_ids) if has_model and records else {}
            marks = self.services.text.checks(s.dataset, s.page_ids, compute=False) if records else {}
            thumb = self.services.audio.thumbnail
            cards = [_card(r, thumb(r), badges.get(r.id), marks.get(r.id)) for r in records]
            self.cards = self._mark_derived(cards, records)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """Write several state traits as one change, then refresh once (one message)."""
        with self.hold_sync():
            self._writing = True
            try:
                with self.state.hold_trait_notifications():
                    yield
            finally:
                self._writing = False
            self.refresh()

    # -- checks --------------------------------------------------------------------

    def _on_page(self, value: Any) -> int:
        sid = as_int(value, name="sample id", lo=1)
        if sid not in self.state.page_ids:
            raise NotFoundError("That sample is not on this page; it may have been filtered out.")
        return sid

    def _known_labels(self) -> set[str]:
        return self.services.samples.label_names(self.state.dataset)

    # -- events from the browser ------------------------------------------------------

    @handler("selecting a sample")
    def vue_select_sample(self, data: Any) -> None:
        """Select the card with id ``data``."""
        self.state.selected_sample_id = self._on_page(data)

    @handler("opening a sample")
    def vue_open_sample(self, data: Any) -> None:
        """Select the card with id ``data`` and ask for the review dialog."""
        sid = self._on_page(data)
        with self.state.hold_trait_notifications():
            self.state.selected_sample_id = sid
            self.state.open_request += 1

    @handler("playing a sample")
    def vue_play_sample(self, data: Any) -> None:
        """Decode the card's audio and send it to the browser to play."""
        sid = self._on_page(data)
        record = self.services.samples.get(sid, dataset=self.state.dataset)
        self.state.selected_sample_id = sid
        wav = self.services.audio.wav_bytes(record)
        truncated = self.services.audio.play_truncated(record)
        self.send({"method": "play_audio", "args": [{"id": sid, "truncated": truncated}]}, buffers=[wav])

    @handler("checking a card")
    def vue_toggle_check(self, data: Any) -> None:
        """Check or uncheck a card: ``{"id": 12, "shift": false}``.

        With ``shift``, every card between the last one toggled and this one (in page
        order) takes this card's new state.
        """
        if not isinstance(data, dict):
            raise ValidationError("invalid card")
        sid = self._on_page(data.get("id"))
        s = self.state
        on = sid not in s.selection
        ids = list(s.page_ids)
        span = [sid]
        if data.get("shift") is True and self._anchor in ids:
            a, b = sorted((ids.index(self._anchor), ids.index(sid)))
            span = ids[a : b + 1]
        s.select(span, mode="add" if on else "remove")
        self._anchor = sid

    @handler("checking the page")
    def vue_check_page(self, data: Any) -> None:
        """Check every card of the page (``data`` true) or uncheck them (false)."""
        if not isinstance(data, bool):
            raise ValidationError("invalid choice")
        self.state.select(self.state.page_ids, mode="add" if data else "remove")

    @handler("selecting every matching sample")
    def vue_check_all(self, data: Any = None) -> None:
        """Check every sample matching the filters, on every page (read on the server)."""
        s = self.state
        ids = self.services.samples.ids(s.filters())
        s.select(ids, mode="add")

    @handler("removing the list filter")
    def vue_clear_id_filter(self, data: Any = None) -> None:
        """Show every sample again (the other filters stay)."""
        self.state.clear_id_filter()

    @handler("moving the selection")
    def vue_key_press(self, data: Any) -> None:
        """Handle a navigation key: ``{"key": "ArrowRight", "columns": 4}``."""
        if not isinstance(data, dict) or data.get("key") not in _KEYS:
            raise ValidationError("unknown key")
        key = data["key"]
        cols = as_int(data.get("columns", 1), name="columns", lo=1, hi=50)
        s = self.state
        ids = list(s.page_ids)
        if not ids:
            return
        if key == " ":
            self.vue_play_sample(s.selected_sample_id if s.selected_sample_id in ids else ids[0])
            return
        if key == "Enter":
            self.vue_open_sample(s.selected_sample_id if s.selected_sample_id in ids else ids[0])
            return
        if key in ("PageUp", "PageDown"):
            self._flip(-1 if key == "PageUp" else 1, select_last=False)
            return
        idx = ids.index(s.selected_sample_id) if s.selected_sample_id in ids else 0
        step = {"ArrowLeft": -1, "ArrowRight": 1, "ArrowUp": -cols, "ArrowDown": cols}.get(key, 0)
        if key == "Home":
            target = 0
        elif key == "End":
            target = len(ids) - 1
        else:
            target = idx + step
        if target < 0:
            self._flip(-1, select_last=True)
        elif target >= len(ids):
            self._flip(1, select_last=False)
        else:
            s.selected_sample_id = ids[target]

    def _flip(self, direction: int, *, select_last: bool) -> None:
        s = self.state
        new = s.page + direction
        if not 0 <= new < s.n_pages:
            return
        with self._write():
            s.page = new
        if s.page_ids:
            s.selected_sample_id = s.page_ids[-1 if select_last else 0]

    @handler("changing page")
    def vue_set_page(self, data: Any) -> None:
        """Go to the 0-based page ``data`` (refused outside 0 .. pages - 1)."""
        page = as_int(data, name="page", lo=0)
        if page >= self.state.n_pages:
            raise ValidationError(f"There are only {self.state.n_pages:,} pages.")
        with self._write():
            self.state.page = page

    @handler("changing the page size")
    def vue_set_page_size(self, data: Any) -> None:
        """Show ``data`` cards per page, keeping the first visible card on screen."""
        size = as_int(data, name="page size")
        if size not in PAGE_SIZES:
            raise ValidationError(f"page size must be one of {', '.join(map(str, PAGE_SIZES))}")
        s = self.state
        first = s.page * s.page_size
        with self._write():
            s.page_size = size
            s.page = first // size

    @handler("choosing a dataset")
    def vue_set_dataset(self, data: Any) -> None:
        """Switch to the dataset named ``data`` (filters are reset)."""
        name = as_str(data, name="dataset", max_len=200) or ""
        if name not in {d.name for d in self.services.samples.datasets()}:
            raise NotFoundError("That dataset does not exist (any more).")
        s = self.state
        self._drop_typed_search()
        with self._write():
            s.dataset = name
            # Ids belong to one dataset: neither a selection nor an id filter carries over.
            s.clear_selection()
            s.clear_id_filter()
            s.label_filter = []
            s.search = ""
            s.split_filter = None
            s.status_filter = None
            s.suspects_only = False
            self._clear_annotation_filters()
            s.page = 0
            s.selected_sample_id = None

    @handler("filtering by label")
    def vue_set_labels(self, data: Any) -> None:
        """Keep samples with any of the labels in ``data`` (a list; empty for all)."""
        if data is None:
            data = []
        if not isinstance(data, list) or len(data) > 500:
            raise ValidationError("invalid label filter")
        names = [as_str(x, name="label", max_len=200) or "" for x in data]
        unknown = set(names) - self._known_labels()
        if unknown:
            raise ValidationError("unknown label in filter")
        with self._write():
            self.state.label_filter = list(dict.fromkeys(names))
            self.state.page = 0

    @handler("filtering by split")
    def vue_set_split(self, data: Any) -> None:
        """Keep samples of one split (``None`` for all)."""
        if data not in (None, *SPLITS):
            raise ValidationError("unknown split")
        with self._write():
            self.state.split_filter = data
            self.state.page = 0

    @handler("filtering by status")
    def vue_set_status(self, data: Any) -> None:
        """Keep ``ok`` or ``flagged`` samples (``None`` for all)."""
        if data not in (None, *STATUSES):
            raise ValidationError("unknown status")
        with self._write():
            self.state.status_filter = data
            self.state.page = 0

    @handler("searching")
    def vue_set_search(self, data: Any) -> None:
        """Search file names and text for ``data`` now (Enter, leaving the field, clearing it)."""
        text = clean_search(data)
        self._drop_typed_search()
        with self._write():
            self.state.search = text
            self.state.page = 0

    @handler("searching")
    def vue_type_search(self, data: Any) -> None:
        """Take the search field's text as typed; search :data:`SEARCH_DELAY` s after the last key."""
        self._typed = clean_search(data)  # refused at once if too long, not later
        self._search_later.request()

    def _drop_typed_search(self) -> None:
        self._search_later.cancel()
        self._typed = None

    def _search_typed(self) -> None:
        text, self._typed = self._typed, None
        if text is None or text == self.state.search:
            return
        try:
            with self._write():
                self.state.search = text
                self.state.page = 0
        except Exception as exc:  # noqa: BLE001 - a timer has no handler to report for it
            self.message = self.state.report(exc, context="searching")

    @handler("sorting")
    def vue_set_sort(self, data: Any) -> None:
        """Sort by an allow-listed column (``-`` prefix for descending)."""
        if not isinstance(data, str) or data.removeprefix("-") not in SORTS:
            raise ValidationError("cannot sort by that")
        if data.removeprefix("-") == "suspicion":
            self._need_model()
        with self._write():
            self.state.sort = data
            self.state.page = 0

    def _need_model(self) -> None:
        if self.services.model.latest_run(self.state.dataset) is None:
            raise ValidationError(f"No model has judged these clips yet: {NO_MODEL}.")

    @handler("keeping the suspects")
    def vue_set_suspects(self, data: Any) -> None:
        """Keep only the latest model run's label suspects (``data`` true) or every clip."""
        if not isinstance(data, bool):
            raise ValidationError("invalid choice")
        if data:
            self._need_model()
        with self._write():
            self.state.suspects_only = data
            self.state.page = 0

    @handler("searching by meaning")
    def vue_set_by_meaning(self, data: Any) -> None:
        """Search texts by meaning, closest first (``data`` true), or by their letters."""
        if not isinstance(data, bool):
            raise ValidationError("invalid choice")
        with self._write():
            self.state.search_by_meaning = data
            self.state.page = 0

    @handler("clearing the filters")
    def vue_clear_filters(self, data: Any = None) -> None:
        """Remove every filter (keeps dataset, sort and page size)."""
        s = self.state
        self._drop_typed_search()
        with self._write():
            s.label_filter = []
            s.split_filter = None
            s.status_filter = None
            s.suspects_only = False
            self._clear_annotation_filters()
            s.origin_filter = None
            s.search = ""
            s.page = 0
            s.clear_id_filter()

    def close(self) -> None:
        """Close the widget (a search still waiting for its delay is dropped)."""
        self._search_later.cancel()
        super().close()

    @handler("reloading")
    def vue_reload(self, data: Any = None) -> None:
        """Forget cached counts (someone else may have changed the data) and re-read."""
        self.services.samples.forget()
        self.refresh()
