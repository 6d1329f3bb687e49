"""Dataset-wide feature work: compute summaries (locally or on Dask), pull them into pandas, export.

This is where the pure engine (:mod:`audiosoup_widgets.features`), the decoder
(:mod:`audiosoup_widgets.audio`) and the store meet. Each batch of clips is
decoded, computed and written by the worker that runs it, so the coordinating
process only hands out sample ids and counts what comes back.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shlex
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import AudiosoupError, ConfigError, FeatureError
from .terminal import one_line
from .workerpool import WorkerCrashError

log = logging.getLogger(__name__)

BATCH = 64


@dataclass
class ComputeReport:
    """What ``features compute`` did.

    ``known_bad`` counts, by reason, the samples skipped because an earlier run
    recorded a failure for them (``retry_failed`` computes them again); ``segmented``
    is the number of clips longer than ``segment_samples`` samples, which are analysed
    in segments (see :mod:`audiosoup_widgets.features.segments`).
    """

    dataset: str
    features: list[str]
    todo: int = 0
    done: int = 0
    already: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    scheduler: str = "processes"
    notes: list[str] = field(default_factory=list)
    known_bad: dict[str, int] = field(default_factory=dict)
    segmented: int = 0
    segment_samples: int = 0
    segment_rate: int = 0

    @property
    def clips_per_s(self) -> float:
        """Samples computed per second of wall time."""
        return self.done / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """Return the human summary printed at the end."""
        lines = [f"features for {self.dataset!r}: {self.done} computed, {self.already} already up "
                 f"to date, {len(self.failed)} failed  [{self.seconds:.1f} s, "
                 f"{self.clips_per_s:.0f} clips/s, {self.scheduler}]"]
        lines += [f"  {f['reason']}  {one_line(f['path'])}: {one_line(f['message'])}"
                  for f in self.failed]
        if self.segmented:
            size, sr = self.segment_samples, self.segment_rate
            lines.append(f"  {self.segmented} {_plural(self.segmented, 'clip')} longer than "
                         f"{size:,} samples ({size / sr:.0f} s at {sr:g} Hz) analysed in "
                         "segments: summaries over all frames of all segments")
        if self.known_bad:
            n = sum(self.known_bad.values())
            reasons = ", ".join(f"{r} {c}" for r, c in sorted(self.known_bad.items()))
            lines.append(f"  {n} known-bad {_plural(n, 'clip')} skipped ({reasons}); "
                         f"--retry-failed tries {'it' if n == 1 else 'them'} again")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _params(params: Any = None):
    from .features.params import FeatureParams

    if params is None:
        return FeatureParams()
    if isinstance(params, dict):
        return FeatureParams(**params)
    return params


def _names(features: Sequence[str] | None) -> list[str]:
    from .features.registry import FEATURES, get_feature

    if not features:
        return list(FEATURES)
    return [get_feature(f).id for f in features]


def process_batch(url: str, batch: Sequence[tuple[int, str]], names: Sequence[str],
                  params: dict[str, Any]) -> tuple[int, list[tuple[int, str, str]]]:
    """Decode, compute and store the summaries of one batch of samples.

    Runs in a worker process or on a Dask worker; it opens its own connection. Memory
    is bounded whatever the files (long ones are analysed in segments), and a clip
    that cannot be analysed costs that clip only (see
    :mod:`audiosoup_widgets.compute_batch`).

    Parameters
    ----------
    url : str
        Database URL.
    batch : sequence of (sample_id, file)
        The samples to compute.
    names : sequence of str
        Feature ids.
    params : dict
        :class:`~audiosoup_widgets.features.params.FeatureParams` fields.

    Returns
    -------
    n_done : int
        Samples whose summaries were written.
    failures : list of (sample_id, reason, message)
        Samples not computed; each still gets a row per feature (``n_rows = 0``, the
        reason as status), so it is reported instead of retried on every run.
    """
    from .compute_batch import compute_batch
    from .store import Store

    outcome = compute_batch(batch, names, params)
    # One engine per process and URL, so batches reuse a pooled connection; keyed by
    # pid because a forked child must never use its parent's sockets.
    key = (os.getpid(), url)
    store = _WORKER_STORES.get(key)
    if store is None:
        store = _WORKER_STORES[key] = Store(url)
    store.write_summaries(outcome.rows)
    return outcome.done, outcome.failures


_WORKER_STORES: dict[tuple[int, str], Any] = {}


def compute_dataset(store, dataset: str, *, features: Sequence[str] | None = None,
                    params: Any = None, workers: int | None = None,
                    scheduler: str | None = None, force: bool = False, batch_size: int = BATCH,
                    progress: Callable[[int, int], None] | None = None,
                    retry_failed: bool = False) -> ComputeReport:
    """Compute and store feature summaries for every sample of a dataset that lacks them.

    Parameters
    ----------
    store : Store
        The store holding the dataset.
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: all).
    params : FeatureParams or dict, optional
        Engine parameters; a changed parameter makes exactly the features it
        affects stale, and only those are recomputed.
    workers : int, optional
        Worker processes (default: one per core).
    scheduler : str, optional
        ``None`` for local processes, ``"local"`` for a Dask ``LocalCluster``,
        or the address of a running Dask scheduler.
    force : bool
        Recompute samples that are already done.
    batch_size : int
        Samples per task (a clip longer than one segment gets a task of its own).
    progress : callable, optional
        ``progress(done, total)`` after each batch.
    retry_failed : bool
        Also recompute samples whose earlier run recorded a failure (a file that
        could not be decoded, samples NaN or far beyond full scale, an engine
        error); by default they are skipped and counted in ``known_bad``.

    Returns
    -------
    ComputeReport
    """
    import time

    t0 = time.perf_counter()
    names = _names(features)
    fp = _params(params)
    store.get_dataset(dataset)
    if force:
        store.clear_summaries(dataset, names)
    keys = {n: fp.key_for(n) for n in names}
    todo = store.samples_needing(dataset, keys, retry_failed=retry_failed)
    total = store.get_dataset(dataset).n_samples
    pending = {t[0] for t in todo}
    known_bad: dict[str, int] = defaultdict(int)
    if not retry_failed:
        for sid, reason in store.failed_samples(dataset, keys):
            if sid not in pending:
                known_bad[reason] += 1
    report = ComputeReport(dataset=dataset, features=names, todo=len(todo),
                           already=total - len(todo) - sum(known_bad.values()),
                           scheduler="processes" if scheduler is None else f"dask:{scheduler}",
                           known_bad=dict(known_bad))
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be 1 or more")
    workers = workers or os.cpu_count() or 1
    batches = _plan_batches(todo, fp, batch_size, report)
    paths = {sid: path for sid, path, _sr, _n in todo}
    pdict = fp.as_dict()
    done = 0

    def collect(n_ok: int, fails: list[tuple[int, str, str]], n_batch: int) -> None:
        nonlocal done
        report.done += n_ok
        report.failed += [{"path": paths.get(sid, str(sid)), "reason": r, "message": m}
                          for sid, r, m in fails]
        done += n_batch
        if progress is not None:
            progress(done, len(todo))

    if progress is not None:
        progress(0, len(todo))
    if batches:
        try:
            if scheduler is None:
                _run_processes(store.url, batches, names, pdict, workers, collect, report)
            else:
                _run_dask(store.url, batches, names, pdict, workers, scheduler, collect)
        except WorkerCrashError as exc:
            raise WorkerCrashError(
                f"{exc.message} ({report.done} clips were computed and kept; the rest "
                "resume where this run stopped)") from exc
    report.seconds = time.perf_counter() - t0
    return report


def _plan_batches(todo: list[tuple[int, str, int, int]], fp, batch_size: int,
                  report: ComputeReport) -> list[list[tuple[int, str]]]:
    """Cut the samples to compute into tasks; note the long clips in ``report``."""
    from .features.segments import segment_samples

    size = segment_samples(fp)
    long = [t for t in todo if t[3] > size]
    short = [t for t in todo if t[3] <= size]
    # Similar lengths in one batch let the engine stack clips; sort by rate then id.
    short.sort(key=lambda t: (t[2], t[0]))
    batches = [[(sid, path) for sid, path, _sr, _n in short[i:i + batch_size]]
               for i in range(0, len(short), batch_size)]
    # A long clip takes minutes: a task of its own spreads long clips over the workers.
    batches += [[(sid, path)] for sid, path, _sr, _n in long]
    report.segmented, report.segment_samples = len(long), size
    report.segment_rate = long[0][2] if long else 0
    return batches


def _batch_task(batch: Sequence[tuple[int, str]], url: str, names: Sequence[str],
                params: dict[str, Any]) -> tuple[int, list[tuple[int, str, str]]]:
    """Run :func:`process_batch` in a worker (the pool passes the batch first)."""
    return process_batch(url, batch, names, params)


def _run_processes(url, batches, names, pdict, workers, collect, report) -> None:
    from .features.engine import warm_up
    from .features.params import FeatureParams
    from .workerpool import run_local

    def on_result(result: tuple[int, list[tuple[int, str, str]]], batch: Sequence[Any]) -> None:
        collect(result[0], result[1], len(batch))

    if workers == 1:
        for b in batches:
            on_result(process_batch(url, b, names, pdict), b)
        return
    # Warm the engine (numba code, filter banks) once here, then fork: the workers
    # inherit it instead of each loading it again.
    warm_up(params=FeatureParams(**pdict))
    deaths = run_local(_batch_task, batches, args=(url, list(names), pdict), workers=workers,
                       on_result=on_result)
    report.notes += [f"{d.describe()}; its {d.batches} unfinished batches were run again"
                     for d in deaths]


def _run_dask(url, batches, names, pdict, workers, scheduler, collect) -> None:
    from .features.engine import warm_up
    from .features.params import FeatureParams
    from .workerpool import run_dask

    run_dask(_batch_task, batches, args=(url, list(names), pdict), workers=workers,
             scheduler=scheduler, warm=lambda: warm_up(params=FeatureParams(**pdict)),
             on_result=lambda result, batch: collect(result[0], result[1], len(batch)))


def feature_frame(dataset: str, features: Sequence[str] | None = None, *, db: Any = None,
                  label: str | None = None, split: str | None = None, params: Any = None):
    """Return the stored feature summaries of a dataset as a pandas DataFrame.

    Parameters
    ----------
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: all).
    db : str or Store, optional
        Database URL or an open store (default: the configured store).
    label, split : str, optional
        Keep only samples with this label or in this split.
    params : FeatureParams or dict, optional
        Which parameter set's summaries to read (default: the defaults).

    Returns
    -------
    pandas.DataFrame
        One row per sample: ``sample_id``, ``path``, ``label``, ``split``, then
        one float32 column per summary value named ``<feature>_<stat>_<index>``
        (``stat`` is ``mean`` or ``std`` over time). Samples not computed yet
        have NaN.

    Raises
    ------
    FeatureError
        ``not_computed`` if the dataset has samples but no stored summaries of
        a requested feature; the message names the command to run.
    """
    import pandas as pd

    from .features.summaries import summary_columns

    store = _store(db)
    names = _names(features)
    fp = _params(params)
    base = store.sample_table(dataset, label=label, split=split)
    ids = np.fromiter((r[0] for r in base), np.int64, len(base))
    frame = pd.DataFrame({
        "sample_id": ids,
        "path": pd.array([r[1] for r in base], dtype="string"),
        "label": pd.array([r[2] for r in base], dtype="string"),
        "split": pd.array([r[3] for r in base], dtype="string"),
    })
    pos = pd.Index(ids)
    blocks = []
    missing = []
    for name in names:
        fids, values = store.summary_matrix(dataset, name, fp.key_for(name), label=label,
                                            split=split)
        if values.size == 0:
            missing.append(name)
            continue
        cols = summary_columns(name, values.shape[1] // 2)
        full = np.full((len(ids), values.shape[1]), np.nan, np.float32)
        idx = pos.get_indexer(fids)
        keep = idx >= 0
        full[idx[keep]] = values[keep]
        blocks.append(pd.DataFrame(full, columns=cols))
    if missing and len(ids):
        # Rows without feature columns look like success; say what to run instead.
        every = set(missing) == set(_names(None))
        what = "feature summaries" if every else f"summaries of {', '.join(missing)}"
        which = "" if every else f" --features {','.join(missing)}"
        params_note = "" if fp == _params(None) else " (with the same --param values)"
        raise FeatureError(
            f"no {what} are stored for {dataset!r} yet; run: audiosoup features compute "
            f"--dataset {shlex.quote(dataset)}{which}{params_note}", code="not_computed")
    if blocks:
        frame = pd.concat([frame, *blocks], axis=1)
    return frame


def _store(db: Any):
    from .store import Store, connect

    return db if isinstance(db, Store) else connect(db)


def provenance(dataset: str, names: Sequence[str], fp, *, full: bool,
               filters: dict[str, Any]) -> dict[str, Any]:
    """Describe an export: parameters, versions, time, selection."""
    import librosa

    from . import __version__

    return {
        "dataset": dataset,
        "features": list(names),
        "content": "full matrices" if full else "summaries (mean and std over time per row)",
        **_analysis(full),
        "parameters": fp.as_dict(),
        "param_keys": {n: fp.key_for(n) for n in names},
        "librosa_version": librosa.__version__,
        "audiosoup_version": __version__,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "filters": {k: v for k, v in filters.items() if v is not None},
        "labels": "each sample's label at export time",
    }


def export_features(dataset: str, features: Sequence[str] | None = None, *, fmt: str,
                    output: str | os.PathLike[str], db: Any = None, label: str | None = None,
                    split: str | None = None, full: bool = False, params: Any = None,
                    sample_ids: Sequence[int] | None = None) -> int:
    """Write selected samples' features to a file; return the number of records.

    Parameters
    ----------
    dataset : str
        Dataset name.
    features : sequence of str, optional
        Feature ids (default: all).
    fmt : str
        ``csv``, ``yaml``, ``json``, ``txt`` or ``parquet``.
    output : path-like
        File to write (replaced atomically). A ``csv`` or ``txt`` file holds the
        records alone (``pandas.read_csv`` reads it); its provenance goes beside it
        in ``<output>.provenance.json`` (see :mod:`audiosoup_widgets.features.export`).
    db : str or Store, optional
        Database URL or open store.
    label, split : str, optional
        Keep only samples with this label or in this split.
    full : bool
        Full matrices (shape and values) instead of summaries; computed from
        the audio on demand.
    params : FeatureParams or dict, optional
        Engine parameters.
    sample_ids : sequence of int, optional
        Export only these samples.
    """
    from .features.export import FORMATS, write_export

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    store = _store(db)
    names = _names(features)
    fp = _params(params)
    records = (_full_records(store, dataset, names, fp, label, split, sample_ids) if full
               else _summary_records(store, dataset, names, fp, label, split, sample_ids))
    prov = provenance(dataset, names, fp, full=full,
                      filters={"label": label, "split": split})
    write_export(records, provenance=prov, fmt=fmt, path=output)
    return len(records)


def _summary_records(store, dataset, names, fp, label, split, sample_ids):
    frame = feature_frame(dataset, names, db=store, label=label, split=split, params=fp)
    if sample_ids is not None:
        frame = frame[frame["sample_id"].isin(list(sample_ids))]
    records = []
    value_cols = [c for c in frame.columns if c not in ("sample_id", "path", "label", "split")]
    meta = frame[["sample_id", "path", "label", "split"]].astype(object).where(
        frame[["sample_id", "path", "label", "split"]].notna(), None)
    values = frame[value_cols].to_numpy(dtype=np.float64)
    for i, (sid, path, lab, spl) in enumerate(meta.itertuples(index=False)):
        rec = {"sample_id": int(sid), "path": path, "label": lab, "split": spl}
        rec.update({c: (None if np.isnan(v) else float(v)) for c, v in zip(value_cols, values[i],
                                                                            strict=True)})
        records.append(rec)
    return records


def _analysis(full: bool) -> dict[str, Any]:
    """Say which part of each clip an export's values come from (for its provenance)."""
    from .features.segments import SEGMENT_SAMPLES
    from .services import MAX_FEATURE_SECONDS

    if full:
        return {"analysis_window_seconds": MAX_FEATURE_SECONDS,
                "analysis": f"full matrices of the first {MAX_FEATURE_SECONDS:g} s of each clip, "
                            "as in the dashboard; longer clips are cut (see analysed_seconds)"}
    return {"analysis": "summaries over all frames of each clip; clips longer than "
                        f"{SEGMENT_SAMPLES:,} samples (with default parameters) are analysed "
                        "in segments and their frames combined"}


