"""SuspectPanel: why the model doubts the open clip's label, and the reviewer's answer.

Shown in the review dialog's overview when the latest model run counts the selected
clip as a label suspect, or has been answered about it: the model's top three labels
with their probabilities (bars), the three nearest clips of the suggested label (each
playable, and openable in the review), and three answers, each recorded in the clip's
history with an optional reason:

* "Accept <suggested>": relabel the clip (an edit, undoable in the editor);
* "Keep <label>": the clip is no longer a suspect for its label until its audio or
  label changes;
* "Ambiguous": recorded the same way.

An answer needs the reviewer's name (set in the editor) and bumps ``state.revision``
through :meth:`~audiosoup_widgets.state.ReviewState.changed`, so the cards, the editor's
history and the grid's ranking re-read.
"""

from __future__ import annotations

import logging
from typing import Any

from traitlets import Dict, Unicode

from ..errors import NotFoundError, ValidationError
from ..services import Services
from ..state import ReviewState
from .base import REVIEWER_NEEDED, SafeTemplate, as_int, as_str, handler

log = logging.getLogger(__name__)

__all__ = ["SuspectPanel", "MAX_REASON"]

#: Longest reason a reviewer may give with an answer.
MAX_REASON = 500


class SuspectPanel(SafeTemplate):
    """The "why the model doubts this label" section of the review, with its three answers.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads the selected clip, the panel shown and the
        reviewer, and bumps ``revision`` (through ``state.changed``) after an answer.
    services : Services
        The model service (explanations and answers), the samples and the audio.
    """

    template_file = (__file__, "suspects.vue")

    why = Dict().tag(sync=True)
    message = Unicode("").tag(sync=True)
    message_kind = Unicode("info").tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        state.observe(self._on_change, names=["selected_sample_id", "revision", "panel", "dataset"])
        self._safe_render()

    # -- state -> view -------------------------------------------------------------------

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("name") == "selected_sample_id":
            self.message = ""
        self._safe_render()

    def _safe_render(self) -> None:
        try:
            self.render()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self.why = {}
            self.state.report(exc, context="explaining a suspect")

    def _on_handler_error(self, message: str) -> None:
        with self.hold_sync():
            self.message = message
            self.message_kind = "error"

    def render(self) -> None:
        """Show the selected clip's explanation (nothing if the model did not doubt it)."""
        s = self.state
        if s.panel != "review" or s.selected_sample_id is None or not s.dataset:
            self.why = {}
            return
        if self.services.model.latest_run(s.dataset) is None:
            self.why = {}
            return
        try:
            e = self.services.model.explain(s.selected_sample_id)
        except NotFoundError:  # not judged by the latest run (loaded since)
            self.why = {}
            return
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        changed = record.label != e.label
        if not (e.is_issue or e.decision is not None):
            self.why = {}
            return
        self.why = {
            "id": e.sample_id,
            "run": e.run_id,
            "label": e.label,
            "current": record.label or "",
            "suggested": e.suggested,
            "doubt": f"{e.score:.0%}",
            "top3": [
                {"label": lab, "pct": f"{p:.0%}", "width": round(max(0.0, min(1.0, p)) * 100, 1)}
                for lab, p in e.top3
            ],
            "nearest": [{"id": nid, "name": name} for nid, name in e.nearest],
            "decision": e.decision or "",
            "changed": changed,
            "open": e.is_issue and e.decision is None and not changed,
        }

    # -- events from the browser ---------------------------------------------------------

    def _answer(self, data: Any) -> tuple[int, str, str | None]:
        """Check an answer's clip and reason and the reviewer: (clip id, reviewer, reason)."""
        if not isinstance(data, dict):
            raise ValidationError("invalid answer")
        sid = as_int(data.get("id"), name="sample id", lo=1)
        if sid != self.state.selected_sample_id or sid != self.why.get("id"):
            raise ValidationError("That clip is no longer the one open; open it again.")
        reason = as_str(data.get("reason") or "", name="reason", max_len=MAX_REASON) or ""
        reviewer = self.state.reviewer.strip()
        if not reviewer:
            raise ValidationError(REVIEWER_NEEDED)
        return sid, reviewer, reason.strip() or None

    def _done(self, text: str) -> None:
        self.state.saved()
        with self.hold_sync():
            self.message = text
            self.message_kind = "success"

    @handler("accepting the model's suggestion")
    def vue_accept(self, data: Any) -> None:
        """Relabel the clip as suggested: ``{"id": 12, "reason": "heard it"}``."""
        sid, reviewer, reason = self._answer(data)
        saved = self.services.model.accept(sid, reviewer=reviewer, reason=reason)
        self._done(f"Relabelled {saved.label!r}, signed {reviewer}; undo it in Edit.")

    @handler("keeping the label")
    def vue_keep(self, data: Any) -> None:
        """Keep the clip's label (no longer a suspect for it until its audio or label changes)."""
        sid, reviewer, reason = self._answer(data)
        self.services.model.keep(sid, reviewer=reviewer, reason=reason)
        self._done(f"Kept the label, signed {reviewer}.")

    @handler("calling the clip ambiguous")
    def vue_ambiguous(self, data: Any) -> None:
        """Record the clip as ambiguous (no longer listed until its audio or label changes)."""
        sid, reviewer, reason = self._answer(data)
        self.services.model.ambiguous(sid, reviewer=reviewer, reason=reason)
        self._done(f"Called it ambiguous, signed {reviewer}.")

    def _nearest(self, data: Any) -> int:
        nid = as_int(data, name="sample id", lo=1)
        if nid not in {n["id"] for n in self.why.get("nearest", [])}:
            raise NotFoundError("That clip is not one of the nearest shown.")
        return nid

    @handler("playing a nearest clip")
    def vue_play_near(self, data: Any) -> None:
        """Decode one of the nearest clips and send it to the browser's player."""
        nid = self._nearest(data)
        record = self.services.samples.get(nid, dataset=self.state.dataset)
        wav = self.services.audio.wav_bytes(record)
        self.send({"method": "play_audio", "args": [{"id": nid}]}, buffers=[wav])

    @handler("opening a nearest clip")
    def vue_open_near(self, data: Any) -> None:
        """Open one of the nearest clips in the review."""
        self.state.open_review(self._nearest(data))
