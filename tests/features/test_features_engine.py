"""The feature engine equals librosa, batches without leakage and survives bad clips."""

from __future__ import annotations

import shutil
import subprocess

import librosa
import numpy as np
import pytest
from featuretest_helpers import RATES, SIGNALS, assert_close, librosa_reference, no_warnings, quietly
from signals import chirp, clicks, noise, speech_like, tone

from audiosoup_widgets.errors import FeatureError
from audiosoup_widgets.features import (
    FEATURES,
    FeatureParams,
    compute_features,
    compute_features_with_status,
    feature_coords,
    unpad,
    warm_up,
)
from audiosoup_widgets.features import engine as engine_module


def _compare(values: dict, reference: dict, *, label: str) -> None:
    for name, expected in reference.items():
        actual = values[name]
        if name == "stack_memory":
            actual = unpad(actual)
        assert_close(actual, expected, name=f"{label}/{name}")


# -- Equality with librosa -------------------------------------------------------------------
@pytest.mark.parametrize("sr", RATES)
def test_batch_equals_librosa_per_clip_at_every_rate(sr, clips_by_rate):
    names = list(clips_by_rate[sr])
    batch = np.stack([clips_by_rate[sr][n] for n in names])
    with no_warnings():
        result = compute_features_with_status(batch, sr)
    assert result.status == ("ok",) * len(names)
    assert set(result.values) == set(FEATURES)
    for i, name in enumerate(names):
        reference = librosa_reference(batch[i], sr, result.adaptations)
        _compare({k: v[i] for k, v in result.values.items()}, reference, label=f"{sr}/{name}")


def test_low_rates_adapt_contrast_bands_and_cqt_octaves():
    expected = {
        8000: {"spectral_contrast": 5, "tonnetz": 6},
        11025: {"spectral_contrast": 5},
        16000: {},
        22050: {},
        44100: {},
        48000: {},
    }
    for sr, adapted in expected.items():
        result = compute_features_with_status(tone(sr, seconds=0.5), sr, ["spectral_contrast", "tonnetz"])
        assert result.adaptations.get("spectral_contrast", {}).get("n_bands") == adapted.get(
            "spectral_contrast"
        )
        assert result.adaptations.get("tonnetz", {}).get("cqt_n_octaves") == adapted.get("tonnetz")
        assert all("reason" in a for a in result.adaptations.values())
        rows = 1 + adapted.get("spectral_contrast", 6)
        assert result.values["spectral_contrast"].shape[0] == rows
        assert result.values["tonnetz"].shape[0] == 6
    # librosa itself refuses these rates with its defaults: the adaptation is needed.
    with quietly(), pytest.raises(librosa.ParameterError):
        librosa.feature.spectral_contrast(y=tone(8000), sr=8000)
    with quietly(), pytest.raises(librosa.ParameterError):
        librosa.feature.tonnetz(y=tone(8000), sr=8000)


def test_single_clip_float64_equals_librosa():
    y = speech_like(16000).astype(np.float64)
    with no_warnings():
        values = compute_features(y, 16000)
    _compare(values, librosa_reference(y, 16000), label="float64")
    assert values["power_spectrogram"].dtype == np.float64


def test_real_speech_from_espeak_equals_librosa(tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed; the synthetic speech-like tests still ran")
    wav = tmp_path / "yes.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "yes"], check=True, timeout=30)
    with quietly():
        y, sr = librosa.load(wav, sr=16000)
    with no_warnings():
        values = compute_features(y, sr)
    _compare(values, librosa_reference(y, sr), label="espeak")


def test_non_default_params_follow_librosa_with_the_same_params():
    sr, y = 16000, speech_like(16000)
    params = FeatureParams(
        n_fft=1024, hop_length=256, n_mels=64, n_mfcc=13, delta_width=5, tempo_win_length=200
    )
    with no_warnings():
        values = compute_features(y, sr, params=params)
    kw = {"n_fft": 1024, "hop_length": 256}
    with quietly():
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_mels=64, **kw)
        onset = librosa.onset.onset_strength(y=y, sr=sr, n_mels=64, **kw)
        expected = {
            "mel_spectrogram": librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64, **kw),
            "chroma": librosa.feature.chroma_stft(y=y, sr=sr, **kw),
            "spectral_contrast": librosa.feature.spectral_contrast(y=y, sr=sr, **kw),
            # The CQT takes the hop; its tuning comes from a 2048/512 STFT whatever n_fft.
            "tonnetz": librosa.feature.tonnetz(y=y, sr=sr, hop_length=256),
            "mfcc": mfcc,
            "mfcc_delta": librosa.feature.delta(mfcc, width=5),
            "mel_delta2": librosa.feature.delta(
                librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64, **kw)),
                width=5,
                order=2,
            ),
            "onset_strength": onset,
            "tempogram": librosa.feature.tempogram(
                onset_envelope=onset, sr=sr, hop_length=256, win_length=200
            ),
        }
    for name, reference in expected.items():
        assert_close(values[name], reference, name=name)