def _full_records(store, dataset, names, fp, label, split, sample_ids):
    # Full matrices of a long file would not fit in memory (a 2-hour file's power
    # spectrogram alone is 2 GB as floats, many times that as records): analyse the
    # dashboard's window, the first MAX_FEATURE_SECONDS of each clip.
    from .audio import decode
    from .features.engine import compute_features
    from .services import MAX_FEATURE_SECONDS

    rows = store.sample_table(dataset, label=label, split=split)
    if sample_ids is not None:
        wanted = set(sample_ids)
        rows = [r for r in rows if r[0] in wanted]
    records = []
    for sid, path, lab, spl in rows:
        rec: dict[str, Any] = {"sample_id": sid, "path": path, "label": lab, "split": spl}
        try:
            y, sr = decode(store.sample_file(sid), mono=True, duration=MAX_FEATURE_SECONDS)
            rec["analysed_seconds"] = len(y) / sr
            values = compute_features(y, sr, names, params=fp)
        except (FeatureError, AudiosoupError) as exc:
            rec["error"] = exc.message
            records.append(rec)
            continue
        for name in names:
            arr = np.abs(values[name]) if np.iscomplexobj(values[name]) else values[name]
            rec[name] = {"shape": list(arr.shape), "values": arr.astype(float).tolist()}
        records.append(rec)
    return records
