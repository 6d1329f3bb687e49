"""Summary vectors: every summary value of a sample in one float32 row, and reading them fast.

A sample's summaries (each feature under each parameter key it was computed with) are
stored side by side in one little-endian float32 ``bytea``/``BLOB``
(:class:`~audiosoup_widgets.store.models.SummaryVector`), described by a layout stored
once (:class:`~audiosoup_widgets.store.models.SummaryLayout`): ``[feature, param_key,
n_rows]`` entries in a canonical order, each taking ``2 * n_rows`` values. A dataset's
summaries then read as one row per sample:

* PostgreSQL: one ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` per layout, the
  requested stretches cut out by the server (``substring``), so each row has the same
  size and the whole buffer decodes with one :func:`numpy.frombuffer`;
* SQLite: one query per layout selecting the same stretches (``substr`` of a BLOB counts
  bytes), joined and decoded the same way.

Writes merge new summaries into a sample's stored vector (the caller holds the rows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: One stretch of a vector: (feature, param_key, n_rows).
Entry = tuple[str, str, int]
#: (feature, param_key) -> float32 bytes (row means then row stds).
Parts = dict[tuple[str, str], bytes]


@dataclass(frozen=True)
class SummaryBlock:
    """The requested summaries of the samples that share one layout.

    Attributes
    ----------
    sample_ids : ndarray of int64, shape (n,)
        In no particular order.
    features : tuple of str
        The requested features this layout holds, in the order asked for.
    n_rows : tuple of int
        Each feature's rows (its summary is ``2 * n_rows`` values: means then stds).
    values : ndarray of float32, shape (n, 2 * sum(n_rows))
        The features' summaries side by side.
    """

    sample_ids: npt.NDArray[np.int64]
    features: tuple[str, ...]
    n_rows: tuple[int, ...]
    values: npt.NDArray[np.float32]


def layout_key(entries: Sequence[Entry]) -> str:
    """Return the stored key of a layout (a hash of its entries)."""
    text = json.dumps([list(e) for e in entries], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def split_vector(entries: Sequence[Sequence[Any]], data: bytes) -> Parts:
    """Cut a stored vector into its stretches."""
    parts: Parts = {}
    offset = 0
    for feature, key, n_rows in entries:
        size = 8 * int(n_rows)
        parts[(str(feature), str(key))] = bytes(data[offset : offset + size])
        offset += size
    return parts


def join_parts(parts: Mapping[tuple[str, str], bytes]) -> tuple[list[Entry], bytes]:
    """Return the canonical layout entries and the vector of ``parts``."""
    order = sorted(parts)
    entries = [(feature, key, len(parts[(feature, key)]) // 8) for feature, key in order]
    return entries, b"".join(parts[k] for k in order)


def merge_rows(existing: Parts | None, rows: Iterable[Mapping[str, Any]]) -> Parts:
    """Apply summary rows (values, or failures with ``n_rows = 0``) to a sample's stretches."""
    parts: Parts = dict(existing or {})
    for r in rows:
        k = (str(r["feature"]), str(r["param_key"]))
        if int(r["n_rows"]) > 0:
            parts[k] = bytes(r["data"])
        else:
            parts.pop(k, None)
    return parts


def stretches(
    entries: Sequence[Sequence[Any]], wanted: Sequence[tuple[str, str]]
) -> tuple[list[tuple[int, int]], tuple[str, ...], tuple[int, ...]]:
    """Byte ``(offset, size)`` of each wanted (feature, key) a layout holds, in ``wanted`` order."""
    where: dict[tuple[str, str], tuple[int, int]] = {}
    offset = 0
    for feature, key, n_rows in entries:
        where[(str(feature), str(key))] = (offset, int(n_rows))
        offset += 8 * int(n_rows)
    cuts, features, n_rows_out = [], [], []
    for k in wanted:
        if k in where:
            off, n = where[k]
            cuts.append((off, 8 * n))
            features.append(k[0])
            n_rows_out.append(n)
    return cuts, tuple(features), tuple(n_rows_out)


