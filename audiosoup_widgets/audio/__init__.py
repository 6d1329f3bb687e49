"""Audio: safe bounded decoding, waveform peaks and a process pool for batches.

``decode`` reads and checks files (:func:`probe_file`, :func:`analyse_file`,
:func:`decode`, :func:`decode_segments`); ``peaks`` owns the thumbnail peaks and their stored bytes;
``pool`` runs :func:`analyse_file` over many files in worker processes with a
per-file deadline (:func:`analyse_many`). Nothing here imports a database or UI
library.
"""

from __future__ import annotations

from .decode import (
    FLAGS,
    REASONS,
    Analysis,
    AudioInfo,
    Limits,
    Segment,
    analyse_file,
    decode,
    decode_segments,
    probe_file,
)
from .peaks import N_PEAKS, decode_peaks, encode_peaks, normalised, waveform_peaks
from .pool import analyse_many

__all__ = [
    "FLAGS", "REASONS", "N_PEAKS", "Analysis", "AudioInfo", "Limits", "Segment", "probe_file",
    "analyse_file", "decode", "decode_segments", "waveform_peaks", "encode_peaks",
    "decode_peaks", "normalised", "analyse_many",
]