def test_explicit_tuning_is_in_semitones_for_chroma_and_tonnetz():
    sr, y = 22050, tone(22050, freq=450.0)
    with no_warnings():
        values = compute_features(y, sr, ["chroma", "tonnetz"], params=FeatureParams(tuning=0.1))
    with quietly():
        assert_close(values["chroma"], librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.1))
        # chroma_cqt counts tuning in CQT bins: 36 per octave, three per semitone.
        assert_close(values["tonnetz"], librosa.feature.tonnetz(y=y, sr=sr, tuning=0.3))


# -- No leakage between clips of a batch ------------------------------------------------------
def test_a_clip_gets_exactly_the_same_values_whatever_it_is_batched_with():
    sr = 16000
    loud = np.clip(3 * speech_like(sr) + clicks(sr), -1, 1)
    quiet = 1e-3 * chirp(sr) + 1e-4 * noise(sr)
    silent = np.zeros(sr, dtype=np.float32)
    pitched = tone(sr, freq=261.0)  # another tuning than the others
    batch = np.stack([loud, quiet, silent, pitched])
    with no_warnings():
        together = compute_features(batch, sr)
        for i, clip in enumerate(batch):
            alone = compute_features(clip, sr)
            for name, value in alone.items():
                mine = together[name][i]
                if name == "stack_memory":
                    mine = unpad(mine)
                np.testing.assert_array_equal(mine, value, err_msg=f"clip {i}: {name}")


def test_batches_larger_than_a_chunk_are_concatenated_and_padded(monkeypatch):
    sr = 16000
    batch = np.stack(
        [clicks(sr, bpm=bpm) for bpm in (90, 150, 200, 240, 60)] + [np.zeros(sr, dtype=np.float32)]
    )
    whole = compute_features(batch, sr, ["stack_memory", "mfcc"])
    monkeypatch.setattr(engine_module, "_CHUNK", 2)
    chunked = compute_features(batch, sr, ["stack_memory", "mfcc"])
    np.testing.assert_array_equal(chunked["mfcc"], whole["mfcc"])
    np.testing.assert_array_equal(chunked["stack_memory"], whole["stack_memory"])
    widths = [unpad(s).shape[-1] for s in whole["stack_memory"]]
    assert len(set(widths)) > 1 and whole["stack_memory"].shape[-1] == max(widths)
    assert np.isnan(whole["stack_memory"][np.argmin(widths), :, -1]).all()


# -- Bad clips: statuses, no crash, no warnings ----------------------------------------------
def test_silence_gives_librosas_values_without_warnings():
    sr = 16000
    silent = np.zeros(sr, dtype=np.float32)
    with no_warnings():
        result = compute_features_with_status(silent, sr)
    assert result.status == ("silent",)
    _compare(result.values, librosa_reference(silent, sr), label="silence")
    assert result.values["stack_memory"].shape == (24, 1)  # one segment, no beat


def test_near_silence_below_minus_90_dbfs_is_silent_but_computed():
    y = 1e-5 * tone(16000, level=1.0)
    with no_warnings():
        result = compute_features_with_status(y, 16000)
    assert result.status == ("silent",)
    _compare(result.values, librosa_reference(y, 16000), label="near-silence")


@pytest.mark.parametrize("n", [1, 100, 1000, 2047])
def test_clips_shorter_than_n_fft_are_too_short_and_computed(n):
    sr = 16000
    y = speech_like(sr)[4000 : 4000 + n].copy()
    with no_warnings():
        result = compute_features_with_status(y, sr)
    assert result.status == ("too_short",)
    frames = 1 + n // 512
    assert result.values["mfcc"].shape == (20, frames)
    delta = result.adaptations["mfcc_delta"]
    assert delta["delta_width"] <= max(frames, 3)
    if n >= 1000:  # librosa's own beat tracker and CQT work from here on
        _compare(result.values, librosa_reference(y, sr, result.adaptations), label=f"n={n}")


def test_short_clip_delta_policy():
    sr, hop = 16000, 512
    for frames, width, mode in (
        (9, 9, "interp"),
        (8, 7, "interp"),
        (5, 5, "interp"),
        (3, 3, "interp"),
        (2, 3, "nearest"),
        (1, 3, "nearest"),
    ):
        y = noise(sr, seconds=((frames - 1) * hop + 10) / sr)
        deltas = ["mfcc_delta", "mfcc_delta2", "mel_delta", "mel_delta2"]
        result = compute_features_with_status(y, sr, ["mfcc", *deltas])
        assert result.values["mfcc"].shape[-1] == frames
        for name in deltas:
            if frames >= 9:
                assert name not in result.adaptations
            else:
                assert result.adaptations[name]["delta_width"] == width
                assert result.adaptations[name]["delta_mode"] == mode
        mfcc = result.values["mfcc"]
        with quietly():  # librosa warns that a clip this short is shorter than n_fft
            log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
        for source, stem in ((mfcc, "mfcc_delta"), (log_mel, "mel_delta")):
            for order, name in ((1, stem), (2, f"{stem}2")):
                expected = librosa.feature.delta(source, width=width, order=order, mode=mode)
                assert_close(result.values[name], expected, name=f"{frames}/{name}")


