"""Curated datasets written back to disk for training: manifests, JSON lines, AudioFolder, Label Studio.

This is the other direction of :mod:`~audiosoup_widgets.layouts`: it takes plain
rows (one dict per sample, as :func:`audiosoup_widgets.jobs.labels.labels_frame`
gives them, with ``path`` relative to the dataset ``root``) and writes them in one
of :data:`FORMATS`. It touches no database.

Where each format points at the audio (the *locator*):

* ``manifest-csv``: a CSV whose ``path`` is the file relative to the CSV's own
  folder, then ``label``, ``split``, ``speaker``, ``text`` and the other columns;
  a CSV written inside the dataset folder is a manifest ``audiosoup load`` reads
  back. Lists and dicts (tags, regions, votes) are JSON text in their cell.
* ``jsonl``: one JSON object per line, the same columns with the same ``path``;
  lists and dicts stay JSON values, times are ISO-8601 text.
* ``audiofolder``: a folder holding ``metadata.csv``: ``file_name`` first
  (relative to the folder), then ``label`` and the other columns, ``path`` being
  the file relative to the dataset root. With ``copy_audio`` each file is copied
  to ``<split>/<path>`` under the folder (``unsplit/`` for a clip without a
  split) and each split folder gets a ``metadata.parquet`` of its clips
  (``file_name`` relative to the split folder, one column schema for every
  split): the layout Hugging Face's ``AudioFolder`` builder reads, each split
  from its folder, the curated ``label`` column as it is (checked with
  ``datasets`` 5.2). That builder only reads metadata inside a split's folder,
  and types a CSV column per file (a column empty in one split would make the
  splits disagree), hence the Parquet files. Clips without a split are read by
  it only when no clip has one; otherwise ``unsplit/`` is left to pandas and
  ``metadata.csv``. Without ``copy_audio``, ``file_name`` leads to the original
  file by a relative path (``../...``), which pandas and your own loaders
  follow; the Hugging Face builder does not (it reads inside the folder).
* ``label-studio``: a JSON list of Label Studio tasks. ``data.audio`` is
  ``audio_prefix`` followed by the URL-quoted path relative to the dataset
  root (by default Label Studio's local-files address, ``/data/local-files/?d=``,
  which needs its document root set to the dataset folder); ``data`` also holds
  ``sample_id``, ``split``, ``speaker`` and ``text``. One annotation per task,
  its ``result`` holding a ``choices`` result for the label (``from_name``
  ``label``), a ``choices`` result for the tags (``tags``), a ``labels`` result
  per region (``regions``, value ``start``, ``end`` in seconds and ``labels``)
  with its note as a ``textarea`` of the same id (``region_note``), and the notes
  as one ``textarea`` (``notes``); every result's ``to_name`` is ``audio``.
  Beside it, ``<file>.config.xml`` is the labeling configuration those names
  need (see :func:`label_studio_config`): paste it into the project's settings
  before importing the tasks.

The CSV files are safe to open in a spreadsheet, by the rule of the feature
exports (:func:`audiosoup_widgets.features.export.spreadsheet_text`): a text
cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
single quote in front. A path cell cannot take a quote without naming another
file, so a path starting with one of those characters gets ``./`` in front
instead, which names the same file.

Every output is written through a temporary file (or folder) beside the target,
then renamed. An existing output is refused unless ``force`` is given (an empty
folder counts as no output).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import secrets
import shutil
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from .errors import ConfigError
from .features.export import atomic_write, spreadsheet_text

__all__ = [
    "FORMATS",
    "LABEL_STUDIO_PREFIX",
    "DatasetExport",
    "check_output",
    "config_path",
    "label_studio_config",
    "write_dataset",
]

FORMATS: tuple[str, ...] = ("manifest-csv", "jsonl", "audiofolder", "label-studio")
#: Label Studio's address of a file under its local-files document root.
LABEL_STUDIO_PREFIX = "/data/local-files/?d="
#: The columns a manifest starts with (the ones ``audiosoup load`` reads).
_FIRST = ("path", "label", "split", "speaker", "text")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Where a clip without a split goes in a copied AudioFolder.
UNSPLIT = "unsplit"
METADATA = "metadata.csv"


@dataclass
class DatasetExport:
    """What an export wrote: where, how many rows, files copied and rows left out."""

    fmt: str
    output: str
    rows: int = 0
    copied: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """Return the one-line summary printed at the end of an export."""
        copied = f", {self.copied} audio files copied" if self.copied else ""
        skipped = f", {len(self.skipped)} left out (audio missing)" if self.skipped else ""
        return f"wrote {self.rows} rows as {self.fmt} to {self.output}{copied}{skipped}"


def check_output(
    output: str | os.PathLike[str], fmt: str, *, force: bool = False, copy_audio: bool = False
) -> Path:
    """Refuse, before any work, an output that cannot or should not be written.

    Parameters
    ----------
    output : path-like
        A folder for ``audiofolder``, a file for the other formats.
    fmt : str
        One of :data:`FORMATS`.
    force : bool
        Replace an existing file or a non-empty folder.
    copy_audio : bool
        Whether the audio is to be copied (``audiofolder`` only).

    Returns
    -------
    Path
        The absolute output path.

    Raises
    ------
    ConfigError
        An unknown format, a missing parent folder, a file where a folder is
        wanted (or the reverse), an existing output without ``force``, or
        ``copy_audio`` with a format other than ``audiofolder``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if copy_audio and fmt != "audiofolder":
        raise ConfigError("copying the audio is for the audiofolder format only")
    path = Path(os.path.abspath(os.fspath(output)))
    if not path.parent.is_dir():
        raise ConfigError(f"no such folder {path.parent} (create it first)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write into {path.parent} (permission denied)")
    if fmt == "audiofolder":
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{path} is a file; an audiofolder export needs a folder")
        if path.is_dir() and any(path.iterdir()) and not force:
            raise ConfigError(f"{path} is not empty; choose an empty folder or replace it with --force")
    else:
        if path.is_dir():
            raise ConfigError(f"{path} is a folder; give a file name")
        for target in (path, config_path(path)) if fmt == "label-studio" else (path,):
            if target.exists() and not force:
                raise ConfigError(f"{target} exists; replace it with --force")
    return path


