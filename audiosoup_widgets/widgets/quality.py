"""QualityPanel: the dataset's quality beside the grid: distributions, class balance, findings.

What the quality service reports of the dataset in view, drawn:

* one bqplot histogram per quality measure (small multiples in a responsive grid),
  the bars a check flags coloured and shaded; clicking a bar shows its clips in the
  grid (an id filter named after the bar);
* the class balance: clips per label, stacked by split, largest label first;
  clicking a segment shows those clips;
* the latest check's findings (kind, plain summary, number of clips); clicking one
  shows its clips in the grid;
* a "Run quality check" button: the check runs in a worker thread
  (:class:`~.background.LatestJob`) with a progress line, the page stays
  responsive, failures reach the error banner; and a line saying when the last
  check ran, or how to run the first.

Nothing is read until the quality view is shown: opening the page costs nothing,
and the overview is read in a worker thread each time the view opens (cheap once
cached: the service checks for a newer check with one small query). A change of
dataset or a saved edit (``state.revision``) reloads it.
"""

from __future__ import annotations

import functools
import logging
import math
import shlex
from typing import Any

import bqplot as bq
import ipywidgets as ipw
import numpy as np
from ipywidgets import Widget, widget_serialization
from traitlets import Bool, Dict, Instance, Int, List, Unicode

from ..errors import ValidationError
from ..services import MEASURES, ClassBalance, Histogram, QualityOverview, Services
from ..state import ReviewState
from .axes import js_key, text_width
from .background import Job, LatestJob
from .base import SafeTemplate, as_int, as_str, fmt_when, handler

log = logging.getLogger(__name__)

__all__ = ["QualityPanel", "KIND_TITLES", "FINDINGS_PAGE"]

#: What each kind of finding is called in the list.
KIND_TITLES = {
    "exact_duplicate": "Exact duplicate",
    "near_duplicate": "Near duplicate",
    "split_leak": "Split leakage",
    "clipping": "Clipping",
    "silence": "Silence",
    "level_outlier": "Level outlier",
    "class_imbalance": "Small class",
}
#: Findings listed at a time ("show more" adds as many again).
FINDINGS_PAGE = 50
#: Labels drawn in the class-balance chart (the largest ones).
MAX_BALANCE_LABELS = 60
_BAR, _FLAG, _SHADE = "#1f6fbf", "#cf222e", "#ff8182"
_SPLIT_COLOURS = {"train": "#1f6fbf", "validation": "#8250df", "test": "#bf8700", None: "#8c959f"}
_OTHER_SPLIT = "#57606a"
_TICK_STYLE = {"font-size": "11px"}
_STAGES = {"measuring": "Measuring clips", "features": "Computing features for the near-duplicate search"}


def _count_ticks(top: int) -> np.ndarray:
    """Whole-number ticks from 0 to about ``top``, at most five, 1-2-5 steps apart."""
    step = 1
    while top / step > 4:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return np.arange(0, top + 1, step, dtype=float)


def _axis_room(ticks: np.ndarray) -> tuple[str, int]:
    """Return the count axis's title offset and the left margin holding its tick labels and title."""
    widest = max((text_width(f"{int(t):,}", 11) for t in ticks), default=0.0)
    # d3's tick and padding (9 px), the labels, clear space, the rotated title's descent and ascent.
    offset = math.ceil(9 + widest + 8 + 0.25 * 14)
    return f"{offset}px", offset + math.ceil(0.8 * 14) + 6


