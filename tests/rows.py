"""Sample rows for ``Store.insert_samples``: the one place tests write a row by hand.

A plain module (tests/ is on ``sys.path``): ``from rows import sample_row``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from audiosoup_widgets.audio import encode_peaks, waveform_peaks


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
