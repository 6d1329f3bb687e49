"""VocabularyPanel: label names that look alike, merged in one step, and texts that disagree with labels.

Shown in the quality view. Two cards:

* **Names that look alike**: the text service's merge groups of labels ("dog", "Dog",
  "dogs") and of tags, each name with its count; the reviewer picks the name to keep and
  merges. A label merge is one bulk relabel with the reason "merge labels": every clip
  gets its own history entry under a shared batch id. A tag merge adds the kept tag and
  removes the others under one batch id. "Undo" reverts either as one step (clips
  edited again since are reported and left alone).
* **Texts against labels**: a cross-validated text model (transcripts, notes, tags)
  run in the background on demand; the clips whose text points at another label get a
  mark on their cards ("strong" where the audio model suspects them too), and "Show
  them" filters the grid to those clips.

Both need the reviewer's name only to merge. After a merge or a check the panel bumps
``state.revision`` (:meth:`~audiosoup_widgets.state.ReviewState.saved`), so the cards,
the filters and the other views re-read.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from traitlets import Dict, List, Unicode

from ..services import Services
from ..state import ReviewState
from .background import Job, LatestJob
from .base import SafeTemplate, as_int, as_str, handler

log = logging.getLogger(__name__)

__all__ = ["VocabularyPanel", "TEXT_SOURCE"]

#: What the grid says its clips are after "Show them".
TEXT_SOURCE = "the texts that disagree with their labels"


class VocabularyPanel(SafeTemplate):
    """Merge suggestions for label names, and the text model's disagreements.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads the dataset, the view and the reviewer, bumps
        ``revision`` after a merge, its undo, or a text check, and sets the id filter.
    services : Services
        The text service (suggestions, merges, checks) and the relabel service (undo).
    """

    template_file = (__file__, "vocabulary.vue")

    groups = List(Dict()).tag(sync=True)
    merge_busy = Unicode("").tag(sync=True)
    check_busy = Unicode("").tag(sync=True)
    # {"n": clips whose text disagrees, "strong": of them suspected by the audio model too}
    check = Dict().tag(sync=True)
    # {"text": what the merge did, "batch": its id while it can be undone}
    outcome = Dict().tag(sync=True)
    message = Unicode("").tag(sync=True)
    reviewer = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._merges = LatestJob("audiosoup-merges")
        self._checks = LatestJob("audiosoup-text-check")
        self._check_ids: list[int] = []
        self._shown: tuple[str, int] | None = None
        self.reviewer = state.reviewer
        state.observe(self._on_reviewer, names=["reviewer"])
        state.observe(self._on_view, names=["view", "dataset", "revision"])

    def _on_reviewer(self, change: dict[str, Any]) -> None:
        self.reviewer = self.state.reviewer

    def _on_view(self, change: dict[str, Any]) -> None:
        s = self.state
        if change.get("name") == "dataset":
            self._checks.cancel()
            with self.hold_sync():
                self.check, self.check_busy, self.outcome, self.message = {}, "", {}, ""
            self._check_ids = []
        if s.view == "quality" and s.dataset and self._shown != (s.dataset, s.revision):
            self.refresh()

    def refresh(self) -> None:
        """Find the dataset's merge groups again, in the background."""
        dataset = self.state.dataset
        self._shown = (dataset, self.state.revision)
        self.merge_busy = "Looking for label names that look alike…"
        text = self.services.text
        self._merges.submit(
            lambda job: (text.merge_suggestions(dataset), text.tag_merge_suggestions(dataset)),
            on_done=self._show_groups,
            on_error=functools.partial(self._fail, "finding label names that look alike"),
        )

    def _show_groups(self, found: Any) -> None:
        labels, tags = found
        with self.hold_sync():
            self.merge_busy = ""
            self.groups = [
                {
                    "kind": kind,
                    "names": [{"name": n, "n": int(c)} for n, c in zip(g.names, g.counts, strict=True)],
                    "keep": g.keep,
                    "total": int(g.total),
                    "similarity": round(float(g.similarity), 2),
                }
                for kind, groups in (("label", labels), ("tag", tags))
                for g in groups
            ]

    def _fail(self, context: str, exc: BaseException) -> None:
        message = self.state.report(exc, context=context)
        with self.hold_sync():
            self.merge_busy, self.check_busy, self.message = "", "", message

    @handler("merging label names")
    def vue_merge(self, data: Any) -> None:
        """Relabel a group's clips to the name the reviewer kept (``{"index": i, "keep": name}``)."""
        if not isinstance(data, dict):
            raise TypeError("merge expects an object")
        i = as_int(data.get("index"), name="index", lo=0, hi=max(len(self.groups) - 1, 0))
        keep = as_str(data.get("keep"), name="keep", max_len=200) or ""
        who = as_str(data.get("who"), name="name", max_len=100, allow_none=True)
        if who and not self.state.reviewer:
            self.state.sign(who)
        reviewer = self.state.reviewer
        if not reviewer:
            self.message = "Enter your name: a merge is recorded in each clip's history with it."
            return
        group = self.groups[i]
        names = [n["name"] for n in group["names"]]
        others = ", ".join(f"“{n}”" for n in names if n != keep)
        text = self.services.text
        if group["kind"] == "tag":
            tagged = text.apply_tag_merge(self.state.dataset, names, keep=keep, reviewer=reviewer)
            self.outcome = (
                {"text": f"No clip carries {others} any more."}
                if tagged is None
                else {
                    "text": f"Tagged “{keep}” instead of {others}.",
                    "batch": tagged.batch_id,
                    "kind": "tag",
                }
            )
        else:
            done = text.apply_merge(self.state.dataset, names, keep=keep, reviewer=reviewer)
            if done is None:
                self.outcome = {"text": f"No clip carries {others} any more."}
            else:
                skipped = (
                    f"; {len(done.skipped)} changed by someone else were left alone" if done.skipped else ""
                )
                self.outcome = {
                    "text": f"Relabelled {done.changed:,} clips from {others} to “{keep}”{skipped}.",
                    "batch": done.batch_id,
                    "kind": "label",
                }
        self.message = ""
        self.state.saved()

    @handler("undoing the merge")
    def vue_undo_merge(self, data: Any = None) -> None:
        """Undo the last merge as one step."""
        batch = self.outcome.get("batch")
        if not batch or not self.state.reviewer:
            return
        if self.outcome.get("kind") == "tag":
            tags = self.services.annotations.undo_batch(batch, reviewer=self.state.reviewer)
            left = f"; {len(tags.conflicts)} changed since were left alone" if tags.conflicts else ""
            self.outcome = {"text": f"Undid the tag merge{left}."}
            self.state.saved()
            return
        undone = self.services.relabel.undo_batch(batch, reviewer=self.state.reviewer)
        left = f"; {len(undone.skipped)} edited since were left alone" if undone.skipped else ""
        self.outcome = {
            "text": f"Undid the merge: {undone.reverted:,} clips have their old label again{left}."
        }
        self.state.saved()

    @handler("checking texts against labels")
    def vue_check_texts(self, data: Any = None) -> None:
        """Fit the text model in the background and mark the clips whose text disagrees."""
        dataset = self.state.dataset
        if not dataset or self.check_busy:
            return
        started = dt.datetime.now(dt.UTC)
        self.check_busy = "Reading every clip's text and fitting a text model (cross-validated)…"
        self._checks.submit(
            functools.partial(self._check_job, dataset),
            on_done=functools.partial(self._checked, started),
            on_error=functools.partial(self._fail, "checking texts against labels"),
        )

    def _check_job(self, dataset: str, job: Job) -> list[tuple[int, bool]]:
        found = self.services.text.consistency(dataset)
        return [(sid, c.strong) for sid, c in sorted(found.items())]

    def _checked(self, started: dt.datetime, found: list[tuple[int, bool]]) -> None:
        self._check_ids = [sid for sid, _ in found]
        seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
        with self.hold_sync():
            self.check_busy = ""
            self.check = {
                "n": len(found),
                "strong": sum(1 for _, s in found if s),
                "seconds": round(seconds, 1),
            }
        self.state.saved()  # the cards show their marks

    @handler("showing the clips whose text disagrees")
    def vue_show_checked(self, data: Any = None) -> None:
        """Filter the grid to the clips whose text disagrees with their label."""
        self.state.filter_to(self._check_ids, source=TEXT_SOURCE)
        self.state.show("clips")

    @handler("refreshing the label names")
    def vue_refresh(self, data: Any = None) -> None:
        """Look for merge groups again."""
        self.refresh()

    def close(self) -> None:
        """Stop the background workers, then close the widget."""
        self._merges.close()
        self._checks.close()
        super().close()
