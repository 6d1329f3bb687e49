"""Audio: safe bounded decoding, analysis and waveform peaks.

Modules, bottom to top: ``limits`` (:class:`Limits` and the skip reasons :data:`REASONS`);
``files`` (opening a path safely: inside the root, a regular file within size);
``containers`` (our own reading of RIFF, MP3 and Ogg structure, and of libsndfile's
messages); ``reader`` (a checked, open file read in bounded chunks, :class:`AudioInfo`);
``decode`` (:func:`probe_file`, :func:`decode`, :func:`decode_segments`); ``levels``
(full scale and the level floor, shared by the two modules after it); ``quality``
(per-clip quality measures of decoded audio, one-shot or in chunks, and
:data:`QUALITY_VERSION`); ``analysis`` (:func:`analyse_file`: hash, peaks, levels,
quality :data:`FLAGS` and measures in one pass; :func:`measure_file`, the measures alone);
``peaks`` (the thumbnail peaks and their stored bytes); ``transforms`` and ``recipes``
(augmentation: the curated audiomentations transforms, recipes and applying them; imported
by name, not here, so audiomentations loads only when used). Running :func:`analyse_file`
over many files in worker processes is the jobs layer's
(:func:`audiosoup_widgets.jobs.decodepool.analyse_many`). Nothing here imports a
database or UI library, or starts a process.
"""

from __future__ import annotations

from .analysis import FLAGS, Analysis, analyse_file, measure_file
from .decode import Segment, decode, decode_segments, probe_file
from .limits import REASONS, Limits
from .peaks import N_PEAKS, decode_peaks, encode_peaks, normalised, waveform_peaks
from .quality import QUALITY_VERSION, QualityAccumulator, QualityMeasures, measure_quality
from .reader import AudioInfo

__all__ = [
    "FLAGS",
    "REASONS",
    "N_PEAKS",
    "QUALITY_VERSION",
    "Analysis",
    "AudioInfo",
    "Limits",
    "QualityAccumulator",
    "QualityMeasures",
    "Segment",
    "probe_file",
    "analyse_file",
    "measure_file",
    "decode",
    "decode_segments",
    "waveform_peaks",
    "encode_peaks",
    "decode_peaks",
    "normalised",
    "measure_quality",
]
