"""SelectionBar: how many samples are checked, and what to do with them.

It shows the size of the state's ``selection`` and its actions: compare (2 to
:data:`MAX_COMPARE` clips side by side: it writes ``state.compare_ids``), show only the
selection in the grid (an id filter), download the selection's feature summaries,
relabel, tag, flag, and clear. It appears only while something is selected.

"Tag…" and "Flag…" open one small dialog: a tag (suggested from the dataset's tag
vocabulary as the user types) or a flag (from the annotation service's list) given to
every selected clip in one step, as one batch of the clips' annotation histories; the
outcome says how many clips changed and offers an Undo of the batch.

Relabel opens a small dialog: how many selected clips carry each label now, the new
label (one of the dataset's, or a new one when asked, as in the editor), an optional
reason and the reviewer's name. The change goes through the relabel service against
the time the selection was made (``state.selected_since``): clips someone else saved
since are skipped and listed. The outcome stays on the page with an Undo of the
whole batch (its id stays here, never sent to the browser); after a change the bar
calls ``state.saved()`` so every view re-reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from traitlets import Bool, Dict, Int, List, Unicode, dlink

from ..errors import ValidationError
from ..services import EXPORT_FORMATS, MAX_REASON, Services, SkippedSample
from ..state import ReviewState
from .base import SafeTemplate, as_str, fmt_when, handler

__all__ = ["SelectionBar", "MIN_COMPARE", "MAX_COMPARE", "MAX_LISTED"]

#: Fewest and most clips a comparison shows side by side.
MIN_COMPARE, MAX_COMPARE = 2, 6
#: Most skipped clips a relabel's outcome lists by name (the count says how many in all),
#: and most tag suggestions sent.
MAX_LISTED = 50
#: Longest tag or flag typed in the dialog (the annotation service checks again).
MAX_MARK = 64


def _clips(n: int) -> str:
    return f"{n:,} clip" if n == 1 else f"{n:,} clips"


def _listed(skipped: tuple[SkippedSample, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "name": s.file_name,
            "path": s.path,
            "by": s.updated_by or "",
            "when": fmt_when(s.updated_at),
        }
        for s in skipped[:MAX_LISTED]
    ]


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
    # The relabel dialog and its outcome.
    relabel_open = Bool(False).tag(sync=True)
    relabel_preview = List(Dict()).tag(sync=True)
    relabel_n = Int(0).tag(sync=True)
    relabel_error = Unicode("").tag(sync=True)
    label_items = List(Unicode()).tag(sync=True)
    reviewer = Unicode("").tag(sync=True)
    max_reason = Int(MAX_REASON).tag(sync=True)
    outcome = Dict().tag(sync=True)
    # The tag / flag dialog: which of the two, the suggestions and the flag list.
    mark_kind = Unicode("").tag(sync=True)
    mark_items = List(Unicode()).tag(sync=True)
    mark_error = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        #: The last download built: (name, mime, bytes), for tests and for saving again.
        self.last_download: tuple[str, str, bytes] | None = None
        #: The last bulk relabel's batch id (what "Undo" reverts); never sent to the browser.
        self.last_batch: str | None = None
        #: The last bulk tag or flag's batch id, the same way.
        self.last_mark_batch: str | None = None
        dlink((state, "reviewer"), (self, "reviewer"))
        state.observe(self._on_selection, names=["selection"])
        state.observe(self._on_dataset, names=["dataset"])
        self._on_selection({})

    def _on_selection(self, change: dict[str, Any]) -> None:
        self.n_selected = len(self.state.selection)
        if not self.n_selected:
            self.note = ""

    def _on_dataset(self, change: dict[str, Any]) -> None:
        with self.hold_sync():
            self.relabel_open = False
            self.outcome = {}
        self.last_batch = None
        self.last_mark_batch = None
        self.mark_kind = ""

    def _on_handler_error(self, message: str) -> None:
        if self.relabel_open:
            self.relabel_error = message
        if self.mark_kind:
            self.mark_error = message

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

    # -- bulk relabel ------------------------------------------------------------------

    @handler("previewing the relabel")
    def vue_open_relabel(self, data: Any = None) -> None:
        """Open the relabel dialog with how many selected clips carry each label now."""
        ids = self._ordered()
        if not ids:
            raise ValidationError("Nothing is selected.")
        dataset = self.state.dataset
        preview = self.services.relabel.preview(dataset, ids)
        labels = [lab.name for lab in self.services.samples.labels(dataset)]
        with self.hold_sync():
            self.relabel_preview = [{"label": name or "", "n": n} for name, n in preview]
            self.relabel_n = len(ids)
            self.label_items = labels
            self.relabel_error = ""
            self.relabel_open = True

    @handler("closing the relabel")
    def vue_close_relabel(self, data: Any = None) -> None:
        """Close the relabel dialog without changing anything."""
        with self.hold_sync():
            self.relabel_open = False
            self.relabel_error = ""

    @handler("relabelling the selection")
    def vue_relabel(self, data: Any) -> None:
        """Apply ``{"label", "create", "reason", "reviewer"}`` to every selected clip."""
        if not isinstance(data, dict):
            raise ValidationError("invalid relabel request")
        label = as_str(data.get("label"), name="label", max_len=200) or ""
        reason = as_str(data.get("reason") or "", name="reason", max_len=MAX_REASON) or ""
        name = as_str(data.get("reviewer") or self.state.reviewer, name="name", max_len=100) or ""
        create = data.get("create") is True
        if name.strip() != self.state.reviewer:
            self.state.sign(name)
        ids = self._ordered()
        seen = self.state.selected_since or dt.datetime.now(dt.UTC)
        result = self.services.relabel.relabel(
            self.state.dataset,
            ids,
            label,
            reviewer=self.state.reviewer,
            seen_at=seen,
            reason=reason or None,
            create_label=create,
        )
        n_skipped = len(result.skipped)
        text = f"Relabelled {_clips(result.changed)} as “{result.label}”"
        if n_skipped:
            text += f" ({n_skipped:,} skipped: changed by someone else since you selected them)"
        if result.unchanged:
            text += f"; {_clips(result.unchanged)} already had it"
        self.last_batch = result.batch_id
        with self.hold_sync():
            self.relabel_open = False
            self.relabel_error = ""
            self.outcome = {
                "kind": "relabel",
                "text": text + ".",
                "skipped": _listed(result.skipped),
                "n_skipped": n_skipped,
                "can_undo": result.batch_id is not None,
            }
        if result.changed:
            self.state.saved()

    @handler("undoing the relabel")
    def vue_undo_relabel(self, data: Any = None) -> None:
        """Undo the last bulk relabel, tag or flag as one step (clips edited since are left alone)."""
        if self.last_mark_batch is not None:
            if not self.state.reviewer:
                raise ValidationError("Enter your name before undoing: the undo is recorded with it.")
            self._undo_mark()
            return
        if self.last_batch is None:
            raise ValidationError("There is no relabel to undo.")
        if not self.state.reviewer:
            raise ValidationError("Enter your name before undoing: the undo is recorded with it.")
        result = self.services.relabel.undo_batch(self.last_batch, reviewer=self.state.reviewer)
        self.last_batch = None
        n_skipped = len(result.skipped)
        text = f"Undid the relabel: {_clips(result.reverted)} got their previous label back"
        if n_skipped:
            text += f" ({n_skipped:,} left alone: edited again since the relabel)"
        if result.already_undone:
            text += f"; {_clips(result.already_undone)} had been undone already"
        self.outcome = {
            "kind": "undo",
            "text": text + ".",
            "skipped": _listed(result.skipped),
            "n_skipped": n_skipped,
            "can_undo": False,
        }
        if result.reverted:
            self.state.saved()

    @handler("closing the relabel outcome")
    def vue_dismiss_outcome(self, data: Any = None) -> None:
        """Hide the relabel outcome (the batch can no longer be undone from here)."""
        self.outcome = {}
        self.last_batch = None
        self.last_mark_batch = None

    # -- tag and flag a selection ------------------------------------------------------

    @handler("opening the tag or flag dialog")
    def vue_open_mark(self, data: Any) -> None:
        """Open the dialog that tags (``"tag"``) or flags (``"flag"``) every selected clip."""
        if data not in ("tag", "flag"):
            raise ValidationError("choose tag or flag")
        if not self.state.selection:
            raise ValidationError("Nothing is selected.")
        ann = self.services.annotations
        items = list(ann.flags) if data == "flag" else [t for t, _ in ann.tag_vocabulary(self.state.dataset)]
        with self.hold_sync():
            self.mark_items = items[:MAX_LISTED]
            self.mark_error = ""
            self.mark_kind = data

    @handler("suggesting tags")
    def vue_suggest_mark(self, data: Any) -> None:
        """Offer the dataset's tags that start with (then contain) the typed text ``data``."""
        prefix = (as_str(data if data is not None else "", name="tag", max_len=MAX_MARK) or "").strip()
        if self.mark_kind == "tag":
            found = self.services.annotations.tag_vocabulary(self.state.dataset, prefix=prefix, contains=True)
            self.mark_items = [t for t, _ in found][:MAX_LISTED]

    @handler("closing the tag or flag dialog")
    def vue_close_mark(self, data: Any = None) -> None:
        """Close the dialog without changing anything."""
        with self.hold_sync():
            self.mark_kind = ""
            self.mark_error = ""

    @handler("tagging or flagging the selection")
    def vue_mark(self, data: Any) -> None:
        """Give every selected clip the tag or flag ``{"value", "reviewer"}`` as one batch."""
        kind = self.mark_kind
        if kind not in ("tag", "flag") or not isinstance(data, dict):
            raise ValidationError("Open the tag or flag dialog first.")
        value = (as_str(data.get("value"), name=kind, max_len=MAX_MARK) or "").strip()
        if not value:
            raise ValidationError(f"Choose a {kind} first.")
        name = as_str(data.get("reviewer") or self.state.reviewer, name="name", max_len=100) or ""
        if name.strip() != self.state.reviewer:
            self.state.sign(name)
        ids = self._ordered()
        ann = self.services.annotations
        if kind == "flag" and value not in ann.flags:
            raise ValidationError(f"unknown flag; choose one of {', '.join(ann.flags)}")
        dataset = self.state.dataset
        if kind == "tag":
            result = ann.bulk_tag(ids, [value], reviewer=self.state.reviewer, dataset=dataset)
        else:
            result = ann.bulk_flag(ids, [value], reviewer=self.state.reviewer, dataset=dataset)
        verb = "Tagged" if kind == "tag" else "Flagged"
        text = f"{verb} {_clips(result.changed)} “{value}”"
        if result.unchanged:
            text += f"; {_clips(result.unchanged)} already had it"
        self.last_mark_batch = result.batch_id
        self.last_batch = None
        with self.hold_sync():
            self.mark_kind = ""
            self.mark_error = ""
            self.outcome = {
                "kind": kind,
                "text": text + ".",
                "skipped": [],
                "n_skipped": 0,
                "can_undo": result.batch_id is not None,
            }
        if result.changed:
            self.state.saved()

    def _undo_mark(self) -> None:
        assert self.last_mark_batch is not None  # the caller checked
        result = self.services.annotations.undo_batch(self.last_mark_batch, reviewer=self.state.reviewer)
        self.last_mark_batch = None
        text = f"Undid it: {result.reverted:,} {'change' if result.reverted == 1 else 'changes'} reverted"
        if result.conflicts:
            text += f" ({_clips(len(result.conflicts))} left alone: changed again since)"
        self.outcome = {"kind": "undo", "text": text + ".", "skipped": [], "n_skipped": 0, "can_undo": False}
        if result.reverted:
            self.state.saved()
