"""The feature registry: what each feature is, how to show it, what it depends on.

This module owns the catalogue of features the feature engine computes
(:data:`FEATURES`), their plain-language explanations and reference links,
their axes, and the parameter dependency graph used to invalidate cached values.
It computes nothing; :mod:`audiosoup_widgets.features.engine` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FeatureError

__all__ = [
    "Axis",
    "FeatureSpec",
    "FEATURES",
    "FAMILIES",
    "PITCH_CLASSES",
    "TONNETZ_DIMS",
    "INTERMEDIATE_PARAMS",
    "get_feature",
    "features_in",
]

FAMILIES: tuple[str, ...] = ("spectral", "rhythmic", "deltas")
"""The three families of the feature view, in display order."""

SCALES: tuple[str, ...] = ("linear", "log", "mel", "categorical")

PITCH_CLASSES: tuple[str, ...] = (
    "C",
    "C#",
    "D",
    "D#",
    "E",
    "F",
    "F#",
    "G",
    "G#",
    "A",
    "A#",
    "B",
)
TONNETZ_DIMS: tuple[str, ...] = (
    "fifths x",
    "fifths y",
    "minor thirds x",
    "minor thirds y",
    "major thirds x",
    "major thirds y",
)


@dataclass(frozen=True)
class Axis:
    """One axis of a feature plot.

    Parameters
    ----------
    name : str
        What the axis measures, for a label ("frequency", "time").
    unit : str
        The unit shown beside the name ("Hz", "s", "BPM").
    scale : {'linear', 'log', 'mel', 'categorical'}
        How a viewer should space the values.
    ticks : tuple of str
        Labels of the rows of a categorical axis (pitch classes, tonnetz
        dimensions); empty for continuous axes.
    """

    name: str
    unit: str
    scale: str = "linear"
    ticks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {self.scale!r}")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything a viewer and a cache need to know about one feature.

    Parameters
    ----------
    id : str
        Stable identifier, also the key in the engine's output.
    family : {'spectral', 'rhythmic', 'deltas'}
        The group it is shown in.
    title : str
        A short human title.
    explanation : str
        A plain-language paragraph (2-4 sentences) a non-expert can follow.
    links : tuple of (str, str)
        ``(title, url)`` pairs: Wikipedia, the paper where one exists, and the
        librosa documentation page.
    y_axis, x_axis : Axis
        The axes of the plot. For ``kind='line'`` the y axis carries the value.
    kind : {'image', 'line'}
        An image (rows x frames) or a line (one value per frame).
    db : {'power', 'amplitude', None}
        How a viewer should convert values to decibels before showing them:
        ``10 log10`` for power, ``20 log10`` for amplitude, nothing for None.
    params : tuple of str
        Names of the :class:`~audiosoup_widgets.features.params.FeatureParams`
        fields that change this feature's values.
    value_unit : str
        The unit of the values themselves (colour bar of an image).
    """

    id: str
    family: str
    title: str
    explanation: str
    links: tuple[tuple[str, str], ...]
    y_axis: Axis
    x_axis: Axis
    kind: str
    db: str | None
    params: tuple[str, ...]
    value_unit: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}")
        if self.kind not in ("image", "line"):
            raise ValueError(f"kind must be 'image' or 'line', not {self.kind!r}")
        if self.db not in ("power", "amplitude", None):
            raise ValueError(f"db must be 'power', 'amplitude' or None, not {self.db!r}")


# -- The parameter dependency graph ------------------------------------------------------
def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for group in groups for name in group))


