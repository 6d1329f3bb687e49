"""Ingest: discover a dataset's files, decode them in worker processes, bulk insert, report.

Each file is decoded once (:func:`~audiosoup_widgets.audio.analysis.analyse_file`):
its hash, peaks, levels, flags and quality measures come from that one pass and are
stored with its row, the measures with their
:data:`~audiosoup_widgets.audio.quality.QUALITY_VERSION` (clips stored before are
measured by :func:`~audiosoup_widgets.jobs.quality.backfill_quality`).

A load is idempotent and resumable: files already stored (same dataset and
relative path) are not decoded again, and every batch is committed as it
completes, so a killed run loses at most one batch of work.

Every candidate ends as loaded, already stored or skipped with a reason: a
manifest row that cannot be used (see :mod:`~audiosoup_widgets.layouts`)
and a label, speaker or text the store cannot keep as given (too long, a NUL, a
control character in a name) are skipped rows like undecodable files, on every
database alike, so one bad row never stops a load.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..audio import QUALITY_VERSION, Analysis, Limits, encode_peaks
from ..errors import ConfigError, DecodeError
from ..layouts import Candidate, discover
from ..store.insight import quality_values
from ..store.models import MAX_NAME, MAX_TEXT
from ..terminal import one_line
from .decodepool import analyse_many

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

BATCH = 500


@dataclass
class LoadReport:
    """What a load run did: counts, then each skipped file with its reason."""

    dataset: str
    root: str
    layout: str
    run_id: int | None = None
    found: int = 0
    loaded: int = 0
    existing: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def clips_per_s(self) -> float:
        """Files decoded and stored per second of wall time."""
        return self.loaded / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form written by ``--report``."""
        out = asdict(self)
        out["clips_per_s"] = round(self.clips_per_s, 1)
        out["seconds"] = round(self.seconds, 3)
        return out

    def summary(self) -> str:
        """Return the human summary printed at the end of a load."""
        lines = [
            f"dataset {self.dataset!r} ({self.layout}) from {one_line(self.root)}",
            f"  found {self.found} files: {self.loaded} loaded, {self.existing} already stored, "
            f"{len(self.skipped)} skipped  [{self.seconds:.1f} s, {self.clips_per_s:.0f} clips/s]",
        ]
        if self.skipped:
            lines.append("skipped:")
            width = max(len(s["reason"]) for s in self.skipped)
            # One skipped file per line, whatever its name holds.
            lines += [
                f"  {s['reason']:<{width}}  {one_line(s['path'])}: {one_line(s['message'])}"
                for s in self.skipped
            ]
        return "\n".join(lines)


def _text_path(rel: str) -> tuple[str, bytes | None]:
    """Return a storable text form of a relative path, and its raw bytes if they differ."""
    raw = os.fsencode(rel)
    text = raw.decode("utf-8", "backslashreplace")
    return text, (raw if text != rel else None)


def _storable_names(cand: Candidate) -> Candidate:
    """Show undecodable bytes of a folder-derived label or speaker escaped, as paths are.

    A folder named with bytes that are not UTF-8 gives a label holding surrogate
    escapes, which no database driver can encode.
    """
    fixed = {
        k: _text_path(v)[0]
        for k, v in (("label", cand.label), ("speaker", cand.speaker))
        if v is not None and not v.isprintable() and _text_path(v)[1] is not None
    }
    if not fixed:
        return cand
    return replace(cand, label=fixed.get("label", cand.label), speaker=fixed.get("speaker", cand.speaker))


def _field_problem(cand: Candidate) -> tuple[str, str] | None:
    """Say why the store cannot keep a candidate's label, speaker or text as given."""
    for name, value, limit, names_only in (
        ("label", cand.label, MAX_NAME, True),
        ("speaker", cand.speaker, MAX_NAME, True),
        ("text", cand.text, MAX_TEXT, False),
    ):
        if value is None:
            continue
        # PostgreSQL text cannot hold NUL; names are one line, as the editor requires.
        if "\x00" in value:
            return "invalid_character", f"{name} contains a NUL character"
        if names_only and any(ord(c) < 32 for c in value):
            return "invalid_character", f"{name} contains a control character"
        if len(value) > limit:
            return "field_too_long", (f"{name} is {len(value)} characters long; at most {limit} are stored")
    return None


