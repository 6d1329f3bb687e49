"""The shared intermediates of one batch, and which of them each feature is.

:class:`Batch` computes, lazily and once per batch of equal-length clips, what
several features share: one STFT feeds the power and mel spectrograms, spectral
contrast and chroma; one log-mel spectrogram feeds the MFCCs, the mel deltas, the
onset envelope and the beat tracker; one onset envelope feeds both tempograms.
:data:`COMPUTE` maps every registered feature to its value from a :class:`Batch`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from .. import jitcache
from .adapt import Plan
from .filters import chroma_filters, mel_filters
from .params import FeatureParams
from .registry import FEATURES
from .rhythm import stack_memory, tempogram, track_beats
from .spectral import db_per_clip, spectral_contrast, tonnetz
from .tuning import estimate_tunings

# librosa's numba code loads (or compiles) here, under the project's compile lock
# and in the project's cache folder: see :mod:`audiosoup_widgets.jitcache`.
librosa = jitcache.import_librosa()

__all__ = ["COMPUTE", "RAGGED", "Batch"]


class Batch:
    """Lazily computed intermediates of one batch of equal-length clips, shape (B, n)."""

    def __init__(self, y: np.ndarray, sr: float, params: FeatureParams, plan: Plan) -> None:
        self.y = y
        self.sr = sr
        self.p = params
        self.plan = plan

    @cached_property
    def stft(self) -> np.ndarray:
        """The complex STFT, shape (B, 1 + n_fft // 2, t)."""
        stft: np.ndarray = librosa.stft(self.y, n_fft=self.p.n_fft, hop_length=self.p.hop_length)
        return stft

    @cached_property
    def magnitude(self) -> np.ndarray:
        """``abs(stft)``."""
        magnitude: np.ndarray = np.abs(self.stft)
        return magnitude

    @cached_property
    def power(self) -> np.ndarray:
        """``abs(stft) ** 2``, the power spectrogram."""
        return self.magnitude**2

    @cached_property
    def mel(self) -> np.ndarray:
        """The mel power spectrogram, shape (B, n_mels, t)."""
        # librosa.feature.melspectrogram(S=power) is one einsum over the whole batch,
        # and BLAS may round a clip differently depending on how many clips share the
        # call. Each mel filter is a short triangle, so a sparse product (which
        # computes every output column on its own) does the same sums without the
        # ~98% of multiplications by zero.
        basis = mel_filters(float(self.sr), self.p.n_fft, self.p.n_mels, self.p.mel_fmin, self.p.mel_fmax)
        power = self.power
        b, f, t = power.shape
        columns = np.moveaxis(power, 0, 1).reshape(f, b * t)
        return np.ascontiguousarray(np.moveaxis(basis.dot(columns).reshape(-1, b, t), 1, 0))

    @cached_property
    def log_mel(self) -> np.ndarray:
        """The mel spectrogram in dB, floored per clip (:func:`.spectral.db_per_clip`).

        ``librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80)`` of each clip: the
        input of ``librosa.feature.mfcc`` and of the onset envelope, and the log-mel
        whose deltas are ``mel_delta`` and ``mel_delta2``.
        """
        return db_per_clip(self.mel)

    @cached_property
    def onset(self) -> np.ndarray:
        """The onset strength envelope (mean over mel bands), shape (B, t)."""
        onset: np.ndarray = librosa.onset.onset_strength(
            S=self.log_mel, sr=self.sr, n_fft=self.p.n_fft, hop_length=self.p.hop_length
        )
        return onset

    @cached_property
    def onset_median(self) -> np.ndarray:
        """The beat tracker's onset envelope (median over mel bands), shape (B, t)."""
        # beat_track(y=...) builds its envelope with a median over mel bands.
        onset: np.ndarray = librosa.onset.onset_strength(
            S=self.log_mel,
            sr=self.sr,
            n_fft=self.p.n_fft,
            hop_length=self.p.hop_length,
            aggregate=np.median,
        )
        return onset

    @cached_property
    def mfcc(self) -> np.ndarray:
        """The MFCCs of the log-mel spectrogram, shape (B, n_mfcc, t)."""
        mfcc: np.ndarray = librosa.feature.mfcc(S=self.log_mel, n_mfcc=self.p.n_mfcc)
        return mfcc

    @cached_property
    def chroma(self) -> np.ndarray:
        """Chroma from the power spectrogram at each clip's tuning, shape (B, 12, t)."""
        if self.p.tuning is not None:
            tunings = np.full(len(self.y), self.p.tuning)
        else:
            tunings = estimate_tunings(self.power, self.sr, bins_per_octave=12)
        # One clip at a time, as librosa.feature.chroma_stft does it: a batched einsum
        # may sum in another order depending on the batch size.
        raw = np.stack(
            [
                chroma_filters(float(self.sr), self.p.n_fft, float(tuning)) @ power
                for tuning, power in zip(tunings, self.power, strict=True)
            ]
        )
        chroma: np.ndarray = librosa.util.normalize(raw, norm=np.inf, axis=-2)
        return chroma

    @cached_property
    def cqt_tunings(self) -> np.ndarray:
        """Each clip's CQT tuning in fractions of a CQT bin, shape (B,)."""
        bpo = self.p.cqt_bins_per_octave
        if self.p.tuning is not None:
            return np.full(len(self.y), self.p.tuning * bpo / 12)
        # librosa estimates the CQT's tuning from a 2048/512 magnitude STFT whatever
        # the other parameters: reuse ours when it is that one.
        if self.p.n_fft == 2048 and self.p.hop_length == 512:
            magnitude = self.magnitude
        else:
            magnitude = np.abs(librosa.stft(self.y, n_fft=2048, hop_length=512))
        return estimate_tunings(magnitude, self.sr, bins_per_octave=bpo)

    @cached_property
    def beats(self) -> list[np.ndarray]:
        """Each clip's beat frames (:func:`.rhythm.track_beats`)."""
        return track_beats(
            self.onset_median,
            self.sr,
            hop_length=self.p.hop_length,
            start_bpm=self.p.start_bpm,
            tightness=self.p.tightness,
        )


def _contrast(batch: Batch) -> np.ndarray:
    return spectral_contrast(
        batch.magnitude,
        batch.sr,
        n_fft=batch.p.n_fft,
        fmin=batch.p.contrast_fmin,
        n_bands=batch.plan.n_bands,
        quantile=batch.p.contrast_quantile,
    )


def _tonnetz(batch: Batch) -> np.ndarray:
    bpo = batch.p.cqt_bins_per_octave
    return tonnetz(
        batch.y,
        batch.sr,
        batch.cqt_tunings,
        hop_length=batch.p.hop_length,
        n_bins=batch.plan.cqt_n_octaves * bpo,
        bins_per_octave=bpo,
    )


def _delta(values: np.ndarray, plan: Plan, order: int) -> np.ndarray:
    """``librosa.feature.delta`` over frames, with the width and mode planned for the clip length."""
    delta: np.ndarray = librosa.feature.delta(
        values, width=plan.delta_width, order=order, mode=plan.delta_mode
    )
    return delta


def _stack_memory(batch: Batch) -> np.ndarray:
    return stack_memory(batch.chroma, batch.beats, n_steps=batch.p.stack_n_steps, delay=batch.p.stack_delay)


#: Per registered feature, its value for every clip of a :class:`Batch`.
COMPUTE: dict[str, Callable[[Batch], np.ndarray]] = {
    "mel_spectrogram": lambda b: b.mel,
    "power_spectrogram": lambda b: b.power,
    "spectral_contrast": _contrast,
    "chroma": lambda b: b.chroma,
    "tonnetz": _tonnetz,
    "onset_strength": lambda b: b.onset,
    "tempogram": lambda b: tempogram(b.onset, b.p.tempo_win_length, b.sr, b.p.hop_length),
    "fourier_tempogram": lambda b: np.abs(
        librosa.feature.fourier_tempogram(
            onset_envelope=b.onset, sr=b.sr, hop_length=b.p.hop_length, win_length=b.p.tempo_win_length
        )
    ),
    "mfcc": lambda b: b.mfcc,
    "mfcc_delta": lambda b: _delta(b.mfcc, b.plan, 1),
    "mfcc_delta2": lambda b: _delta(b.mfcc, b.plan, 2),
    # The deltas of the log-mel the MFCCs are computed from (no second mel spectrogram).
    "mel_delta": lambda b: _delta(b.log_mel, b.plan, 1),
    "mel_delta2": lambda b: _delta(b.log_mel, b.plan, 2),
    "stack_memory": _stack_memory,
}
RAGGED: frozenset[str] = frozenset({"stack_memory"})
"""Features whose clips differ in width; a batch pads them with all-NaN columns."""
assert set(COMPUTE) == set(FEATURES), "every registered feature needs a computation"