# Each intermediate lists the parameters that change it, including those of the
# intermediates it is computed from, so a feature's parameters are those of the
# intermediates it reads.  The engine computes every intermediate once per batch.
_STFT = ("n_fft", "hop_length")
_MEL = _union(_STFT, ("n_mels", "mel_fmin", "mel_fmax"))
# The log-mel feeds MFCCs, the onset envelope and (through a median-aggregated
# envelope) the beat tracker, so mel parameters reach the rhythm features too.
_ONSET = _MEL
_TEMPO = _union(_ONSET, ("tempo_win_length",))
_CHROMA = _union(_STFT, ("tuning",))
# The CQT has its own hop but librosa estimates its tuning from a fixed
# 2048/512 STFT whatever n_fft is, so n_fft does not reach tonnetz.
_CQT = ("hop_length", "tuning", "cqt_n_octaves", "cqt_bins_per_octave")
_MFCC = _union(_MEL, ("n_mfcc",))
_BEATS = _union(_ONSET, ("start_bpm", "tightness"))
_STACK = _union(_CHROMA, _BEATS, ("stack_n_steps", "stack_delay"))

INTERMEDIATE_PARAMS: dict[str, tuple[str, ...]] = {
    "stft": _STFT,
    "mel": _MEL,
    "log_mel": _MEL,
    "onset_envelope": _ONSET,
    "chroma_stft": _CHROMA,
    "cqt": _CQT,
    "beats": _BEATS,
}
"""Parameters of each shared intermediate (for documentation and tests)."""

_LIBROSA_DOC = "https://librosa.org/doc/latest/generated/"

_TIME = Axis("time", "s", "linear")
_FREQ_LINEAR = Axis("frequency", "Hz", "linear")
_COEFF = Axis("coefficient", "index", "linear")
_PITCH = Axis("pitch class", "pitch class", "categorical", PITCH_CLASSES)


def _lib(name: str) -> tuple[str, str]:
    return (f"librosa: {name}", f"{_LIBROSA_DOC}{name}.html")


_DELTA_LINKS = (
    ("Wikipedia: Savitzky-Golay filter", "https://en.wikipedia.org/wiki/Savitzky%E2%80%93Golay_filter"),
    (
        "Furui (1986): Speaker-independent isolated word recognition using dynamic "
        "features of speech spectrum",
        "https://doi.org/10.1109/TASSP.1986.1164788",
    ),
    _lib("librosa.feature.delta"),
)


