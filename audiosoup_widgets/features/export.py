r"""Export of per-sample features to files: CSV, plain text, JSON, YAML and Parquet.

This module owns the file formats, not the data: it takes plain records (built by
the caller from the store or from the engine) and a provenance dict, writes them
atomically, and reads them back. It touches no database.

A record is a dict with ``sample_id``, ``path``, ``label`` and ``split`` plus either
summary columns (floats, see :func:`~audiosoup_widgets.features.summaries.summary_row`)
or full matrices, one per feature, as ``{"shape": [...], "values": [flat floats]}``
(see :func:`~audiosoup_widgets.features.summaries.full_to_record`; a numpy array is
converted on the way).

Layout per format:

* ``csv`` and ``txt`` (tab-separated): a header and one row per sample, nothing
  else, so ``pandas.read_csv(path)`` (``sep="\t"`` for txt) reads them as they
  are; a matrix is a JSON-encoded cell. The provenance and the type of each column
  go beside the file, in ``<file>.provenance.json`` (see :func:`provenance_path`):
  ``{"format", "data_file", "provenance", "schema", "text_cells"}``.
* ``json`` and ``yaml``: ``{"provenance": {...}, "schema": {...}, "samples": [...]}``;
  JSON is strict (NaN is written as null and read back as NaN).
* ``parquet``: one row per sample; a matrix is a list column of flat values plus a
  ``<feature>__shape`` list column; provenance is in the schema metadata under
  ``audiosoup.provenance``.

Text exports are safe to open in a spreadsheet (OWASP, "CSV injection"): in
``csv`` and ``txt`` files a text cell (a path, a label, a message; never a number)
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, possibly
after single quotes, is written with one more single quote in front, so
``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)`` and shows as text. A plain
``pandas.read_csv`` therefore gives the quoted form; :func:`read_export` removes
exactly that one quote and gives back the text as it was exported (a label that
really was ``'=x`` is written ``''=x`` and read back as ``'=x``).

All files are created with the permissions of any new file (the process umask),
through a temporary file beside the target that is then renamed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import secrets
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FeatureError
from .summaries import full_to_record

__all__ = [
    "FORMATS",
    "METADATA_FIELDS",
    "atomic_write",
    "make_provenance",
    "provenance_path",
    "read_export",
    "spreadsheet_text",
    "write_export",
]

FORMATS: tuple[str, ...] = ("csv", "yaml", "json", "txt", "parquet")  # the menus' order
METADATA_FIELDS: tuple[str, ...] = ("sample_id", "path", "label", "split")
PARQUET_KEY = b"audiosoup.provenance"
_SHAPE_SUFFIX = "__shape"
SIDECAR_SUFFIX = ".provenance.json"
# Cells a spreadsheet would run as a formula (OWASP's list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TEXT_CELLS_NOTE = (
    "a text cell starting with =, +, -, @, tab or carriage return (after any "
    "single quotes) has one more single quote in front, so that a spreadsheet "
    "shows it as text; read_export removes that quote"
)


def provenance_path(path: str | os.PathLike[str]) -> Path:
    """Return the file that holds a CSV or text export's provenance and column types.

    ``features.csv`` has ``features.csv.provenance.json`` beside it.
    """
    target = Path(path)
    return target.with_name(target.name + SIDECAR_SUFFIX)


def make_provenance(params: object = None, **extra: object) -> dict[str, object]:
    """Describe how an export was made.

    Parameters
    ----------
    params : FeatureParams, optional
        The engine parameters (anything with ``as_dict()``), stored under
        ``parameters``.
    **extra
        More JSON-serialisable entries (a dataset name, a feature list).

    Returns
    -------
    dict
        ``parameters``, ``engine_version``, ``librosa_version``,
        ``package_version`` and ``exported_at`` (ISO-8601, UTC), then ``extra``.
    """
    from .params import ENGINE_VERSION

    try:
        package_version = metadata.version("audiosoup-widgets")
    except metadata.PackageNotFoundError:
        package_version = "unknown"
    as_dict = getattr(params, "as_dict", None)
    return {
        "parameters": as_dict() if callable(as_dict) else (params or {}),
        "engine_version": ENGINE_VERSION,
        "librosa_version": metadata.version("librosa"),
        "package_version": package_version,
        "exported_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


# -- Normalising records --------------------------------------------------------------------
def _plain(value: object) -> object:
    """Return a value as a plain Python object: matrix dict, float, int, str, bool, None."""
    if isinstance(value, np.ndarray):
        return full_to_record(value) if value.ndim else _plain(value.item())
    if isinstance(value, Mapping):
        if "shape" not in value or "values" not in value:
            raise FeatureError("A matrix must be a dict with 'shape' and 'values'.", code="invalid_record")
        shape = [int(d) for d in value["shape"]]
        flat = np.asarray(value["values"], dtype=np.float64).ravel()  # None becomes NaN
        if flat.size != math.prod(shape):
            raise FeatureError(
                f"A matrix of shape {shape} needs {math.prod(shape)} values, not {flat.size}.",
                code="invalid_record",
            )
        record: dict[str, object] = {"shape": shape, "values": flat.tolist()}
        if value.get("complex"):
            record["complex"] = True
        return record
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.complexfloating, complex)):
        raise FeatureError(
            "A complex value must be exported as a matrix or a magnitude.", code="invalid_record"
        )
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise FeatureError(f"Cannot export a value of type {type(value).__name__}.", code="invalid_record")


def _type_of(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return "matrix"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def _normalise(records: Iterable[Mapping[str, object]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows = [{key: _plain(value) for key, value in record.items()} for record in records]
    columns: dict[str, str | None] = {name: None for name in METADATA_FIELDS}
    for row in rows:
        for key, value in row.items():
            kind, known = _type_of(value), columns.get(key)
            if known is None or kind is None or kind == known:
                columns[key] = known or kind
            elif {kind, known} == {"int", "float"}:
                columns[key] = "float"
            else:
                raise FeatureError(f"Column {key!r} mixes {known} and {kind} values.", code="invalid_record")
    schema = {key: kind or "str" for key, kind in columns.items()}
    # Every record gets every column (None where absent), the same in every format.
    return [{key: row.get(key) for key in schema} for row in rows], schema


# -- Writing ----------------------------------------------------------------------------------
def _temp_beside(path: Path) -> str:
    """Create an empty temporary file next to ``path`` with the umask's permissions.

    ``tempfile.mkstemp`` would make it 0600, and the rename would keep that.
    """
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        os.close(fd)
        return str(tmp)


def _atomic_write(*targets: tuple[Path, object]) -> None:
    """Write each ``(path, write(tmp))`` next to its target, then rename them all.

    A reader never sees half a file; if any write fails, no target changes.
    """
    temps: list[str] = []
    try:
        for path, write in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_temp_beside(path))
            write(temps[-1])  # type: ignore[operator]
        # Sidecars are listed last and renamed first: a data file is never newer
        # than the description beside it.
        for (path, _), tmp in reversed(list(zip(targets, temps, strict=True))):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def _json_safe(value: object) -> object:
    """Replace NaN and infinities by None, recursively (strict JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _is_formula(text: str) -> bool:
    return text.lstrip("'")[:1] in _FORMULA_START


def _neutralise(text: str) -> str:
    """Prefix a formula-like text cell with a single quote (undone by :func:`_restore_text`)."""
    return "'" + text if _is_formula(text) else text


def spreadsheet_text(text: str) -> str:
    """Return a text cell as this module writes it: a formula-like text gets one more quote.

    The one rule of every spreadsheet-safe export of the package (see the module
    docstring); other text exports call it rather than keep their own list.
    """
    return _neutralise(text)


def atomic_write(*targets: tuple[Path, object]) -> None:
    """Write each ``(path, write(tmp))`` to a temporary file beside it, then rename them all.

    ``write`` is called with the temporary file's name; if any write fails, no
    target changes and no temporary file is left behind.
    """
    _atomic_write(*targets)


def _restore_text(text: str) -> str:
    return text[1:] if text.startswith("'") and _is_formula(text[1:]) else text


def _cell(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind == "matrix":
        return json.dumps(_json_safe(value), separators=(",", ":"), allow_nan=False)
    if kind == "float":
        return repr(float(value))  # type: ignore[arg-type]  # shortest exact repr
    if kind == "str":
        return _neutralise(str(value))
    return str(value)


def _write_delimited(rows: list[dict[str, Any]], schema: dict[str, str], delimiter: str) -> str:
    buffer = io.StringIO()
    # CRLF rows (RFC 4180): the csv module then quotes any cell holding a CR or LF;
    # with "\n" alone a lone CR in a label would be written bare and split the row.
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(schema)
    for row in rows:
        writer.writerow([_cell(row.get(key), kind) for key, kind in schema.items()])
    return buffer.getvalue()


def _write_parquet(
    rows: list[dict[str, Any]], schema: dict[str, str], provenance: dict[str, Any], tmp: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    arrays, names = [], []
    for key, kind in schema.items():
        column = [row.get(key) for row in rows]
        if kind == "matrix":
            arrays.append(
                pa.array([None if m is None else m["values"] for m in column], type=pa.list_(pa.float64()))
            )
            names.append(key)
            arrays.append(
                pa.array([None if m is None else m["shape"] for m in column], type=pa.list_(pa.int64()))
            )
            names.append(key + _SHAPE_SUFFIX)
        else:
            arrays.append(pa.array(column, type=arrow_types[kind]))
            names.append(key)
    table = pa.Table.from_arrays(arrays, names=names)
    meta = {PARQUET_KEY: json.dumps(provenance).encode(), b"audiosoup.schema": json.dumps(schema).encode()}
    pq.write_table(table.replace_schema_metadata(meta), tmp)


def write_export(
    records: Iterable[Mapping[str, object]],
    *,
    provenance: Mapping[str, object],
    fmt: str,
    path: str | os.PathLike[str],
) -> Path:
    """Write records to one file, atomically.

    Parameters
    ----------
    records : iterable of dict
        One per sample: ``sample_id``, ``path``, ``label``, ``split`` plus summary
        columns (floats) or matrices (``{"shape", "values"}`` dicts or arrays).
    provenance : dict
        JSON-serialisable description of the export (see :func:`make_provenance`).
    fmt : {'csv', 'txt', 'json', 'yaml', 'parquet'}
    path : str or os.PathLike
        Target file; replaced if it exists, never left half-written. For ``csv``
        and ``txt``, :func:`provenance_path` of it is written too.

    Returns
    -------
    pathlib.Path
        The path written (the data file).

    Raises
    ------
    FeatureError
        ``unknown_format``, or ``invalid_record`` for a value that cannot be exported.
    """
    if fmt not in FORMATS:
        raise FeatureError(
            f"Unknown export format {fmt!r}; valid: {', '.join(FORMATS)}.", code="unknown_format"
        )
    target = Path(path)
    rows, schema = _normalise(records)
    try:
        prov = json.loads(json.dumps(dict(provenance)))
    except (TypeError, ValueError) as exc:
        raise FeatureError(f"Provenance must be JSON-serialisable: {exc}.", code="invalid_record") from None

    def write_text(text: str) -> object:
        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)

        return write

    if fmt in ("csv", "txt"):
        text = _write_delimited(rows, schema, "," if fmt == "csv" else "\t")
        sidecar = {
            "format": fmt,
            "data_file": target.name,
            "provenance": prov,
            "schema": schema,
            "text_cells": _TEXT_CELLS_NOTE,
        }
        _atomic_write(
            (target, write_text(text)),
            (provenance_path(target), write_text(json.dumps(sidecar, indent=1) + "\n")),
        )
    elif fmt == "json":
        document = {"provenance": prov, "schema": schema, "samples": _json_safe(rows)}
        _atomic_write((target, write_text(json.dumps(document, allow_nan=False) + "\n")))
    elif fmt == "yaml":
        import yaml

        document = {"provenance": prov, "schema": schema, "samples": rows}
        _atomic_write((target, write_text(yaml.safe_dump(document, sort_keys=False))))
    else:
        _atomic_write((target, lambda tmp: _write_parquet(rows, schema, prov, tmp)))
    return target


# -- Reading ----------------------------------------------------------------------------------
def _restore(rows: list[dict[str, Any]], schema: dict[str, str]) -> list[dict[str, Any]]:
    # Strict JSON had no NaN: null in a float column or a matrix stands for NaN.
    for row in rows:
        for key, kind in schema.items():
            value = row.get(key)
            if kind == "float" and value is None and key not in METADATA_FIELDS:
                row[key] = math.nan
            elif kind == "matrix" and isinstance(value, dict):
                value["values"] = [math.nan if v is None else v for v in value["values"]]
    return rows


def _parse_cell(text: str, kind: str) -> object:
    if text == "":
        return None
    if kind == "matrix":
        return json.loads(text)
    if kind == "float":
        return float(text)
    if kind == "int":
        return int(text)
    if kind == "bool":
        return text == "True"
    return _restore_text(text)


def _infer_kind(cells: list[str]) -> str:
    """Guess a column's type when the file's description is missing."""
    values = [c for c in cells if c != ""]
    for kind, parse in (("int", int), ("float", float)):
        try:
            for v in values:
                parse(v)
        except ValueError:
            continue
        return kind if values else "str"
    if values and all(v.startswith('{"shape"') for v in values):
        return "matrix"
    return "str"


def _read_delimited(path: Path, delimiter: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    provenance: dict[str, Any] = {}
    schema: dict[str, str] = {}
    sidecar = provenance_path(path)
    if sidecar.is_file():
        described = json.loads(sidecar.read_text(encoding="utf-8"))
        provenance, schema = described.get("provenance", {}), described.get("schema", {})
    with open(path, encoding="utf-8", newline="") as handle:
        body = handle.read()
    # Files from earlier releases carried their description as leading comment lines.
    while body.startswith("#"):
        line, _, body = body.partition("\n")
        key, _, value = line[1:].strip().partition(":")
        if key == "provenance":
            provenance = json.loads(value)
        elif key == "schema":
            schema = json.loads(value)
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    header = next(reader, [])
    table = [cells for cells in reader if cells]
    for i, name in enumerate(header):
        if name not in schema:
            schema[name] = _infer_kind([cells[i] for cells in table if i < len(cells)])
    records = [
        {name: _parse_cell(cell, schema[name]) for name, cell in zip(header, cells, strict=True)}
        for cells in table
    ]
    return provenance, _restore(records, schema)


def _read_parquet(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    provenance = json.loads(meta.get(PARQUET_KEY, b"{}"))
    schema = json.loads(meta.get(b"audiosoup.schema", b"{}"))
    columns = table.to_pydict()
    records = []
    for i in range(table.num_rows):
        record: dict[str, object] = {}
        for key, kind in schema.items():
            if kind == "matrix":
                values, shape = columns[key][i], columns[key + _SHAPE_SUFFIX][i]
                record[key] = None if values is None else {"shape": shape, "values": values}
            else:
                record[key] = columns[key][i]
        records.append(record)
    return provenance, records


def read_export(
    path: str | os.PathLike[str], fmt: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read a file written by :func:`write_export`.

    Parameters
    ----------
    path : str or os.PathLike
    fmt : {'csv', 'txt', 'json', 'yaml', 'parquet'}, optional
        Taken from the file extension when omitted.

    Returns
    -------
    provenance : dict
        For ``csv`` and ``txt``, read from :func:`provenance_path` of ``path``
        (empty if that file is missing; column types are then guessed).
    records : list of dict
        One per sample, with values of the types written (matrices as
        ``{"shape", "values"}`` dicts, NaN restored, text cells as exported).
    """
    target = Path(path)
    fmt = fmt or target.suffix.lstrip(".").lower().replace("yml", "yaml")
    if fmt not in FORMATS:
        raise FeatureError(
            f"Unknown export format {fmt!r}; valid: {', '.join(FORMATS)}.", code="unknown_format"
        )
    if fmt in ("csv", "txt"):
        return _read_delimited(target, "," if fmt == "csv" else "\t")
    if fmt == "parquet":
        return _read_parquet(target)
    text = target.read_text(encoding="utf-8")
    if fmt == "json":
        document = json.loads(text)
    else:
        import yaml

        document = yaml.safe_load(text)
    rows = document.get("samples", [])
    return document.get("provenance", {}), _restore(rows, document.get("schema", {}))
