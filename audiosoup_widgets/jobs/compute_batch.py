"""One batch of feature work: decode, compute in bounded memory, and the summary rows.

This module owns what a worker does with one batch of samples, short of writing to
the database (:func:`audiosoup_widgets.jobs.compute.process_batch` does that):

* **Inside the dataset.** Files are decoded with the dataset folder as ``root``, as
  at ingest: a stored path that now resolves outside it (a swapped symlink) fails.
* **Bounded memory.** Each file is decoded one segment at a time
  (:func:`~audiosoup_widgets.audio.decode_segments`). A clip that fits in one segment
  is stacked with clips of the same rate and length, as before; stacks are computed
  in sub-batches of at most one segment's worth of samples, so a batch of long-ish
  clips costs no more than one segment. A clip longer than a segment is analysed
  segment by segment and its summaries combined exactly
  (:mod:`audiosoup_widgets.features.segments`).
* **One bad clip costs one clip.** A clip that cannot be decoded, or whose samples
  are NaN, infinite or far beyond full scale (engine statuses ``non_finite`` and
  ``out_of_range``), is a failure with a reason. If computing a stack raises anything
  at all, its clips are computed one by one, so only the clip that raises fails, with
  its reason in one line (details in the log).

A failure becomes one :class:`~audiosoup_widgets.store.SummaryRecord` per feature
without values and with the reason as status, so reruns skip it until asked to retry.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudiosoupError
from ..store.summaries import SummaryRecord

if TYPE_CHECKING:  # pragma: no cover
    from ..audio import Segment

log = logging.getLogger(__name__)

HOLD_SEGMENTS = 4
"""Segments' worth of decoded short clips held before their stacks are computed."""

UNEXPECTED = "engine_error"
"""Reason of a clip whose computation raised something other than a known error."""


@dataclass
class BatchOutcome:
    """What one batch produced.

    Attributes
    ----------
    summaries : list of SummaryRecord
        Ready for :meth:`~audiosoup_widgets.store.Store.save_summaries`.
    done : int
        Samples whose summaries were computed.
    failures : list of (sample_id, reason, message)
        Samples not computed; ``message`` is one plain line.
    segmented : list of int
        Samples analysed in segments (longer than one segment).
    """

    summaries: list[SummaryRecord] = field(default_factory=list)
    done: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    segmented: list[int] = field(default_factory=list)


def not_computed_message(status: str, y: np.ndarray | None = None, *, peak: float | None = None) -> str:
    """Return the one-line reason shown for a clip the engine did not compute."""
    from ..features.params import MAX_PEAK

    if status == "out_of_range":
        if peak is None and y is not None:
            finite = np.isfinite(y)
            peak = float(np.abs(np.where(finite, y, 0.0)).max(initial=0.0))
        reach = f"reach {peak:.3g}" if peak is not None else "exceed it"
        return f"samples {reach}, beyond {MAX_PEAK:.3g} (full scale is 1.0); features not computed"
    return "NaN or infinite samples; features not computed"


def one_line(exc: BaseException) -> tuple[str, str]:
    """Return ``(reason, message)`` for an exception raised while computing a clip."""
    if isinstance(exc, AudiosoupError):
        return exc.code or "error", exc.message
    text = str(exc).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return UNEXPECTED, f"{type(exc).__name__}{detail}"[:200]


# A clip's status, then its summaries and frame counts by feature (None if not computed).
_Computed = tuple[str, dict[str, np.ndarray] | None, dict[str, int] | None]