_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        id="mel_spectrogram",
        family="spectral",
        title="Mel spectrogram",
        explanation=(
            "A picture of how much energy the sound has at each pitch over time, with the "
            "pitch axis stretched the way human hearing works: low frequencies get more room "
            "than high ones. Bright areas are loud. It is the usual starting point for speech "
            "and sound-recognition models."
        ),
        links=(
            ("Wikipedia: Mel scale", "https://en.wikipedia.org/wiki/Mel_scale"),
            (
                "Stevens, Volkmann & Newman (1937): A scale for the measurement of the "
                "psychological magnitude pitch",
                "https://doi.org/10.1121/1.1915893",
            ),
            _lib("librosa.feature.melspectrogram"),
        ),
        y_axis=Axis("frequency", "Hz", "mel"),
        x_axis=_TIME,
        kind="image",
        db="power",
        params=_MEL,
        value_unit="power",
    ),
    FeatureSpec(
        id="power_spectrogram",
        family="spectral",
        title="Power spectrogram",
        explanation=(
            "The raw picture of the sound: the signal is cut into short overlapping slices and "
            "each slice is split into evenly spaced frequencies (a short-time Fourier "
            "transform). Every pixel is the energy at one frequency at one moment. Unlike the "
            "mel spectrogram, high frequencies take as much room as low ones."
        ),
        links=(
            ("Wikipedia: Spectrogram", "https://en.wikipedia.org/wiki/Spectrogram"),
            (
                "Wikipedia: Short-time Fourier transform",
                "https://en.wikipedia.org/wiki/Short-time_Fourier_transform",
            ),
            _lib("librosa.stft"),
        ),
        y_axis=_FREQ_LINEAR,
        x_axis=_TIME,
        kind="image",
        db="power",
        params=_STFT,
        value_unit="power",
    ),
    FeatureSpec(
        id="spectral_contrast",
        family="spectral",
        title="Spectral contrast",
        explanation=(
            "For each octave-wide band of frequencies, the difference in decibels between the "
            "peaks and the valleys of the spectrum. Clear tones and voiced speech give high "
            "contrast; noise gives low contrast. The top band must stay below half the sample "
            "rate, so at 8 and 11.025 kHz the engine uses fewer bands (recorded in its result)."
        ),
        links=(
            ("Wikipedia: Octave band", "https://en.wikipedia.org/wiki/Octave_band"),
            (
                "Jiang et al. (2002): Music type classification by spectral contrast feature",
                "https://doi.org/10.1109/ICME.2002.1035731",
            ),
            _lib("librosa.feature.spectral_contrast"),
        ),
        y_axis=Axis("frequency band", "octave band", "categorical"),
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_union(_STFT, ("contrast_fmin", "n_bands", "contrast_quantile")),
        value_unit="dB",
    ),
    FeatureSpec(
        id="chroma",
        family="spectral",
        title="Chromagram",
        explanation=(
            "How strongly each of the twelve musical notes (C, C#, ... B) sounds at each "
            "moment, with all octaves folded together. It shows melody and harmony rather than "
            "timbre. On speech or noise it is mostly a blur, which is itself informative."
        ),
        links=(
            ("Wikipedia: Chroma feature", "https://en.wikipedia.org/wiki/Chroma_feature"),
            (
                "Bartsch & Wakefield (2001): To catch a chorus: using chroma-based "
                "representations for audio thumbnailing",
                "https://doi.org/10.1109/ASPAA.2001.969560",
            ),
            _lib("librosa.feature.chroma_stft"),
        ),
        y_axis=_PITCH,
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_CHROMA,
        value_unit="relative energy",
    ),
    FeatureSpec(
        id="tonnetz",
        family="spectral",
        title="Tonal centroids (tonnetz)",
        explanation=(
            "Six numbers per moment that place the sounding notes on three circles: fifths, "
            "minor thirds and major thirds. Chords that sound related land close together. It "
            "is built from a constant-Q chromagram, so it is most meaningful for music and "
            "sung or sustained tones."
        ),
        links=(
            ("Wikipedia: Tonnetz", "https://en.wikipedia.org/wiki/Tonnetz"),
            (
                "Harte, Sandler & Gasser (2006): Detecting harmonic change in musical audio",
                "https://doi.org/10.1145/1178723.1178727",
            ),
            _lib("librosa.feature.tonnetz"),
        ),
        y_axis=Axis("tonal dimension", "coordinate", "categorical", TONNETZ_DIMS),
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_CQT,
        value_unit="coordinate",
    ),
    FeatureSpec(
        id="onset_strength",
        family="rhythmic",
        title="Onset strength",
        explanation=(
            "A curve that rises whenever the sound suddenly gets louder in some frequency "
            "band: a word starting, a drum hit, a click. Peaks mark where new events begin. "
            "Both tempograms and the beat tracker are computed from curves like this one."
        ),
        links=(
            ("Wikipedia: Onset (audio)", "https://en.wikipedia.org/wiki/Onset_(audio)"),
            (
                "Bello et al. (2005): A tutorial on onset detection in music signals",
                "https://doi.org/10.1109/TSA.2005.851998",
            ),
            _lib("librosa.onset.onset_strength"),
        ),
        y_axis=Axis("onset strength", "dB increase", "linear"),
        x_axis=_TIME,
        kind="line",
        db=None,
        params=_ONSET,
        value_unit="dB increase",
    ),
    FeatureSpec(
        id="tempogram",
        family="rhythmic",
        title="Tempogram (autocorrelation)",
        explanation=(
            "For each moment, how well the onset curve repeats itself after each possible "
            "delay, which reveals the local tempo in beats per minute. Each column looks "
            "through a window of 384 frames (about 12 s at 16 kHz), so on a 1-second clip most "
            "of each window is padding and the picture mostly shows that padding."
        ),
        links=(
            ("Wikipedia: Tempo", "https://en.wikipedia.org/wiki/Tempo"),
            (
                "Grosche, Müller & Kurth (2010): Cyclic tempogram - a mid-level tempo "
                "representation for music signals",
                "https://doi.org/10.1109/ICASSP.2010.5495219",
            ),
            _lib("librosa.feature.tempogram"),
        ),
        y_axis=Axis("tempo", "BPM", "log"),
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_TEMPO,
        value_unit="normalised autocorrelation",
    ),
    FeatureSpec(
        id="fourier_tempogram",
        family="rhythmic",
        title="Fourier tempogram",
        explanation=(
            "Like the tempogram, but it measures how strongly the onset curve pulses at each "
            "rate with a Fourier transform instead of by comparing it with delayed copies. "
            "Values are magnitudes. Its window is also about 12 seconds long, so on 1-second "
            "clips it is mostly padding."
        ),
        links=(
            ("Wikipedia: Fourier transform", "https://en.wikipedia.org/wiki/Fourier_transform"),
            (
                "Grosche, Müller & Kurth (2010): Cyclic tempogram - a mid-level tempo "
                "representation for music signals",
                "https://doi.org/10.1109/ICASSP.2010.5495219",
            ),
            _lib("librosa.feature.fourier_tempogram"),
        ),
        y_axis=Axis("tempo", "BPM", "linear"),
        x_axis=_TIME,
        kind="image",
        db="amplitude",
        params=_TEMPO,
        value_unit="magnitude",
    ),
    FeatureSpec(
        id="mfcc",
        family="deltas",
        title="MFCC",
        explanation=(
            "Mel-frequency cepstral coefficients: a compact summary of the overall shape of "
            "the mel spectrum at each moment, which mostly captures timbre (which vowel, which "
            "instrument) and ignores pitch. The first coefficient follows loudness. They are "
            "the classic input of speech recognisers."
        ),
        links=(
            ("Wikipedia: Mel-frequency cepstrum", "https://en.wikipedia.org/wiki/Mel-frequency_cepstrum"),
            (
                "Davis & Mermelstein (1980): Comparison of parametric representations for "
                "monosyllabic word recognition",
                "https://doi.org/10.1109/TASSP.1980.1163420",
            ),
            _lib("librosa.feature.mfcc"),
        ),
        y_axis=_COEFF,
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_MFCC,
        value_unit="coefficient",
    ),
    FeatureSpec(
        id="mfcc_delta",
        family="deltas",
        title="MFCC delta",
        explanation=(
            "How fast each MFCC is changing at each moment (its first derivative over time, "
            "smoothed over 9 frames). It highlights transitions such as the move from one "
            "sound to the next. On clips shorter than 9 frames the engine smooths over fewer "
            "frames (recorded in its result)."
        ),
        links=_DELTA_LINKS,
        y_axis=_COEFF,
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_union(_MFCC, ("delta_width",)),
        value_unit="change per frame",
    ),
    FeatureSpec(
        id="mfcc_delta2",
        family="deltas",
        title="MFCC delta-delta",
        explanation=(
            "The acceleration of each MFCC: how quickly its rate of change is itself changing "
            "(second derivative over time). It picks out the sharpest transitions. Short clips "
            "are handled as for the MFCC delta."
        ),
        links=_DELTA_LINKS,
        y_axis=_COEFF,
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_union(_MFCC, ("delta_width",)),
        value_unit="change per frame squared",
    ),
    # Deltas of the engine's log-mel: power_to_db(mel, ref=1.0, amin=1e-10, top_db=80)
    # per clip, the MFCCs' input. The display's reference (the clip's loudest point)
    # differs by a constant per clip, which a derivative removes.
    FeatureSpec(
        id="mel_delta",
        family="deltas",
        title="Mel delta",
        explanation=(
            "How fast the loudness of each mel band is changing at each moment: the first "
            "derivative over time of the mel spectrogram in decibels, smoothed over 9 frames as "
            "for the MFCC delta. Positive values mark a band getting louder (a sound starting), "
            "negative values a band fading. Short clips are handled as for the MFCC delta."
        ),
        links=_DELTA_LINKS + (_lib("librosa.power_to_db"),),
        y_axis=Axis("frequency", "Hz", "mel"),
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_union(_MEL, ("delta_width",)),
        value_unit="dB change per frame",
    ),
    FeatureSpec(
        id="mel_delta2",
        family="deltas",
        title="Mel delta-delta",
        explanation=(
            "The acceleration of the loudness of each mel band: how quickly its rate of change "
            "is itself changing (second derivative over time of the mel spectrogram in "
            "decibels). It picks out the sharpest onsets and releases, band by band. Short "
            "clips are handled as for the MFCC delta."
        ),
        links=_DELTA_LINKS + (_lib("librosa.power_to_db"),),
        y_axis=Axis("frequency", "Hz", "mel"),
        x_axis=_TIME,
        kind="image",
        db=None,
        params=_union(_MEL, ("delta_width",)),
        value_unit="dB change per frame squared",
    ),
    FeatureSpec(
        id="stack_memory",
        family="deltas",
        title="Beat-synchronous chroma with memory",
        explanation=(
            "The chromagram averaged (median) between detected beats, with each beat shown "
            "beside the beat before it, so one column holds 'now' and 'just before'. It shows "
            "how harmony moves from beat to beat. On short clips the beat tracker finds few or "
            "no beats, so there may be only one or two columns."
        ),
        links=(
            ("Wikipedia: Beat (music)", "https://en.wikipedia.org/wiki/Beat_(music)"),
            (
                "Ellis (2007): Beat tracking by dynamic programming",
                "https://doi.org/10.1080/09298210701653344",
            ),
            _lib("librosa.feature.stack_memory"),
            _lib("librosa.beat.beat_track"),
        ),
        y_axis=Axis(
            "pitch class (this beat, previous beat)",
            "pitch class",
            "categorical",
            PITCH_CLASSES + tuple(f"{p} (prev)" for p in PITCH_CLASSES),
        ),
        x_axis=Axis("beat", "beat", "linear"),
        kind="image",
        db=None,
        params=_STACK,
        value_unit="relative energy",
    ),
)

