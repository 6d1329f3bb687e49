"""FeatureRanking: which features separate the labels, ticks for a model, one feature's detail.

The model view's first part. It ranks the dataset's stored summaries off the main
thread (:class:`~.background.LatestJob`) when the view is first shown, and again on
"Recompute"; the chart is one horizontal bar per feature coloured by family, with the
95 % interval as a thin line. A click on a bar (or a feature's name) shows the feature's
best summary column per label as histograms on shared bars, and the clips at its two
extremes, with play buttons and a link to their review.

The tick boxes (per feature, and per family: ticking a family ticks its features) write
``state.model_features``, which this view alone writes; a model fitted later reads it.
"""

from __future__ import annotations

import math
from typing import Any

import bqplot as bq
import ipywidgets as ipw
import numpy as np
from ipywidgets import Widget, widget_serialization
from traitlets import Dict, Instance, List, Unicode

from ..errors import AudiosoupError, ValidationError
from ..services import ALL_LABELS, FAMILIES, FEATURES, FeatureBar, FeatureDetail, Ranking, Services
from ..state import ReviewState
from .background import LatestJob
from .base import SafeTemplate, handler

__all__ = ["FeatureRanking", "FAMILY_COLOURS", "LABEL_COLOURS", "BY_TITLES"]
#: Longest feature title the chart's name axis shows whole (its 170 px margin holds about 24).
_AXIS_CHARS = 24

#: Bar colours of the feature families (colour-blind friendly).
FAMILY_COLOURS = {"spectral": "#1f77b4", "rhythmic": "#e07b00", "deltas": "#2ca02c"}
#: Line colours of the labels in a feature's histograms (the rest share grey).
LABEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: What the score menu says.
BY_TITLES = {"f": "F (ANOVA)", "mi": "Mutual information"}
FAMILY_TITLES = {"spectral": "Spectral", "rhythmic": "Rhythmic", "deltas": "Deltas and cepstra"}
_ROW = 26  # pixels per bar
_SOURCE = "the model view"


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.3g}"


def _axis_name(title: str) -> str:
    """Return a feature's title short enough for the chart's name axis (the tick list has it whole)."""
    return title if len(title) <= _AXIS_CHARS else title[: _AXIS_CHARS - 1].rstrip() + "…"


