"""FeatureExplorer: every registered feature of the selected sample, explained and plotted.

Tabs follow the registry's families (spectral, rhythmic, deltas). Each feature is a
card with its title, its plain-language explanation and reference links (from the
registry, shown as text and real links), a bqplot figure with labelled axes in real
units, a colour bar, pan/zoom and a hover readout, and a "select" switch that
writes ``state.selected_features``; an export panel downloads the selected features
of this sample in any export format.

Matrices are computed on demand by the shared services (and cached); figures are
built the first time a tab is shown and then reused for every sample. Nothing is
computed until the browser says the explorer is on screen (its template reports
that), so moving through the grid never waits for features.

Computing runs in a worker thread (:class:`~.background.LatestJob`), so the page
stays responsive: a progress line says which clip, how much of it is analysed and
what is happening (reading, preparing the feature engine on first use, computing,
drawing); switching clip or tab, or closing the view, drops the result of the
job in flight, and failures reach the error banner through ``state.report``.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ipywidgets import Widget, widget_serialization
from traitlets import Bool, Dict, Instance, List, Unicode

from ..errors import ValidationError
from ..features.display import colour_bar, prepare
from ..services import (
    EXPORT_FORMATS,
    FAMILIES,
    FEATURES,
    MAX_FEATURE_SECONDS,
    FeatureSet,
    FeatureSpec,
    SampleRecord,
    Services,
    features_in,
)
from ..state import ReviewState
from .background import Job, LatestJob
from .base import SafeTemplate, as_str, fmt_duration, handler
from .plots import FeaturePlot

if TYPE_CHECKING:
    from ..features.display import Display

log = logging.getLogger(__name__)

__all__ = ["FeatureExplorer", "FAMILY_TITLES"]

FAMILY_TITLES = {
    "spectral": ("Spectral", "what frequencies the sound contains"),
    "rhythmic": ("Rhythmic", "onsets and tempo"),
    "deltas": ("Deltas", "timbre and how it changes"),
}
_STATUS_NOTES = {
    "silent": "This clip is silent (or nearly): the pictures below are flat or show only noise.",
    "too_short": "This clip is shorter than one analysis window, so each feature has very few columns.",
}
_HEIGHTS = {"stack_memory": 300, "onset_strength": 190}


def _links(spec: FeatureSpec) -> list[dict[str, str]]:
    # Registry links are ours, but only web links ever become an href.
    return [
        {"title": t, "url": u}
        for t, u in spec.links
        if isinstance(u, str) and u.startswith(("https://", "http://"))
    ]


_STEP_TEXT = {
    "read": "Reading the audio",
    "engine": "Preparing the feature engine and computing {family} features (the first time "
    "in a session it loads and compiles: a few seconds)",
    "compute": "Computing {family} features",
    "draw": "Drawing the plots",
}


def _steps(family: str, *, first_use: bool) -> list[str]:
    return ["read", "engine" if first_use else "compute", "draw"]


def _progress(record: SampleRecord, family: str, steps: list[str], index: int) -> dict[str, Any]:
    """Describe a running computation for the browser: which clip, how much of it, which step."""
    if record.duration > MAX_FEATURE_SECONDS + 1e-6:
        scope = (
            f"the first {MAX_FEATURE_SECONDS:.0f} s of {fmt_duration(record.duration)} "
            f"(at most {MAX_FEATURE_SECONDS:.0f} s of a clip are analysed)"
        )
    else:
        scope = f"all {fmt_duration(record.duration)}"
    title = FAMILY_TITLES[family][0].lower()
    return {
        "step": index + 1,
        "steps": len(steps),
        "stage": _STEP_TEXT[steps[index]].format(family=title),
        "line": f"{FAMILY_TITLES[family][0]} features of {record.file_name}: {scope}.",
    }


class FeatureExplorer(SafeTemplate):
    """Tabs of feature plots for the selected sample, with explanations and export.

    Parameters
    ----------
    state : ReviewState
        Shared state; the explorer writes ``selected_features`` only.
    services : Services
        Where the sample, its features and their export come from.
    """

    template_file = (__file__, "explorer.vue")

    tab = Unicode("spectral").tag(sync=True)
    tabs = List(Dict()).tag(sync=True)
    items = List(Dict()).tag(sync=True)
    figures = List(Instance(Widget)).tag(sync=True, **widget_serialization)
    readouts = Dict().tag(sync=True)
    selected = List(Unicode()).tag(sync=True)
    formats = List(Unicode(), default_value=list(EXPORT_FORMATS)).tag(sync=True)
    title = Unicode("").tag(sync=True)
    subtitle = Unicode("").tag(sync=True)
    note = Unicode("").tag(sync=True)
    busy = Bool(False).tag(sync=True)
    progress = Dict().tag(sync=True)
    message = Unicode("").tag(sync=True)
    export_note = Unicode("").tag(sync=True)
    download = Dict().tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        # Nothing is computed until the browser reports the explorer on screen.
        self.visible = False
        self._plots: dict[str, FeaturePlot] = {}
        self._shown: tuple[int, str, int] | None = None
        self._record: SampleRecord | None = None
        self._displays: OrderedDict[tuple[Any, ...], Display] = OrderedDict()
        self._displays_lock = threading.Lock()
        self._pending: tuple[int, str, int] | None = None
        self._job = LatestJob("audiosoup-features")
        self.last_export: tuple[str, str, bytes] | None = None
        self.tabs = [
            {"value": f, "title": FAMILY_TITLES[f][0], "subtitle": FAMILY_TITLES[f][1]} for f in FAMILIES
        ]
        self.selected = list(state.selected_features)
        state.observe(self._on_sample, names=["selected_sample_id", "dataset"])
        state.observe(self._on_revision, names=["revision"])
        state.observe(self._on_selected_features, names=["selected_features"])
        self._maybe_render()

    # -- state -> view -----------------------------------------------------------------

    def _on_sample(self, change: dict[str, Any]) -> None:
        self._maybe_render()

    def _on_revision(self, change: dict[str, Any]) -> None:
        # A label or text edit changes the title line, not the audio.
        if self._record is not None and self._record.id == self.state.selected_sample_id:
            self._shown = None
            self._maybe_render()

    def _on_selected_features(self, change: dict[str, Any]) -> None:
        self.selected = list(change["new"])
        self.items = [{**it, "selected": it["id"] in self.selected} for it in self.items]

    def _maybe_render(self) -> None:
        if not self.visible:
            return
        try:
            self.render()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._pending = None
        message = self.state.report(exc, context="showing features")
        with self.hold_sync():
            self.busy = False
            self.progress = {}
            self.message = message
            self.items, self.figures = [], []

    def _stop(self) -> None:
        """Drop the job in flight (its result would be stale)."""
        self._job.cancel()
        self._pending = None
        if self.busy:
            with self.hold_sync():
                self.busy = False
                self.progress = {}

    def render(self) -> None:
        """Show the current tab's features of the selected sample, computing them if needed.

        Cached features are drawn at once; otherwise the work runs in the background
        (inside a kernel) while ``busy`` and ``progress`` tell the browser what it does.
        """
        s = self.state
        sid = s.selected_sample_id
        if sid is None or not s.dataset:
            self._stop()
            with self.hold_sync():
                self.title, self.subtitle, self.note = "", "", ""
                self.message = "Select a sample to see its features."
                self.items, self.figures = [], []
            self._shown = None
            return
        key = (sid, self.tab, s.revision)
        if key in (self._shown, self._pending):
            return
        record = self.services.samples.get(sid, dataset=s.dataset)
        self._record = record
        family = self.tab
        with self.hold_sync():
            self.title = record.file_name
            self.subtitle = " · ".join(
                x
                for x in (
                    record.label or "no label",
                    record.split or "",
                    fmt_duration(record.duration),
                    f"{record.sample_rate / 1000:g} kHz",
                )
                if x
            )
            self.message = ""
        if self.services.features.is_cached(record, family):
            self._stop()
            out = self._compute(None, record, family)
            if out is not None:  # without a job nothing goes stale
                self._draw(key, record, out)
            return
        self._pending = key
        steps = _steps(family, first_use=not self.services.features.family_ready(family))
        with self.hold_sync():
            # Plots of another clip or tab must not stand under this one's title meanwhile.
            self.items, self.figures, self.note, self.readouts = [], [], "", {}
            self.progress = _progress(record, family, steps, 0)
            self.busy = True
        self._job.submit(
            functools.partial(self._compute_job, record, family, steps),
            on_done=functools.partial(self._finish, key, record),
            on_error=self._fail,
            on_progress=self._on_progress,
        )

    def _compute_job(
        self, record: SampleRecord, family: str, steps: list[str], job: Job
    ) -> tuple[FeatureSet, list[Display]] | None:
        return self._compute(job, record, family, steps)

    def _compute(
        self, job: Job | None, record: SampleRecord, family: str, steps: list[str] | None = None
    ) -> tuple[FeatureSet, list[Display]] | None:
        """Decode, compute and prepare one family's displays (no widgets: may run in a worker).

        Returns ``(feature_set, displays)``, or None once the job is stale.
        """

        def step(name: str) -> bool:
            if job is None:
                return True
            if job.stale:
                return False
            if steps and name in steps:
                job.progress(_progress(record, family, steps, steps.index(name)))
            return True

        if not step("read"):
            return None
        self.services.audio.decode(record, max_seconds=MAX_FEATURE_SECONDS)
        # The first computation of a family in a process also loads and compiles the engine.
        if not (step("engine") and step("compute")):
            return None
        fs = self.services.features.compute(record, family)
        if not step("draw"):
            return None
        return fs, [self._display(record, fs, spec) for spec in features_in(family)]

    def _on_progress(self, info: dict[str, Any]) -> None:
        if self.busy:
            self.progress = info

    def _finish(
        self, key: tuple[int, str, int], record: SampleRecord, out: tuple[FeatureSet, list[Display]] | None
    ) -> None:
        if out is None:
            return
        try:
            self._draw(key, record, out)
        except Exception as exc:  # noqa: BLE001 - reported like any other failure
            self._fail(exc)

    def _draw(
        self, key: tuple[int, str, int], record: SampleRecord, out: tuple[FeatureSet, list[Display]]
    ) -> None:
        """Put computed displays into the figures and cards (main thread)."""
        fs, displays = out
        specs = features_in(key[1])
        self._pending = None
        plots = [self._plot(spec) for spec in specs]
        items = []
        for spec, plot, display in zip(specs, plots, displays, strict=True):
            plot.show(display)
            adapt = fs.adaptations.get(spec.id) or {}
            adapt_note = ""
            if adapt:
                reason = adapt.get("reason", "")
                changed = ", ".join(f"{k} = {v}" for k, v in adapt.items() if k != "reason")
                adapt_note = f"Adapted for this clip: {changed}. {reason}".strip()
            items.append(
                {
                    "id": spec.id,
                    "title": spec.title,
                    "explanation": spec.explanation,
                    "links": _links(spec),
                    "selected": spec.id in self.selected,
                    "note": " ".join(x for x in (adapt_note, display.note) if x),
                    "colorbar": colour_bar(display, plot_height=plot.height),
                }
            )
        left = max(p.left for p in plots)
        for plot in plots:  # plot areas of a tab line up, whatever their tick labels
            plot.align_left(left)
        notes = []
        if fs.status in _STATUS_NOTES:
            notes.append(_STATUS_NOTES[fs.status])
        if fs.truncated:
            notes.append(f"Only the first {MAX_FEATURE_SECONDS:.0f} s of this clip are analysed.")
        with self.hold_sync():
            self.busy = False
            self.progress = {}
            self.note = " ".join(notes)
            self.items = items
            self.figures = [p.figure for p in plots]
            self.readouts = {}
        self._shown = key

    def _plot(self, spec: FeatureSpec) -> FeaturePlot:
        if spec.id not in self._plots:
            self._plots[spec.id] = FeaturePlot(spec, height=_HEIGHTS.get(spec.id, 230))
        return self._plots[spec.id]

    def _display(self, record: SampleRecord, fs: FeatureSet, spec: FeatureSpec) -> Display:
        key = (record.id, record.content_hash, spec.id, self.services.features.params_key)
        with self._displays_lock:
            if key in self._displays:
                self._displays.move_to_end(key)
                return self._displays[key]
        n_bands = None
        display = prepare(
            spec, fs.values[spec.id], sr=fs.sr, params=self.services.features.params, n_bands=n_bands
        )
        with self._displays_lock:
            self._displays[key] = display
            while len(self._displays) > 48:
                self._displays.popitem(last=False)
        return display

    def close(self) -> None:
        """Close the widget and let its worker thread end."""
        self._job.close()
        super().close()

    # -- events from the browser ---------------------------------------------------------

    @handler("showing the features")
    def vue_set_visible(self, data: Any) -> None:
        """Record whether the browser shows the explorer (``true``/``false``); compute if so."""
        if not isinstance(data, bool):
            raise ValidationError("invalid visibility")
        self.visible = data
        if self.visible:
            self.render()
        else:
            self._stop()

    @handler("switching feature tabs")
    def vue_set_tab(self, data: Any) -> None:
        """Show the family ``data`` (spectral, rhythmic or deltas)."""
        if data not in FAMILIES:
            raise ValidationError("unknown feature tab")
        self.tab = data
        self._shown = None
        if self.visible:
            self.render()

    @handler("selecting a feature")
    def vue_toggle_feature(self, data: Any) -> None:
        """Select or unselect a feature for export: ``{"id": ..., "selected": bool}``."""
        if (
            not isinstance(data, dict)
            or data.get("id") not in FEATURES
            or not isinstance(data.get("selected"), bool)
        ):
            raise ValidationError("unknown feature")
        current = list(self.state.selected_features)
        fid = data["id"]
        if data["selected"] and fid not in current:
            current.append(fid)
        elif not data["selected"] and fid in current:
            current.remove(fid)
        # Keep registry order so exports always list features the same way.
        self.state.selected_features = [f for f in FEATURES if f in current]

    @handler("selecting features")
    def vue_select_tab(self, data: Any) -> None:
        """Select (``true``) or clear (``false``) every feature of the current tab."""
        if not isinstance(data, bool):
            raise ValidationError("invalid selection")
        ids = {spec.id for spec in features_in(self.tab)}
        current = set(self.state.selected_features)
        current = current | ids if data else current - ids
        self.state.selected_features = [f for f in FEATURES if f in current]

    @handler("reading a value")
    def vue_hover(self, data: Any) -> None:
        """Answer a pointer position: ``{"id": feature, "fx": 0..1, "fy": 0..1}``."""
        if not isinstance(data, dict) or data.get("id") not in self._plots:
            raise ValidationError("unknown plot")
        fid = data["id"]
        fx, fy = data.get("fx"), data.get("fy")
        if fx is None or fy is None:
            text = ""
        elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (fx, fy)):
            raise ValidationError("invalid pointer position")
        else:
            text = self._plots[fid].readout(float(fx), float(fy))
        self.readouts = {**self.readouts, fid: text}

    @handler("resetting the zoom")
    def vue_reset_zoom(self, data: Any) -> None:
        """Show the whole of feature ``data`` again."""
        if data not in self._plots:
            raise ValidationError("unknown plot")
        self._plots[data].reset_zoom()

    @handler("exporting features")
    def vue_export_selected(self, data: Any) -> None:
        """Build the export file of the selected features and send it to the browser."""
        fmt = as_str(data, name="format", max_len=20)
        if fmt not in EXPORT_FORMATS:
            raise ValidationError(f"unknown export format; choose one of {', '.join(EXPORT_FORMATS)}")
        names = [f for f in self.state.selected_features if f in FEATURES]
        if not names:
            raise ValidationError("Select at least one feature to export (the switch on each card).")
        s = self.state
        if s.selected_sample_id is None:
            raise ValidationError("Select a sample first.")
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        self.busy = True
        try:
            name, data_bytes, mime = self.services.exports.features(record, names, fmt)
        finally:
            self.busy = False
        self.export_note = (
            f"{name} ({len(data_bytes) / 1024:,.0f} KB): {len(names)} "
            f"feature{'s' if len(names) != 1 else ''} of this clip."
        )
        self.download = {"name": name, "mime": mime, "size": len(data_bytes)}
        # A data: URL built in the browser from the binary buffer keeps working in Voila.
        self.send({"method": "download", "args": [{"name": name, "mime": mime}]}, buffers=[data_bytes])
        self.last_export = (name, mime, data_bytes)
