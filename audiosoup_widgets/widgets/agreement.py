"""AgreementCard: how far the reviewers agree on a dataset's labels.

A small card at the top of the quality view: Krippendorff's alpha (nominal) over the
clips with at least two votes, how many clips and reviewers it rests on, the agreement
per class (among pairs of votes on a clip that touch a label, the share where both
are it; the least agreed first), the consensus (clips with a majority label, ties
left unresolved) and the disputed clips (the grid's "Disagreements" switch lists
them). When a model run kept its class probabilities, the report's cleanlab consensus
is counted too. The numbers come from the annotation service; the card reads
them when the quality view is shown and again after every saved change while it is.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from traitlets import Bool, Dict, List, Unicode

from ..services import Services
from ..state import ReviewState
from .base import SafeTemplate, handler

log = logging.getLogger(__name__)

__all__ = ["AgreementCard", "fmt_alpha", "MAX_CLASSES"]

#: Most classes the card lists (the least agreed first).
MAX_CLASSES = 30


def fmt_alpha(value: float | None) -> str:
    """Show an agreement coefficient to three decimals, or a dash when it is undefined."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.3f}"


def _reading(alpha: float | None) -> str:
    """Krippendorff's own reading of alpha: reliable from 0.8, tentative from 0.667."""
    if alpha is None or not math.isfinite(alpha):
        return "undefined yet: it needs clips with two or more votes and two labels among them"
    if alpha >= 0.8:
        return "reliable agreement"
    if alpha >= 0.667:
        return "tentative agreement"
    return "low agreement: look at the disagreements"


class AgreementCard(SafeTemplate):
    """Dataset-wide agreement of the reviewers' label votes.

    Parameters
    ----------
    state : ReviewState
        Shared state; the card reads ``dataset``, ``view`` and ``revision``.
    services : Services
        The annotation service's agreement report.
    """

    template_file = (__file__, "agreement.vue")

    report = Dict().tag(sync=True)
    classes = List(Dict()).tag(sync=True)
    message = Unicode("").tag(sync=True)
    loaded = Bool(False).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._stale = True
        state.observe(self._on_change, names=["dataset", "revision", "view"])
        if state.view == "quality":
            self._safe_load()

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("name") != "view":
            self._stale = True
        if self.state.view == "quality" and self._stale:
            self._safe_load()

    def _safe_load(self) -> None:
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self.message = self.state.report(exc, context="computing the agreement")

    def load(self) -> None:
        """Read the dataset's agreement report and show it."""
        dataset = self.state.dataset
        self._stale = False
        if not dataset:
            with self.hold_sync():
                self.report, self.classes, self.loaded = {}, [], True
            return
        r = self.services.annotations.agreement(dataset)
        classes = sorted(r.per_class.items(), key=lambda kv: (kv[1] if kv[1] is not None else 2.0, kv[0]))
        resolved = sum(1 for v in r.consensus.values() if v is not None)
        with self.hold_sync():
            self.report = {
                "dataset": dataset,
                "alpha": fmt_alpha(r.alpha),
                "reading": _reading(r.alpha),
                "observed": "" if r.observed is None else f"{r.observed:.0%}",
                "n_items": r.n_items,
                "n_multi": r.n_multi,
                "n_reviewers": r.n_reviewers,
                "n_votes": r.n_votes,
                "disagreements": r.n_disputed,
                "consensus": resolved,
                "ties": r.n_items - resolved,
                "model_run": r.run_id,
                "model_consensus": len(r.model_consensus or {}),
                "notes": list(r.notes),
            }
            self.classes = [
                {
                    "label": label,
                    "agreement": fmt_alpha(value),
                    "width": round(100 * max(0.0, min(1.0, value or 0.0)), 1),
                }
                for label, value in classes[:MAX_CLASSES]
            ]
            self.message = ""
            self.loaded = True

    @handler("reading the agreement")
    def vue_refresh(self, data: Any = None) -> None:
        """Read the agreement again."""
        self.load()