class FeatureRanking(SafeTemplate):
    """Which features separate the labels: a ranked bar chart, ticks for a model, a feature's detail.

    Parameters
    ----------
    state : ReviewState
        Shared state; the view reads ``view``, ``dataset`` and ``revision``, writes
        ``model_features``, and opens a clip's review with :meth:`ReviewState.open_review`.
    services : Services
        Where the ranking, the clips and their audio come from.
    """

    template_file = (__file__, "ranking.vue")

    by = Unicode("f").tag(sync=True)
    scope = Unicode(ALL_LABELS).tag(sync=True)
    by_items = List(Dict()).tag(sync=True)
    scope_items = List(Dict()).tag(sync=True)
    busy = Unicode("").tag(sync=True)
    message = Unicode("").tag(sync=True)
    note = Unicode("").tag(sync=True)
    families = List(Dict()).tag(sync=True)
    ticked = List(Unicode()).tag(sync=True)
    picked = Unicode("").tag(sync=True)
    chart = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    chart_height = Unicode("0px").tag(sync=True)
    detail_figure = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    detail_info = Dict().tag(sync=True)
    legend = List(Dict()).tag(sync=True)
    lowest = List(Dict()).tag(sync=True)
    highest = List(Dict()).tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.by_items = [{"value": k, "title": t} for k, t in BY_TITLES.items()]
        self._job = LatestJob("audiosoup-ranking")
        self._ranking: Ranking | None = None
        self._bars: list[FeatureBar] = []
        self._shown: tuple[str, int] | None = None
        self._extremes: set[int] = set()
        self._build_chart()
        self.ticked = list(state.model_features)
        state.observe(self._on_view, names=["view", "dataset", "revision"])
        state.observe(self._on_ticks, names=["model_features"])
        self._on_view({})

    # -- figures ------------------------------------------------------------------------

    def _build_chart(self) -> None:
        self._names = bq.OrdinalScale()
        self._scores = bq.LinearScale(min=0.0)
        self._bar_mark = bq.Bars(
            x=[],
            y=[],
            scales={"x": self._names, "y": self._scores},
            orientation="horizontal",
            padding=0.25,
            colors=["#1f77b4"],
            tooltip=None,
        )
        self._bar_mark.on_element_click(self._clicked)
        self._ci = bq.Lines(
            x=[[0.0, 0.0]],
            y=[["", ""]],
            scales={"x": self._scores, "y": self._names},
            colors=["#24292f"],
            stroke_width=2,
        )
        self._name_axis = bq.Axis(scale=self._names, side="left", grid_lines="none")
        self._score_axis = bq.Axis(scale=self._scores, label="F", grid_lines="dashed", label_offset="32px")
        self.chart = self._chart = bq.Figure(
            marks=[self._bar_mark, self._ci],
            axes=[self._name_axis, self._score_axis],
            fig_margin={"top": 8, "bottom": 44, "left": 170, "right": 24},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height="200px"),
        )
        self._hx = bq.LinearScale()
        self._hy = bq.LinearScale(min=0.0)
        self._hist = bq.Lines(
            x=np.zeros(2),
            y=np.zeros((1, 2)),
            scales={"x": self._hx, "y": self._hy},
            stroke_width=2,
            interpolation="step-after",
        )
        self._hx_axis = bq.Axis(scale=self._hx, label="value", grid_lines="none", label_offset="32px")
        self._hy_axis = bq.Axis(
            scale=self._hy,
            side="left",
            label="share of the label's clips",
            grid_lines="dashed",
            label_offset="48px",
            tick_format=".0%",
        )
        self._detail = bq.Figure(
            marks=[self._hist],
            axes=[self._hx_axis, self._hy_axis],
            fig_margin={"top": 10, "bottom": 44, "left": 66, "right": 16},
            padding_x=0.0,
            padding_y=0.0,
            animation_duration=0,
            layout=ipw.Layout(width="100%", height="260px"),
        )

    # -- state -> view ------------------------------------------------------------------

    def _on_view(self, change: dict[str, Any]) -> None:
        s = self.state
        if change.get("name") == "dataset":
            self._job.cancel()
            self._clear()
            self._shown = None
        if s.view != "model":
            return
        if self._shown != (s.dataset, s.revision):
            self._load(recompute=False)

    def _on_ticks(self, change: dict[str, Any]) -> None:
        self.ticked = list(self.state.model_features)
        self._families()

    def _clear(self) -> None:
        self._ranking, self._bars, self._extremes = None, [], set()
        with self.hold_sync():
            self.families, self.picked, self.note, self.message = [], "", "", ""
            self.scope_items, self.detail_figure, self.detail_info = [], None, {}
            self.lowest, self.highest, self.legend = [], [], []
            self.chart_height = "0px"

    def _load(self, *, recompute: bool) -> None:
        s = self.state
        dataset = s.dataset
        self._shown = (dataset, s.revision)
        if not dataset:
            self._clear()
            self.message = "There is no dataset to rank yet."
            return
        ranking = self.services.ranking
        self.busy = "Scoring how well each feature separates the labels"
        self.message = ""
        self._job.submit(
            lambda job: ranking.rank(dataset, recompute=recompute),
            on_done=self._loaded,
            on_error=self._failed,
        )

    def _loaded(self, result: Ranking) -> None:
        self.busy = ""
        try:
            self._ranking = result
            items = [{"value": ALL_LABELS, "title": "All labels at once"}]
            items += [{"value": lab, "title": f"{lab} against the rest"} for lab in result.labels]
            self.scope_items = items
            if self.scope != ALL_LABELS and self.scope not in result.labels:
                self.scope = ALL_LABELS
            where = "train split" if result.split == "train" else "whole dataset (it has no splits)"
            self.note = f"{result.n_rows:,} labelled clips of the {where}, {len(result.labels)} labels."
            self._draw()
        except Exception as exc:  # noqa: BLE001 - a job callback must report, not raise
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.busy = ""
        self._clear()
        if isinstance(exc, ValidationError) or (
            isinstance(exc, AudiosoupError) and exc.code == "not_computed"
        ):
            # No summaries yet, fewer than two labels: expected, said in the view, not as an error.
            self.message = exc.message
            return
        self.message = self.state.report(exc, context="ranking the features")

    def _draw(self) -> None:
        ranking = self._ranking
        if ranking is None:
            return
        self._bars = bars = self.services.ranking.bars(ranking, by=self.by, scope=self.scope)
        names = [_axis_name(b.title) for b in bars]
        scores = np.array([b.score for b in bars], dtype=np.float64)
        finite = scores[np.isfinite(scores)]
        top = float(finite.max()) if finite.size else 1.0
        highs = np.array([b.high for b in bars], dtype=np.float64)
        top = max(top, float(np.nanmax(np.where(np.isfinite(highs), highs, 0.0))) if len(highs) else 0.0)
        top = top * 1.05 or 1.0
        shown = np.where(np.isfinite(scores), scores, np.where(np.isinf(scores), top, 0.0))
        # A vertical ordinal axis draws its first name at the bottom: the best goes last, on top.
        with self._bar_mark.hold_sync(), self._ci.hold_sync():
            self._names.domain = names[::-1]
            self._bar_mark.x = names[::-1]
            self._bar_mark.y = shown[::-1]
            self._bar_mark.colors = [FAMILY_COLOURS.get(b.family, "#57606a") for b in bars][::-1]
            self._scores.min, self._scores.max = 0.0, top
            with_ci = [b for b in bars if math.isfinite(b.low) and math.isfinite(b.high)]
            self._ci.visible = bool(with_ci)
            if with_ci:
                self._ci.x = [[b.low, min(b.high, top)] for b in with_ci]
                self._ci.y = [[_axis_name(b.title)] * 2 for b in with_ci]
        self._score_axis.label = (
            "F (higher separates better)" if self.by == "f" else "mutual information, nats (higher is better)"
        )
        self.chart_height = f"{len(bars) * _ROW + 56}px"
        self._chart.layout.height = self.chart_height
        self._families()
        if self.picked and any(b.feature == self.picked for b in bars):
            self._show_detail(self.picked)
        elif bars:
            self._show_detail(bars[0].feature)

    def _families(self) -> None:
        ticked = set(self.state.model_features)
        groups = []
        for fam in FAMILIES:
            rows = [b for b in self._bars if b.family == fam]
            if not rows:
                continue
            feats = [
                {
                    "feature": b.feature,
                    "title": b.title,
                    "score": _fmt(b.score),
                    "interval": f"{_fmt(b.low)} to {_fmt(b.high)}" if math.isfinite(b.low) else "",
                    "rank": b.rank,
                    "ticked": b.feature in ticked,
                }
                for b in sorted(rows, key=lambda b: b.rank)
            ]
            n = sum(b.feature in ticked for b in rows)
            groups.append(
                {
                    "family": fam,
                    "title": FAMILY_TITLES.get(fam, fam),
                    "colour": FAMILY_COLOURS.get(fam, "#57606a"),
                    "features": feats,
                    "all": n == len(feats),
                    "some": 0 < n < len(feats),
                }
            )
        self.families = groups

    def _show_detail(self, feature: str) -> None:
        ranking = self._ranking
        if ranking is None:
            return
        detail = self.services.ranking.detail(ranking, feature, by=self.by, scope=self.scope)
        self._draw_detail(detail)

    def _draw_detail(self, d: FeatureDetail) -> None:
        edges = np.asarray(d.edges, dtype=np.float64)
        shares = np.array(
            [np.asarray(h.counts, dtype=np.float64) / max(h.n, 1) for h in d.histograms], dtype=np.float64
        ).reshape(len(d.histograms), len(edges) - 1)
        y = np.hstack([shares, shares[:, -1:]]) if shares.size else np.zeros((1, len(edges)))
        colours = [
            LABEL_COLOURS[i] if i < len(LABEL_COLOURS) else "#8c959f" for i in range(len(d.histograms))
        ]
        with self._hist.hold_sync():
            self._hist.x = edges
            self._hist.y = y
            self._hist.colors = colours or ["#1f77b4"]
            self._hx.min, self._hx.max = float(edges[0]), float(edges[-1])
            self._hy.min, self._hy.max = 0.0, float(max(shares.max() if shares.size else 0.0, 1e-9) * 1.08)
        self._hx_axis.label = d.column_title
        self._extremes = {c.sample_id for c in (*d.lowest, *d.highest)}

        def clip(c: Any) -> dict[str, Any]:
            return {"id": c.sample_id, "name": c.name, "label": c.label, "value": _fmt(c.value)}

        with self.hold_sync():
            self.picked = d.feature
            self.detail_figure = self._detail
            self.detail_info = {"title": d.title, "column": d.column_title}
            self.legend = [
                {"label": h.label, "colour": colours[i], "n": f"{h.n:,}"} for i, h in enumerate(d.histograms)
            ]
            self.lowest = [clip(c) for c in d.lowest]
            self.highest = [clip(c) for c in d.highest]

    def _clicked(self, mark: Any, event: dict[str, Any]) -> None:
        index = (event.get("data") or {}).get("index")
        if isinstance(index, int) and 0 <= index < len(self._bars):
            self.vue_pick(self._bars[len(self._bars) - 1 - index].feature)  # drawn best last

    # -- handlers -----------------------------------------------------------------------

    @handler("choosing the score")
    def vue_set_by(self, data: Any) -> None:
        """Rank by ``data``: ``"f"`` or ``"mi"``."""
        if data not in BY_TITLES:
            raise ValidationError("Rank by F or by mutual information.")
        self.by = str(data)
        self._draw()

    @handler("choosing the labels to separate")
    def vue_set_scope(self, data: Any) -> None:
        """Score all labels at once (``"all"``) or one label against the rest."""
        labels = self._ranking.labels if self._ranking is not None else ()
        if not isinstance(data, str) or (data != ALL_LABELS and data not in labels):
            raise ValidationError("Unknown scope; choose all labels or one label.")
        self.scope = data
        self._draw()

    @handler("recomputing the ranking")
    def vue_recompute(self, data: Any = None) -> None:
        """Rank the features again from the stored summaries, off the main thread."""
        self._load(recompute=True)

    @handler("showing a feature")
    def vue_pick(self, data: Any) -> None:
        """Show feature ``data``'s values per label and its extreme clips."""
        if not isinstance(data, str) or all(b.feature != data for b in self._bars):
            raise ValidationError("Unknown feature; pick one of the ranked features.")
        self._show_detail(data)

    @handler("ticking a feature")
    def vue_tick(self, data: Any) -> None:
        """Tick (``{"feature": id, "on": true}``) or untick a feature for the model."""
        if not isinstance(data, dict) or not isinstance(data.get("feature"), str):
            raise ValidationError("Tick a feature.")
        feature = data["feature"]
        if feature not in FEATURES:
            raise ValidationError("Unknown feature; tick one of the ranked features.")
        self._set_ticks({feature}, on=bool(data.get("on")))

    @handler("ticking a family")
    def vue_tick_family(self, data: Any) -> None:
        """Tick (``{"family": name, "on": true}``) or untick every ranked feature of a family."""
        if not isinstance(data, dict) or self._ranking is None:
            raise ValidationError("Tick a feature family.")
        features = self.services.ranking.features_of(self._ranking, [data.get("family")])
        self._set_ticks(set(features), on=bool(data.get("on")))

    def _set_ticks(self, features: set[str], *, on: bool) -> None:
        now = set(self.state.model_features)
        now = now | features if on else now - features
        # The one writer of model_features, in registry order.
        self.state.model_features = [f for f in FEATURES if f in now]

    @handler("playing a clip")
    def vue_play(self, data: Any) -> None:
        """Send the audio of extreme clip ``data`` to the browser to play."""
        record = self.services.samples.get(self._extreme(data), dataset=self.state.dataset)
        wav = self.services.audio.wav_bytes(record)
        truncated = self.services.audio.play_truncated(record)
        self.send(
            {"method": "play_audio", "args": [{"id": record.id, "truncated": truncated}]}, buffers=[wav]
        )

    @handler("opening a clip")
    def vue_open(self, data: Any) -> None:
        """Open the review of extreme clip ``data``."""
        self.state.open_review(self._extreme(data))

    def _extreme(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or data not in self._extremes:
            raise ValidationError("That clip is not among the ones shown.")
        return data

    def close(self) -> None:
        """Close the widget and its figures; let the worker thread end."""
        self._job.close()
        if self.chart is not None:
            self.chart.close()
        self._detail.close()
        super().close()