FEATURES: dict[str, FeatureSpec] = {spec.id: spec for spec in _SPECS}
"""Every feature the engine computes, by id, in display order (family by family)."""


def get_feature(feature_id: str) -> FeatureSpec:
    """Return the spec of one feature.

    Parameters
    ----------
    feature_id : str
        A key of :data:`FEATURES`.

    Returns
    -------
    FeatureSpec

    Raises
    ------
    FeatureError
        With ``code='unknown_feature'`` if the id is not registered.
    """
    try:
        return FEATURES[feature_id]
    except (KeyError, TypeError):
        raise FeatureError(
            f"Unknown feature {feature_id!r}; valid ids: {', '.join(FEATURES)}.",
            code="unknown_feature",
        ) from None


def features_in(family: str) -> tuple[FeatureSpec, ...]:
    """Return the specs of one family, in display order.

    Parameters
    ----------
    family : {'spectral', 'rhythmic', 'deltas'}

    Returns
    -------
    tuple of FeatureSpec

    Raises
    ------
    FeatureError
        With ``code='unknown_family'`` if the family does not exist.
    """
    if family not in FAMILIES:
        raise FeatureError(
            f"Unknown feature family {family!r}; valid families: {', '.join(FAMILIES)}.",
            code="unknown_family",
        )
    return tuple(spec for spec in FEATURES.values() if spec.family == family)
