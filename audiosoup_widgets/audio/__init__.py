"""Audio: safe bounded decoding and waveform peaks.

``decode`` reads and checks files (:func:`probe_file`, :func:`analyse_file`,
:func:`decode`, :func:`decode_segments`); ``peaks`` owns the thumbnail peaks and their stored bytes.
Running :func:`analyse_file` over many files in worker processes is the jobs
layer's (:func:`audiosoup_widgets.jobs.decodepool.analyse_many`). Nothing here
imports a database or UI library, or starts a process.
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

__all__ = [
    "FLAGS", "REASONS", "N_PEAKS", "Analysis", "AudioInfo", "Limits", "Segment", "probe_file",
    "analyse_file", "decode", "decode_segments", "waveform_peaks", "encode_peaks",
    "decode_peaks", "normalised",
]
