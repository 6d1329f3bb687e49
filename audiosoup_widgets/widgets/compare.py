"""ComparisonView: 2 to 6 clips side by side, a class template beside them, and group effect sizes.

It shows the clips in ``state.compare_ids`` (written by the selection bar's Compare
button) as panels of one feature in a responsive grid, each with its clip's name,
label and a play button, all on the same axes (the longest clip, the widest
frequency range; zooming one zooms all) and one colour scale with one colour bar (for
decibel features one reference: the loudest point of all the clips). With exactly two
clips a switch adds their difference. Picking a label adds its class template: the
mean mel spectrogram of the label's clips as one more panel, and for every feature a
profile (each row's mean over time) of the clips beside the template's.

Below, two groups (two labels, or the selection and a label) are compared over the
stored feature summaries: Cohen's d of every summary column, largest first; clicking
one overlays both groups' histograms of it.

Comparisons are computed off the kernel's main thread (:class:`~.background.LatestJob`)
and only while the compare view is shown; the services cache them.
"""

from __future__ import annotations

import functools
from typing import Any

from ipywidgets import Widget, widget_serialization
from traitlets import Bool, Dict, Instance, Int, List, Unicode

from ..errors import AudiosoupError, NotFoundError, ValidationError
from ..features.display import Display, colour_bar
from ..services import FEATURES, MAX_CLIPS, MIN_CLIPS, Services
from ..state import ReviewState
from .background import Job, LatestJob
from .base import SafeTemplate, as_str, fmt_duration, fmt_rate, handler
from .compare_plots import CLIP_COLOURS, ComparePlot, DistributionPlot, ProfilePlot, link_axes

__all__ = ["ComparisonView", "EMPTY_MESSAGE", "SELECTION_GROUP", "TOP_EFFECTS"]

#: What the view says while there is nothing to compare.
EMPTY_MESSAGE = f"Select {MIN_CLIPS} to {MAX_CLIPS} clips in the grid and press Compare."
#: The group value meaning "the selected clips" (labels are sent as ``label:<name>``).
SELECTION_GROUP = "selection"
#: Summary columns listed by effect size.
TOP_EFFECTS = 25
_PANEL_HEIGHT = 250
_LABEL_PREFIX = "label:"


def _horizontal(display: Display, *, diverging_note: str = "") -> dict[str, Any]:
    """Return the colour bar of ``display`` laid out left to right (above the panels)."""
    bar = colour_bar(display, plot_height=100)
    if not bar:
        return {}
    gradient = str(bar["gradient"]).replace("to top", "to right")
    return {"gradient": gradient, "ticks": bar["ticks"], "label": bar["label"], "note": diverging_note}


def _row_axis(spec: Any) -> str:
    """Return what a profile's x axis counts: a feature's rows, in words."""
    if spec.kind == "line":
        return str(spec.title).lower()
    if spec.y_axis.scale == "mel":
        return "mel band (low to high frequency)"
    if spec.y_axis.unit == "index":
        return "coefficient"
    if spec.y_axis.scale == "categorical":
        return str(spec.y_axis.name)
    return f"{spec.y_axis.name} bin"


