"""ReviewDialog: the modal review of one sample (the 2020 prototype's modal, rebuilt).

It opens when the grid asks (``state.open_request``) and shows the selected sample:
a large waveform and a mel spectrogram (bqplot), a player that loads the audio only
when asked, the sample's metadata, and "Edit" and "View features" buttons. It is the
only writer of ``state.panel``: the dialog's tabs switch between this overview and
the pages the composition root puts in its ``edit_view``, ``annotate_view``,
``augment_view`` and ``features_view`` slots (the editor, the annotations, the
augmentation and the feature explorer); it shows them but never calls them. Its
``why_view`` slot, above the figures, shows why the model doubts the clip's label.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ipywidgets import DOMWidget, widget_serialization
from traitlets import Bool, Dict, Instance, List, Unicode

from ..errors import ValidationError
from ..features.display import colour_bar, prepare
from ..services import FEATURES, MAX_FEATURE_SECONDS, MAX_PLAY_SECONDS, SampleRecord, Services
from ..state import ReviewState
from .base import SafeTemplate, fmt_duration, fmt_rate, fmt_value, fmt_when, handler
from .plots import FeaturePlot, WaveformPlot

log = logging.getLogger(__name__)

__all__ = ["ReviewDialog"]


class ReviewDialog(SafeTemplate):
    """A dialog with the overview of the selected sample and tabs for editing and features.

    Parameters
    ----------
    state : ReviewState
        Shared state; the dialog writes ``panel`` only.
    services : Services
        Where the sample, its audio and its spectrogram come from.

    Attributes
    ----------
    edit_view, annotate_view, augment_view, features_view : DOMWidget or None
        What the "Edit", "Annotate", "Augment" and "Features" tabs show (the composition
        root sets its editor, annotation panel, augmentation panel and explorer here).
    why_view : DOMWidget or None
        Shown in the overview above the figures (the composition root sets its
        suspect panel here).
    """

    template_file = (__file__, "review.vue")

    shown = Bool(False).tag(sync=True)
    panel = Unicode("review").tag(sync=True)
    info = Dict().tag(sync=True)
    rows = List(Dict()).tag(sync=True)
    custom = List(Dict()).tag(sync=True)
    colorbar = Dict().tag(sync=True)
    message = Unicode("").tag(sync=True)
    loading = Bool(False).tag(sync=True)
    wave_fig = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    spec_fig = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    edit_view = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    features_view = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    annotate_view = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    augment_view = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)
    why_view = Instance(DOMWidget, allow_none=True).tag(sync=True, **widget_serialization)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self._wave: WaveformPlot | None = None
        self._spec: FeaturePlot | None = None
        self._record: SampleRecord | None = None
        self._shown: tuple[int, str] | None = None
        state.observe(self._on_open_request, names=["open_request"])
        state.observe(self._on_panel, names=["panel"])
        state.observe(self._on_sample, names=["selected_sample_id", "revision"])
        self._on_panel({"new": state.panel})

    # -- state -> view -------------------------------------------------------------------

    def _on_open_request(self, change: dict[str, Any]) -> None:
        if self.state.selected_sample_id is None:
            return
        self.state.panel = "review"

    def _on_panel(self, change: dict[str, Any]) -> None:
        panel = change["new"]
        with self.hold_sync():
            self.shown = bool(panel)
            if panel:
                self.panel = panel
        if panel == "review":
            self._safe_render()

    def _on_sample(self, change: dict[str, Any]) -> None:
        if self.shown:
            self._safe_render(overview_only=self.state.panel != "review")

    def _safe_render(self, *, overview_only: bool = False) -> None:
        try:
            self.render(figures=not overview_only)
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self.message = self.state.report(exc, context="opening the review")

    def render(self, *, figures: bool = True) -> None:
        """Show the selected sample: metadata always, waveform and spectrogram if ``figures``."""
        s = self.state
        if s.selected_sample_id is None:
            return
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        self._record = record
        with self.hold_sync():
            self.info = {
                "id": record.id,
                "name": record.file_name,
                "path": record.path,
                "label": record.label or "",
                "split": record.split or "",
                "duration": fmt_duration(record.duration),
                "long": self.services.audio.play_truncated(record),
                "max_play": int(MAX_PLAY_SECONDS),
                "max_features": int(MAX_FEATURE_SECONDS),
                "flags": list(record.flags),
                "status": record.status,
            }
            self.rows = [
                {"key": k, "value": val}
                for k, val in (
                    ("File", record.path),
                    ("Label", record.label or "(none)"),
                    ("Split", record.split or "(none)"),
                    ("Speaker", record.speaker or "(unknown)"),
                    ("Text", record.text or "(none)"),
                    ("Duration", fmt_duration(record.duration)),
                    ("Sample rate", fmt_rate(record.sample_rate)),
                    ("Channels", "mono" if record.channels == 1 else str(record.channels)),
                    ("Format", " ".join(x for x in (record.format, record.subtype or "") if x)),
                    ("Level", self._level(record)),
                    ("Quality flags", ", ".join(record.flags) or "none"),
                    (
                        "Last edited",
                        " by ".join(x for x in (fmt_when(record.updated_at), record.updated_by or "") if x)
                        or "never",
                    ),
                )
            ]
            self.custom = [{"key": str(k), "value": fmt_value(val)} for k, val in record.meta.items()]
            self.message = ""
        key = (record.id, record.content_hash)
        if not figures or key == self._shown:
            return
        self.loading = True
        try:
            peaks, duration = self.services.audio.waveform(record)
            if self._wave is None or self._spec is None:
                self._wave = WaveformPlot()
                self._spec = FeaturePlot(FEATURES["mel_spectrogram"], height=220)
            peak_db = self._wave.show(peaks, duration)
            fs = self.services.features.compute(record, "spectral", names=["mel_spectrogram"])
            display = prepare(
                FEATURES["mel_spectrogram"],
                fs.values["mel_spectrogram"],
                sr=fs.sr,
                params=self.services.features.params,
            )
            self._spec.show(display)
            peak = f"{peak_db:.1f} dBFS" if math.isfinite(peak_db) else "silent"
            with self.hold_sync():
                self.wave_fig = self._wave.figure
                self.spec_fig = self._spec.figure
                self.info = {**self.info, "peak": peak}
                self.colorbar = colour_bar(display, plot_height=self._spec.height)
            self._shown = key
        finally:
            self.loading = False

    @staticmethod
    def _level(record: SampleRecord) -> str:
        parts = []
        if record.peak_abs is not None:
            parts.append(
                f"peak {20 * math.log10(record.peak_abs):.1f} dBFS" if record.peak_abs > 0 else "peak: silent"
            )
        if record.rms_db is not None and math.isfinite(record.rms_db):
            parts.append(f"RMS {record.rms_db:.1f} dB")
        return ", ".join(parts) or "unknown"

    # -- events from the browser ---------------------------------------------------------

    @handler("switching the review tab")
    def vue_set_panel(self, data: Any) -> None:
        """Show ``review``, ``edit``, ``annotate``, ``augment`` or ``features``."""
        if data not in ("review", "edit", "annotate", "augment", "features"):
            raise ValidationError("unknown panel")
        if self.state.selected_sample_id is None:
            raise ValidationError("Select a sample first.")
        self.state.panel = data

    @handler("closing the review")
    def vue_close(self, data: Any = None) -> None:
        """Close the dialog."""
        self.state.panel = ""

    @handler("playing the sample")
    def vue_play(self, data: Any = None) -> None:
        """Decode the shown sample and send it to the browser's player."""
        s = self.state
        if s.selected_sample_id is None:
            raise ValidationError("Select a sample first.")
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        wav = self.services.audio.wav_bytes(record)
        self.send({"method": "play_audio", "args": [{"id": record.id}]}, buffers=[wav])