def load_dataset(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    layout: str = "auto",
    source_url: str | None = None,
    workers: int | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load a folder (or manifest) of audio into ``store`` as dataset ``dataset``.

    Parameters
    ----------
    store : Store
        The target store.
    path : path-like
        Dataset folder or manifest CSV.
    dataset : str
        Dataset name (created if new).
    layout : str
        ``auto``, ``folders``, ``speech-commands`` or ``manifest``.
    source_url : str, optional
        Where the data came from (kept with the dataset).
    workers : int, optional
        Decoder processes (default: one per core).
    limits : Limits, optional
        Size, length and time limits per file.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file.

    Returns
    -------
    LoadReport
    """
    t0 = time.perf_counter()
    dataset = _dataset_name(dataset)
    root, layout, cands = discover(path, layout)
    return load_candidates(
        store,
        root,
        cands,
        dataset=dataset,
        layout=layout,
        source_url=source_url,
        workers=workers,
        limits=limits,
        progress=progress,
        started=t0,
    )


def _dataset_name(dataset: str) -> str:
    dataset = (dataset or "").strip()
    if not dataset or len(dataset) > MAX_NAME:
        raise ConfigError(f"dataset name must be 1 to {MAX_NAME} characters")
    if any(ord(c) < 32 for c in dataset):
        raise ConfigError("dataset name cannot contain control characters")
    return dataset


def load_candidates(
    store: Store,
    root: str,
    cands: list[Candidate],
    *,
    dataset: str,
    layout: str,
    source_url: str | None = None,
    workers: int | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
    started: float | None = None,
) -> LoadReport:
    """Load candidates found under ``root`` (by a layout, or listed in a table) as ``dataset``.

    :func:`load_dataset` after discovery; the parameters are its own, with the
    ``root`` and the ``layout`` name the candidates came from.
    """
    t0 = time.perf_counter() if started is None else started
    dataset = _dataset_name(dataset)
    limits = limits or Limits()
    ds_id = store.ensure_dataset(dataset, root=root, layout=layout, source_url=source_url)
    stored_root = store.dataset_root(dataset)
    if os.path.normpath(stored_root) != os.path.normpath(root):
        raise ConfigError(
            f"dataset {dataset!r} was loaded from {stored_root}; choose another name for a different folder"
        )
    report = LoadReport(dataset=dataset, root=root, layout=layout, found=len(cands))
    existing = store.existing_paths(ds_id)
    todo: list[Candidate] = []
    failures: list[tuple[str, str, str]] = []
    for c in cands:
        c = _storable_names(c)
        problem = c.problem or _field_problem(c)
        if problem is not None:
            failures.append((_text_path(c.relpath)[0], *problem))
        elif _text_path(c.relpath)[0] in existing:
            report.existing += 1
        else:
            todo.append(c)
    label_ids = store.ensure_labels(ds_id, {c.label for c in todo if c.label})
    known_hashes = store.dataset_hashes(ds_id) if todo else set()
    run_id = store.start_load_run(ds_id, root=root, layout=layout, n_found=len(cands))
    report.run_id = run_id
    by_path = {c.abspath(root): c for c in todo}
    rows: list[dict[str, Any]] = []
    status = "failed"
    done = 0
    try:
        for abspath, result in analyse_many(list(by_path), root=root, limits=limits, workers=workers):
            cand = by_path[abspath]
            done += 1
            if isinstance(result, DecodeError):
                failures.append((_text_path(cand.relpath)[0], result.code, result.message))
            else:
                rows.append(_row(ds_id, run_id, cand, result, label_ids, known_hashes))
            if len(rows) >= BATCH:
                report.loaded += store.insert_samples(rows)
                rows.clear()
            if progress is not None:
                progress(done, len(by_path))
        report.loaded += store.insert_samples(rows)
        status = "completed"
    finally:
        store.record_failures(run_id, failures)
        report.skipped = [{"path": p, "reason": r, "message": m} for p, r, m in failures]
        report.seconds = time.perf_counter() - t0
        store.finish_load_run(
            run_id, status=status, n_loaded=report.loaded, n_existing=report.existing, n_skipped=len(failures)
        )
    return report


def _row(
    ds_id: int, run_id: int, cand: Candidate, a: Analysis, label_ids: dict[str, int], known_hashes: set[str]
) -> dict[str, Any]:
    text_path, raw = _text_path(cand.relpath)
    flags = list(a.flags)
    if a.sha256 in known_hashes:
        # Same bytes as another sample: kept (nothing is dropped silently) but flagged.
        flags.append("duplicate")
    known_hashes.add(a.sha256)
    info = a.info
    return {
        "dataset_id": ds_id,
        "label_id": label_ids.get(cand.label) if cand.label else None,
        "path": text_path,
        "path_bytes": raw,
        "content_hash": a.sha256,
        "format": info.format,
        "subtype": info.subtype,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "frames": info.frames,
        "duration": info.duration,
        "split": cand.split,
        "speaker": cand.speaker,
        "text": cand.text,
        "meta": {},
        "status": "flagged" if flags else "ok",
        "flags": flags,
        "peaks": encode_peaks(a.peaks),
        "peak_abs": a.peak_abs,
        "load_run_id": run_id,
        # rms_db is among them: the measures' rms_dbfs, which is a.rms_db.
        **quality_values(a.quality.as_row()),
        "quality_version": QUALITY_VERSION,
    }


def load_frame(
    store: Store,
    frame: Any,
    *,
    audio: str = "path",
    label: str | None = "label",
    split: str | None = None,
    text: str | None = None,
    speaker: str | None = None,
    dataset: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load the audio files a pandas DataFrame lists, with their labels, as one dataset.

    Parameters
    ----------
    store : Store
        The target store.
    frame : pandas.DataFrame
        One row per clip.
    audio : str
        The column of file paths (absolute, or relative to the working folder).
    label, split, text, speaker : str, optional
        The columns holding them; None for none. A missing value (NaN, None, an
        empty text) is no value; a split is ``train``, ``validation`` (or ``val``)
        or ``test``.
    dataset : str, optional
        Dataset name; by default one derived from the folder holding every file,
        so loading the same table again finds the dataset it made.
    workers : int, optional
        Decoder processes (default: one per core).
    progress : callable, optional
        Called as ``progress(done, total)`` after each file.

    Returns
    -------
    LoadReport
        As :func:`load_dataset`'s: a file that is missing or cannot be decoded, a
        row without a path or a path listed twice costs its row, reported in
        ``skipped``. Rows already stored are not read again (a reload keeps what
        review changed since).

    Raises
    ------
    ConfigError
        If a named column is missing from ``frame`` or no row names a file.
    """
    import hashlib

    from ..layouts import listed

    columns = {"path": audio, "label": label, "split": split, "text": text, "speaker": speaker}
    wanted = {key: col for key, col in columns.items() if col is not None}
    for key, col in wanted.items():
        if col not in frame.columns:
            given = "audio" if key == "path" else key
            none = "" if key == "path" else f"; {key}=None for none"
            raise ConfigError(f"the table has no column {col!r} (given as {given}={none})")
    table = frame[list(wanted.values())]
    table = table.astype(object).where(table.notna(), None)
    rows = [{key: values[i] for i, key in enumerate(wanted)} for values in table.itertuples(index=False)]
    root, cands = listed(rows)
    if dataset is None:
        digest = hashlib.sha256(os.fsencode(root)).hexdigest()[:8]
        dataset = f"{os.path.basename(root)[:40] or 'clips'}-{digest}"
    return load_candidates(
        store, root, cands, dataset=dataset, layout="table", workers=workers, progress=progress
    )
