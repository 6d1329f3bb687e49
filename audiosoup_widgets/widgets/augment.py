"""AugmentPanel: the review's "Augment" tab: a chain of transforms heard, seen and applied.

A reviewer builds a chain of transforms for the open clip, one row per step: a
transform picked from the service's list (with its plain-language explanation) and a
slider per parameter, within the range the transform calls safe. Steps can be removed
and moved up or down; a seed makes the random draws repeatable. Every value the
browser sends is checked here against those ranges and then by the service
(``validate_chain``): a bad value is refused with a message, the chain stays as it was.

After each change the clip is previewed off the kernel's main thread
(:class:`~.background.LatestJob`): the original and the result play in one player with
an A/B switch (the browser swaps the source at the same moment of the clip), and their
waveforms and a chosen feature (the mel spectrogram by default) are drawn side by side
on one scale, with their difference, as the comparison view draws clips.

"Apply to the selection" makes N variants of each checked clip, in the background,
with progress; the derived clips join the dataset (the grid's "Origin" filter shows
them). A chain can be saved as a named recipe and loaded again; a recipe's derived
clips can be deleted as a group, after a confirmation. Names and explanations reach
the page as text only.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any

from ipywidgets import DOMWidget, widget_serialization
from traitlets import Bool, Dict, Instance, Int, List, Unicode, dlink

from ..errors import ValidationError
from ..features.display import colour_bar
from ..services import FEATURES, SampleRecord, Services
from ..state import ReviewState
from .augment_chain import MAX_STEPS, MAX_VARIANTS, Chain, latest_recipes, recipe_items, transform_items
from .background import Debouncer, Job, LatestJob
from .base import REVIEWER_NEEDED, SafeTemplate, as_int, as_str, fmt_duration, handler
from .compare_plots import ComparePlot, link_axes
from .plots import WaveformPlot

log = logging.getLogger(__name__)

__all__ = ["AugmentPanel", "PREVIEW_DELAY", "MAX_RECIPE_NAME"]

#: Seconds after the last change before the preview is recomputed.
PREVIEW_DELAY = 0.35
#: Longest recipe name.
MAX_RECIPE_NAME = 80
#: Features offered for the side-by-side pictures (the spectral ones that read at a glance).
PREVIEW_FEATURES = (
    "mel_spectrogram",
    "power_spectrogram",
    "mfcc",
    "chroma",
    "spectral_contrast",
    "onset_strength",
)
_PANEL_HEIGHT = 190
_WAVE_HEIGHT = 120


def _features() -> list[dict[str, str]]:
    return [{"value": f, "title": FEATURES[f].title} for f in PREVIEW_FEATURES if f in FEATURES]


class AugmentPanel(SafeTemplate):
    """Build a chain of transforms, hear and see its result, apply it to the selection.

    Parameters
    ----------
    state : ReviewState
        Shared state; the panel reads the selected clip, the selection and the reviewer,
        and bumps ``revision`` through ``state.saved`` after derived clips are made or deleted.
    services : Services
        The augmentation service (transforms, checks, previews, applying, recipes), the
        samples and the preview pictures (``augment_views``).
    """

    template_file = (__file__, "augment.vue")

    sample = Dict().tag(sync=True)
    reviewer = Unicode("").tag(sync=True)
    # Non-empty when the server names the reviewer (JupyterHub, a trusted proxy): read-only name.
    reviewer_source = Unicode("").tag(sync=True)
    transforms = List(Dict()).tag(sync=True)
    steps = List(Dict()).tag(sync=True)
    seed = Int(0).tag(sync=True)
    max_steps = Int(MAX_STEPS).tag(sync=True)
    # Bumped whenever the chain is (re)set here, so the browser drops its drafts.
    generation = Int(0).tag(sync=True)
    message = Unicode("").tag(sync=True)
    message_kind = Unicode("info").tag(sync=True)
    busy = Unicode("").tag(sync=True)
    feature = Unicode("mel_spectrogram").tag(sync=True)
    features = List(Dict(), default_value=_features()).tag(sync=True)
    preview = Dict().tag(sync=True)
    ab = Unicode("a").tag(sync=True)
    notes = List(Unicode()).tag(sync=True)
    colorbar = Dict().tag(sync=True)
    diff_colorbar = Dict().tag(sync=True)
    wave_figs = List(Instance(DOMWidget)).tag(sync=True, **widget_serialization)
    figures = List(Instance(DOMWidget)).tag(sync=True, **widget_serialization)
    n_selected = Int(0).tag(sync=True)
    variants = Int(2).tag(sync=True)
    max_variants = Int(MAX_VARIANTS).tag(sync=True)
    applying = Bool(False).tag(sync=True)
    progress = Dict().tag(sync=True)
    recipes = List(Dict()).tag(sync=True)
    recipe_name = Unicode("").tag(sync=True)

    def __init__(self, state: ReviewState, services: Services) -> None:
        super().__init__()
        self.state = state
        self.services = services
        self.chain = Chain([])
        self._record: SampleRecord | None = None
        self._wavs: tuple[bytes, bytes] | None = None
        self._preview_job = LatestJob("audiosoup-augment-preview")
        self._apply_job = LatestJob("audiosoup-augment-apply")
        self._later = Debouncer(PREVIEW_DELAY, self._start_preview)
        self._waves = [WaveformPlot(height=_WAVE_HEIGHT), WaveformPlot(height=_WAVE_HEIGHT)]
        self._plots: list[ComparePlot] = []
        self._links: list[Any] = []
        self._loaded = False
        self._saved: dict[str, Any] = {}
        dlink((state, "reviewer"), (self, "reviewer"))
        dlink((state, "reviewer_source"), (self, "reviewer_source"))
        state.observe(self._on_change, names=["selected_sample_id", "dataset", "panel"])
        state.observe(self._on_selection, names=["selection"])
        self._on_selection({})
        self._safely(self.load)

    # -- state -> view -------------------------------------------------------------------

    def _safely(self, fn: Any) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - observers must never raise into traitlets
            self._say(self.state.report(exc, context="showing the augmentation"), "error")

    def _on_handler_error(self, message: str) -> None:
        self._say(message, "error")

    def _say(self, text: str, kind: str = "info") -> None:
        with self.hold_sync():
            self.message = text
            self.message_kind = kind

    def _on_change(self, change: dict[str, Any]) -> None:
        if change.get("name") == "dataset":
            self._loaded = False
        self._safely(self.load)

    def _on_selection(self, change: dict[str, Any]) -> None:
        self.n_selected = len(self.state.selection)

    def load(self) -> None:
        """Show the selected clip (only while the Augment tab is open) and preview the chain."""
        s = self.state
        if s.panel != "augment" or s.selected_sample_id is None or not s.dataset:
            return
        augment = self.services.augment
        if not self._loaded:
            self.transforms = transform_items(augment.transforms())
            self.chain = Chain(self.transforms)
            self._recipes()
            self._loaded = True
            self._show_chain()
        record = self.services.samples.get(s.selected_sample_id, dataset=s.dataset)
        if self._record is not None and (record.id, record.content_hash) == (
            self._record.id,
            self._record.content_hash,
        ):
            return
        self._record = record
        self.sample = {
            "id": record.id,
            "name": record.file_name,
            "label": record.label or "",
            "duration": fmt_duration(record.duration),
        }
        self._changed()

    def _recipes(self) -> None:
        self._saved = latest_recipes(self.services.augment.recipes(self.state.dataset))
        self.recipes = recipe_items(self._saved)

    def _show_chain(self) -> None:
        with self.hold_sync():
            self.steps = self.chain.items()
            self.seed = self.chain.seed
            self.generation += 1

    def _changed(self) -> None:
        """Show the changed chain (or clip) and preview it a moment later."""
        self._show_chain()
        self._wavs = None
        if self.message_kind == "error":  # an accepted change answers an earlier refusal
            self._say("")
        if not self.chain.steps or self._record is None:
            self._preview_job.cancel()
            with self.hold_sync():
                self.busy = ""
                self.preview = {}
                self.figures, self.wave_figs, self.notes = [], [], []
            return
        self._later.request()

    def _recipe(self) -> Any:
        """Return the chain as the service's checked recipe (it raises a one-line error if refused)."""
        return self.services.augment.validate_chain(self.chain.as_steps(), seed=self.chain.seed)

    # -- the preview -----------------------------------------------------------------------

    def _start_preview(self) -> None:
        record = self._record
        if record is None or not self.chain.steps:
            return
        try:
            recipe = self._recipe()
        except Exception as exc:  # noqa: BLE001 - shown as a plain message
            self._say(self.state.report(exc, context="checking the chain"), "error")
            return
        self.busy = f"Previewing {len(self.chain.steps)} step{'s' if len(self.chain.steps) != 1 else ''}…"
        self._preview_job.submit(
            functools.partial(self._preview_work, record, recipe, self.feature),
            on_done=self._show_preview,
            on_error=self._preview_failed,
        )

    def _preview_work(self, record: SampleRecord, recipe: Any, feature: str, job: Job) -> Any:
        """Augment the clip and draw both versions (no widgets: runs in a worker thread)."""
        original, augmented, sr = self.services.augment.preview(record, recipe, variant=0)
        if job.stale:
            return None
        views = self.services.augment_views
        view = views.views(original, augmented, sr, feature)
        return view, (views.wav(original, sr), views.wav(augmented, sr))

    def _preview_failed(self, exc: BaseException) -> None:
        self.busy = ""
        self._say(self.state.report(exc, context="previewing the chain"), "error")

    def _show_preview(self, out: Any) -> None:
        if out is None:
            return
        view, wavs = out
        self._wavs = wavs
        if not self._plots or self._plots[0].spec.id != view.spec.id:
            for link in self._links:
                link.close()
            self._plots = [ComparePlot(view.spec, height=_PANEL_HEIGHT) for _ in range(3)]
            # Zooming the original zooms the result (the difference spans its own range).
            self._links = link_axes(self._plots[0], self._plots[1])
        shared = (view.x_extent, view.y_extent)
        for plot, display in zip(self._plots, (view.original, view.augmented, view.difference), strict=True):
            plot.shared = shared if display is not view.difference else None
            plot.show(display)
        left = max(p.left for p in self._plots)
        for plot in self._plots:
            plot.align_left(left)
        (pa, sa), (pb, sb) = view.waves
        top = max(float(abs(pa).max()) if pa.size else 0.0, float(abs(pb).max()) if pb.size else 0.0)
        for wave, peaks in zip(self._waves, (pa, pb), strict=True):
            wave.show(peaks, max(sa, sb))
            lim = max(top * 1.05, 1e-4)  # one amplitude scale: a louder result looks louder
            wave.y_scale.min, wave.y_scale.max = -lim, lim
            wave.figure.fig_margin = {**wave.figure.fig_margin, "left": left}
        with self.hold_sync():
            self.busy = ""
            self.preview = {
                "feature": view.spec.title,
                "seconds": [round(sa, 3), round(sb, 3)],
                "peaks": [_dbfs(pa), _dbfs(pb)],
                "steps": len(self.chain.steps),
            }
            self.notes = list(view.notes)
            self.colorbar = _horizontal(view.original)
            self.diff_colorbar = _horizontal(view.difference)
            self.wave_figs = [w.figure for w in self._waves]
            self.figures = [p.figure for p in self._plots]

    # -- events: the chain -------------------------------------------------------------------

    @handler("adding a step")
    def vue_add_step(self, data: Any) -> None:
        """Add a step of transform ``data`` (a name from the list) with its default values."""
        self.chain.add(as_str(data, name="transform", max_len=100) or "")
        self._changed()

    @handler("changing a step's transform")
    def vue_set_transform(self, data: Any) -> None:
        """Replace step ``index``'s transform: ``{"index": 0, "transform": "gain"}``."""
        if not isinstance(data, dict):
            raise ValidationError("invalid step")
        index = as_int(data.get("index"), name="step", lo=0)
        self.chain.replace(index, as_str(data.get("transform"), name="transform", max_len=100) or "")
        self._changed()

    @handler("removing a step")
    def vue_remove_step(self, data: Any) -> None:
        """Remove step ``data`` (its index)."""
        self.chain.remove(as_int(data, name="step", lo=0))
        self._changed()

    @handler("moving a step")
    def vue_move_step(self, data: Any) -> None:
        """Move a step up or down: ``{"index": 1, "by": -1}``."""
        if not isinstance(data, dict):
            raise ValidationError("invalid move")
        self.chain.move(
            as_int(data.get("index"), name="step", lo=0), as_int(data.get("by"), name="move", lo=-1, hi=1)
        )
        self._changed()

    @handler("setting a parameter")
    def vue_set_param(self, data: Any) -> None:
        """Set a parameter: ``{"index": 0, "name": "min_gain_db", "value": -6}`` (refused out of range)."""
        if not isinstance(data, dict):
            raise ValidationError("invalid parameter")
        index = as_int(data.get("index"), name="step", lo=0)
        name = as_str(data.get("name"), name="parameter", max_len=100) or ""
        before = self.chain.copy()
        try:
            self.chain.set(index, name, data.get("value"))
            self._recipe()
        except Exception:
            self.chain = before
            self._show_chain()  # the slider goes back to the value in force
            raise
        self._changed()

    @handler("setting the seed")
    def vue_set_seed(self, data: Any) -> None:
        """Set the seed of the random draws (a whole number from 0)."""
        if isinstance(data, str) and data.strip().lstrip("-").isdigit():
            data = int(data.strip())
        self.chain.seed = as_int(data, name="seed", lo=0, hi=2**31 - 1)
        self._changed()

    @handler("choosing the feature")
    def vue_set_feature(self, data: Any) -> None:
        """Draw feature ``data`` (one of the offered ids) side by side."""
        if not isinstance(data, str) or data not in {f["value"] for f in self.features}:
            raise ValidationError("Unknown feature; choose one from the list.")
        self.feature = data
        self._changed()

    @handler("setting your name")
    def vue_set_reviewer(self, data: Any) -> None:
        """Remember the reviewer's name (recorded with the clips and recipes made)."""
        name = self.state.sign(as_str(data, name="name", max_len=100) or "")
        self._say(f"Clips and recipes will be recorded as {name}.", "success")

    # -- events: listening -------------------------------------------------------------------

    @handler("listening")
    def vue_listen(self, data: Any) -> None:
        """Send the original (``"a"``) or the result (``"b"``) to the player."""
        if data not in ("a", "b"):
            raise ValidationError("choose A (the original) or B (the result)")
        if self._wavs is None:
            raise ValidationError("Add a step first: there is no result to hear yet.")
        self.ab = data
        wav = self._wavs[0 if data == "a" else 1]
        self.send(
            {"method": "play_ab", "args": [{"which": data, "generation": self.generation}]}, buffers=[wav]
        )

    # -- events: recipes -------------------------------------------------------------------

    def _reviewer(self) -> str:
        if not self.state.reviewer.strip():
            raise ValidationError(REVIEWER_NEEDED)
        return self.state.reviewer

    def _name(self, data: Any) -> str:
        name = " ".join((as_str(data, name="recipe name", max_len=MAX_RECIPE_NAME) or "").split())
        if not name:
            raise ValidationError("Give the recipe a name.")
        return name

    @handler("saving a recipe")
    def vue_save_recipe(self, data: Any) -> None:
        """Save the chain as the recipe named ``data``."""
        name = self._name(data)
        if not self.chain.steps:
            raise ValidationError("Add a step first: an empty chain is no recipe.")
        augment = self.services.augment
        recipe = self._recipe()
        augment.save(self.state.dataset, recipe, name=name, reviewer=self._reviewer())
        self.recipe_name = name
        self._recipes()
        self._say(f"Saved the recipe “{name}”.", "success")

    @handler("loading a recipe")
    def vue_load_recipe(self, data: Any) -> None:
        """Load the saved recipe named ``data`` into the chain."""
        name = as_str(data, name="recipe", max_len=MAX_RECIPE_NAME) or ""
        record = self._saved.get(name)
        if record is None:
            raise ValidationError("That recipe is not one of this dataset's.")
        spec = dict(record.spec)
        recipe = self.services.augment.validate_chain(
            list(spec.get("steps", [])), seed=int(spec.get("seed", 0))
        )
        self.chain = Chain.from_recipe(self.transforms, recipe)
        self.recipe_name = name
        self._changed()
        self._say(f"Loaded the recipe “{name}”.", "success")

    @handler("deleting a recipe's clips")
    def vue_delete_group(self, data: Any) -> None:
        """Delete every clip derived with recipe ``data["name"]`` (``data["confirm"]`` must be true)."""
        if not isinstance(data, dict) or data.get("confirm") is not True:
            raise ValidationError("Confirm the deletion first.")
        name = as_str(data.get("name"), name="recipe", max_len=MAX_RECIPE_NAME) or ""
        if name not in {r["name"] for r in self.recipes}:
            raise ValidationError("That recipe is not one of this dataset's.")
        self._reviewer()
        n = self.services.augment.delete(self.state.dataset, name)
        self._recipes()
        self.state.saved()
        self._say(f"Deleted {n:,} clip{'s' if n != 1 else ''} derived with “{name}”.", "success")

    # -- events: applying ------------------------------------------------------------------

    @handler("applying the chain")
    def vue_apply(self, data: Any) -> None:
        """Make ``data["variants"]`` variants of each selected clip, saved as recipe ``data["name"]``."""
        if not isinstance(data, dict):
            raise ValidationError("invalid request")
        variants = as_int(data.get("variants"), name="variants", lo=1, hi=MAX_VARIANTS)
        name = self._name(data.get("name"))
        reviewer = self._reviewer()
        ids = sorted(self.state.selection)
        if not ids:
            raise ValidationError("Check some clips in the grid first: the chain applies to the selection.")
        if not self.chain.steps:
            raise ValidationError("Add a step first: an empty chain changes nothing.")
        if self.applying:
            raise ValidationError("The chain is being applied already; wait for it to finish.")
        recipe = self._recipe()
        total = len(ids) * variants
        with self.hold_sync():
            self.variants = variants
            self.recipe_name = name
            self.applying = True
            self.progress = {"done": 0, "total": total, "pct": 0}
        self._say(f"Making {total:,} clips from {len(ids):,}…")
        self._apply_job.submit(
            functools.partial(self._apply_work, ids, recipe, name, variants, reviewer),
            on_done=self._applied,
            on_error=self._apply_failed,
            on_progress=self._on_progress,
        )

    def _apply_work(
        self, ids: list[int], recipe: Any, name: str, variants: int, reviewer: str, job: Job
    ) -> Any:
        """Apply the recipe (no widgets: runs in a worker thread)."""

        def progress(done: int, total: int) -> None:
            job.progress((done, total))

        return self.services.augment.apply_to(
            ids, recipe, name=name, variants=variants, reviewer=reviewer, progress=progress
        )

    def _on_progress(self, info: Any) -> None:
        done, total = info
        self.progress = {"done": int(done), "total": int(total), "pct": round(100 * done / max(total, 1))}

    def _apply_failed(self, exc: BaseException) -> None:
        self.applying = False
        self._say(self.state.report(exc, context="applying the chain"), "error")

    def _applied(self, report: Any) -> None:
        made = int(getattr(report, "created", 0) or 0)
        failed = list(getattr(report, "failed", ()) or ())
        with self.hold_sync():
            self.applying = False
            self.progress = {**self.progress, "done": self.progress.get("total", 0), "pct": 100}
        self._safely(self._recipes)
        self.state.saved()
        text = f"Made {made:,} derived clip{'s' if made != 1 else ''} with “{self.recipe_name}”."
        if failed:
            text += f" {len(failed):,} could not be made (see the log)."
        self._say(text + " Show them in the grid with Origin: Derived.", "success" if not failed else "info")

    def close(self) -> None:
        """Close the widget, its figures and links, and let its worker threads end."""
        self._later.cancel()
        self._preview_job.close()
        self._apply_job.close()
        for link in self._links:
            link.close()
        super().close()


def _dbfs(peaks: Any) -> str:
    peak = float(abs(peaks).max()) if peaks.size else 0.0
    return f"{20 * math.log10(peak):.1f} dBFS" if peak > 0 else "silent"


def _horizontal(display: Any) -> dict[str, Any]:
    bar = colour_bar(display, plot_height=100)
    if not bar:
        return {}
    return {
        "gradient": str(bar["gradient"]).replace("to top", "to right"),
        "ticks": bar["ticks"],
        "label": bar["label"],
    }