def config_path(path: str | os.PathLike[str]) -> Path:
    """Return the file beside a Label Studio export that holds its labeling configuration."""
    target = Path(path)
    return target.with_name(target.name + ".config.xml")


def label_studio_config(rows: Sequence[Mapping[str, Any]]) -> str:
    """Return the Label Studio labeling configuration that the exported tasks' results need.

    An ``Audio`` tag named ``audio``, then the controls the results name: ``label``
    (one choice among the labels), ``tags`` (several choices), ``regions`` (the
    region labels), ``region_note`` (a text per region) and ``notes``, each listing
    the values found in ``rows``. Every value is an escaped XML attribute, never markup.
    """
    labels = sorted({str(r["label"]) for r in rows if r.get("label") is not None})
    tags = sorted({str(t) for r in rows for t in r.get("tags") or []})
    spans = [g for r in rows for g in r.get("regions") or []]
    region_labels = sorted({str(g["label"]) for g in spans if g.get("label")})

    def options(tag: str, values: list[str]) -> list[str]:
        return [f"    <{tag} value={quoteattr(v)}/>" for v in values]

    lines = ["<View>", '  <Audio name="audio" value="$audio"/>']
    lines += ['  <Choices name="label" toName="audio" choice="single-radio">']
    lines += [*options("Choice", labels), "  </Choices>"]
    if tags:
        lines += ['  <Choices name="tags" toName="audio" choice="multiple">', *options("Choice", tags)]
        lines += ["  </Choices>"]
    lines += ['  <Labels name="regions" toName="audio">', *options("Label", region_labels), "  </Labels>"]
    lines += ['  <TextArea name="region_note" toName="audio" perRegion="true"/>']
    lines += ['  <TextArea name="notes" toName="audio"/>', "</View>", ""]
    return "\n".join(lines)


