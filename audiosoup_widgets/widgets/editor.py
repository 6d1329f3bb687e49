"""MetadataEditor: change a sample's label, text, split and custom metadata, safely.

Every change is saved the moment it is made (on change or when a field loses
focus), with the reviewer's name, through the sample service's optimistic
concurrency: the editor keeps the version it showed, so if someone else saved in
between, nothing is overwritten and the conflict is shown with both values until
the user picks one. Each sample's history (who, when, old -> new) is listed with
an Undo of the last edit. Measured properties (sample rate, duration, channels)
are shown read-only. The services invalidate their own caches on a save; the
editor sets ``state.reviewer`` and bumps ``state.revision`` after every save so
the other views re-read (both through the state's methods).
"""

from __future__ import annotations

import logging
from typing import Any

from traitlets import Bool, Dict, Int, List, Unicode, dlink

from ..errors import ConflictError, ValidationError
from ..services import (
    MAX_META_KEY,
    MAX_META_KEYS,
    MAX_META_VALUE,
    MAX_TEXT,
    SPLITS,
    SampleRecord,
    Services,
    validate_label_name,
)
from ..state import ReviewState
from .base import REVIEWER_NEEDED, SafeTemplate, as_str, fmt_duration, fmt_rate, fmt_value, fmt_when, handler

log = logging.getLogger(__name__)

__all__ = ["MetadataEditor"]

MAX_HISTORY = 100
_FIELD_NAMES = {
    "label": "Label",
    "text": "Text",
    "split": "Split",
    "meta": "Custom metadata",
    "suspect": "Label suspect",
}


