"""Export of a dataset's features to a file: stored summaries, or full matrices on demand.

This module gathers the records (from the store, or from the engine for full
matrices) and hands them with their provenance
(:func:`~audiosoup_widgets.jobs.provenance.dataset_provenance`) to
:func:`~audiosoup_widgets.features.export.write_export`, which owns the formats.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AudiosoupError, ConfigError
from .compute import feature_names, feature_params, open_store
from .frames import feature_frame
from .provenance import dataset_provenance

if TYPE_CHECKING:  # pragma: no cover
    from ..features.params import FeatureParams
    from ..store import Store

__all__ = ["export_features"]

_META = ("sample_id", "path", "label", "split")


def export_features(
    dataset: str,
    features: Sequence[str] | None = None,
    *,
    fmt: str,
    output: str | os.PathLike[str],
    db: Store | str | None = None,
    label: str | None = None,
    split: str | None = None,
    full: bool = False,
    params: FeatureParams | dict[str, Any] | None = None,
    sample_ids: Sequence[int] | None = None,
) -> int:
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
    from ..features.export import FORMATS, write_export

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    store = open_store(db)
    names = feature_names(features)
    fp = feature_params(params)
    records = (
        _full_records(store, dataset, names, fp, label, split, sample_ids)
        if full
        else _summary_records(store, dataset, names, fp, label, split, sample_ids)
    )
    prov = dataset_provenance(dataset, names, fp, full=full, filters={"label": label, "split": split})
    write_export(records, provenance=prov, fmt=fmt, path=output)
    return len(records)


def _summary_records(
    store: Store,
    dataset: str,
    names: list[str],
    fp: FeatureParams,
    label: str | None,
    split: str | None,
    sample_ids: Sequence[int] | None,
) -> list[dict[str, Any]]:
    frame = feature_frame(dataset, names, db=store, label=label, split=split, params=fp)
    if sample_ids is not None:
        frame = frame[frame["sample_id"].isin(list(sample_ids))]
    records = []
    value_cols = [c for c in frame.columns if c not in _META]
    meta = frame[list(_META)].astype(object).where(frame[list(_META)].notna(), None)
    values = frame[value_cols].to_numpy(dtype=np.float64)
    for i, (sid, path, lab, spl) in enumerate(meta.itertuples(index=False)):
        rec = {"sample_id": int(sid), "path": path, "label": lab, "split": spl}
        rec.update(
            {c: (None if np.isnan(v) else float(v)) for c, v in zip(value_cols, values[i], strict=True)}
        )
        records.append(rec)
    return records


def _full_records(
    store: Store,
    dataset: str,
    names: list[str],
    fp: FeatureParams,
    label: str | None,
    split: str | None,
    sample_ids: Sequence[int] | None,
) -> list[dict[str, Any]]:
    # Full matrices of a long file would not fit in memory (a 2-hour file's power
    # spectrogram alone is 2 GB as floats, many times that as records): analyse the
    # dashboard's window, the first MAX_FEATURE_SECONDS of each clip.
    from ..audio import decode
    from ..features.engine import compute_features
    from ..features.params import MAX_FEATURE_SECONDS
    from ..features.summaries import full_to_record

    rows = store.sample_table(dataset, label=label, split=split)
    if sample_ids is not None:
        wanted = set(sample_ids)
        rows = [r for r in rows if r[0] in wanted]
    root = store.dataset_root(dataset)
    records = []
    for sid, path, lab, spl in rows:
        rec: dict[str, Any] = {"sample_id": sid, "path": path, "label": lab, "split": spl}
        try:
            y, sr = decode(store.sample_file(sid), mono=True, duration=MAX_FEATURE_SECONDS, root=root)
            rec["analysed_seconds"] = len(y) / sr
            values = compute_features(y, sr, names, params=fp)
        except AudiosoupError as exc:
            rec["error"] = exc.message
            records.append(rec)
            continue
        rec.update({name: full_to_record(values[name]) for name in names})
        records.append(rec)
    return records