class _HistogramPlot:
    """One measure's bqplot histogram: bars at 0..n-1, flagged ones shaded, clicks reported."""

    def __init__(self, measure: str, on_click: Any, on_hover: Any) -> None:
        self.measure = measure
        self.hist: Histogram | None = None
        self.x = bq.LinearScale(min=-0.5, max=0.5)
        self.y = bq.LinearScale(min=0.0, max=1.0)
        scales = {"x": self.x, "y": self.y}
        self.shade = bq.Lines(
            x=np.zeros((1, 4)), y=np.zeros((1, 4)), scales=scales, fill="inside", colors=[_SHADE],
            fill_colors=[_SHADE], fill_opacities=[0.18], stroke_width=0.0, visible=False,
        )  # fmt: skip
        # Two empty bars beyond the ends: bqplot sizes bars on a linear scale by their spread,
        # so one real bar alone would have no width.
        self.bars = bq.Bars(
            x=np.arange(-1.0, 2.0), y=np.zeros(3), scales=scales, colors=[_BAR], color_mode="element",
            padding=0.12, stroke="white", stroke_width=0.5,
        )  # fmt: skip
        self.bars.on_element_click(lambda _mark, content: on_click(measure, content))
        self.bars.on_hover(lambda _mark, content: on_hover(measure, content))
        self.x_axis = bq.Axis(scale=self.x, grid_lines="none", label_offset="30px", tick_style=_TICK_STYLE)
        self.y_axis = bq.Axis(
            scale=self.y, side="left", grid_lines="dashed", label="clips",
            tick_format=",d", tick_style=_TICK_STYLE,
        )  # fmt: skip
        self.figure = bq.Figure(
            marks=[self.shade, self.bars], axes=[self.x_axis, self.y_axis],
            fig_margin={"top": 8, "bottom": 40, "left": 64, "right": 14}, padding_x=0.0, padding_y=0.0,
            animation_duration=0, layout=ipw.Layout(width="100%", height="190px"),
        )  # fmt: skip

    def show(self, hist: Histogram) -> None:
        """Draw ``hist``."""
        self.hist = hist
        n = len(hist.counts)
        top = int(hist.counts.max()) if n else 0
        ticks = _count_ticks(max(top, 1))
        offset, left = _axis_room(ticks)
        colours = [_FLAG if f else _BAR for f in hist.flagged]
        with self.figure.hold_sync(), self.bars.hold_sync(), self.shade.hold_sync():
            # Room for at least five bars, so one or two are not drawn as wide as the plot.
            pad = max(0.0, (5 - n) / 2)
            self.x.min, self.x.max = -0.5 - pad, max(n, 1) - 0.5 + pad
            self.y.min, self.y.max = 0.0, float(ticks[-1]) if ticks[-1] >= top * 1.04 else top * 1.08
            self.bars.x = np.arange(-1.0, n + 1.0)
            self.bars.y = np.concatenate([[0.0], hist.counts.astype(float), [0.0]])
            self.bars.colors = [_BAR, *colours, _BAR]
            self.y_axis.tick_values = ticks
            self.y_axis.label_offset = offset
            self.x_axis.label = f"{hist.title} ({hist.unit})" if hist.unit else hist.title
            positions, texts = _x_ticks(hist)
            self.x_axis.tick_values = np.array(positions, dtype=float)
            self.x_axis.tick_labels = {js_key(p): t for p, t in zip(positions, texts, strict=True)}
            self.figure.fig_margin = {**self.figure.fig_margin, "left": left}
            runs = _runs(hist.flagged)
            if runs:
                ymax = float(self.y.max)
                self.shade.x = np.array([[a - 0.5, a - 0.5, b + 0.5, b + 0.5] for a, b in runs])
                self.shade.y = np.array([[0.0, ymax, ymax, 0.0] for _ in runs])
            self.shade.visible = bool(runs)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of true values: (first, last) indices."""
    out: list[tuple[int, int]] = []
    for i, f in enumerate(flags.tolist()):
        if f and out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        elif f:
            out.append((i, i))
    return out


def _short(x: float) -> str:
    if x == 0:
        return "0"
    return str(np.format_float_positional(x, precision=3, unique=True, fractional=False, trim="-")).rstrip(
        "."
    )


def _x_ticks(hist: Histogram, *, width: int = 230) -> tuple[list[float], list[str]]:
    """Tick positions and texts: bar values for one-value bars, else the finite bar edges."""
    n = len(hist.counts)
    if n == 0:
        return [], []
    if hist.discrete:
        cands = [(float(i), _short(v)) for i, v in enumerate(hist.lows.tolist())]
    else:
        cands = [(i - 0.5, _short(lo)) for i, lo in enumerate(hist.lows.tolist()) if math.isfinite(lo)]
        if hist.highs[-1] < math.inf:
            cands.append((n - 0.5, _short(float(hist.highs[-1]))))
        if hist.lows[0] == hist.highs[0]:  # the clipping ratio's bar of exact zeros
            cands = [(0.0, "0")] + [c for c in cands if c[0] > 0]
    # One tick per text (the clipping ratio's zero bar and the bar above it both start at 0).
    cands = [c for k, c in enumerate(cands) if all(c[1] != d[1] for d in cands[:k])]
    # As many as fit along the axis with room between them, evenly spaced...
    widest = max(text_width(t, 11) for _, t in cands) + 14
    most = max(2, int(width // widest))
    step = max(1, math.ceil(len(cands) / most))
    picked = cands[::step]
    # ... and the start of the flagged range among them, where the shading begins.
    runs = _runs(hist.flagged)
    if runs and not hist.discrete:
        start = runs[0][0] - 0.5
        at = [k for k, c in enumerate(cands) if c[0] == start]
        if at and cands[at[0]] not in picked:
            nearest = min(range(len(picked)), key=lambda k: abs(picked[k][0] - start))
            picked[nearest] = cands[at[0]]
    return [p for p, _ in picked], [t for _, t in picked]


class _BalancePlot:
    """Clips per label (rows), stacked by split."""

    def __init__(self, on_click: Any) -> None:
        self.balance: ClassBalance | None = None
        self.labels = bq.LinearScale(min=-0.5, max=0.5, reverse=True)
        self.counts = bq.LinearScale(min=0.0, max=1.0)
        self.bars = bq.Bars(
            x=np.arange(-1.0, 2.0), y=np.zeros((1, 3)), scales={"x": self.labels, "y": self.counts},
            orientation="horizontal", type="stacked", colors=[_BAR], padding=0.2, stroke="white",
            stroke_width=0.5,
        )  # fmt: skip
        self.bars.on_element_click(lambda _mark, content: on_click(content))
        self.label_axis = self._label_axis()
        self.count_axis = bq.Axis(
            scale=self.counts, grid_lines="dashed", label="clips", tick_format=",d", label_offset="30px",
            tick_style=_TICK_STYLE,
        )  # fmt: skip
        self.figure = bq.Figure(
            marks=[self.bars], axes=[self.label_axis, self.count_axis],
            fig_margin={"top": 6, "bottom": 40, "left": 80, "right": 18}, padding_x=0.0, padding_y=0.0,
            animation_duration=0, layout=ipw.Layout(width="100%", height="200px"),
        )  # fmt: skip

    def _label_axis(self, **ticks: Any) -> bq.Axis:
        return bq.Axis(scale=self.labels, side="left", grid_lines="none", tick_style=_TICK_STYLE, **ticks)

    def show(self, balance: ClassBalance) -> None:
        """Draw ``balance``: one row per label (at most :data:`MAX_BALANCE_LABELS`)."""
        self.balance = balance
        counts = balance.counts[:, :MAX_BALANCE_LABELS]
        n = counts.shape[1]
        names = [_label_text(x) for x in balance.labels[:n]]
        top = int(counts.sum(axis=0).max()) if n else 0
        ticks = _count_ticks(max(top, 1))
        left = 24 + int(max((text_width(t, 11) for t in names), default=0))
        pad = np.zeros((counts.shape[0], 1))
        with self.figure.hold_sync(), self.bars.hold_sync():
            self.labels.min, self.labels.max = -0.5, max(n, 1) - 0.5
            self.counts.min, self.counts.max = 0.0, float(max(ticks[-1], top * 1.04))
            self.bars.x = np.arange(-1.0, n + 1.0)
            self.bars.y = np.hstack([pad, counts.astype(float), pad])
            self.bars.colors = [_SPLIT_COLOURS.get(s, _OTHER_SPLIT) for s in balance.splits] or [_BAR]
            self.count_axis.tick_values = ticks
            # A new axis: bqplot may keep drawing an axis's old tick labels (a relabelled row kept its name).
            rows = {js_key(i): t for i, t in enumerate(names)}
            self.label_axis = self._label_axis(tick_values=np.arange(n, dtype=float), tick_labels=rows)
            self.figure.axes = [self.label_axis, self.count_axis]
            self.figure.fig_margin = {**self.figure.fig_margin, "left": left}
            self.figure.layout.height = f"{60 + 22 * max(n, 1)}px"


def _label_text(label: str | None) -> str:
    text = "(no label)" if label is None else label
    return text if len(text) <= 24 else text[:23] + "…"


def _element(content: Any) -> tuple[int, int | None]:
    """Return the bar (and stacked segment) index of a bqplot click or hover message."""
    data = content.get("data") if isinstance(content, dict) else None
    if not isinstance(data, dict):
        data = content.get("point") if isinstance(content, dict) else None
    if not isinstance(data, dict):
        raise ValidationError("invalid bar")
    index = as_int(data.get("index"), name="bar", lo=0)
    sub = data.get("subIndex")  # bqplot's Bars name the stacked segment so
    return index, (as_int(sub, name="bar", lo=0) if sub is not None else None)


class QualityPanel(SafeTemplate):
    """The quality view of the dataset in ``state.dataset``.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads ``dataset``, ``revision`` and ``view``, and
        shows clips in the grid with :meth:`ReviewState.filter_to` and
        :meth:`ReviewState.show`.
    services : Services
        Its ``quality`` service gives the overview, the clips behind a bar or a
        finding, and runs the check.
    """

    template_file = (__file__, "quality.vue")

    dataset = Unicode("").tag(sync=True)
    headline = Unicode("").tag(sync=True)
    checked = Unicode("").tag(sync=True)
    empty = Unicode("").tag(sync=True)
    command = Unicode("").tag(sync=True)
    loading = Bool(False).tag(sync=True)
    kinds = List(Dict()).tag(sync=True)
    kind = Unicode("").tag(sync=True)
    findings = List(Dict()).tag(sync=True)
    n_listed = Int(0).tag(sync=True)
    cards = List(Dict()).tag(sync=True)
    figures = List(Instance(Widget)).tag(sync=True, **widget_serialization)
    readouts = Dict().tag(sync=True)
    balance = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    legend = List(Dict()).tag(sync=True)
    balance_note = Unicode("").tag(sync=True)
    busy = Bool(False).tag(sync=True)
    progress = Unicode("").tag(sync=True)
    message = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.overview: QualityOverview | None = None
        self._plots: dict[str, _HistogramPlot] = {}
        self._balance: _BalancePlot | None = None
        self._shown_limit = FINDINGS_PAGE
        self._load_job = LatestJob("audiosoup-quality")
        self._check_job = LatestJob("audiosoup-quality-check")
        state.observe(self._on_view, names=["view"])
        state.observe(self._on_dataset, names=["dataset"])
        state.observe(self._on_revision, names=["revision"])

    # -- state -> view -----------------------------------------------------------------

    @property
    def visible(self) -> bool:
        """Whether the page shows the quality view."""
        return self.state.view == "quality"

    def _on_view(self, change: dict[str, Any]) -> None:
        if self.visible:
            self.load()

    def _on_dataset(self, change: dict[str, Any]) -> None:
        self._shown_limit, self.kind, self.message = FINDINGS_PAGE, "", ""
        if self.visible:
            self.load()

    def _on_revision(self, change: dict[str, Any]) -> None:
        # An edit may move clips between labels or splits: the class balance and the
        # findings' labels go stale.
        if self.state.dataset:
            self.services.quality.forget(self.state.dataset)
        if self.visible:
            self.load()

    def load(self) -> None:
        """Read the overview of the dataset in view (in a worker thread inside a kernel) and draw it."""
        dataset = self.state.dataset
        self.dataset = dataset
        if not dataset:
            self._load_job.cancel()
            with self.hold_sync():
                self.loading = False
                self.empty = "Choose a dataset to see its quality."
                self.command = ""
            return
        self.loading = True
        self._load_job.submit(
            functools.partial(self._read, dataset),
            on_done=self._draw,
            on_error=self._load_failed,
        )

    def _read(self, dataset: str, job: Job) -> QualityOverview:
        return self.services.quality.overview(dataset)

    def _load_failed(self, exc: BaseException) -> None:
        self.loading = False
        self.state.report(exc, context="showing the dataset's quality")

    def _draw(self, overview: QualityOverview) -> None:
        try:
            self._render(overview)
        except Exception as exc:  # noqa: BLE001 - reported like any other failure
            self._load_failed(exc)

    def _render(self, overview: QualityOverview) -> None:
        if overview.dataset != self.state.dataset:
            return
        self.overview = overview
        plots = [self._plot(m) for m in MEASURES]
        for plot, hist in zip(plots, overview.histograms, strict=True):
            plot.show(hist)
        if self._balance is None:
            self._balance = _BalancePlot(self._balance_clicked)
        self._balance.show(overview.balance)
        b = overview.balance
        with self.hold_sync():
            self.loading = False
            self.headline = _headline(overview)
            self.checked = _checked_line(overview)
            self.empty, self.command = _empty(overview)
            self.cards = [_card(h) for h in overview.histograms]
            self.figures = [p.figure for p in plots]
            self.readouts = {}
            self.balance = self._balance.figure if b.labels else None
            self.legend = [
                {"split": s or "no split", "colour": _SPLIT_COLOURS.get(s, _OTHER_SPLIT), "count": int(c)}
                for s, c in zip(b.splits, b.counts.sum(axis=1).tolist(), strict=True)
            ]
            hidden = len(b.labels) - MAX_BALANCE_LABELS
            self.balance_note = f"The {hidden:,} smallest labels are not drawn." if hidden > 0 else ""
            self._list_findings()

    def _list_findings(self) -> None:
        ov = self.overview
        if ov is None:
            return
        counts: dict[str, int] = {}
        for f in ov.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        self.kinds = [{"kind": k, "title": KIND_TITLES.get(k, k), "count": n} for k, n in counts.items()]
        chosen = [f for f in ov.findings if not self.kind or f.kind == self.kind]
        self.n_listed = len(chosen)
        self.findings = [
            {
                "id": f.id,
                "kind": f.kind,
                "kind_title": KIND_TITLES.get(f.kind, f.kind.replace("_", " ")),
                "summary": f.summary,
                "count": f.count,
            }
            for f in chosen[: self._shown_limit]
        ]

    def _plot(self, measure: str) -> _HistogramPlot:
        if measure not in self._plots:
            self._plots[measure] = _HistogramPlot(measure, self._bar_clicked, self._bar_hovered)
        return self._plots[measure]

    # -- clicks on the plots (bqplot messages, checked like any browser input) ---------------

    def _bar_clicked(self, measure: str, content: Any) -> None:
        try:
            plot = self._plots[measure]
            index, _ = _element(content)
            hist = plot.hist
            if hist is None or index in (0, len(hist.counts) + 1):
                return  # the empty bars beyond the ends
            bar = index - 1
            ids = self.services.quality.bar_ids(self.state.dataset, measure, bar)
            self.state.filter_to(ids, source=f"the {hist.title.lower()} bar {hist.labels[bar]}")
            self.state.show("clips")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a plain message
            self.state.report(exc, context="showing a bar's clips")

    def _bar_hovered(self, measure: str, content: Any) -> None:
        try:
            hist = self._plots[measure].hist
            index, _ = _element(content)
        except Exception:  # noqa: BLE001 - a bad hover message changes nothing
            return
        if hist is None or not 1 <= index <= len(hist.counts):
            return
        n = int(hist.counts[index - 1])
        text = f"{hist.labels[index - 1]}: {n:,} clip{'s' if n != 1 else ''}"
        self.readouts = {**self.readouts, measure: text}

    def _balance_clicked(self, content: Any) -> None:
        try:
            index, sub = _element(content)
            b = self._balance.balance if self._balance is not None else None
            shown = min(len(b.labels), MAX_BALANCE_LABELS) if b is not None else 0
            if b is None or index in (0, shown + 1):
                return  # the empty bars beyond the ends
            if index > shown:
                raise ValidationError("there is no such label")
            li = index - 1
            ids = self.services.quality.balance_ids(self.state.dataset, li, sub)
            name = _label_text(b.labels[li])
            where = f" in {b.splits[sub] or 'no split'}" if sub is not None and sub < len(b.splits) else ""
            self.state.filter_to(ids, source=f"the class balance: {name}{where}")
            self.state.show("clips")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a plain message
            self.state.report(exc, context="showing a label's clips")

    # -- events from the template --------------------------------------------------------

    @handler("showing a finding's clips")
    def vue_open_finding(self, data: Any) -> None:
        """Show the clips of finding ``data`` (its id) in the grid."""
        fid = as_int(data, name="finding", lo=1)
        ids = self.services.quality.finding_ids(self.state.dataset, fid)
        ov = self.overview
        summary = next((f.summary for f in ov.findings if f.id == fid), "") if ov else ""
        self.state.filter_to(ids, source=f"finding: {summary or 'a quality finding'}")
        self.state.show("clips")

    @handler("choosing a kind of finding")
    def vue_set_kind(self, data: Any) -> None:
        """List only findings of kind ``data`` ("" for every kind)."""
        kind = as_str(data, name="kind of finding", max_len=40, allow_none=True) or ""
        if kind and kind not in KIND_TITLES and not any(k["kind"] == kind for k in self.kinds):
            raise ValidationError("unknown kind of finding")
        self.kind = kind
        self._shown_limit = FINDINGS_PAGE
        self._list_findings()

    @handler("listing more findings")
    def vue_more_findings(self, data: Any = None) -> None:
        """List :data:`FINDINGS_PAGE` more findings."""
        self._shown_limit += FINDINGS_PAGE
        self._list_findings()

    @handler("running the quality check")
    def vue_run_check(self, data: Any = None) -> None:
        """Run the quality check of the dataset in view, in the background."""
        dataset = self.state.dataset
        if not dataset:
            raise ValidationError("Choose a dataset first.")
        if self.busy:
            raise ValidationError("A quality check is already running.")
        with self.hold_sync():
            self.busy = True
            self.message = ""
            self.progress = f"Checking {dataset}: starting…"
        self._check_job.submit(
            functools.partial(self._check, dataset),
            on_done=functools.partial(self._checked, dataset),
            on_error=self._check_failed,
            on_progress=self._on_progress,
        )

    def _check(self, dataset: str, job: Job) -> Any:
        def progress(stage: str, done: int, total: int) -> None:
            job.progress((dataset, stage, done, total))

        return self.services.quality.run_check(dataset, progress=progress)

    def _on_progress(self, info: tuple[str, str, int, int]) -> None:
        dataset, stage, done, total = info
        counted = f", {done:,} of {total:,}" if total else ""
        self.progress = f"Checking {dataset}: {_STAGES.get(stage, stage)}{counted}…"

    def _checked(self, dataset: str, outcome: Any) -> None:
        with self.hold_sync():
            self.busy = False
            self.progress = ""
            found = (
                f": {outcome.findings:,} finding{'s' if outcome.findings != 1 else ''} "
                f"about {outcome.flagged_clips:,} clip{'s' if outcome.flagged_clips != 1 else ''}."
                if outcome.findings
                else " and found nothing to look at."
            )
            notes = "".join(f" Note: {n}." for n in outcome.notes)
            self.message = f"The check of {dataset} took {outcome.seconds:.1f} s{found}{notes}"
        if self.visible:
            self.load()

    def _check_failed(self, exc: BaseException) -> None:
        with self.hold_sync():
            self.busy = False
            self.progress = ""
        self.state.report(exc, context="running the quality check")

    def close(self) -> None:
        """Close the panel and its figures; a check in flight finishes unseen."""
        self._load_job.close()
        self._check_job.close()
        for plot in self._plots.values():
            plot.figure.close()
        if self._balance is not None:
            self._balance.figure.close()
        super().close()


def _headline(ov: QualityOverview) -> str:
    return f"{ov.clips:,} clip{'s' if ov.clips != 1 else ''} · {ov.measured:,} with quality measures"


def _checked_line(ov: QualityOverview) -> str:
    if ov.checked_at is None:
        return ""
    n = len(ov.findings)
    return (
        f"Last check: {fmt_when(ov.checked_at)}, {ov.checked_clips:,} clips, "
        f"{n:,} finding{'s' if n != 1 else ''}."
    )


def _empty(ov: QualityOverview) -> tuple[str, str]:
    """Return the empty state's sentence and the command it suggests ("" when not empty)."""
    command = f"audiosoup qc --dataset {shlex.quote(ov.dataset)}"
    if ov.clips == 0:
        return "This dataset has no clips yet.", ""
    if ov.checked_at is None:
        return "No quality check has run yet. Run it here or with", command
    if ov.measured == 0:
        return "No clip has quality measures yet. Run the check here or with", command
    return "", ""


def _card(h: Histogram) -> dict[str, Any]:
    missing = f"{h.missing:,} clip{'s' if h.missing != 1 else ''} not measured." if h.missing else ""
    return {
        "measure": h.measure,
        "title": h.title,
        "flag_note": h.flag_note if h.flagged.any() else "",
        "missing": missing,
        "empty": not h.measured,
        "flagged": int(h.counts[h.flagged].sum()) if h.flagged.any() else 0,
    }
