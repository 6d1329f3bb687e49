"""AnnotatePanel: the review's "Annotate" tab: votes, tags, flags, time regions and notes.

Every reviewer votes for a label of the open clip. In blind mode (the default) the
other reviewers' votes and the distribution are not sent to the browser at all until
this reviewer has voted on the clip; with blind mode off they are always shown.

Tags come with suggestions from the dataset's tag vocabulary (asked as the user
types); flags come from the service's fixed list. Time regions (start, end, label,
note) are drawn by dragging across the clip's waveform or spectrogram: the template draws the
rubber band over the plot area and sends the two ends as fractions of it, checked
and turned into seconds here. The mel spectrogram below the waveform shares its time
axis and takes a drag the same way. Each region is listed, editable (its label, note and
bounds, against the version shown: a change made by someone else in between is a
conflict, not an overwrite), deletable and playable alone (the service cuts its WAV).
Free-text notes are added, edited and deleted the same way.

Every change is signed with ``state.reviewer`` (set through ``state.sign``), goes
into the clip's annotation history and can be undone from it. After a change the
panel calls ``state.saved()`` so the grid, the agreement card and the other views
re-read. User text (tags, region labels, notes) reaches the page as data only.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ipywidgets import DOMWidget, widget_serialization
from traitlets import Bool, Dict, Float, Instance, Int, List, Unicode, dlink

from ..errors import ConflictError, ValidationError
from ..features.display import PLOT_BOTTOM, PLOT_TOP, prepare
from ..services import FEATURES, SampleRecord, Services
from ..state import ReviewState
from .base import REVIEWER_NEEDED, SafeTemplate, as_int, as_str, fmt_duration, fmt_value, fmt_when, handler
from .plots import FeaturePlot, WaveformPlot

log = logging.getLogger(__name__)

__all__ = ["AnnotatePanel", "MAX_TAG", "MAX_NOTE", "MAX_REGION_LABEL", "MAX_SUGGESTIONS"]

#: Longest tag, region label and note a reviewer may type (the service checks again).
MAX_TAG, MAX_REGION_LABEL, MAX_NOTE = 64, 120, 2000
#: Most tag suggestions sent per keystroke, and most history rows listed.
MAX_SUGGESTIONS, MAX_HISTORY = 20, 100
#: Shortest region, in seconds (a click without a drag is no region).
MIN_REGION = 0.01
#: The annotation plots' margins, in pixels (the template's overlay covers the rest; the
#: left one grows to the spectrogram's tick labels).
MARGIN = {"top": PLOT_TOP, "bottom": PLOT_BOTTOM, "left": 78, "right": 12}
#: The spectrogram's height, in pixels.
SPEC_HEIGHT = 180
_KINDS = {"vote": "Vote", "tag": "Tag", "flag": "Flag", "region": "Region", "note": "Note"}
_ACTIONS = {
    "set": "cast",
    "clear": "cleared",
    "add": "added",
    "remove": "removed",
    "update": "changed",
    "delete": "deleted",
    "undo": "undo",
}


def _state_text(kind: str, state: Any) -> str:
    """Describe an annotation's stored state (a history row's before or after) as plain text."""
    if state is None:
        return "(none)"
    if kind == "vote" and isinstance(state, dict):
        return fmt_value(state.get("label"))
    if kind == "region" and isinstance(state, dict):
        try:
            span = f"{float(state.get('start', 0)):.2f}–{float(state.get('end', 0)):.2f} s"
        except (TypeError, ValueError):
            span = "?"
        words = " · ".join(str(state[k]) for k in ("label", "note") if state.get(k))
        return fmt_value(f"{span} {words}".strip())
    if kind == "note" and isinstance(state, dict):
        return fmt_value(state.get("text"))
    return fmt_value(state)


def _fraction(value: Any, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"invalid {name}")
    return min(1.0, max(0.0, float(value)))


def _seconds(value: Any, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValidationError(f"invalid {name}")
    return float(value)


def _sample(record: SampleRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.file_name,
        "label": record.label or "",
        "duration": fmt_duration(record.duration),
    }


class AnnotatePanel(SafeTemplate):
    """Votes, tags, flags, regions and notes of the selected clip, with history and undo.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads the selected clip and the reviewer, signs the
        reviewer through ``state.sign`` and bumps ``revision`` through ``state.saved``.
    services : Services
        The annotation service (every read and change), the samples and the audio.
    """

    template_file = (__file__, "annotate.vue")

    sample = Dict().tag(sync=True)
    reviewer = Unicode("").tag(sync=True)
    # Non-empty when the server names the reviewer (JupyterHub, a trusted proxy): read-only name.
    reviewer_source = Unicode("").tag(sync=True)
    blind = Bool(True).tag(sync=True)
    label_items = List(Unicode()).tag(sync=True)
    votes = Dict().tag(sync=True)
    tags = List(Unicode()).tag(sync=True)
    tag_items = List(Unicode()).tag(sync=True)
    flags = List(Dict()).tag(sync=True)
    regions = List(Dict()).tag(sync=True)
    notes = List(Dict()).tag(sync=True)
    history = List(Dict()).tag(sync=True)
    message = Unicode("").tag(sync=True)
    message_kind = Unicode("info").tag(sync=True)
    duration = Float(0.0).tag(sync=True)
    margin = Dict(MARGIN).tag(sync=True)
    max_tag = Int(MAX_TAG).tag(sync=True)
    max_note = Int(MAX_NOTE).tag(sync=True)
    max_region_label = Int(MAX_REGION_LABEL).tag(sync=True)
    # Bumped on every (re)load so the browser drops its unsaved drafts.
    generation = Int(0).tag(sync=True)
    wave_fig = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    spec_fig = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._record: SampleRecord | None = None
        self._wave: WaveformPlot | None = None
        self._spec: FeaturePlot | None = None
        self._shown: tuple[int, str] | None = None
        #: Region and note versions as last shown (what an edit is checked against).
        self._versions: dict[tuple[str, int], int] = {}
        dlink((state, "reviewer"), (self, "reviewer"))
        dlink((state, "reviewer_source"), (self, "reviewer_source"))
        state.observe(
            self._on_change, names=["selected_sample_id", "dataset", "panel", "reviewer", "revision"]
        )
        self._safe_load()

    # -- state -> view -------------------------------------------------------------------

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("name") == "selected_sample_id":
            self.message = ""
        self._safe_load()

    def _safe_load(self) -> None:
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self._say(self.state.report(exc, context="showing the annotations"), "error")

    def _on_handler_error(self, message: str) -> None:
        self._say(message, "error")

    def _say(self, text: str, kind: str = "info") -> None:
        with self.hold_sync():
            self.message = text
            self.message_kind = kind

    @property
    def record(self) -> SampleRecord | None:
        """The clip shown."""
        return self._record

    def load(self) -> None:
        """Show the selected clip's annotations (only while the Annotate tab is open)."""
        s = self.state
        if s.selected_sample_id is None or not s.dataset:
            self._record = None
            with self.hold_sync():
                self.sample, self.votes, self.tags, self.flags = {}, {}, [], []
                self.regions, self.notes, self.history = [], [], []
                self.generation += 1
            return
        if s.panel != "annotate":
            return
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        self._record = record
        ann = self.services.annotations
        sid = record.id
        labels = [lab.name for lab in self.services.samples.labels(record.dataset)]
        if not s.reviewer:
            # Who is asking decides what blind mode shows: nothing is read before a name.
            with self.hold_sync():
                self.sample = _sample(record)
                self.label_items = labels
                self.votes = {"mine": "", "hidden": True}
                self.tags, self.flags, self.regions, self.notes, self.history = [], [], [], [], []
                self.generation += 1
            self._figure(record)
            return
        view = ann.votes_view(sid, reviewer=s.reviewer, blind=self.blind)
        items = ann.annotations(sid, reviewer=s.reviewer, blind=self.blind)
        self._versions = {("region", r.id): r.version for r in items.regions}
        self._versions.update({("note", n.id): n.version for n in items.notes})
        history = ann.history(sid)
        if view.hidden:
            # Blind: the history would tell the others' votes; it keeps only mine until I vote.
            history = [e for e in history if e.kind != "vote" or e.target == s.reviewer]
        with self.hold_sync():
            self.sample = _sample(record)
            self.label_items = labels
            self.votes = self._votes(view)
            self.tags = list(items.tags)
            on = set(items.flags)
            # The configured flags, then any a reviewer raised before the list changed.
            self.flags = [{"flag": f, "on": f in on} for f in ann.flags] + [
                {"flag": f, "on": True} for f in items.flags if f not in ann.flags
            ]
            self.regions = [self._region(r) for r in items.regions]
            self.notes = [
                {
                    "id": n.id,
                    "text": n.text,
                    "who": n.reviewer,
                    "when": fmt_when(n.updated_at or n.created_at),
                }
                for n in items.notes
            ]
            self.history = [self._edit(e, s.reviewer) for e in history[:MAX_HISTORY]]
            self.generation += 1
        self._figure(record)

    def _votes(self, view: Any) -> dict[str, Any]:
        """Return what the browser may see of the votes: nothing of the others' while hidden."""
        mine = view.my_vote or ""
        if view.hidden:
            return {"mine": mine, "hidden": True}
        dist = list(view.distribution.items())
        n = view.n_votes
        return {
            "mine": mine,
            "hidden": False,
            "n": n,
            "distribution": [
                {
                    "label": lab,
                    "n": c,
                    "pct": f"{c / n:.0%}" if n else "",
                    "width": round(100 * c / n, 1) if n else 0,
                }
                for lab, c in dist
            ],
            "voters": [{"who": who, "label": lab} for who, lab in view.votes],
            "consensus": view.consensus or "",
        }

    def _region(self, r: Any) -> dict[str, Any]:
        """Return a region as the browser lists and draws it (left and width in % of the clip)."""
        d = self.duration or (self._record.duration if self._record else 0.0) or 1.0
        return {
            "id": r.id,
            "start": round(r.start, 3),
            "end": round(r.end, 3),
            "label": r.label or "",
            "note": r.note or "",
            "who": r.reviewer,
            "left": round(100 * min(1.0, r.start / d), 3),
            "width": round(100 * max(0.0, min(r.end, d) - r.start) / d, 3),
        }

    @staticmethod
    def _edit(e: Any, reviewer: str) -> dict[str, Any]:
        kind, action = str(e.kind), str(e.action)
        what = _KINDS.get(kind, kind.capitalize())
        if kind == "vote" and e.target != e.reviewer:  # an undo of someone's vote names them
            what += f" of {e.target}"
        return {
            "id": e.id,
            "when": fmt_when(e.at),
            "who": e.reviewer,
            "what": what,
            "action": _ACTIONS.get(action, action),
            "old": _state_text(kind, e.before),
            "new": _state_text(kind, e.after),
            "undone": bool(e.undone),
            "is_undo": action == "undo",
            # A vote is its voter's own: only they undo it; any other change anyone may.
            "can_undo": action != "undo" and not e.undone and (kind != "vote" or e.target == reviewer),
        }

    def _figure(self, record: SampleRecord) -> None:
        key = (record.id, record.content_hash)
        if key == self._shown:
            return
        peaks, duration = self.services.audio.waveform(record)
        if self._wave is None or self._spec is None:
            self._wave = WaveformPlot(height=150)
            self._spec = FeaturePlot(FEATURES["mel_spectrogram"], height=SPEC_HEIGHT)
            for fig in (self._wave.figure, self._spec.figure):
                # The template's overlay takes the pointer: a drag draws a region, not a pan.
                fig.interaction = None
        self._wave.show(peaks, duration)
        fs = self.services.features.compute(record, "spectral", names=["mel_spectrogram"])
        display = prepare(
            FEATURES["mel_spectrogram"],
            fs.values["mel_spectrogram"],
            sr=fs.sr,
            params=self.services.features.params,
        )
        self._spec.show(display)
        # Both plots on one time axis, 0 .. duration, with the same plot area left and right,
        # so a drag across either marks the same seconds.
        left = max(MARGIN["left"], self._spec.left)
        end = float(max(duration, 1e-3))
        for fig, x in ((self._wave.figure, self._wave.x_scale), (self._spec.figure, self._spec.x_scale)):
            fig.fig_margin = {**fig.fig_margin, "left": left, "right": MARGIN["right"]}
            x.min, x.max = 0.0, end
        with self.hold_sync():
            self.duration = float(duration)
            self.margin = {**MARGIN, "left": left}
            self.wave_fig = self._wave.figure
            self.spec_fig = self._spec.figure
            self.regions = [{**r, **self._place(r["start"], r["end"])} for r in self.regions]
        self._shown = key

    def _place(self, start: float, end: float) -> dict[str, float]:
        d = self.duration or 1.0
        return {
            "left": round(100 * min(1.0, start / d), 3),
            "width": round(100 * max(0.0, min(end, d) - start) / d, 3),
        }

    # -- checks --------------------------------------------------------------------------

    def _need(self) -> tuple[SampleRecord, str]:
        if self._record is None:
            raise ValidationError("Select a sample first.")
        if not self.state.reviewer.strip():
            raise ValidationError(REVIEWER_NEEDED)
        return self._record, self.state.reviewer

    def _done(self, text: str) -> None:
        self.state.saved()  # re-reads this panel too (it observes ``revision``)
        self._say(text, "success")

    def _version(self, kind: str, data: Any) -> tuple[int, int]:
        item = as_int(data, name=f"{kind} id", lo=1)
        version = self._versions.get((kind, item))
        if version is None:
            raise ValidationError(f"That {kind} is not one of this clip's; it may have been deleted.")
        return item, version

    def _conflict(self, exc: ConflictError, what: str) -> None:
        self.load()
        self._say(
            f"Not saved: {exc.theirs_by or 'someone'} changed this {what} since; it shows their version now.",
            "error",
        )
        self.state.report(exc, context=f"saving a {what}")

    # -- events from the browser: name, blind mode, votes --------------------------------

    @handler("setting your name")
    def vue_set_reviewer(self, data: Any) -> None:
        """Remember the reviewer's name (recorded with every annotation)."""
        name = self.state.sign(as_str(data, name="name", max_len=100) or "")
        self._say(f"Annotations will be recorded as {name}.", "success")

    @handler("switching blind mode")
    def vue_set_blind(self, data: Any) -> None:
        """Hide the others' votes until mine is in (``True``, the default) or always show them."""
        if not isinstance(data, bool):
            raise ValidationError("invalid choice")
        self.blind = data
        self.load()

    @handler("voting")
    def vue_vote(self, data: Any) -> None:
        """Vote for the label ``data`` (one of the dataset's); a new vote replaces mine."""
        label = (as_str(data, name="label", max_len=200) or "").strip()
        record, reviewer = self._need()
        if label not in self.label_items:
            raise ValidationError(f"“{label}” is not a label of this dataset.")
        self.services.annotations.vote(record.id, label, reviewer=reviewer)
        self._done(f"Voted “{label}”, signed {reviewer}.")

    # -- tags and flags ------------------------------------------------------------------

    @handler("suggesting tags")
    def vue_suggest_tags(self, data: Any) -> None:
        """Offer the dataset's tags starting with the typed text ``data``."""
        prefix = (as_str(data if data is not None else "", name="tag", max_len=MAX_TAG) or "").strip()
        if self._record is None:
            return
        found = self.services.annotations.tag_vocabulary(self._record.dataset, prefix=prefix, contains=True)
        self.tag_items = [t for t, _ in found if t not in self.tags][:MAX_SUGGESTIONS]

    @handler("adding a tag")
    def vue_add_tag(self, data: Any) -> None:
        """Tag the clip with ``data`` (a new tag joins the dataset's vocabulary)."""
        tag = (as_str(data, name="tag", max_len=MAX_TAG) or "").strip()
        if not tag:
            raise ValidationError("A tag cannot be empty.")
        record, reviewer = self._need()
        self.services.annotations.tag(record.id, tag, reviewer=reviewer)
        self._done(f"Tagged “{tag}”.")

    @handler("removing a tag")
    def vue_remove_tag(self, data: Any) -> None:
        """Remove the tag ``data`` from the clip."""
        tag = as_str(data, name="tag", max_len=MAX_TAG) or ""
        record, reviewer = self._need()
        if tag not in self.tags:
            raise ValidationError("The clip does not carry that tag.")
        self.services.annotations.untag(record.id, tag, reviewer=reviewer)
        self._done(f"Removed the tag “{tag}”.")

    @handler("flagging")
    def vue_set_flag(self, data: Any) -> None:
        """Raise or lower a flag: ``{"flag": "noisy", "on": true}``."""
        if not isinstance(data, dict) or not isinstance(data.get("on"), bool):
            raise ValidationError("invalid flag")
        flag = as_str(data.get("flag"), name="flag", max_len=64) or ""
        ann = self.services.annotations
        # A flag no longer configured can still be lowered, never raised.
        if flag not in ann.flags and (data["on"] or flag not in {f["flag"] for f in self.flags}):
            raise ValidationError(f"unknown flag; choose one of {', '.join(ann.flags)}")
        record, reviewer = self._need()
        if data["on"]:
            ann.flag(record.id, flag, reviewer=reviewer)
            self._done(f"Flagged “{flag}”.")
        else:
            ann.unflag(record.id, flag, reviewer=reviewer)
            self._done(f"Lowered the flag “{flag}”.")

    # -- regions -------------------------------------------------------------------------

    @handler("drawing a region")
    def vue_draw_region(self, data: Any) -> None:
        """Add the region the pointer dragged across: ``{"fx0": 0.1, "fx1": 0.4}`` of the plot width."""
        if not isinstance(data, dict):
            raise ValidationError("invalid region")
        a, b = sorted((_fraction(data.get("fx0"), name="region"), _fraction(data.get("fx1"), name="region")))
        record, reviewer = self._need()
        d = self.duration or record.duration
        start, end = round(a * d, 3), round(b * d, 3)
        if end - start < MIN_REGION:
            raise ValidationError("Drag across the waveform to mark a region.")
        self.services.annotations.add_region(record.id, start=start, end=end, reviewer=reviewer)
        self._done(f"Marked {start:.2f} s to {end:.2f} s; give it a label below.")

    @handler("saving a region")
    def vue_update_region(self, data: Any) -> None:
        """Change a region: ``{"id", "start", "end", "label", "note"}`` (seconds; text)."""
        if not isinstance(data, dict):
            raise ValidationError("invalid region")
        rid, version = self._version("region", data.get("id"))
        start, end = _seconds(data.get("start"), name="start"), _seconds(data.get("end"), name="end")
        label = (as_str(data.get("label") or "", name="region label", max_len=MAX_REGION_LABEL) or "").strip()
        note = (as_str(data.get("note") or "", name="region note", max_len=MAX_NOTE) or "").strip()
        _, reviewer = self._need()
        if end - start < MIN_REGION:
            raise ValidationError("A region must end after it starts.")
        if self.duration and end > self.duration + 1e-3:
            raise ValidationError(f"A region must end within the clip ({self.duration:.2f} s).")
        try:
            self.services.annotations.update_region(
                rid, version=version, start=start, end=end, label=label, note=note, reviewer=reviewer
            )
        except ConflictError as exc:
            self._conflict(exc, "region")
            return
        self._done("Saved the region.")

    @handler("deleting a region")
    def vue_delete_region(self, data: Any) -> None:
        """Delete the region with id ``data``."""
        rid, version = self._version("region", data)
        _, reviewer = self._need()
        try:
            self.services.annotations.delete_region(rid, version=version, reviewer=reviewer)
        except ConflictError as exc:
            self._conflict(exc, "region")
            return
        self._done("Deleted the region; undo it from the history.")

    @handler("playing a region")
    def vue_play_region(self, data: Any) -> None:
        """Send the region ``data`` alone, as a WAV, to the browser's player."""
        rid = as_int(data, name="region id", lo=1)
        region = next((r for r in self.regions if r["id"] == rid), None)
        if region is None or self._record is None:
            raise ValidationError("That region is not one of this clip's.")
        wav = self.services.audio.segment_wav(self._record, start=region["start"], end=region["end"])
        self.send({"method": "play_region", "args": [{"id": rid}]}, buffers=[wav])

    # -- notes ---------------------------------------------------------------------------

    @handler("adding a note")
    def vue_add_note(self, data: Any) -> None:
        """Add the free-text note ``data``."""
        text = (as_str(data, name="note", max_len=MAX_NOTE) or "").strip()
        if not text:
            raise ValidationError("A note cannot be empty.")
        record, reviewer = self._need()
        self.services.annotations.add_note(record.id, text, reviewer=reviewer)
        self._done("Added the note.")

    @handler("saving a note")
    def vue_update_note(self, data: Any) -> None:
        """Change a note: ``{"id": 3, "text": "..."}``."""
        if not isinstance(data, dict):
            raise ValidationError("invalid note")
        nid, version = self._version("note", data.get("id"))
        text = (as_str(data.get("text"), name="note", max_len=MAX_NOTE) or "").strip()
        if not text:
            raise ValidationError("A note cannot be empty; delete it instead.")
        _, reviewer = self._need()
        try:
            self.services.annotations.update_note(nid, text, version=version, reviewer=reviewer)
        except ConflictError as exc:
            self._conflict(exc, "note")
            return
        self._done("Saved the note.")

    @handler("deleting a note")
    def vue_delete_note(self, data: Any) -> None:
        """Delete the note with id ``data``."""
        nid, version = self._version("note", data)
        _, reviewer = self._need()
        try:
            self.services.annotations.delete_note(nid, version=version, reviewer=reviewer)
        except ConflictError as exc:
            self._conflict(exc, "note")
            return
        self._done("Deleted the note; undo it from the history.")

    # -- history -------------------------------------------------------------------------

    @handler("undoing an annotation")
    def vue_undo(self, data: Any) -> None:
        """Undo the history entry ``data`` (itself recorded in the history)."""
        eid = as_int(data, name="history entry", lo=1)
        if eid not in {h["id"] for h in self.history if h["can_undo"]}:
            raise ValidationError(
                "That change cannot be undone here (not listed, undone already, or someone else's vote)."
            )
        _, reviewer = self._need()
        try:
            self.services.annotations.undo(eid, reviewer=reviewer)
        except ConflictError as exc:
            self._conflict(exc, "annotation")
            return
        self._done("Undone.")
