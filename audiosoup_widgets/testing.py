"""Helpers for tests and benchmarks: synthetic sample rows in a store.

:func:`sample_row` is the one way a test or benchmark writes a sample row by hand;
:func:`seed_synthetic` makes many, with realistic metadata and waveform peaks but no
audio file behind them, to exercise paging, filtering and editing at any scale;
:func:`seed_summaries` gives samples feature summaries that cluster by label (for maps).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from .audio import encode_peaks, waveform_peaks


class SeedableStore(Protocol):
    """What :func:`seed_synthetic` needs of a store (``Store`` has it)."""

    def ensure_dataset(self, name: str, *, root: str, layout: str, source_url: str | None = None) -> int:
        """Return the id of dataset ``name``, creating it if needed."""

    def ensure_labels(self, dataset_id: int, names: Iterable[str]) -> dict[str, int]:
        """Create missing labels and return a name -> id map for all of them."""

    def insert_samples(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert sample rows, ignoring existing (dataset, path); return the number added."""


class SummaryStore(Protocol):
    """What :func:`seed_summaries` needs of a store (``Store`` has it)."""

    def sample_table(
        self, dataset: str, *, label: str | None = None, split: str | None = None
    ) -> list[tuple[int, str, str | None, str | None]]:
        """Return ``(id, path, label, split)`` of a dataset's samples, by id."""

    def write_summaries(self, rows: Sequence[dict[str, Any]]) -> int:
        """Upsert summary rows."""


def seed_summaries(
    store: SummaryStore,
    dataset: str,
    *,
    rows: dict[str, int],
    ids: Sequence[int] | None = None,
    spread: float = 1.5,
    seed: int = 0,
    batch: int = 10_000,
) -> dict[int, np.ndarray]:
    """Store synthetic summaries (default parameters' keys) that cluster by label.

    Each label gets a random centre; a clip's values are its label's centre plus unit
    Gaussian noise, so a map of them shows one cloud per label.

    Parameters
    ----------
    store : Store
    dataset : str
    rows : dict of str to int
        Feature id -> rows of its summary (it stores twice as many values: means, stds).
    ids : sequence of int, optional
        Only these samples (default: every sample of the dataset).
    spread : float
        Standard deviation of the label centres (0: no structure).
    seed : int
        Random seed.
    batch : int
        Clips per write.

    Returns
    -------
    dict of int to ndarray
        Sample id -> the float32 values stored, features side by side in ``rows`` order.
    """
    from .features.params import FeatureParams

    fp = FeatureParams()
    rng = np.random.default_rng(seed)
    width = 2 * sum(rows.values())
    table = store.sample_table(dataset)
    wanted = None if ids is None else set(ids)
    chosen = [(sid, label) for sid, _, label, _ in table if wanted is None or sid in wanted]
    labels = sorted({str(label) for _, label in chosen})
    centres = {lab: rng.normal(0.0, spread, width).astype(np.float32) for lab in labels}
    stored: dict[int, np.ndarray] = {}
    for start in range(0, len(chosen), batch):
        out: list[dict[str, Any]] = []
        for sid, label in chosen[start : start + batch]:
            values = centres[str(label)] + rng.standard_normal(width, dtype=np.float32)
            stored[sid] = values
            col = 0
            for feature, k in rows.items():
                out.append(
                    {
                        "sample_id": sid,
                        "feature": feature,
                        "param_key": fp.key_for(feature),
                        "status": "ok",
                        "n_rows": k,
                        "n_frames": 32,
                        "data": values[col : col + 2 * k].astype("<f4").tobytes(),
                    }
                )
                col += 2 * k
        store.write_summaries(out)
    return stored


def sample_row(
    dataset_id: int, path: str, *, audio: np.ndarray | None = None, **overrides: Any
) -> dict[str, Any]:
    """Return one row for ``Store.insert_samples``, with the required columns filled.

    Defaults: a one-second 16 kHz mono WAV (16000 frames), ``duration`` =
    ``frames / sample_rate`` and a ``content_hash`` made from the dataset id and
    path (so distinct rows never look like duplicates).

    Parameters
    ----------
    dataset_id : int
        The dataset the sample belongs to.
    path : str
        The sample's path relative to the dataset root (``/`` separators).
    audio : numpy.ndarray, optional
        Mono samples the row describes: ``frames``, ``peaks``, ``peak_abs`` and
        ``rms_db`` are computed from them (``duration`` follows ``frames``).
    **overrides
        Any other column (``label_id``, ``split``, ``text``, ``meta``, ``status``,
        ``flags``, ...) or a replacement for a default.
    """
    row: dict[str, Any] = {
        "dataset_id": dataset_id,
        "path": path,
        "content_hash": hashlib.sha256(f"{dataset_id}:{path}".encode()).hexdigest(),
        "format": "WAV",
        "sample_rate": 16000,
        "channels": 1,
        "frames": 16000,
    }
    if audio is not None:
        y = np.asarray(audio)
        row.update(
            frames=len(y),
            peaks=encode_peaks(waveform_peaks(y)),
            peak_abs=float(np.abs(y).max()),
            rms_db=float(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12)),
        )
    row.update(overrides)
    row.setdefault("duration", row["frames"] / row["sample_rate"])
    return row


def seed_synthetic(
    store: SeedableStore,
    *,
    dataset: str = "synthetic",
    n: int = 1000,
    labels: tuple[str, ...] = ("yes", "no", "up", "down"),
    batch: int = 20_000,
    seed: int = 0,
) -> int:
    """Insert ``n`` synthetic samples into ``store`` and return the dataset id.

    Parameters
    ----------
    store : Store
        Target store.
    dataset : str
        Dataset name (created if needed; its root is a folder that does not exist).
    n : int
        Number of samples.
    labels : tuple of str
        Labels assigned round-robin.
    batch : int
        Rows per bulk insert.
    seed : int
        Random seed for the peaks.
    """
    rng = np.random.default_rng(seed)
    ds_id = store.ensure_dataset(dataset, root="/nonexistent/synthetic", layout="folders")
    label_ids = store.ensure_labels(ds_id, labels)
    env = np.abs(np.sin(np.linspace(0, np.pi, 200)))
    splits = ("train",) * 8 + ("validation", "test")
    for start in range(0, n, batch):
        rows: list[dict[str, Any]] = []
        for i in range(start, min(n, start + batch)):
            lab = labels[i % len(labels)]
            amp = float(rng.uniform(0.01, 0.9))
            peaks = np.stack([-env * amp, env * amp]).astype(np.float32)
            rows.append(
                sample_row(
                    ds_id,
                    f"{lab}/{i:08x}_nohash_{i % 5}.wav",
                    label_id=label_ids[lab],
                    content_hash=hashlib.sha256(f"{dataset}:{i}".encode()).hexdigest(),
                    subtype="PCM_16",
                    split=splits[i % len(splits)],
                    speaker=f"{i % 997:08x}",
                    text=f"synthetic clip {i} of {lab}",
                    peaks=encode_peaks(peaks),
                    peak_abs=amp,
                    rms_db=float(20 * np.log10(amp / 3)),
                )
            )
        store.insert_samples(rows)
    return ds_id
