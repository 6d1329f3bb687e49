"""CompareService: clips side by side on one scale, class templates, and group effect sizes.

The comparison view calls this service only:

* :meth:`CompareService.panels`: 2 to :data:`MAX_CLIPS` clips' matrices of one feature,
  prepared for display on one colour scale (for a decibel feature one reference, the
  loudest point over every clip shown) with shared time and frequency extents, and
  optionally a label's class template on the same scale;
* :meth:`CompareService.difference`: one clip minus another, on a diverging scale;
* :meth:`CompareService.template`, :meth:`CompareService.effect_sizes` and
  :meth:`CompareService.distributions`: questions about groups of clips, answered by
  :class:`~audiosoup_widgets.services.groups.GroupService`.

The arithmetic is :mod:`audiosoup_widgets.analysis.compare`, the display math
:mod:`audiosoup_widgets.features.display`; matrices come from the feature service
(cached by content there). Comparisons are cached per clips (ids, content and edit
versions), feature, template and feature parameters, so an edit is never served stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis import compare as cmp
from ..errors import AudiosoupError, FeatureError, ValidationError
from ..features import FEATURES, FeatureSpec
from ..features.display import SIGNED, ColourScale, Display, prepare
from ..features.params import TOP_DB
from ..store import Store
from ..store.records import SampleRecord
from .audio import MAX_FEATURE_SECONDS, AudioService
from .cache import LRUCache
from .features import FeatureService
from .groups import (
    EFFECT_FEATURES,
    MAX_GROUP,
    TEMPLATE_MAX_CLIPS,
    Distributions,
    EffectSizes,
    Group,
    GroupService,
    Template,
    column_title,
)
from .samples import SampleService, as_sample_id

__all__ = [
    "CompareService",
    "Comparison",
    "Panel",
    "Template",
    "Difference",
    "EffectSizes",
    "Distributions",
    "Group",
    "MIN_CLIPS",
    "MAX_CLIPS",
    "TEMPLATE_MAX_CLIPS",
    "EFFECT_FEATURES",
    "MAX_GROUP",
    "column_title",
]

#: Fewest and most clips compared side by side.
MIN_CLIPS, MAX_CLIPS = 2, 6


@dataclass(frozen=True)
class Panel:
    """One clip of a comparison.

    Attributes
    ----------
    record : SampleRecord
    display : Display or None
        The clip's feature on the comparison's shared scale; None if it failed.
    profile : np.ndarray or None
        Each row's mean over time (for a decibel feature the mean power, in dB on the
        shared reference), as the stored summaries hold it.
    sr : int
    seconds : float
        Audio analysed (at most :data:`MAX_FEATURE_SECONDS`).
    truncated : bool
    status : str
        The engine's clip status (``ok``, ``silent``, ``too_short``).
    error : str
        Why the clip could not be shown (empty when it was).
    """

    record: SampleRecord
    display: Display | None
    profile: np.ndarray | None = None
    sr: int = 0
    seconds: float = 0.0
    truncated: bool = False
    status: str = "ok"
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    """Clips' matrices of one feature on one scale (:meth:`CompareService.panels`).

    Attributes
    ----------
    spec : FeatureSpec
    panels : tuple of Panel
    scale : ColourScale
        The one colour (or, for a line, y) scale of every panel.
    x_extent, y_extent : tuple of float
        The shared axes: the longest clip's time span, the widest row span.
    reference : float or None
        For a decibel feature, the raw value shown as 0 dB (the loudest point of all).
    template : Template or None
    template_display : Display or None
        The template's mean mel spectrogram on the same scale.
    template_profile : np.ndarray or None
        The template's per-row means, in the panels' profile units.
    notes : tuple of str
    """

    spec: FeatureSpec
    panels: tuple[Panel, ...]
    scale: ColourScale
    x_extent: tuple[float, float]
    y_extent: tuple[float, float]
    reference: float | None = None
    template: Template | None = None
    template_display: Display | None = None
    template_profile: np.ndarray | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Difference:
    """Clip A minus clip B for one feature (:meth:`CompareService.difference`)."""

    a: SampleRecord
    b: SampleRecord
    spec: FeatureSpec
    display: Display
    seconds: float
    note: str = ""


class CompareService:
    """Comparisons of clips, class templates and group effect sizes, with their caches.

    Parameters
    ----------
    samples : SampleService
    audio : AudioService
    features : FeatureService
    store : Store
    """

    def __init__(
        self, samples: SampleService, audio: AudioService, features: FeatureService, store: Store
    ) -> None:
        self._samples = samples
        self._audio = audio
        self._features = features
        self._store = store
        self._comparisons: LRUCache[Comparison] = LRUCache(8)
        self.groups = GroupService(samples, audio, features, store)

    def forget(self) -> None:
        """Drop every cached answer (after changes made outside the services)."""
        self._comparisons.clear()
        self.groups.forget()

    # -- validation ------------------------------------------------------------------

    @staticmethod
    def spec(feature: object) -> FeatureSpec:
        """Return the registry entry of ``feature``, or raise :class:`ValidationError`."""
        if not isinstance(feature, str) or feature not in FEATURES:
            raise ValidationError("Unknown feature; choose one from the list.")
        return FEATURES[feature]

    def records(self, ids: object, *, dataset: str | None = None) -> list[SampleRecord]:
        """Check 2 to :data:`MAX_CLIPS` distinct sample ids of one dataset; return their records."""
        if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
            raise ValidationError(f"Give {MIN_CLIPS} to {MAX_CLIPS} sample ids to compare.")
        checked = [as_sample_id(i) for i in ids]
        if len(set(checked)) != len(checked):
            raise ValidationError("A clip appears twice in the comparison.")
        if not MIN_CLIPS <= len(checked) <= MAX_CLIPS:
            raise ValidationError(f"Compare {MIN_CLIPS} to {MAX_CLIPS} clips; {len(checked)} were given.")
        records = [self._samples.get(i, dataset=dataset) for i in checked]
        if len({r.dataset for r in records}) > 1:
            raise ValidationError("The clips to compare come from different datasets.")
        return records

    # -- clips side by side ----------------------------------------------------------

    def panels(
        self, ids: Sequence[int], feature: str, *, dataset: str | None = None, template: str | None = None
    ) -> Comparison:
        """Return the clips' matrices of ``feature`` prepared on one scale, side by side.

        Parameters
        ----------
        ids : sequence of int
            2 to :data:`MAX_CLIPS` distinct sample ids of one dataset.
        feature : str
            A registered feature id.
        dataset : str, optional
            Refuse ids of another dataset.
        template : str, optional
            A label whose class template joins the comparison (on the same scale).

        Returns
        -------
        Comparison

        Raises
        ------
        ValidationError, NotFoundError
            Bad ids, an unknown feature or label.
        FeatureError, DecodeError
            When no clip at all can be shown (one failing clip gets an error panel).
        """
        spec = self.spec(feature)
        records = self.records(ids, dataset=dataset)
        ds = records[0].dataset
        if template is not None:
            self.groups.check_label(ds, template)
        key = (
            tuple((r.id, r.content_hash, r.version) for r in records),
            feature,
            template,
            self.groups.fingerprint(ds) if template is not None else (),
            self._features.params_key,
        )
        return self._comparisons.get(key, lambda: self._compare(records, spec, template))

    def _values(self, record: SampleRecord, spec: FeatureSpec) -> tuple[np.ndarray, Any]:
        fs = self._features.compute(record, spec.family, names=[spec.id])
        return np.asarray(fs.values[spec.id], dtype=np.float64), fs

    def _compare(self, records: list[SampleRecord], spec: FeatureSpec, label: str | None) -> Comparison:
        raw: list[np.ndarray | None] = []
        sets: list[Any] = []
        errors: list[str] = []
        for record in records:
            try:
                values, fs = self._values(record, spec)
            except AudiosoupError as exc:
                raw.append(None)
                sets.append(None)
                errors.append(exc.message)
                continue
            raw.append(values)
            sets.append(fs)
            errors.append("")
        good = [v for v in raw if v is not None]
        if not good:
            raise FeatureError(errors[0], code="compare_failed")
        tmpl = self.groups.template(records[0].dataset, label, spec.id) if label is not None else None
        t_matrix = tmpl.matrix if tmpl is not None else None
        # A row's profile is its mean over time in the feature's own units (the mean power
        # for a decibel feature, then in dB): what the stored summaries, and so a template
        # of them, hold.
        profiles = [_time_mean(v) for v in good]
        if tmpl is not None and tmpl.profile is not None:
            profiles.append(np.asarray(tmpl.profile, dtype=np.float64))
        matrices = good + ([t_matrix] if t_matrix is not None else [])
        scale, shown, shown_profiles, ref = self._scale(spec, matrices, profiles)
        params = self._features.params
        shown_iter, profile_iter = iter(shown), iter(shown_profiles)
        panels: list[Panel] = []
        for record, matrix, fs, err in zip(records, raw, sets, errors, strict=True):
            if matrix is None:
                panels.append(Panel(record=record, display=None, error=err))
                continue
            display = prepare(spec, next(shown_iter), sr=fs.sr, params=params, scale=scale)
            panels.append(
                Panel(
                    record=record,
                    display=display,
                    profile=next(profile_iter),
                    sr=fs.sr,
                    seconds=fs.seconds,
                    truncated=fs.truncated,
                    status=fs.status,
                )
            )
        t_profile = next(profile_iter, None)
        t_display = None
        if t_matrix is not None:
            t_display = prepare(spec, next(shown_iter), sr=tmpl.sr if tmpl else 0, params=params, scale=scale)
        displays = [p.display for p in panels if p.display is not None]
        displays += [t_display] if t_display is not None else []
        x_extent = (min(d.x_extent[0] for d in displays), max(d.x_extent[1] for d in displays))
        if spec.kind == "line":
            y_extent = (scale.vmin, scale.vmax)
        else:
            y_extent = (min(d.y_extent[0] for d in displays), max(d.y_extent[1] for d in displays))
        notes = []
        if spec.db:
            notes.append(
                "One colour scale for every clip: 0 dB is the loudest point of all the clips shown, "
                "so a quieter clip looks darker."
            )
        if spec.id.startswith("mfcc"):
            notes.append(
                "Coefficient 0 (loudness) is much larger than the others; the colour scale is set "
                "by the others and coefficient 0 is drawn at its ends."
            )
        if any(p.truncated for p in panels):
            notes.append(f"Only the first {MAX_FEATURE_SECONDS:.0f} s of a clip are analysed.")
        return Comparison(
            spec=spec,
            panels=tuple(panels),
            scale=scale,
            x_extent=(float(x_extent[0]), float(x_extent[1])),
            y_extent=(float(y_extent[0]), float(y_extent[1])),
            reference=ref,
            template=tmpl,
            template_display=t_display,
            template_profile=t_profile,
            notes=tuple(notes),
        )

    @staticmethod
    def _scale(
        spec: FeatureSpec, matrices: list[np.ndarray], profiles: list[np.ndarray]
    ) -> tuple[ColourScale, list[np.ndarray], list[np.ndarray], float | None]:
        """One scale for ``matrices``; them and ``profiles`` in display units; the dB reference."""
        if spec.db:
            # Profiles go through the same conversion: one reference for pictures and lines.
            columns = [p[:, np.newaxis] for p in profiles]
            shown, vmin, vmax = cmp.db_scale(_as_power(spec, [*matrices, *columns]), top_db=TOP_DB)
            peaks = [float(np.nanmax(m)) for m in matrices if np.isfinite(m).any()]
            label = "dB below the loudest point of all clips shown"
            scale = ColourScale(vmin, vmax, "magma", label, unit="dB", pool="max")
            pictures = [np.asarray(m, dtype=np.float64) for m in shown[: len(matrices)]]
            lines = [np.asarray(c, dtype=np.float64)[:, 0] for c in shown[len(matrices) :]]
            return scale, pictures, lines, max(peaks, default=0.0)
        finite = [m[np.isfinite(m)] for m in matrices]
        every = np.concatenate(finite) if finite else np.zeros(0)
        if spec.kind == "line":
            top = float(every.max()) if every.size else 1.0
            low = min(0.0, float(every.min()) if every.size else 0.0)
            scale = ColourScale(low, top if top > low else low + 1.0, "viridis", spec.value_unit)
        elif spec.id in SIGNED:
            # MFCC 0 follows loudness and dwarfs the others: the limits come from the rest.
            body = [m[1:] if spec.id.startswith("mfcc") and m.shape[0] > 1 else m for m in matrices]
            mags = np.concatenate([np.abs(b[np.isfinite(b)]) for b in body])
            lim = float(np.percentile(mags, 99)) if mags.size else 1.0
            lim = lim if lim > 0 else 1.0
            scale = ColourScale(-lim, lim, "diverging", spec.value_unit)
        else:
            lo = float(every.min()) if every.size else 0.0
            hi = float(every.max()) if every.size else 1.0
            scale = ColourScale(lo, hi if hi > lo else lo + 1.0, "viridis", spec.value_unit)
        return scale, [np.asarray(m, dtype=np.float64) for m in matrices], profiles, None

    def difference(self, id_a: int, id_b: int, feature: str, *, dataset: str | None = None) -> Difference:
        """Return clip A's ``feature`` minus clip B's, on a diverging scale centred on zero.

        Decibel features are subtracted in decibels on one reference (a level
        difference, the shorter clip padded with silence); other features are
        subtracted as they are, the shorter clip's missing end left blank.

        Raises
        ------
        ValidationError
            Bad ids, the same clip twice, an unknown feature, or clips recorded at
            different sample rates (their rows are different frequencies).
        """
        spec = self.spec(feature)
        a, b = self.records([id_a, id_b], dataset=dataset)
        if a.sample_rate != b.sample_rate and spec.id != "stack_memory":
            raise ValidationError(
                f"The two clips have different sample rates ({a.sample_rate / 1000:g} and "
                f"{b.sample_rate / 1000:g} kHz): their rows are different frequencies, so they "
                "cannot be subtracted."
            )
        (va, fa), (vb, _) = self._values(a, spec), self._values(b, spec)
        if spec.db:
            (va, vb), floor, _ = cmp.db_scale(_as_power(spec, [va, vb]), top_db=TOP_DB)
            # The shorter clip is padded with the scale's silence: what the longer one
            # has after it ends shows as louder, not as missing.
            diff = cmp.difference(va, vb, floor=floor)
            lim = cmp.symmetric_limit(diff, quantile=0.995)
        else:
            # Other features have no level of silence: the padding shows as no data.
            diff = cmp.difference(va, vb, floor=float("nan"))
            lim = cmp.symmetric_limit(diff, quantile=0.995, minimum=1e-9)
        unit = "dB" if spec.db else spec.value_unit
        label = f"{unit} difference, A − B" if unit else "difference, A − B"
        scale = ColourScale(-lim, lim, "diverging", label, unit="dB" if spec.db else "", pool="mean")
        values = np.asarray(diff, dtype=np.float64)
        display = prepare(spec, values, sr=fa.sr, params=self._features.params, scale=scale)
        n_a, n_b = va.shape[-1], vb.shape[-1]
        note = ""
        if n_a != n_b:
            shorter = a if n_a < n_b else b
            note = (
                f"{shorter.file_name} is shorter: after its end it counts as silence."
                if spec.db
                else f"{shorter.file_name} is shorter: after its end there is no data (grey)."
            )
        seconds = float(display.x_extent[1])
        return Difference(a=a, b=b, spec=spec, display=display, seconds=seconds, note=note)

    # -- groups ----------------------------------------------------------------------

    def template(
        self, dataset: str, label: str, feature: str, *, max_clips: int = TEMPLATE_MAX_CLIPS
    ) -> Template:
        """Return the class template of ``label`` (see :meth:`GroupService.template`)."""
        return self.groups.template(dataset, label, feature, max_clips=max_clips)

    def effect_sizes(self, dataset: str, group_a: Group, group_b: Group) -> EffectSizes:
        """Return Cohen's d of every summary column of two groups (:meth:`GroupService.effect_sizes`)."""
        return self.groups.effect_sizes(dataset, group_a, group_b)

    def distributions(self, dataset: str, group_a: Group, group_b: Group, column: str) -> Distributions:
        """Return one column's values in both groups (see :meth:`GroupService.distributions`)."""
        return self.groups.distributions(dataset, group_a, group_b, column)


def _as_power(spec: FeatureSpec, matrices: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Matrices as power: an amplitude feature squared (20 log10 A is 10 log10 A squared)."""
    if spec.db == "amplitude":
        return [np.square(np.asarray(m, dtype=np.float64)) for m in matrices]
    return [np.asarray(m, dtype=np.float64) for m in matrices]


def _time_mean(z: np.ndarray) -> np.ndarray:
    """Mean over time of each row (a line: its mean), ignoring missing values."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[np.newaxis]
    finite = np.isfinite(z)
    count = finite.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(finite, z, 0.0).sum(axis=-1) / count, np.nan)