def decode_copy(buf: bytes, sizes: Sequence[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Decode a binary COPY of ``(sample_id int4, bytea, ...)`` rows, the bytea fields of ``sizes`` bytes.

    Every row has the same size, so the whole buffer is one structured array: no loop
    over rows. Returns the ids and the fields' float32 values side by side.
    """
    header = 19  # signature (11), flags (4), header extension length (4, zero)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [("n", ">i2"), ("l_id", ">i4"), ("id", ">i4")]
    for i, size in enumerate(sizes):
        fields += [(f"l{i}", ">i4"), (f"d{i}", "<f4", (size // 4,))]
    row = np.dtype(fields)
    body = memoryview(buf)[header : len(buf) - 2]  # the trailer is a field count of -1
    if len(body) % row.itemsize:
        raise ValueError("summary vectors of one layout differ in size")
    rows = np.frombuffer(body, dtype=row)
    ok = (rows["n"] == 1 + len(sizes)).all() and all(
        (rows[f"l{i}"] == size).all() for i, size in enumerate(sizes)
    )
    if not ok:
        raise ValueError("summary vectors of one layout differ in size")
    values = np.empty((len(rows), sum(sizes) // 4), np.float32)
    col = 0
    for i, size in enumerate(sizes):
        values[:, col : col + size // 4] = rows[f"d{i}"]
        col += size // 4
    return rows["id"].astype(np.int64), values


__all__ = [
    "Entry",
    "Parts",
    "SummaryBlock",
    "decode_copy",
    "join_parts",
    "layout_key",
    "merge_rows",
    "split_vector",
    "stack_blocks",
    "stretches",
]


def stack_blocks(
    blocks: Sequence[SummaryBlock], features: Sequence[str], *, ids: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], list[str], list[int]]:
    """Put blocks side by side: one row per sample, one stretch of columns per feature.

    Parameters
    ----------
    blocks : sequence of SummaryBlock
    features : sequence of str
        Column order.
    ids : ndarray of int64, optional
        The rows wanted, in this order (NaN where a sample has no block); by default
        every sample of the blocks, by id.

    Returns
    -------
    ids : ndarray of int64
    values : ndarray of float32, shape (len(ids), 2 * sum(n_rows))
        NaN where a sample lacks a feature. A feature whose row count differs between
        samples (band-limited features adapt to the sample rate) takes the largest, and
        shorter summaries are padded with NaN (means, then stds).
    used : list of str
        The features present in any block, in ``features`` order.
    n_rows : list of int
        Rows of each used feature.
    """
    widest: dict[str, int] = {}
    for b in blocks:
        for f, n in zip(b.features, b.n_rows, strict=True):
            widest[f] = max(widest.get(f, 0), n)
    used = [f for f in features if f in widest]
    n_rows = [widest[f] for f in used]
    start = dict(zip(used, np.cumsum([0, *(2 * n for n in n_rows)]).tolist(), strict=False))
    if ids is None:
        ids = np.unique(np.concatenate([b.sample_ids for b in blocks])) if blocks else np.zeros(0, np.int64)
    values = np.full((len(ids), 2 * sum(n_rows)), np.nan, np.float32)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    for b in blocks:
        pos = np.searchsorted(sorted_ids, b.sample_ids).clip(0, max(len(ids) - 1, 0))
        found = sorted_ids[pos] == b.sample_ids if len(ids) else np.zeros(len(b.sample_ids), bool)
        rows: Any = order[pos[found]]
        src_rows: Any = slice(None) if found.all() else found
        if len(rows) == len(ids) and np.array_equal(rows, np.arange(len(ids))):
            rows = slice(None)
        src = 0
        for f, n in zip(b.features, b.n_rows, strict=True):
            col, half = start[f], widest[f]
            part = b.values[src_rows, src : src + 2 * n]
            if n == half:
                values[rows, col : col + 2 * n] = part
            else:
                values[rows, col : col + n] = part[:, :n]
                values[rows, col + half : col + half + n] = part[:, n:]
            src += 2 * n
    return ids, values, used, n_rows
