"""MapService: a dataset's similarity map as the map view needs it, and questions about its points.

The service hands out a stored map at once (:meth:`MapService.points`, cached) and
brings it up to date on request (:meth:`MapService.update`: reads the summaries, and
recomputes the coordinates only when they changed). The update is slow (seconds for
PCA at 100,000 clips, minutes for UMAP) and is meant for a worker thread; the cache
is shared safely between threads.

Points come as arrays (ids, x, y, label and split codes with their names), never one
object per clip. Colour groups (:meth:`MapService.groups`), the clips of each quality
finding, the nearest point to a pointer and the ids of a lasso selection are answered
here, validated, so the widget only draws.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ValidationError
from ..features import FeatureParams
from ..jobs.projection import ALL, MAP_METHODS, map_family, update_map
from ..store import Store
from ..store.records import ProjectionRecord
from .cache import LRUCache
from .samples import SampleService, as_sample_id

__all__ = [
    "MapService",
    "MapPoints",
    "Groups",
    "Extent",
    "MAP_FAMILIES",
    "MAX_LASSO",
    "MAP_METHODS",
    "COLOUR_BY",
    "NO_LABEL",
    "NO_FINDING",
    "OTHERS",
]

#: What a map can be made of: every feature, or one family.
MAP_FAMILIES: tuple[str, ...] = (ALL, "spectral", "rhythmic", "deltas")
#: What the points can be coloured by.
COLOUR_BY: tuple[str, ...] = ("label", "split", "finding")
#: Group names of points without a label, without a split, in no finding, and the rest.
NO_LABEL, NO_SPLIT, NO_FINDING, OTHERS = "(no label)", "(no split)", "no finding", "others"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class MapPoints:
    """The points of one map, as arrays in sample-id order.

    Attributes
    ----------
    dataset, family, method : str
        Which map (``family`` is ``all`` or a feature family).
    ids : ndarray of int64, shape (n,)
    x, y : ndarray of float32, shape (n,)
    labels : ndarray of int32, shape (n,)
        Index into ``label_names`` (which holds :data:`NO_LABEL` for unlabelled clips).
    label_names : tuple of str
    splits : ndarray of int32, shape (n,)
        Index into ``split_names``.
    split_names : tuple of str
    computed_at : datetime or None
    stale : bool or None
        None: not compared with the summaries yet; False: current; True: the
        summaries changed since (an update is due).
    n_missing : int
        Clips of the dataset that are not on the map (no summaries), when known.
    """

    dataset: str
    family: str
    method: str
    ids: npt.NDArray[np.int64]
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int32]
    label_names: tuple[str, ...]
    splits: npt.NDArray[np.int32]
    split_names: tuple[str, ...]
    computed_at: dt.datetime | None = None
    stale: bool | None = None
    n_missing: int = 0

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, eq=False)
class Groups:
    """Points split into colour groups, largest first.

    Attributes
    ----------
    codes : ndarray of int32, shape (n,)
        Each point's group, an index into ``names``.
    names : tuple of str
    counts : tuple of int
        Points per group.
    """

    codes: npt.NDArray[np.int32]
    names: tuple[str, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Extent:
    """The part of a map to show: axis ranges, and how many points fall outside them."""

    x0: float
    x1: float
    y0: float
    y1: float
    n_outside: int = 0


#: Most vertices a lasso may have (a drawn lasso has one every few pixels).
MAX_LASSO = 5_000

#: Far-off points (beyond this many interquartile ranges from the middle half) may be left
#: out of the first view, so that a few odd clips do not squeeze the rest into a corner.
FAR = 4.0
#: ... but only if they are this small a share of the points.
FAR_SHARE = 0.05


def _span(values: npt.NDArray[np.float32], *, whole: bool) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if not whole:
        q1, q3 = (float(q) for q in np.percentile(values, [25, 75]))
        lo, hi = max(lo, q1 - FAR * (q3 - q1)), min(hi, q3 + FAR * (q3 - q1))
    pad = (hi - lo) * 0.04 or max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def _codes(values: Sequence[str | None], missing: str) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
    """Factorise text values: integer codes and their names (None becomes ``missing``)."""
    filled = np.array([missing if v is None else str(v) for v in values], dtype=object)
    if not len(filled):
        return np.zeros(0, np.int32), ()
    uniques, codes = np.unique(filled, return_inverse=True)
    return codes.astype(np.int32), tuple(str(u) for u in uniques)


def _points(rec: ProjectionRecord, *, stale: bool | None, n_missing: int = 0) -> MapPoints:
    labels, label_names = _codes(rec.label, NO_LABEL)
    splits, split_names = _codes(rec.split, NO_SPLIT)
    return MapPoints(
        dataset=rec.dataset,
        family=rec.family,
        method=rec.method,
        ids=rec.sample_ids,
        x=rec.x,
        y=rec.y,
        labels=labels,
        label_names=label_names,
        splits=splits,
        split_names=split_names,
        computed_at=rec.computed_at,
        stale=stale,
        n_missing=n_missing,
    )


def _check(family: Any, method: Any) -> tuple[str, str]:
    name = map_family(family if isinstance(family, str) or family is None else "?")
    if method not in MAP_METHODS:
        raise ValidationError(f"unknown map method {method!r}; choose one of {', '.join(MAP_METHODS)}")
    return name, str(method)


class MapService:
    """Similarity maps of the datasets of one store.

    Parameters
    ----------
    store : Store
        The open store.
    samples : SampleService
        Where a hovered clip's name and label come from (its cache is shared).
    params : FeatureParams, optional
        Which parameter set's summaries the maps are made of (default: the defaults).
    """

    def __init__(self, store: Store, samples: SampleService, *, params: FeatureParams | None = None) -> None:
        self._store = store
        self._samples = samples
        self.params = params or FeatureParams()
        self._maps: LRUCache[MapPoints | None] = LRUCache(maxsize=8)
        self._findings: LRUCache[dict[str, npt.NDArray[np.int64]]] = LRUCache(maxsize=4)
        # One update at a time per map: a second caller waits and then reuses the result.
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # -- the points ---------------------------------------------------------------------

    def points(self, dataset: str, *, family: str = ALL, method: str = "pca") -> MapPoints | None:
        """Return the stored map (cached), or None if none is stored yet. Never computes.

        Its ``stale`` flag is None until :meth:`update` has compared it with the summaries.
        """
        name, method = _check(family, method)

        def load() -> MapPoints | None:
            rec = self._store.load_projection(dataset, family=name, method=method)
            return None if rec is None else _points(rec, stale=None)

        return self._maps.get((dataset, name, method), load)

    def update(
        self,
        dataset: str,
        *,
        family: str = ALL,
        method: str = "pca",
        recompute: bool = False,
        progress: Progress | None = None,
    ) -> MapPoints:
        """Bring the map up to date with the stored summaries and return it. Slow: call off the main thread.

        The coordinates are recomputed only when the summaries changed (or with
        ``recompute``); see :func:`~audiosoup_widgets.jobs.projection.project_features`.

        Raises
        ------
        FeatureError
            ``not_computed`` when no summaries are stored (the message names the command).
        ValidationError, NotFoundError, ConfigError
            An unknown family, method or dataset; UMAP without umap-learn.
        """
        name, method = _check(family, method)
        key = (dataset, name, method)
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            result = update_map(
                dataset,
                family=name,
                method=method,
                db=self._store,
                recompute=recompute,
                params=self.params,
                progress=progress,
            )
            points = _points(result.record, stale=False, n_missing=result.n_missing)
            self._maps.put(key, points)
            return points

    def is_current(self, dataset: str, *, family: str = ALL, method: str = "pca") -> bool:
        """Whether the cached map was checked against the summaries (by :meth:`update`) and is current."""
        name, method = _check(family, method)
        key = (dataset, name, method)
        if key not in self._maps:
            return False
        cached = self._maps.get(key, lambda: None)
        return cached is not None and cached.stale is False

    def forget(self, dataset: str | None = None) -> None:
        """Drop cached maps and findings (after edits, or changes made elsewhere).

        Labels and splits are re-read with the map; maps checked before are checked again.
        """
        self._maps.clear()
        self._findings.clear()

    def forget_findings(self, dataset: str) -> None:
        """Read the findings again next time (a QC run may have replaced them)."""
        self._findings.pop(dataset)

    def relabelled(self, points: MapPoints) -> MapPoints:
        """Return ``points`` with their clips' current labels and splits (after edits)."""
        rec = self._store.load_projection(points.dataset, family=points.family, method=points.method)
        if rec is None:
            return points
        fresh = _points(rec, stale=points.stale, n_missing=points.n_missing)
        if not np.array_equal(fresh.ids, points.ids) or rec.computed_at != points.computed_at:
            fresh = replace(fresh, stale=None)  # replaced meanwhile: check it again
        self._maps.put((points.dataset, points.family, points.method), fresh)
        return fresh

    # -- colours ------------------------------------------------------------------------

    def findings(self, dataset: str) -> dict[str, npt.NDArray[np.int64]]:
        """Return the clips of each kind of quality finding of the latest QC run (cached).

        Returns
        -------
        dict of str to ndarray of int64
            Finding kind -> sorted distinct sample ids, kinds in the order the run saved
            them; empty when no QC run is stored.
        """

        def load() -> dict[str, npt.NDArray[np.int64]]:
            found: dict[str, list[int]] = {}
            for f in self._store.list_findings(dataset):
                found.setdefault(f.kind, []).extend(f.sample_ids)
            return {kind: np.unique(np.asarray(ids, dtype=np.int64)) for kind, ids in found.items()}

        return self._findings.get(dataset, load)

    def groups(self, points: MapPoints, by: str, *, limit: int = 12) -> Groups:
        """Split the points into at most ``limit`` colour groups, largest first.

        Parameters
        ----------
        points : MapPoints
        by : {'label', 'split', 'finding'}
            ``finding``: each clip's first finding kind (in the run's order), or
            :data:`NO_FINDING`.
        limit : int
            Most groups; the smallest ones beyond ``limit - 1`` become :data:`OTHERS`.
        """
        if by not in COLOUR_BY:
            raise ValidationError(f"unknown colouring {by!r}; choose one of {', '.join(COLOUR_BY)}")
        if not isinstance(limit, int) or limit < 2:
            raise ValidationError("a map needs at least two colour groups")
        if by == "label":
            codes, names = points.labels, points.label_names
        elif by == "split":
            codes, names = points.splits, points.split_names
        else:
            codes, names = self._finding_codes(points)
        counts = np.bincount(codes, minlength=len(names)) if len(codes) else np.zeros(len(names), np.int64)
        # Largest first, ties by name; "no finding" and the like come last so findings stand out.
        quiet = {NO_FINDING, NO_LABEL, NO_SPLIT}
        order = sorted(range(len(names)), key=lambda i: (names[i] in quiet, -counts[i], names[i]))
        order = [i for i in order if counts[i] > 0]
        if len(order) > limit:
            kept, rest = order[: limit - 1], order[limit - 1 :]
        else:
            kept, rest = order, []
        remap = np.full(len(names), len(kept), np.int32)
        remap[kept] = np.arange(len(kept), dtype=np.int32)
        new_names = [names[i] for i in kept] + ([OTHERS] if rest else [])
        new_counts = [int(counts[i]) for i in kept] + ([int(counts[rest].sum())] if rest else [])
        return Groups(remap[codes] if len(codes) else codes, tuple(new_names), tuple(new_counts))

    def _finding_codes(self, points: MapPoints) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
        kinds = self.findings(points.dataset)
        names = (*kinds, NO_FINDING)
        codes = np.full(len(points.ids), len(kinds), np.int32)
        # Later kinds first, so a clip in several keeps the first one's colour.
        for i, ids in reversed(list(enumerate(kinds.values()))):
            codes[np.isin(points.ids, ids, assume_unique=True)] = i
        return codes, names

    def extent(self, points: MapPoints, *, whole: bool = False) -> Extent:
        """Return the axis ranges that show the map, with a small margin.

        Unless ``whole``, far-off points (more than :data:`FAR` interquartile ranges
        beyond the middle half, on either axis) are left outside when they are at most
        :data:`FAR_SHARE` of the points; ``n_outside`` counts them.
        """
        if not len(points):
            return Extent(-1.0, 1.0, -1.0, 1.0)
        wide = Extent(*_span(points.x, whole=True), *_span(points.y, whole=True))
        if whole:
            return wide
        (x0, x1), (y0, y1) = _span(points.x, whole=False), _span(points.y, whole=False)
        near = (points.x >= x0) & (points.x <= x1) & (points.y >= y0) & (points.y <= y1)
        outside = len(points) - int(np.count_nonzero(near))
        if outside == 0 or outside > FAR_SHARE * len(points):
            return wide
        # Fit the view to the points it keeps (the limits above are only where far begins).
        return Extent(*_span(points.x[near], whole=True), *_span(points.y[near], whole=True), outside)

    # -- pointer and selection ----------------------------------------------------------

    def ids_in(self, points: MapPoints, indices: Any, *, order: Any = None) -> npt.NDArray[np.int64]:
        """Return the sample ids of the points at ``indices`` (a lasso or box selection).

        Parameters
        ----------
        points : MapPoints
        indices : array_like of int
            Positions of points as the plot reports them: a flat array of integers
            in ``[0, len(points))``.
        order : array_like of int, optional
            The order the plot holds the points in (plot position -> position in
            ``points``), when it is not ``points``' own.

        Returns
        -------
        ndarray of int64
            Sorted distinct ids.

        Raises
        ------
        ValidationError
            For anything but a flat array of in-range integer positions.
        """
        array = np.asarray(indices) if indices is not None else np.zeros(0, np.int64)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise ValidationError("a map selection must be a list of point positions")
        if array.size and (int(array.min()) < 0 or int(array.max()) >= len(points)):
            raise ValidationError("a map selection names points that are not on the map")
        positions = array.astype(np.int64)
        if order is not None:
            perm = np.asarray(order, dtype=np.int64)
            if perm.shape != (len(points),):
                raise ValidationError("the plot's order does not match the map")
            positions = perm[positions]
        return np.unique(points.ids[positions])

    def indices_of(self, points: MapPoints, ids: Any) -> npt.NDArray[np.int64]:
        """Return the positions in ``points`` of the sample ids ``ids`` that are on the map."""
        wanted = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        return np.flatnonzero(np.isin(points.ids, wanted))

    def inside(self, points: MapPoints, polygon: Any) -> npt.NDArray[np.int64]:
        """Return the positions of the points inside a lasso, in increasing order.

        Parameters
        ----------
        points : MapPoints
        polygon : array_like, shape (k, 2)
            The lasso's vertices in map coordinates (at least 3, at most
            :data:`MAX_LASSO` of them); it is closed from the last vertex to the first.
            A point inside an odd number of its loops is inside (the even-odd rule).

        Raises
        ------
        ValidationError
            For anything but 3 to :data:`MAX_LASSO` finite (x, y) pairs.
        """
        try:
            poly = np.asarray(polygon, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError("a lasso must be a list of (x, y) points") from None
        if poly.ndim != 2 or poly.shape[1] != 2 or not 3 <= len(poly) <= MAX_LASSO:
            raise ValidationError(f"a lasso must be 3 to {MAX_LASSO:,} (x, y) points")
        if not np.isfinite(poly).all():
            raise ValidationError("a lasso's points must be finite numbers")
        # Only points in the lasso's bounding box can be inside: most of a big map is not.
        box = np.flatnonzero(
            (points.x >= poly[:, 0].min())
            & (points.x <= poly[:, 0].max())
            & (points.y >= poly[:, 1].min())
            & (points.y <= poly[:, 1].max())
        )
        px, py = points.x[box].astype(np.float64), points.y[box].astype(np.float64)
        inside = np.zeros(len(box), dtype=bool)
        x1, y1 = poly[:, 0], poly[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        for ax, ay, bx, by in zip(x1, y1, x2, y2, strict=True):
            if ay == by:
                continue  # a horizontal edge crosses no horizontal ray
            crosses = (ay > py) != (by > py)
            inside ^= crosses & (px < (bx - ax) * (py - ay) / (by - ay) + ax)
        return box[inside].astype(np.int64)

    def nearest(self, points: MapPoints, x: float, y: float, *, rx: float, ry: float) -> int | None:
        """Return the position of the point nearest ``(x, y)`` within the ellipse of radii ``rx``, ``ry``.

        The radii are in data units (the widget converts a few pixels), so the
        distance is measured as the eye sees it whatever the axes' scales.

        Returns
        -------
        int or None
            None when no point is that close.
        """
        values = (x, y, rx, ry)
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values
        ):
            raise ValidationError("invalid pointer position")
        if rx <= 0 or ry <= 0 or not len(points):
            return None
        d = ((points.x - x) / rx) ** 2 + ((points.y - y) / ry) ** 2
        i = int(np.argmin(d))
        return i if d[i] <= 1.0 else None

    def describe(self, dataset: str, sample_id: object) -> tuple[str, str]:
        """Return a clip's file name and label (for the hover readout)."""
        record = self._samples.get(as_sample_id(sample_id), dataset=dataset)
        return record.file_name, record.label or NO_LABEL
