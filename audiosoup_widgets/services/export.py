"""ExportService: feature downloads: one sample's full matrices, or a selection's summaries.

The file is written by the features package's export writer (the same formats
and provenance as ``audiosoup export``). That writer writes files atomically to a
path, so the download is written into a private temporary folder, read back and
the folder removed with everything in it: a CSV or text export also writes its
provenance beside the data file, which a one-file download leaves out (JSON, YAML
and Parquet carry it inside).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import ValidationError
from ..features import FAMILIES, FEATURES, FORMATS, get_feature, write_export
from ..jobs.export import export_features
from ..jobs.provenance import sample_provenance
from ..store import Store
from ..store.records import SampleRecord
from .features import FeatureService

__all__ = ["ExportService", "Download", "EXPORT_FORMATS"]

#: MIME type of each download.
_MIME = {
    "csv": "text/csv",
    "yaml": "application/yaml",
    "json": "application/json",
    "txt": "text/plain",
    "parquet": "application/vnd.apache.parquet",
}
#: Formats a user can download: every format the export writer knows.
EXPORT_FORMATS: tuple[str, ...] = FORMATS


class Download(NamedTuple):
    """A file for the browser to save."""

    name: str
    data: bytes
    mime: str


def _file_bytes(records: list[dict[str, Any]], *, provenance: Mapping[str, Any], fmt: str) -> bytes:
    """Write ``records`` in ``fmt`` and return the data file's bytes (no file is left behind)."""
    with tempfile.TemporaryDirectory(prefix="audiosoup-export-") as folder:
        target = os.path.join(folder, f"export.{fmt}")
        write_export(records, provenance=provenance, fmt=fmt, path=target)
        with open(target, "rb") as f:
            return f.read()


def _download_name(record: SampleRecord, fmt: str) -> str:
    stem = os.path.splitext(record.file_name)[0]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "sample"
    return f"features_{record.id}_{safe}.{fmt}"


#: The most samples one selection download holds.
MAX_SELECTION_EXPORT = 100_000


class ExportService:
    """Build feature downloads of one sample or of a selection.

    Parameters
    ----------
    features : FeatureService
        Computes (or returns cached) matrices.
    store : Store
        Where a selection's stored summaries are read.
    """

    def __init__(self, features: FeatureService, store: Store) -> None:
        self._features = features
        self._store = store

    def selection(self, dataset: str, ids: Sequence[int], fmt: str) -> Download:
        """Write the stored feature summaries of the samples ``ids`` in ``fmt`` and return the file.

        The same records and provenance as ``audiosoup export --dataset NAME`` (one row
        per sample, every feature's means and standard deviations), kept to ``ids``.

        Parameters
        ----------
        dataset : str
        ids : sequence of int
            The selected samples (1 to :data:`MAX_SELECTION_EXPORT`).
        fmt : {'csv', 'yaml', 'json', 'txt', 'parquet'}

        Returns
        -------
        Download

        Raises
        ------
        ValidationError
            For an unknown format or an empty or oversized selection.
        FeatureError
            When no summaries are stored yet (the message names the command to run).
        """
        if fmt not in EXPORT_FORMATS:
            raise ValidationError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        if not ids:
            raise ValidationError("select at least one sample to export")
        if len(ids) > MAX_SELECTION_EXPORT:
            raise ValidationError(f"a download holds at most {MAX_SELECTION_EXPORT:,} samples")
        with tempfile.TemporaryDirectory(prefix="audiosoup-export-") as folder:
            target = os.path.join(folder, f"export.{fmt}")
            export_features(
                dataset,
                fmt=fmt,
                output=target,
                db=self._store,
                params=self._features.params,
                sample_ids=list(ids),
            )
            with open(target, "rb") as f:
                data = f.read()
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in dataset)[:60] or "dataset"
        return Download(f"features_{safe}_{len(ids)}_selected.{fmt}", data, _MIME[fmt])

    def features(self, record: SampleRecord, names: Sequence[str], fmt: str) -> Download:
        """Write one sample's full feature matrices in ``fmt`` and return the file.

        Parameters
        ----------
        record : SampleRecord
        names : sequence of str
            Feature ids (validated against the registry).
        fmt : {'csv', 'yaml', 'json', 'txt', 'parquet'}

        Returns
        -------
        Download
            ``(name, data, mime)``.

        Raises
        ------
        ValidationError
            For an unknown format or feature, or no feature at all.
        """
        if fmt not in EXPORT_FORMATS:
            raise ValidationError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        names = list(dict.fromkeys(names))
        if not names:
            raise ValidationError("select at least one feature to export")
        for n in names:
            get_feature(n)
        values: dict[str, np.ndarray] = {}
        for family in FAMILIES:
            wanted = [n for n in names if FEATURES[n].family == family]
            if wanted:
                fs = self._features.compute(record, family)
                values.update({n: fs.values[n] for n in wanted})
        rec: dict[str, Any] = {
            "sample_id": record.id,
            "path": record.path,
            "label": record.label,
            "split": record.split,
        }
        for n in names:
            # The export module turns arrays into {"shape", "values"} records itself.
            rec[n] = np.asarray(values[n], dtype=np.float64)
        data = _file_bytes([rec], provenance=sample_provenance(record, names, self._features.params), fmt=fmt)
        return Download(_download_name(record, fmt), data, _MIME[fmt])