class ComparisonView(SafeTemplate):
    """Clips side by side on one scale, a class template, and effect sizes between groups.

    Parameters
    ----------
    state : ReviewState
        Shared state; the view reads ``compare_ids``, ``view``, ``dataset``, ``selection``
        and ``revision`` and writes nothing but errors (through ``state.report``).
    services : Services
        Where comparisons, templates, effect sizes and audio come from.
    """

    template_file = (__file__, "compare.vue")

    message = Unicode(EMPTY_MESSAGE).tag(sync=True)
    busy = Unicode("").tag(sync=True)
    feature = Unicode("mel_spectrogram").tag(sync=True)
    features = List(Dict()).tag(sync=True)
    panels = List(Dict()).tag(sync=True)
    figures = List(Instance(Widget)).tag(sync=True, **widget_serialization)
    fig_height = Int(_PANEL_HEIGHT).tag(sync=True)
    colorbar = Dict().tag(sync=True)
    notes = List(Unicode()).tag(sync=True)
    can_difference = Bool(False).tag(sync=True)
    difference = Bool(False).tag(sync=True)
    labels = List(Dict()).tag(sync=True)
    template_label = Unicode("").tag(sync=True)
    template_note = Unicode("").tag(sync=True)
    profile_figure = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    profile_legend = List(Dict()).tag(sync=True)
    group_options = List(Dict()).tag(sync=True)
    group_a = Unicode("").tag(sync=True)
    group_b = Unicode("").tag(sync=True)
    effects = List(Dict()).tag(sync=True)
    effect_features = List(Dict()).tag(sync=True)
    effect_note = Unicode("").tag(sync=True)
    effect_busy = Bool(False).tag(sync=True)
    column = Unicode("").tag(sync=True)
    dist_figure = Instance(Widget, allow_none=True).tag(sync=True, **widget_serialization)
    dist_info = Dict().tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._job = LatestJob("audiosoup-compare")
        self._effects_job = LatestJob("audiosoup-effects")
        self._plots: dict[str, list[ComparePlot]] = {}
        self._links: list[Any] = []
        self._profile: ProfilePlot | None = None
        self._dist: DistributionPlot | None = None
        self._shown: tuple[Any, ...] | None = None
        self._pending: tuple[Any, ...] | None = None
        self._effects_key: tuple[Any, ...] | None = None
        self._columns: set[str] = set()
        self.features = [{"value": f, "title": spec.title} for f, spec in FEATURES.items()]
        state.observe(self._on_change, names=["compare_ids", "view", "dataset", "revision"])
        state.observe(self._on_selection, names=["selection"])
        self._on_dataset()
        self._safely(self.refresh)

    # -- state -> view -----------------------------------------------------------------

    def _safely(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self._fail(exc)

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("name") in ("dataset", "revision"):
            self._safely(self._on_dataset)
        self._safely(self.refresh)

    def _on_selection(self, change: dict[str, Any]) -> None:
        self._safely(self._group_options)
        if SELECTION_GROUP in (self.group_a, self.group_b):
            self._effects_key = None
            self._safely(self._maybe_effects)

    def _on_dataset(self) -> None:
        ds = self.state.dataset
        labels = self.services.samples.labels(ds) if ds else []
        self.labels = [{"value": lab.name, "title": f"{lab.name} ({lab.n_samples:,})"} for lab in labels]
        names = {lab.name for lab in labels}
        if self.template_label and self.template_label not in names:
            self.template_label = ""
        for side in ("group_a", "group_b"):
            value = getattr(self, side)
            if value.startswith(_LABEL_PREFIX) and value[len(_LABEL_PREFIX) :] not in names:
                setattr(self, side, "")
        self._group_options()

    def _group_options(self) -> None:
        n = len(self.state.selection)
        options = [{"value": SELECTION_GROUP, "title": f"The selection ({n:,} clips)"}] if n >= 2 else []
        options += [
            {"value": _LABEL_PREFIX + lab["value"], "title": f"Label {lab['title']}"} for lab in self.labels
        ]
        self.group_options = options

    def _fail(self, exc: BaseException) -> None:
        self._pending = None
        message = self.state.report(exc, context="comparing clips")
        with self.hold_sync():
            self.busy = ""
            self.message = message

    def refresh(self) -> None:
        """Show the comparison of ``state.compare_ids`` (computing it off the main thread if needed)."""
        s = self.state
        if s.view != "compare":
            return
        ids = list(s.compare_ids)
        if not ids:
            self._job.cancel()
            self._pending = self._shown = None
            with self.hold_sync():
                self.busy = ""
                self.message = EMPTY_MESSAGE
                self.panels, self.figures, self.notes, self.colorbar = [], [], [], {}
                self.can_difference = False
                self.profile_figure, self.profile_legend = None, []
            return
        key = (tuple(ids), s.dataset, self.feature, self.template_label, self.difference, s.revision)
        if key in (self._shown, self._pending):
            return
        try:
            self.services.samples.get(ids[0], dataset=s.dataset)
        except NotFoundError:
            # Clips picked in another dataset: nothing to compare here, and nothing went wrong.
            self._job.cancel()
            self._pending = self._shown = None
            with self.hold_sync():
                self.busy = ""
                self.message = f"The clips to compare are in another dataset. {EMPTY_MESSAGE}"
                self.panels, self.figures, self.notes, self.colorbar = [], [], [], {}
                self.profile_figure, self.profile_legend = None, []
            return
        self._pending = key
        title = FEATURES[self.feature].title.lower()
        with self.hold_sync():
            self.message = ""
            self.can_difference = len(ids) == 2
            self.busy = f"Computing the {title} of {len(ids)} clips"
            if self.template_label:
                self.busy += f" and the template of {self.template_label!r}"
        self._job.submit(
            functools.partial(self._work, ids, s.dataset, self.feature, self.template_label, self.difference),
            on_done=functools.partial(self._draw, key),
            on_error=self._fail,
        )

    def _work(self, ids: list[int], dataset: str, feature: str, label: str, diff: bool, job: Job) -> Any:
        """Compute the comparison (no widgets: runs in a worker thread)."""
        compare = self.services.compare
        template_error = ""
        if label:
            try:
                compare.template(dataset, label, feature)
            except AudiosoupError as exc:
                template_error, label = exc.message, ""
        if job.stale:
            return None
        comparison = compare.panels(ids, feature, dataset=dataset, template=label or None)
        difference, diff_error = None, ""
        if diff and len(ids) == 2 and not job.stale:
            try:
                difference = compare.difference(ids[0], ids[1], feature, dataset=dataset)
            except AudiosoupError as exc:
                diff_error = exc.message
        return comparison, difference, template_error, diff_error

    def _panel_plots(self, feature: str, n: int) -> list[ComparePlot]:
        plots = self._plots.setdefault(feature, [])
        spec = FEATURES[feature]
        while len(plots) < n:
            plot = ComparePlot(spec, height=_PANEL_HEIGHT)
            if plots:  # zooming one panel zooms them all
                self._links += link_axes(plots[0], plot)
            plots.append(plot)
        return plots[:n]

    def _draw(self, key: tuple[Any, ...], out: Any) -> None:
        if out is None:
            return
        try:
            self._show(key, *out)
        except Exception as exc:  # noqa: BLE001 - reported like any other failure
            self._fail(exc)

    def _show(self, key: tuple[Any, ...], comp: Any, diff: Any, template_error: str, diff_error: str) -> None:
        spec = comp.spec
        n_extra = (1 if comp.template_display is not None else 0) + (1 if diff is not None else 0)
        plots = self._panel_plots(spec.id, len(comp.panels) + n_extra)
        shared = (comp.x_extent, comp.y_extent)
        items: list[dict[str, Any]] = []
        shown: list[ComparePlot] = []
        for i, panel in enumerate(comp.panels):
            plot = plots[i]
            r = panel.record
            if panel.display is not None:
                plot.shared = shared
                plot.show(panel.display)
            items.append(
                {
                    "kind": "clip",
                    "id": r.id,
                    "name": r.file_name,
                    "label": r.label or "no label",
                    "meta": f"{fmt_duration(r.duration)} · {fmt_rate(r.sample_rate)}",
                    "colour": CLIP_COLOURS[i % len(CLIP_COLOURS)],
                    "error": panel.error,
                    "status": panel.status if panel.status != "ok" else "",
                }
            )
            shown.append(plot)
        at = len(comp.panels)
        if comp.template_display is not None:
            plot = plots[at]
            plot.shared = shared
            plot.show(comp.template_display)
            tmpl = comp.template
            items.append(
                {
                    "kind": "template",
                    "id": 0,
                    "name": f"Template of {tmpl.label}",
                    "label": tmpl.label,
                    "meta": f"mean of {tmpl.n_matrix:,} clips · {tmpl.seconds:.2f} s",
                    "colour": "#111111",
                    "error": "",
                    "status": "",
                }
            )
            shown.append(plot)
            at += 1
        if diff is not None:
            plot = plots[at]
            plot.shared = None  # a difference spans the shorter clip only
            plot.show(diff.display)
            items.append(
                {
                    "kind": "difference",
                    "id": -1,
                    "name": f"{diff.a.file_name} − {diff.b.file_name}",
                    "label": "difference A − B",
                    "meta": diff.note,
                    "colour": "#57606a",
                    "error": "",
                    "status": "",
                    "colorbar": _horizontal(diff.display),
                }
            )
            shown.append(plot)
        left = max(p.left for p in shown)
        for plot in shown:  # plot areas line up, whatever their tick labels
            plot.align_left(left)
        first = next((p.display for p in comp.panels if p.display is not None), None)
        notes = list(comp.notes)
        if template_error:
            notes.append(f"No template: {template_error}")
        if diff_error:
            notes.append(f"No difference: {diff_error}")
        with self.hold_sync():
            self.busy = ""
            self.message = ""
            self.panels = items
            self.figures = [p.figure for p in shown]
            self.colorbar = _horizontal(first) if first is not None else {}
            self.notes = notes
            self.can_difference = len(comp.panels) == 2
            self._show_template(comp)
        self._pending = None
        self._shown = key

    def _show_template(self, comp: Any) -> None:
        tmpl = comp.template
        if tmpl is None:
            self.template_note = ""
            self.profile_figure, self.profile_legend = None, []
            return
        spec = comp.spec
        if self._profile is None:
            self._profile = ProfilePlot()
        ticks = spec.y_axis.ticks if spec.y_axis.scale == "categorical" and spec.id != "stack_memory" else ()
        if spec.db:
            y_label = "mean power over time (dB)"
        else:
            y_label = f"mean over time ({spec.value_unit})" if spec.value_unit else "mean over time"
        self._profile.show(
            [p.profile for p in comp.panels],
            comp.template_profile,
            x_label=_row_axis(spec),
            y_label=y_label,
            ticks=ticks,
            skip=1 if spec.id == "mfcc" else 0,
        )
        self.template_note = tmpl.note
        self.profile_figure = self._profile.figure
        legend = [
            {"name": p.record.file_name, "colour": CLIP_COLOURS[i % len(CLIP_COLOURS)]}
            for i, p in enumerate(comp.panels)
        ]
        self.profile_legend = [*legend, {"name": f"template of {tmpl.label}", "colour": "#111111"}]

    # -- effect sizes --------------------------------------------------------------------

    def _group(self, value: str) -> Any:
        if value == SELECTION_GROUP:
            return sorted(self.state.selection)
        return value[len(_LABEL_PREFIX) :]

    def _maybe_effects(self) -> None:
        a, b = self.group_a, self.group_b
        if not (a and b):
            return
        key = (self.state.dataset, a, b, self.state.revision)
        if key == self._effects_key:
            return
        self._effects_key = key
        ds = self.state.dataset
        ga, gb = self._group(a), self._group(b)
        with self.hold_sync():
            self.effect_busy = True
            self.effects, self.effect_features, self.column, self.dist_info = [], [], "", {}
            self.dist_figure = None
            self.effect_note = "Reading the stored feature summaries of both groups…"
        self._effects_job.submit(
            lambda job: self.services.compare.effect_sizes(ds, ga, gb),
            on_done=self._show_effects,
            on_error=self._effects_failed,
        )

    def _effects_failed(self, exc: BaseException) -> None:
        message = self.state.report(exc, context="comparing groups")
        with self.hold_sync():
            self.effect_busy = False
            self.effect_note = message
        self._effects_key = None

    def _show_effects(self, result: Any) -> None:
        table = result.table.dropna(subset=["d"])
        top = table.head(TOP_EFFECTS)
        biggest = float(top["abs_d"].max()) if len(top) else 1.0
        rows = [
            {
                "column": str(r.column),
                "title": str(r.title),
                "d": f"{r.d:+.2f}",
                "width": round(100 * float(r.abs_d) / (biggest or 1.0), 1),
                "side": "a" if r.d > 0 else "b",
            }
            for r in top.itertuples()
        ]
        per = result.features.dropna(subset=["abs_d"]).head(8)
        features = [
            {"title": str(r.title), "d": f"{r.d:+.2f}", "column": str(r.column)} for r in per.itertuples()
        ]
        note = (
            f"Cohen's d of {len(table):,} summary columns (each feature's mean and variation over time, "
            f"row by row) between {result.name_a} ({result.n_a:,} clips, A) and {result.name_b} "
            f"({result.n_b:,} clips, B); positive where A is higher. The largest {len(rows)} are listed: "
            "click one to see both groups' values."
        )
        if result.missing:
            note += f" Not stored yet, so left out: {', '.join(FEATURES[f].title for f in result.missing)}."
        with self.hold_sync():
            self.effect_busy = False
            self.effects = rows
            self.effect_features = features
            self.effect_note = note
        self._columns = set(result.table["column"])

    # -- events from the browser ---------------------------------------------------------

    @handler("choosing a feature to compare")
    def vue_set_feature(self, data: Any) -> None:
        """Compare the feature ``data`` (a registry id)."""
        if not isinstance(data, str) or data not in FEATURES:
            raise ValidationError("Unknown feature; choose one from the list.")
        self.feature = data
        self.refresh()

    @handler("showing the difference")
    def vue_set_difference(self, data: Any) -> None:
        """Show (``true``) or hide (``false``) the difference of exactly two clips."""
        if not isinstance(data, bool):
            raise ValidationError("invalid switch value")
        if data and len(self.state.compare_ids) != 2:
            raise ValidationError("The difference needs exactly 2 clips.")
        self.difference = data
        self.refresh()

    @handler("choosing a template")
    def vue_set_template(self, data: Any) -> None:
        """Show the class template of label ``data`` beside the clips (``""`` or None: none)."""
        label = as_str(data, name="label", max_len=500, allow_none=True) or ""
        if label and label not in {lab["value"] for lab in self.labels}:
            raise ValidationError("The dataset has no such label.")
        self.template_label = label
        self.refresh()

    @handler("choosing groups to compare")
    def vue_set_group(self, data: Any) -> None:
        """Set one group: ``{"side": "a" | "b", "value": "selection" | "label:<name>" | ""}``."""
        if not isinstance(data, dict) or data.get("side") not in ("a", "b"):
            raise ValidationError("invalid group")
        value = as_str(data.get("value"), name="group", max_len=600, allow_none=True) or ""
        if value and value not in {o["value"] for o in self.group_options}:
            raise ValidationError("Unknown group; pick a label or the selection.")
        setattr(self, f"group_{data['side']}", value)
        self._effects_key = None
        if self.group_a and self.group_a == self.group_b:
            raise ValidationError("Pick two different groups to compare.")
        self._maybe_effects()

    @handler("showing a feature's distributions")
    def vue_pick_column(self, data: Any) -> None:
        """Overlay both groups' histograms of summary column ``data``."""
        if not isinstance(data, str) or data not in self._columns:
            raise ValidationError("Unknown feature column.")
        ds = self.state.dataset
        dist = self.services.compare.distributions(
            ds, self._group(self.group_a), self._group(self.group_b), data
        )
        if self._dist is None:
            self._dist = DistributionPlot()
        self._dist.show(dist.a, dist.b, x_label="value")
        with self.hold_sync():
            self.column = data
            self.dist_figure = self._dist.figure
            self.dist_info = {
                "title": dist.title,
                "d": f"{dist.d:+.2f}",
                "a": f"{dist.name_a} ({dist.a.size:,} clips, mean {dist.a.mean():.3g})"
                if dist.a.size
                else "",
                "b": f"{dist.name_b} ({dist.b.size:,} clips, mean {dist.b.mean():.3g})"
                if dist.b.size
                else "",
            }

    @handler("playing a clip")
    def vue_play(self, data: Any) -> None:
        """Send the audio of compared clip ``data`` to the browser to play."""
        if isinstance(data, bool) or not isinstance(data, int) or data not in self.state.compare_ids:
            raise ValidationError("That clip is not in the comparison.")
        record = self.services.samples.get(data, dataset=self.state.dataset)
        wav = self.services.audio.wav_bytes(record)
        truncated = self.services.audio.play_truncated(record)
        self.send({"method": "play_audio", "args": [{"id": data, "truncated": truncated}]}, buffers=[wav])

    @handler("resetting the zoom")
    def vue_reset_zoom(self, data: Any = None) -> None:
        """Show the whole shared range again in every panel."""
        for plot in self._plots.get(self.feature, []):
            plot.reset_zoom()

    def close(self) -> None:
        """Close the widget, its figures and links, and let its worker threads end."""
        self._job.close()
        self._effects_job.close()
        for link in self._links:
            link.close()
        super().close()
