"""AudioService: a sample's audio for playback and analysis, and its thumbnail peaks.

Decoded audio of the last few samples is cached (keyed by content, so an edit of
the metadata never invalidates it); playback travels as a 16-bit WAV, at most
:data:`MAX_PLAY_SECONDS` long. Decoding always stays inside the dataset's folder.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..audio import decode, decode_peaks, normalised
from ..audio.peaks import waveform_peaks
from ..config import clip_root
from ..errors import DecodeError, ValidationError
from ..features.params import MAX_FEATURE_SECONDS
from ..store.records import SampleRecord
from .cache import LRUCache
from .samples import SampleService

__all__ = ["AudioService", "MAX_PLAY_SECONDS", "MAX_FEATURE_SECONDS"]

#: Longest stretch of a clip sent to the browser for playback (a 60-s 48 kHz WAV is 5.8 MB).
MAX_PLAY_SECONDS = 60.0


class AudioService:
    """Decoded audio (cached), WAV bytes for the browser and display peaks.

    Parameters
    ----------
    samples : SampleService
        Where a sample's file and its dataset's folder are found.
    """

    def __init__(self, samples: SampleService) -> None:
        self._samples = samples
        self._audio: LRUCache[tuple[np.ndarray, int]] = LRUCache(4)

    def decode(
        self, record: SampleRecord, *, max_seconds: float = MAX_FEATURE_SECONDS
    ) -> tuple[np.ndarray, int]:
        """Decode (the start of) a sample's audio as mono float32, cached.

        Parameters
        ----------
        record : SampleRecord
            A record from :meth:`SampleService.get`.
        max_seconds : float
            Seconds decoded at most.

        Returns
        -------
        y : np.ndarray, shape (n,), float32
        sr : int

        Raises
        ------
        DecodeError
            If the file is missing, outside its dataset's folder or unreadable.
        """
        key = (record.id, record.content_hash, float(max_seconds))

        def load() -> tuple[np.ndarray, int]:
            path = self._samples.sample_file(record.id)
            root = clip_root(path, self._samples.dataset_root(record.dataset))
            try:
                y, sr = decode(path, sr=None, mono=True, duration=max_seconds, root=root)
            except DecodeError as exc:
                # Say which clip, in words; the decoder's reason never names server paths.
                raise DecodeError(
                    f"The audio of {record.file_name} cannot be used: {exc.message}", code=exc.code
                ) from exc
            return np.ascontiguousarray(y, dtype=np.float32), int(sr)

        return self._audio.get(key, load)

    def is_cached(self, record: SampleRecord, *, max_seconds: float = MAX_FEATURE_SECONDS) -> bool:
        """Whether :meth:`decode` would answer without reading the file."""
        return (record.id, record.content_hash, float(max_seconds)) in self._audio

    def wav_bytes(self, record: SampleRecord, *, max_seconds: float = MAX_PLAY_SECONDS) -> bytes:
        """Return (the start of) a sample as a 16-bit mono WAV file for the browser.

        Parameters
        ----------
        record : SampleRecord
        max_seconds : float
            Seconds sent at most; longer clips are cut (the player says so).

        Returns
        -------
        bytes
        """
        import soundfile as sf

        y, sr = self.decode(record, max_seconds=max_seconds)
        buf = io.BytesIO()
        y = np.clip(np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    def segment_wav(self, record: SampleRecord, *, start: float, end: float) -> bytes:
        """Return the stretch ``start`` .. ``end`` seconds of a sample as a 16-bit mono WAV.

        A time region plays alone from its own WAV: the browser then needs no seeking
        or timers to stop at its end.

        Parameters
        ----------
        record : SampleRecord
        start, end : float
            Seconds from the clip's start; ``end`` is cut at the decoded length.

        Returns
        -------
        bytes

        Raises
        ------
        ValidationError
            For bounds that are not finite, negative, reversed, or past the audio.
        """
        import soundfile as sf

        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise ValidationError("A region needs 0 <= start < end, in seconds.")
        if start >= MAX_PLAY_SECONDS:
            raise ValidationError(f"Only the first {MAX_PLAY_SECONDS:.0f} s of a clip can be played here.")
        y, sr = self.decode(record, max_seconds=MAX_PLAY_SECONDS)
        i0, i1 = int(round(start * sr)), min(len(y), int(round(end * sr)))
        if i0 >= len(y) or i1 <= i0:
            raise ValidationError("That region lies past the end of the audio.")
        seg = np.clip(np.nan_to_num(y[i0:i1], nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
        buf = io.BytesIO()
        sf.write(buf, seg, sr, format="WAV", subtype="PCM_16")
        return buf.getvalue()

    def waveform(self, record: SampleRecord, *, n_bins: int = 1200) -> tuple[np.ndarray, float]:
        """Return the decoded clip's min/max envelope for the review's waveform.

        Returns
        -------
        peaks : ndarray, shape (2, n)
            Minimum and maximum of each of ``n <= n_bins`` stretches of the clip.
        duration : float
            Seconds the envelope covers.
        """
        y, sr = self.decode(record)
        y = np.nan_to_num(np.asarray(y, dtype=np.float32))
        n = len(y)
        peaks = waveform_peaks(y, n_bins=max(1, min(n_bins, n))) if n else np.zeros((2, 1))
        return peaks, n / sr

    @staticmethod
    def play_truncated(record: SampleRecord) -> bool:
        """Whether playback of ``record`` is cut at :data:`MAX_PLAY_SECONDS`."""
        return record.duration > MAX_PLAY_SECONDS

    @staticmethod
    def thumbnail(record: SampleRecord) -> tuple[np.ndarray, float] | None:
        """Return the stored peaks scaled for a thumbnail and the gain applied, in dB.

        Returns
        -------
        (peaks, gain_db) or None
            ``peaks`` has shape ``(2, n)`` within [-1, 1]; None if the sample has no
            usable stored peaks.
        """
        if not record.peaks:
            return None
        try:
            return normalised(decode_peaks(record.peaks))
        except ValueError:
            return None
