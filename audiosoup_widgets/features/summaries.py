"""Compact per-sample summaries of features, and matrices as plain records.

This module owns the summary layout stored for every sample (the mean and the
standard deviation over time of every row of every feature, as float32) and its
column names, plus the conversion of full matrices to and from plain records for
export. Full matrices of every feature for a large dataset would take tens of GB;
summaries take about 3 KB per sample with default parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .registry import FEATURES

__all__ = [
    "summarize",
    "summary_columns",
    "summary_row",
    "full_to_record",
    "record_to_full",
]


def _rows_last(feature_id: str, values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``values`` shaped (B, rows, frames) and whether it was a batch."""
    spec = FEATURES.get(feature_id)
    single_ndim = (1 if spec.kind == "line" else 2) if spec else min(values.ndim, 2)
    if values.ndim == single_ndim:
        batch, is_batch = values[np.newaxis], False
    elif values.ndim == single_ndim + 1:
        batch, is_batch = values, True
    else:
        raise ValueError(f"{feature_id}: unexpected shape {values.shape}")
    if single_ndim == 1:
        batch = batch[:, np.newaxis, :]
    return batch, is_batch


def summarize(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Summarise each feature by the mean and standard deviation of every row over time.

    NaN columns are ignored, so the all-NaN padding of ``stack_memory`` in a batch
    does not count; a clip whose values are all NaN (status ``'non_finite'``) gets
    NaN summaries.

    Parameters
    ----------
    values : dict of str to np.ndarray
        As returned by :func:`~audiosoup_widgets.features.engine.compute_features`:
        per feature shape ``(rows, frames)`` (``(frames,)`` for a line feature such
        as ``onset_strength``), or with a leading batch axis ``B``.

    Returns
    -------
    dict of str to np.ndarray
        Per feature a float32 vector ``[mean_0, ..., mean_{rows-1}, std_0, ...,
        std_{rows-1}]`` of shape ``(2 * rows,)``, or ``(B, 2 * rows)`` for a batch.
        The standard deviation is the population one (``ddof=0``).
    """
    out = {}
    for feature_id, array in values.items():
        batch, is_batch = _rows_last(feature_id, np.asarray(array))
        if np.iscomplexobj(batch):
            batch = np.abs(batch)
        batch = batch.astype(np.float64, copy=False)
        if np.isnan(batch).any():
            count = np.sum(~np.isnan(batch), axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(batch, axis=-1) / count
                std = np.sqrt(np.nansum((batch - mean[..., np.newaxis]) ** 2, axis=-1) / count)
        else:
            mean = batch.mean(axis=-1)
            std = batch.std(axis=-1)
        summary = np.concatenate([mean, std], axis=-1).astype(np.float32)
        out[feature_id] = summary if is_batch else summary[0]
    return out


def summary_columns(feature_id: str, n_rows: int) -> list[str]:
    """Name the columns of one feature's summary.

    Parameters
    ----------
    feature_id : str
    n_rows : int
        Number of rows of the feature (half the summary length).

    Returns
    -------
    list of str
        ``['<feature>_mean_0', ..., '<feature>_mean_<n-1>', '<feature>_std_0', ...]``.
    """
    return [f"{feature_id}_mean_{i}" for i in range(n_rows)] + [
        f"{feature_id}_std_{i}" for i in range(n_rows)
    ]


def summary_row(summaries: dict[str, np.ndarray], index: int | None = None) -> dict[str, float]:
    """Flatten one sample's summaries into named float columns.

    Parameters
    ----------
    summaries : dict of str to np.ndarray
        As returned by :func:`summarize`, for one clip (``(2 * rows,)``) or a batch
        (``(B, 2 * rows)``, then ``index`` picks the clip).
    index : int, optional
        The clip of a batch.

    Returns
    -------
    dict of str to float
        Column name (see :func:`summary_columns`) to value.
    """
    row: dict[str, float] = {}
    for feature_id, summary in summaries.items():
        vector = np.asarray(summary)
        if index is not None:
            vector = vector[index]
        if vector.ndim != 1 or vector.size % 2:
            raise ValueError(f"{feature_id}: a summary is a vector of even length")
        names = summary_columns(feature_id, vector.size // 2)
        row.update(zip(names, (float(v) for v in vector), strict=True))
    return row


def full_to_record(array: np.ndarray) -> dict[str, object]:
    """Turn a matrix into a plain, JSON-ready record.

    Parameters
    ----------
    array : np.ndarray [shape=(d1, d2, ...)]
        Real or complex values.

    Returns
    -------
    dict
        ``{"shape": [d1, d2, ...], "values": [flat floats in C order]}``; a complex
        array is stored as ``[re, im]`` pairs, that is with a trailing axis of 2 in
        ``shape``, and ``"complex": True``.
    """
    array = np.asarray(array)
    is_complex = np.iscomplexobj(array)
    if is_complex:
        array = np.stack([array.real, array.imag], axis=-1)
    record: dict[str, object] = {
        "shape": [int(d) for d in array.shape],
        "values": array.astype(np.float64).ravel().tolist(),
    }
    if is_complex:
        record["complex"] = True
    return record


def record_to_full(record: Mapping[str, Any]) -> np.ndarray:
    """Rebuild the matrix of a record made by :func:`full_to_record`.

    Parameters
    ----------
    record : dict
        With ``shape`` and flat ``values`` (None stands for NaN).

    Returns
    -------
    np.ndarray [shape=record['shape']]
        float64, or complex128 if the record is complex.
    """
    # numpy turns None into NaN when it builds a float array.
    array = np.asarray(record["values"], dtype=np.float64).reshape(tuple(record["shape"]))
    if record.get("complex"):
        array = array[..., 0] + 1j * array[..., 1]
    return array