class _Batch:
    """Rows and failures of one batch, and the stacks of short clips waiting to run."""

    def __init__(self, names: Sequence[str], params: dict[str, Any], root: str | None) -> None:
        from ..features.params import FeatureParams
        from ..features.segments import segment_bounds, segment_samples

        self.names = list(names)
        self.root = root
        self.fp = FeatureParams(**params)
        self.keys = {n: self.fp.key_for(n) for n in self.names}
        self.size = segment_samples(self.fp)
        self.plan = functools.partial(segment_bounds, params=self.fp)
        self.out = BatchOutcome()
        self.groups: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = defaultdict(list)
        self.held = 0

    # -- outcomes ---------------------------------------------------------------------
    def fail(self, sid: int, reason: str, message: str) -> None:
        self.out.failures.append((sid, reason, message))
        self.out.summaries += [SummaryRecord(sid, name, self.keys[name], reason) for name in self.names]

    def store(self, sid: int, status: str, summaries: dict[str, np.ndarray], frames: dict[str, int]) -> None:
        self.out.done += 1
        self.out.summaries += [
            SummaryRecord(sid, name, self.keys[name], status, summaries[name], int(frames[name]))
            for name in self.names
        ]

    # -- one file ---------------------------------------------------------------------
    def add_file(self, sid: int, path: str) -> None:
        from ..audio import decode_segments
        from ..config import clip_root
        from ..errors import DecodeError

        try:
            # A derived (augmented) clip lives in the data folder, not the dataset's.
            root = clip_root(path, self.root) if self.root is not None else None
            segments = decode_segments(path, self.plan, root=root)
            first = next(segments)
            if first.last:
                y = first.samples
                self.groups[(first.info.sample_rate, len(y))].append((sid, y))
                self.held += len(y)
                if self.held > HOLD_SEGMENTS * self.size:
                    self.flush()
                return
            self._long(sid, first, segments)
        except DecodeError as exc:
            self.fail(sid, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - one bad clip must cost one clip
            log.warning("features of sample %s failed", sid, exc_info=True)
            self.fail(sid, *one_line(exc))

    def _long(self, sid: int, first: Segment, rest: Iterator[Segment]) -> None:
        from ..features.params import NOT_COMPUTED
        from ..features.segments import summarize_segments

        def samples() -> Iterator[np.ndarray]:
            yield first.samples
            for segment in rest:
                yield segment.samples

        self.out.segmented.append(sid)
        result = summarize_segments(samples(), first.info.sample_rate, self.names, params=self.fp)
        if result.status in NOT_COMPUTED:
            self.fail(sid, result.status, not_computed_message(result.status, peak=result.peak))
        else:
            self.store(sid, result.status, result.summaries, result.frames)

    # -- stacks of short clips --------------------------------------------------------
    def flush(self) -> None:
        for (sr, n), items in self.groups.items():
            # Sub-batches of at most one segment's worth of samples bound the memory.
            per = max(1, self.size // max(n, 1))
            for start in range(0, len(items), per):
                self._stack(sr, items[start : start + per])
        self.groups.clear()
        self.held = 0

    def _stack(self, sr: int, items: list[tuple[int, np.ndarray]]) -> None:
        try:
            results = self._compute(sr, items)
        except Exception as exc:  # noqa: BLE001 - fall back to one clip at a time
            if len(items) == 1:
                log.warning("features of sample %s failed", items[0][0], exc_info=True)
                self.fail(items[0][0], *one_line(exc))
                return
            log.info(
                "a stack of %d clips failed (%s); computing them one by one", len(items), one_line(exc)[1]
            )
            for item in items:
                self._stack(sr, [item])
            return
        for (sid, y), (status, summaries, frames) in zip(items, results, strict=True):
            if summaries is None:
                self.fail(sid, status, not_computed_message(status, y))
            else:
                self.store(sid, status, summaries, frames or {})

    def _compute(self, sr: int, items: list[tuple[int, np.ndarray]]) -> list[_Computed]:
        from ..features.batch import RAGGED
        from ..features.engine import compute_features_with_status, unpad
        from ..features.params import NOT_COMPUTED
        from ..features.summaries import summarize

        result = compute_features_with_status(np.stack([y for _, y in items]), sr, self.names, params=self.fp)
        values, statuses = result.values, result.status
        summaries = summarize(values)
        out: list[_Computed] = []
        for i, status in enumerate(statuses):
            if status in NOT_COMPUTED:
                out.append((status, None, None))
                continue
            frames: dict[str, int] = {}
            for name in self.names:
                # Ragged features are NaN-padded on the right in a batch: count each
                # clip's own columns.
                frames[name] = unpad(values[name][i]).shape[-1] if name in RAGGED else values[name].shape[-1]
            out.append((status, {name: summaries[name][i] for name in self.names}, frames))
        return out


def compute_batch(
    batch: Sequence[tuple[int, str]], names: Sequence[str], params: dict[str, Any], *, root: str | None = None
) -> BatchOutcome:
    """Decode and compute the summaries of one batch of samples, in bounded memory.

    Parameters
    ----------
    batch : sequence of (sample_id, file)
        The samples to compute.
    names : sequence of str
        Feature ids.
    params : dict
        :class:`~audiosoup_widgets.features.params.FeatureParams` fields.
    root : str, optional
        The dataset folder every file must resolve inside (``None``: no check).

    Returns
    -------
    BatchOutcome
        Summaries of every sample of the batch (failed ones included), and counts.
    """
    work = _Batch(names, params, root)
    for sid, path in batch:
        work.add_file(sid, path)
    work.flush()
    return work.out