class MetadataEditor(SafeTemplate):
    """Edit the selected sample's label, text, split and custom metadata.

    Parameters
    ----------
    state : ReviewState
        Shared state; the editor sets ``reviewer`` and bumps ``revision`` (the state's
        ``sign`` and ``saved``).
    services : Services
        Where the sample is read and saved.
    """

    template_file = (__file__, "editor.vue")

    sample = Dict().tag(sync=True)
    label_items = List(Unicode()).tag(sync=True)
    split_items = List(Unicode(), default_value=list(SPLITS)).tag(sync=True)
    meta_rows = List(Dict()).tag(sync=True)
    reviewer = Unicode("").tag(sync=True)
    # Non-empty when the server names the reviewer (JupyterHub, a trusted proxy): the name field is read-only.
    reviewer_source = Unicode("").tag(sync=True)
    history = List(Dict()).tag(sync=True)
    can_undo = Bool(False).tag(sync=True)
    message = Unicode("").tag(sync=True)
    message_kind = Unicode("info").tag(sync=True)
    conflict = Dict().tag(sync=True)
    max_text = Int(MAX_TEXT).tag(sync=True)
    max_meta_value = Int(MAX_META_VALUE).tag(sync=True)
    # Bumped on every (re)load so the browser resets its unsaved field copies.
    generation = Int(0).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._record: SampleRecord | None = None
        self._pending_change: dict[str, Any] | None = None
        dlink((state, "reviewer"), (self, "reviewer"))
        dlink((state, "reviewer_source"), (self, "reviewer_source"))
        state.observe(self._on_sample, names=["selected_sample_id", "dataset"])
        state.observe(self._on_revision, names=["revision"])
        self._safe_load()

    @property
    def record(self) -> SampleRecord | None:
        """The sample as this editor last read or saved it (the version edits are based on)."""
        return self._record

    # -- state -> view -------------------------------------------------------------------

    def _on_sample(self, change: dict[str, Any]) -> None:
        self._safe_load()

    def _on_revision(self, change: dict[str, Any]) -> None:
        # Another view changed data (a model's suggestion accepted, a suspect kept): re-read
        # the sample and its history (after this editor's own save, a cheap repeat).
        if self._record is not None:
            self._safe_load()

    def _safe_load(self) -> None:
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self._say(self.state.report(exc, context="opening the sample"), "error")

    def _on_handler_error(self, message: str) -> None:
        self._say(message, "error")

    def _say(self, text: str, kind: str = "info") -> None:
        with self.hold_sync():
            self.message = text
            self.message_kind = kind

    def load(self, record: SampleRecord | None = None, *, fresh: bool = False) -> None:
        """Show the selected sample (or ``record``, as a save returned it).

        Parameters
        ----------
        record : SampleRecord, optional
            The sample to show; by default the selected one, from the services.
        fresh : bool
            Read the store again rather than the services' cached record (a reload).
        """
        s = self.state
        if record is None:
            if s.selected_sample_id is None or not s.dataset:
                self._record = None
                with self.hold_sync():
                    self.sample, self.meta_rows, self.history = {}, [], []
                    self.can_undo = False
                    self.conflict = {}
                    self.message = ""
                    self.generation += 1
                return
            record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset, fresh=fresh)
        self._record = record
        self._pending_change = None
        labels = [lab.name for lab in self.services.samples.labels(record.dataset)]
        history = self.services.samples.history(record.id)
        with self.hold_sync():
            self.sample = {
                "id": record.id,
                "name": record.file_name,
                "path": record.path,
                "label": record.label or "",
                "text": record.text or "",
                "split": record.split,
                "speaker": record.speaker or "",
                "sample_rate": fmt_rate(record.sample_rate),
                "duration": fmt_duration(record.duration),
                "channels": "mono" if record.channels == 1 else f"{record.channels} channels",
                "format": " ".join(x for x in (record.format, record.subtype or "") if x),
                "version": record.version,
                "updated_by": record.updated_by or "",
                "updated_at": fmt_when(record.updated_at),
            }
            self.label_items = labels
            self.meta_rows = [{"key": str(k), "value": fmt_meta(v)} for k, v in record.meta.items()]
            self.history = [
                {
                    "id": e.id,
                    "when": fmt_when(e.at),
                    "who": e.reviewer,
                    "field": _FIELD_NAMES.get(e.field, e.field),
                    "old": fmt_value(e.old),
                    "new": fmt_value(e.new),
                    "undone": bool(e.undone),
                    "kind": getattr(e, "kind", "edit"),
                    "reason": e.reason or "",
                }
                for e in history[:MAX_HISTORY]
            ]
            self.can_undo = any(not e.undone and getattr(e, "kind", "edit") == "edit" for e in history)
            self.conflict = {}
            self.generation += 1

    # -- saving --------------------------------------------------------------------------

    def _need_record(self) -> SampleRecord:
        if self._record is None:
            raise ValidationError("Select a sample first.")
        return self._record

    def _need_reviewer(self) -> str:
        if not self.state.reviewer.strip():
            raise ValidationError(REVIEWER_NEEDED)
        return self.state.reviewer

    def _save(self, *, what: str, retry: tuple[str, object], **change: Any) -> bool:
        """Write ``change`` against the version shown; show a conflict instead of overwriting.

        ``retry`` names the event (and its data) that re-applies this change on top
        of newer stored values, should the user choose "keep mine" after a conflict.
        """
        record = self._need_record()
        reviewer = self._need_reviewer()
        try:
            new = self.services.samples.update(record, reviewer=reviewer, **change)
        except ConflictError as exc:
            self._pending_change = {"retry": retry}
            who = exc.theirs_by or "someone"
            with self.hold_sync():
                self.conflict = {
                    "field": _FIELD_NAMES.get(exc.field, exc.field),
                    "who": who,
                    "mine": fmt_value(exc.mine),
                    "theirs": fmt_value(exc.theirs),
                }
                self.message = exc.message
                self.message_kind = "error"
            self.state.report(exc, context=f"saving the {what}")
            return False
        if new.version == record.version:
            self._say(f"No change to the {what}.")
            return False
        # The services already dropped what the save made stale; this tells the other views.
        self.state.saved()
        self.load(new)
        self._say(f"Saved the {what}, signed {reviewer}.", "success")
        return True

    # -- events from the browser ---------------------------------------------------------

    @handler("setting your name")
    def vue_set_reviewer(self, data: Any) -> None:
        """Remember the reviewer's name (recorded with every edit)."""
        name = self.state.sign(as_str(data, name="name", max_len=100) or "")
        self._say(f"Edits will be recorded as {name}.", "success")

    @handler("saving the label")
    def vue_save_label(self, data: Any) -> None:
        """Set the label to one the dataset already has (an unknown name is refused)."""
        name = validate_label_name(as_str(data, name="label", max_len=200) or "")
        record = self._need_record()
        self._need_reviewer()
        if name == (record.label or ""):
            return
        if name not in self.services.samples.label_names(record.dataset):
            raise ValidationError(f"“{name}” is not a label of this dataset; use “New label” to create it.")
        self._save(what="label", retry=("vue_save_label", name), label=name)

    @handler("creating a label")
    def vue_create_label(self, data: Any) -> None:
        """Create a new label named ``data`` (or reuse it if it exists) and set it."""
        name = validate_label_name(as_str(data, name="label", max_len=200) or "")
        record = self._need_record()
        self._need_reviewer()
        if name == (record.label or ""):
            return
        self._save(what="label", retry=("vue_create_label", name), label=name, create_label=True)

    @handler("saving the text")
    def vue_save_text(self, data: Any) -> None:
        """Set the free text (transcript or notes); an empty text clears it."""
        text = as_str(data if data is not None else "", name="text", max_len=MAX_TEXT) or ""
        record = self._need_record()
        if text == (record.text or ""):
            return
        self._save(what="text", retry=("vue_save_text", text), text=text)

    @handler("saving the split")
    def vue_save_split(self, data: Any) -> None:
        """Move the sample to ``train``, ``validation`` or ``test``."""
        if data not in SPLITS:
            raise ValidationError(f"unknown split; choose one of {', '.join(SPLITS)}")
        record = self._need_record()
        if data == record.split:
            return
        self._save(what="split", retry=("vue_save_split", data), split=data)

    @handler("saving metadata")
    def vue_set_meta(self, data: Any) -> None:
        """Add or change one custom key: ``{"key": ..., "value": ...}``."""
        if not isinstance(data, dict):
            raise ValidationError("invalid metadata")
        key = (as_str(data.get("key"), name="metadata key", max_len=MAX_META_KEY) or "").strip()
        value = (
            as_str(
                data.get("value") if data.get("value") is not None else "",
                name="metadata value",
                max_len=MAX_META_VALUE,
            )
            or ""
        )
        if not key:
            raise ValidationError("A metadata key cannot be empty.")
        if any(ord(c) < 32 for c in key):
            raise ValidationError("A metadata key cannot contain control characters.")
        record = self._need_record()
        meta = dict(record.meta)
        if key not in meta and len(meta) >= MAX_META_KEYS:
            raise ValidationError(f"At most {MAX_META_KEYS} metadata keys per sample.")
        if meta.get(key) == value:
            return
        meta[key] = value
        self._save(what=f"metadata “{key}”", retry=("vue_set_meta", {"key": key, "value": value}), meta=meta)

    @handler("removing metadata")
    def vue_delete_meta(self, data: Any) -> None:
        """Remove the custom key ``data``."""
        key = as_str(data, name="metadata key", max_len=MAX_META_KEY) or ""
        record = self._need_record()
        if key not in record.meta:
            raise ValidationError("That metadata key does not exist.")
        meta = {k: v for k, v in record.meta.items() if k != key}
        self._save(what=f"metadata “{key}”", retry=("vue_delete_meta", key), meta=meta)

    @handler("undoing the last edit")
    def vue_undo(self, data: Any = None) -> None:
        """Revert the last edit of this sample (itself recorded in the history)."""
        record = self._need_record()
        reviewer = self._need_reviewer()
        try:
            new = self.services.samples.undo(record, reviewer=reviewer)
        except ConflictError as exc:
            with self.hold_sync():
                self.conflict = {
                    "field": _FIELD_NAMES.get(exc.field, exc.field),
                    "who": exc.theirs_by or "someone",
                    "mine": "undo the last edit",
                    "theirs": "a newer change",
                }
                self.message, self.message_kind = exc.message, "error"
            self._pending_change = None
            self.state.report(exc, context="undoing")
            return
        self.state.saved()
        self.load(new)
        self._say("Undone.", "success")

    @handler("resolving a conflict")
    def vue_resolve_conflict(self, data: Any) -> None:
        """``"theirs"``: show the stored values; ``"mine"``: apply my change on top of them."""
        if data not in ("theirs", "mine"):
            raise ValidationError("choose theirs or mine")
        pending = self._pending_change
        self.load()
        if data == "mine" and pending:
            method, arg = pending["retry"]
            getattr(self, method)(arg)
        else:
            self._say("Showing the stored values; your change was not saved.")

    @handler("reloading the sample")
    def vue_reload(self, data: Any = None) -> None:
        """Re-read the sample from the store (drops unsaved field contents)."""
        self.load(fresh=True)
        self._say("")


def fmt_meta(value: Any) -> str:
    """Show a custom metadata value as text for its edit field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