def write_dataset(
    rows: Sequence[Mapping[str, Any]],
    *,
    fmt: str,
    output: str | os.PathLike[str],
    root: str,
    copy_audio: bool = False,
    force: bool = False,
    audio_prefix: str = LABEL_STUDIO_PREFIX,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetExport:
    """Write a curated dataset's rows in one of :data:`FORMATS`.

    Parameters
    ----------
    rows : sequence of mapping
        One per sample; ``path`` is relative to ``root`` with ``/`` separators. Lists,
        dicts and times are written as the format allows (see the module docstring).
    fmt : str
        ``manifest-csv``, ``jsonl``, ``audiofolder`` or ``label-studio``.
    output : path-like
        The file to write, or the folder for ``audiofolder``.
    root : str
        The dataset folder the rows' paths start from.
    copy_audio : bool
        ``audiofolder`` only: copy the audio under the folder, by split. A row whose
        file cannot be copied is left out and reported, the others are written.
    force : bool
        Replace an existing output.
    audio_prefix : str
        ``label-studio`` only: what ``data.audio`` starts with.
    progress : callable, optional
        Called as ``progress(done, total)`` after each copied file.

    Returns
    -------
    DatasetExport
    """
    path = check_output(output, fmt, force=force, copy_audio=copy_audio)
    result = DatasetExport(fmt=fmt, output=str(path))
    if fmt == "audiofolder":
        kept = _write_audiofolder(rows, path, root, copy_audio, result, progress)
    else:
        here = str(path.parent)
        if fmt == "manifest-csv":
            text = _csv_text(_located(rows, "path", root, here), first=_FIRST)
        elif fmt == "jsonl":
            text = "".join(
                json.dumps(_json_value(row), ensure_ascii=False) + "\n"
                for row in _located(rows, "path", root, here)
            )
        else:
            tasks = [_label_studio_task(row, audio_prefix) for row in rows]
            # One task per line: readable, and the C encoder (``indent`` would take
            # Python's, several times slower on a large dataset).
            text = "[\n" + ",\n".join(json.dumps(t, ensure_ascii=False) for t in tasks) + "\n]\n"
            config = label_studio_config(rows)
            atomic_write((path, _text_writer(text)), (config_path(path), _text_writer(config)))
            result.rows = len(rows)
            return result
        atomic_write((path, _text_writer(text)))
        kept = len(rows)
    result.rows = kept
    return result


# -- Cells ------------------------------------------------------------------------------------
def _json_value(value: Any) -> Any:
    """Return a row's value as plain JSON: times as ISO text, NaN as null, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _json_value(value.item())  # a numpy scalar
    return value


def _safe_path(path: str) -> str:
    return "./" + path if path[:1] in _FORMULA_START else path


def _cell(key: str, value: Any, path_columns: tuple[str, ...]) -> str:
    # The common cells first, by exact type: a large export spends its time here.
    kind = type(value)
    if value is None:
        return ""
    if kind is str:
        return _safe_path(value) if key in path_columns else spreadsheet_text(value)
    if kind is int:
        return str(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else ""
    if (kind is list or kind is dict) and not value:
        return "[]" if kind is list else "{}"
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool | int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return _safe_path(text) if key in path_columns else spreadsheet_text(text)


def _csv_text(rows: Sequence[Mapping[str, Any]], *, first: tuple[str, ...]) -> str:
    columns = list(first)
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): the csv module then quotes any cell holding a CR or LF.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    paths = ("path", "file_name")
    for row in rows:
        writer.writerow([_cell(k, row.get(k), paths) for k in columns])
    return buffer.getvalue()


def _text_writer(text: str) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        # A path with bytes that are not UTF-8 (kept as surrogate escapes) is written as
        # those bytes, the file's real name, rather than failing the whole export.
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(text)

    return write


def _relative(target: str, start: str) -> str:
    return os.path.relpath(target, start).replace(os.sep, "/")


def _locator(root: str, here: str) -> Callable[[str], str]:
    """Return ``locate(path)``: a root-relative path made relative to folder ``here``.

    Stored paths are normalised (no ``..``), so the way from ``here`` to the root
    is found once and prefixed.
    """
    base = _relative(root, here)
    return (lambda rel: rel) if base == "." else (lambda rel: f"{base}/{rel}")


def _located(rows: Sequence[Mapping[str, Any]], key: str, root: str, here: str) -> list[dict[str, Any]]:
    """Return the rows with ``key`` leading to their audio from folder ``here``, first."""
    locate = _locator(root, here)
    return [
        {key: locate(str(row["path"])), **{k: v for k, v in row.items() if k not in (key, "file_name")}}
        for row in rows
    ]


# -- AudioFolder ----------------------------------------------------------------------------
def _write_audiofolder(
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    root: str,
    copy_audio: bool,
    result: DatasetExport,
    progress: Callable[[int, int], None] | None,
) -> int:
    # Everything goes into a hidden folder beside the target, renamed in at the end:
    # an interrupted export leaves the old output (or none), never half of one.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    try:
        located: list[dict[str, Any]] = []
        locate = _locator(root, str(path))
        for done, row in enumerate(rows, 1):
            rel = str(row["path"])
            source = os.path.join(root, *rel.split("/"))
            if copy_audio:
                name = f"{row.get('split') or UNSPLIT}/{rel}"
                target = tmp.joinpath(*name.split("/"))
                try:
                    # Opened before its folder is made: a missing file leaves no empty folder.
                    with open(source, "rb") as src:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                except OSError as exc:
                    result.skipped.append({"path": rel, "message": exc.strerror or str(exc)})
                    continue
                result.copied += 1
                if progress is not None:
                    progress(done, len(rows))
            else:
                name = locate(rel)
            located.append({"file_name": name, **{k: v for k, v in row.items() if k != "file_name"}})
        _write_metadata(tmp, located)
        if copy_audio:
            _write_split_metadata(tmp, located)
        _replace_folder(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(located)


def _write_metadata(folder: Path, rows: list[dict[str, Any]]) -> None:
    with open(folder / METADATA, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
        fh.write(_csv_text(rows, first=("file_name", "label")))


def _arrow_kind(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float"
    return "str"


def _write_split_metadata(folder: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``<split>/metadata.parquet`` for each split folder, one schema for all.

    Hugging Face's builder reads, for a split, only the files under the split's
    folder, so the shared ``metadata.csv`` is not among them; and it infers a CSV
    column's type per file, so a column empty in one split would make the splits
    disagree. Parquet files written with one schema (the whole table's) cannot.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = [{k: _json_value(v) for k, v in row.items()} for row in rows]
    columns = list(plain[0]) if plain else []
    kinds = {c: _arrow_kind([row.get(c) for row in plain]) for c in columns}
    types = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}
    by_split: dict[str, list[dict[str, Any]]] = {}
    for row in plain:
        split, name = str(row["file_name"]).split("/", 1)
        if split != UNSPLIT:  # not a split the builder knows: read through metadata.csv alone
            by_split.setdefault(split, []).append({**row, "file_name": name})
    for split, split_rows in by_split.items():
        arrays = []
        for c in columns:
            cells = [row.get(c) for row in split_rows]
            if kinds[c] == "str":
                cells = [_text(v) for v in cells]
            arrays.append(pa.array(cells, type=types[kinds[c]]))
        pq.write_table(pa.Table.from_arrays(arrays, names=columns), folder / split / "metadata.parquet")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _replace_folder(new: Path, path: Path) -> None:
    if path.exists():
        old = path.parent / f".{path.name}.{secrets.token_hex(6)}.old"
        os.replace(path, old)
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


# -- Label Studio -----------------------------------------------------------------------------
def _label_studio_task(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    sid = row.get("sample_id")
    rel = str(row["path"])
    data = {
        "audio": prefix + urllib.parse.quote(rel, safe="/"),
        **{k: _json_value(row.get(k)) for k in ("sample_id", "path", "split", "speaker", "text")},
    }
    result: list[dict[str, Any]] = []

    def add(rid: str, from_name: str, kind: str, value: dict[str, Any]) -> None:
        result.append({"id": rid, "from_name": from_name, "to_name": "audio", "type": kind, "value": value})

    if row.get("label") is not None:
        add(f"s{sid}-label", "label", "choices", {"choices": [row["label"]]})
    tags = list(row.get("tags") or [])
    if tags:
        add(f"s{sid}-tags", "tags", "choices", {"choices": tags})
    for i, region in enumerate(row.get("regions") or []):
        rid = f"s{sid}-r{i}"
        span = {"start": float(region["start"]), "end": float(region["end"])}
        labels = [region["label"]] if region.get("label") else []
        add(rid, "regions", "labels", {**span, "labels": labels})
        if region.get("note"):
            add(rid, "region_note", "textarea", {**span, "text": [region["note"]]})
    notes = [n for n in row.get("notes") or [] if n]
    if notes:
        add(f"s{sid}-notes", "notes", "textarea", {"text": notes})
    return {"data": data, "annotations": [{"result": result}]}