def test_non_finite_clips_are_flagged_blanked_and_do_not_touch_the_others():
    sr = 16000
    good = speech_like(sr)
    bad_nan, bad_inf = good.copy(), good.copy()
    bad_nan[100] = np.nan
    bad_inf[5] = np.inf
    with no_warnings():
        result = compute_features_with_status(np.stack([bad_nan, good, bad_inf]), sr)
        alone = compute_features(good, sr)
    assert result.status == ("non_finite", "ok", "non_finite")
    for name, value in result.values.items():
        assert np.isnan(value[0]).all() and np.isnan(value[2]).all(), name
        mine = unpad(value[1]) if name == "stack_memory" else value[1]
        np.testing.assert_array_equal(mine, alone[name])


def test_compute_features_refuses_non_finite_audio_with_a_one_line_message():
    y = speech_like(16000)
    y[10] = np.nan
    with pytest.raises(FeatureError) as info:
        compute_features(y, 16000)
    assert info.value.code == "non_finite"
    assert "\n" not in info.value.message
    with pytest.raises(FeatureError) as info:
        compute_features(np.stack([speech_like(16000), y]), 16000)
    assert info.value.code == "non_finite" and "[1]" in info.value.message


def test_status_precedence_and_batch_statuses():
    sr = 8000
    short = np.stack([np.zeros(500), np.full(500, np.nan), noise(sr)[:500]]).astype(np.float32)
    with no_warnings():
        result = compute_features_with_status(short, sr, ["mel_spectrogram"])
    assert result.status == ("too_short", "non_finite", "too_short")
    values, status = result  # unpacks like a (values, status) tuple
    assert values is result.values and status == result.status


def test_engine_leaves_global_warning_filters_alone_even_from_threads():
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    before = list(warnings.filters)
    compute_features(np.zeros(300, dtype=np.float32), 16000)
    assert warnings.filters == before
    clips = [np.zeros(300 + 100 * i, dtype=np.float32) for i in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda y: compute_features(y, 16000, ["tonnetz", "mfcc"]), clips))
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning, stacklevel=1)


@pytest.mark.parametrize(
    "bad, code",
    [
        (np.zeros(100, dtype=np.int16), "invalid_audio"),
        (np.zeros((2, 2, 100), dtype=np.float32), "invalid_audio"),
        (np.zeros(0, dtype=np.float32), "invalid_audio"),
    ],
)
def test_invalid_audio_is_refused(bad, code):
    with pytest.raises(FeatureError) as info:
        compute_features(bad, 16000)
    assert info.value.code == code


def test_invalid_sample_rate_and_unknown_feature_are_refused():
    with pytest.raises(FeatureError) as info:
        compute_features(tone(16000), 0)
    assert info.value.code == "invalid_audio"
    with pytest.raises(FeatureError) as info:
        compute_features(tone(16000), 16000, ["mel_spectrogram", "loudness"])
    assert info.value.code == "unknown_feature"


# -- Shapes, subsets, helpers ---------------------------------------------------------------
def test_subset_and_batch_shapes():
    sr = 16000
    batch = np.stack([tone(sr), noise(sr), speech_like(sr)])
    values = compute_features(batch, sr, ["onset_strength", "mfcc"])
    assert set(values) == {"onset_strength", "mfcc"}
    assert values["onset_strength"].shape == (3, 32)
    assert values["mfcc"].shape == (3, 20, 32)
    one = compute_features(batch[0], sr, "onset_strength")
    assert one["onset_strength"].shape == (32,)
    empty = compute_features(batch[:0], sr, ["mfcc"])
    assert empty["mfcc"].shape == (0, 20, 32)


def test_feature_coords_match_shapes():
    sr = 16000
    values = compute_features(speech_like(sr), sr)
    for name, value in values.items():
        rows, columns = feature_coords(name, sr=sr, n_frames=value.shape[-1])
        assert columns.shape == (value.shape[-1],)
        if FEATURES[name].kind == "line":
            assert rows is None
        else:
            assert rows is not None and rows.shape == (value.shape[0],), name


def test_unpad_drops_only_trailing_all_nan_columns():
    a = np.array([[1.0, np.nan, 2.0, np.nan], [3.0, np.nan, 4.0, np.nan]])
    assert unpad(a).shape == (2, 3)
    assert unpad(np.full((2, 2), np.nan)).shape == (2, 2)


def test_warm_up_runs_quietly():
    with no_warnings():
        warm_up(8000)


def test_all_signal_generators_are_used():
    assert set(SIGNALS) == {"sine", "chirp", "clicks", "noise", "speech_like"}
