"""CompareService: clips on one scale, differences, class templates and effect sizes.

Numbers are checked against librosa and numpy computed here from the clips' files,
and Cohen's d against values worked out by hand from summaries written to the store.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import soundfile as sf
from widgettest_helpers import add_samples

from audiosoup_widgets.errors import FeatureError, NotFoundError, ValidationError
from audiosoup_widgets.features import FeatureParams, compute_features, summarize
from audiosoup_widgets.features.params import TOP_DB
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.services.compare import EFFECT_FEATURES, MAX_CLIPS, column_title
from audiosoup_widgets.store.summaries import SummaryRecord


def by_label(ids: dict[str, int], label: str) -> list[int]:
    return sorted(i for path, i in ids.items() if path.startswith(label + "/"))


def audio(store, sample_id: int) -> tuple[np.ndarray, int]:
    y, sr = sf.read(store.sample_file(sample_id), dtype="float32")
    return y, sr


def mel_db_shared(store, ids: list[int]) -> list[np.ndarray]:
    """librosa's mel spectrograms of the clips in dB on ONE reference: the max over all of them."""
    mels = [librosa.feature.melspectrogram(y=audio(store, i)[0], sr=audio(store, i)[1]) for i in ids]
    ref = max(float(m.max()) for m in mels)
    return [np.maximum(10 * np.log10(np.maximum(m, 1e-10) / ref), -TOP_DB) for m in mels]


def test_panels_put_every_clip_on_one_decibel_reference(words):
    services, store, ids = words
    # The quiet clip (level 0.01) is spk04, label "no": compare it with two loud ones.
    chosen = [ids["yes/spk00_nohash_0.wav"], ids["no/spk04_nohash_0.wav"], ids["up/spk02_nohash_0.wav"]]
    comp = services.compare.panels(chosen, "mel_spectrogram", dataset="words")
    expected = mel_db_shared(store, chosen)
    assert [p.record.id for p in comp.panels] == chosen
    for panel, ref_db in zip(comp.panels, expected, strict=True):
        np.testing.assert_allclose(panel.display.values, ref_db, atol=1e-3)
        assert (panel.display.vmin, panel.display.vmax) == (-TOP_DB, 0.0)
    peaks = [float(p.display.values.max()) for p in comp.panels]
    # Only the loudest clip reaches 0 dB; the quiet one sits about 34 dB lower (0.01 vs 0.5).
    assert max(peaks) == pytest.approx(0.0, abs=1e-4) and sorted(peaks)[-2] < 0.0
    assert peaks[1] == pytest.approx(max(peaks) + 20 * math.log10(0.01 / 0.5), abs=3.0)
    mels = [librosa.feature.melspectrogram(y=audio(store, i)[0], sr=16000) for i in chosen]
    assert comp.reference == pytest.approx(max(float(m.max()) for m in mels), rel=1e-4)
    assert comp.scale.cmap == "magma" and "all clips" in comp.scale.value_label
    # Shared axes: every panel's picture fits inside the comparison's extents.
    for p in comp.panels:
        assert comp.x_extent[0] <= p.display.x_extent[0] and p.display.x_extent[1] <= comp.x_extent[1]


def test_shared_axes_span_the_longest_clip_and_the_widest_band(sqlite_store, tmp_path):
    clips = [
        {"label": "a", "name": "short", "seconds": 0.5},
        {"label": "a", "name": "long", "seconds": 1.5},
        {"label": "b", "name": "wide", "seconds": 1.0, "sr": 22050},
    ]
    ids = add_samples(sqlite_store, tmp_path / "audio", clips=clips)
    services = ReviewServices(sqlite_store)
    comp = services.compare.panels(sorted(ids.values()), "mel_spectrogram")
    ends = [p.display.x_extent[1] for p in comp.panels]
    tops = [p.display.y_extent[1] for p in comp.panels]
    assert comp.x_extent[1] == max(ends) and len(set(np.round(ends, 3))) == 3
    # 22.05 kHz reaches a higher mel than 16 kHz: the axis is the union.
    assert comp.y_extent[1] == max(tops) and min(tops) < max(tops)


@pytest.mark.parametrize("feature", ["chroma", "onset_strength", "spectral_contrast"])
def test_other_features_share_their_limits_over_every_clip(words, feature):
    services, store, ids = words
    chosen = by_label(ids, "yes")[:4]
    comp = services.compare.panels(chosen, feature)
    values = [
        compute_features(audio(store, i)[0], 16000, [feature], params=FeatureParams())[feature]
        for i in chosen
    ]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    if feature == "onset_strength":
        lo = min(0.0, lo)
    assert comp.scale.vmin == pytest.approx(lo, abs=1e-5) and comp.scale.vmax == pytest.approx(hi, rel=1e-5)
    for panel, v in zip(comp.panels, values, strict=True):
        assert (panel.display.vmin, panel.display.vmax) == (comp.scale.vmin, comp.scale.vmax)
        np.testing.assert_allclose(panel.display.values, v, rtol=1e-5, atol=1e-6)


def test_mfcc_limits_are_symmetric_and_leave_coefficient_zero_out(words):
    services, store, ids = words
    chosen = by_label(ids, "no")
    comp = services.compare.panels(chosen, "mfcc")
    body = np.concatenate(
        [np.abs(librosa.feature.mfcc(y=audio(store, i)[0], sr=16000)[1:]).ravel() for i in chosen]
    )
    assert comp.scale.vmax == pytest.approx(np.percentile(body, 99), rel=1e-3)
    assert comp.scale.vmin == -comp.scale.vmax and comp.scale.cmap == "diverging"
    assert any("Coefficient 0" in n for n in comp.notes)


def test_difference_is_a_minus_b_in_decibels_on_one_reference(words):
    services, store, ids = words
    a, b = ids["yes/spk00_nohash_0.wav"], ids["no/spk04_nohash_0.wav"]
    diff = services.compare.difference(a, b, "mel_spectrogram")
    da, db = mel_db_shared(store, [a, b])
    np.testing.assert_allclose(diff.display.values, da - db, atol=1e-3)
    assert diff.display.cmap == "diverging" and diff.display.vmin == -diff.display.vmax > -1e9
    # The loud clip minus the quiet one is mostly positive.
    assert np.median(diff.display.values[np.isfinite(diff.display.values)]) > 0


def test_difference_pads_the_shorter_clip_and_refuses_different_rates(sqlite_store, tmp_path):
    clips = [
        {"label": "a", "name": "short", "seconds": 0.5},
        {"label": "a", "name": "long", "seconds": 1.0},
        {"label": "a", "name": "fast", "seconds": 1.0, "sr": 22050},
    ]
    ids = add_samples(sqlite_store, tmp_path / "audio", clips=clips)
    services = ReviewServices(sqlite_store)
    short, long_, fast = ids["a/short.wav"], ids["a/long.wav"], ids["a/fast.wav"]
    diff = services.compare.difference(short, long_, "mel_spectrogram")
    n_long = librosa.feature.melspectrogram(y=audio(sqlite_store, long_)[0], sr=16000).shape[1]
    assert diff.display.values.shape[1] == n_long and "shorter" in diff.note
    chroma = services.compare.difference(short, long_, "chroma")
    n_short = librosa.feature.chroma_stft(y=audio(sqlite_store, short)[0], sr=16000).shape[1]
    assert np.isnan(chroma.display.values[:, n_short:]).all()  # no data after the short clip ends
    with pytest.raises(ValidationError, match="different sample rates"):
        services.compare.difference(short, fast, "mel_spectrogram")


def test_mel_template_is_the_mean_of_the_modal_length_clips_capped(sqlite_store, tmp_path):
    clips = [{"label": "w", "name": f"c{i}", "seconds": 1.0} for i in range(5)]
    clips += [{"label": "w", "name": "odd", "seconds": 0.7}, {"label": "x", "name": "other"}]
    ids = add_samples(sqlite_store, tmp_path / "audio", clips=clips)
    services = ReviewServices(sqlite_store)
    full = services.compare.template("words", "w", "mel_spectrogram")
    ones = [ids[f"w/c{i}.wav"] for i in range(5)]
    mels = [librosa.feature.melspectrogram(y=audio(sqlite_store, i)[0], sr=16000) for i in ones]
    np.testing.assert_allclose(full.matrix, np.mean(mels, axis=0), rtol=1e-4, atol=1e-9)
    assert (full.n_matrix, full.n_equal, full.sr, full.seconds) == (5, 5, 16000, 1.0)
    assert full.summary is None and "at most 64" in full.note
    capped = services.compare.template("words", "w", "mel_spectrogram", max_clips=3)
    assert (capped.n_matrix, capped.n_equal) == (3, 5) and "3 of the 5" in capped.note


def test_summary_template_is_the_mean_of_stored_summaries(words):
    services, store, ids = words
    with pytest.raises(FeatureError, match="audiosoup features compute") as err:
        services.compare.template("words", "yes", "chroma")
    assert err.value.code == "not_computed"
    params = FeatureParams()
    yes = by_label(ids, "yes")
    vectors = {}
    for i in yes:
        vectors[i] = summarize(compute_features(audio(store, i)[0], 16000, ["chroma"]))["chroma"]
    store.save_summaries(
        [SummaryRecord(i, "chroma", params.key_for("chroma"), "ok", v, 32) for i, v in vectors.items()]
    )
    services.compare.forget()
    t = services.compare.template("words", "yes", "chroma")
    np.testing.assert_allclose(t.summary, np.mean(list(vectors.values()), axis=0), rtol=1e-6)
    assert t.n_summaries == 4 and t.matrix is None and t.profile.shape == (12,)
    # Beside clips, the template's profile is on the same axis as theirs.
    comp = services.compare.panels(by_label(ids, "no"), "chroma", template="yes")
    np.testing.assert_allclose(comp.template_profile, t.summary[:12], rtol=1e-6)
    assert comp.template_display is None and all(p.profile.shape == (12,) for p in comp.panels)


def test_template_beside_clips_joins_their_decibel_scale(words):
    services, store, ids = words
    chosen = by_label(ids, "no")
    comp = services.compare.panels(chosen, "mel_spectrogram", template="yes")
    t = comp.template
    every = [*(librosa.feature.melspectrogram(y=audio(store, i)[0], sr=16000) for i in chosen), t.matrix]
    ref = max(float(m.max()) for m in every)
    expected = np.maximum(10 * np.log10(np.maximum(t.matrix, 1e-10) / ref), -TOP_DB)
    np.testing.assert_allclose(comp.template_display.values, expected, atol=1e-3)
    # Profiles are each row's mean power over time, in dB on the same reference.
    lines = [m.mean(axis=1) for m in every]
    expected_lines = [np.maximum(10 * np.log10(np.maximum(x, 1e-10) / ref), -TOP_DB) for x in lines]
    np.testing.assert_allclose(comp.template_profile, expected_lines[-1], atol=1e-3)
    for panel, line in zip(comp.panels, expected_lines, strict=False):
        np.testing.assert_allclose(panel.profile, line, atol=1e-3)


def save_onset(store, values: dict[int, float]) -> None:
    key = FeatureParams().key_for("onset_strength")
    store.save_summaries(
        [
            SummaryRecord(i, "onset_strength", key, "ok", np.array([v, 0.5], np.float32), 32)
            for i, v in values.items()
        ]
    )


def test_cohens_d_matches_a_hand_computed_value(words_any):
    services, store, ids = words_any
    yes, no = by_label(ids, "yes"), by_label(ids, "no")
    # yes: 1, 2, 3, 4 (mean 2.5, variance 5/3); no: 4, 5, 6 (mean 5, variance 1);
    # pooled sd = sqrt((3 * 5/3 + 2 * 1) / 5) = sqrt(1.4); d = (2.5 - 5) / sqrt(1.4) = -2.1129.
    save_onset(
        store, dict(zip(yes, [1.0, 2.0, 3.0, 4.0], strict=True)) | dict(zip(no, [4.0, 5.0, 6.0], strict=True))
    )
    eff = services.compare.effect_sizes("words", "yes", "no")
    row = eff.table.set_index("column").loc["onset_strength_mean_0"]
    assert row["d"] == pytest.approx(-2.5 / math.sqrt(1.4), rel=1e-6)
    assert (row["n_a"], row["n_b"], eff.n_a, eff.n_b) == (4, 3, 4, 3)
    assert row["title"] == "Onset strength · mean over time"
    std_row = eff.table.set_index("column").loc["onset_strength_std_0"]
    assert std_row["d"] == 0.0  # both groups constant at the same value
    assert eff.missing == tuple(f for f in EFFECT_FEATURES if f != "onset_strength")
    # A group can be a list of ids (a selection): the same clips give the same d.
    by_ids = services.compare.effect_sizes("words", yes, no)
    assert by_ids.table.set_index("column").loc["onset_strength_mean_0", "d"] == pytest.approx(row["d"])
    assert by_ids.name_a == "4 selected clips"
    dist = services.compare.distributions("words", "yes", "no", "onset_strength_mean_0")
    assert sorted(dist.a) == [1, 2, 3, 4] and sorted(dist.b) == [4, 5, 6]
    assert dist.d == pytest.approx(row["d"])


def test_effect_sizes_agree_with_numpy_and_are_sorted(words_computed):
    services, store, ids = words_computed
    eff = services.compare.effect_sizes("words", "yes", "up")
    table = eff.table
    assert list(table["abs_d"].dropna()) == sorted(table["abs_d"].dropna(), reverse=True)
    assert {c.split("_mean_")[0].split("_std_")[0] for c in table["column"]} <= set(EFFECT_FEATURES)
    frames = {}
    for label in ("yes", "up"):
        rows = [
            summarize(compute_features(audio(store, i)[0], 16000, ["mfcc"]))["mfcc"]
            for i in by_label(ids, label)
        ]
        frames[label] = np.array(rows, dtype=np.float32).astype(np.float64)
    a, b = frames["yes"][:, 3], frames["up"][:, 3]
    pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    got = table.set_index("column").loc["mfcc_mean_3", "d"]
    assert got == pytest.approx((a.mean() - b.mean()) / pooled, rel=1e-4)
    per = eff.features
    assert list(per["abs_d"]) == sorted(per["abs_d"], reverse=True)
    top = per.iloc[0]
    assert top["abs_d"] == pytest.approx(table["abs_d"].max()) and top["column"] == table.iloc[0]["column"]


@pytest.fixture
def words_computed(words):
    from audiosoup_widgets.jobs.compute import compute_dataset

    services, store, ids = words
    report = compute_dataset(store, "words", workers=1)
    assert not report.failed
    return services, store, ids


def test_effect_sizes_without_summaries_name_the_command(words):
    services, _, _ = words
    with pytest.raises(FeatureError, match="audiosoup features compute --dataset words"):
        services.compare.effect_sizes("words", "yes", "no")


@pytest.mark.parametrize(
    "ids, match",
    [
        ([1], "Compare 2 to 6"),
        (list(range(1, 8)), "Compare 2 to 6"),
        ([1, 1], "twice"),
        ([1, "2"], "invalid sample id"),
        ([1, True], "invalid sample id"),
        ("12", "Give 2 to 6"),
        (12, "Give 2 to 6"),
    ],
)
def test_bad_clip_lists_are_refused_in_one_line(words, ids, match):
    services, _, _ = words
    with pytest.raises(ValidationError, match=match) as err:
        services.compare.panels(ids, "mel_spectrogram")
    assert "\n" not in err.value.message


def test_bad_features_labels_groups_and_datasets_are_refused(words, sqlite_store, tmp_path):
    services, store, ids = words
    two = sorted(ids.values())[:2]
    with pytest.raises(ValidationError, match="Unknown feature"):
        services.compare.panels(two, "loudness")
    with pytest.raises(NotFoundError):
        services.compare.panels([two[0], 10**6], "mfcc")
    with pytest.raises(NotFoundError, match="no label 'maybe'"):
        services.compare.panels(two, "mfcc", template="maybe")
    with pytest.raises(NotFoundError):
        services.compare.panels(two, "mfcc", dataset="other")
    with pytest.raises(NotFoundError, match="no label"):
        services.compare.template("words", "maybe", "mel_spectrogram")
    with pytest.raises(ValidationError, match="two different groups"):
        services.compare.effect_sizes("words", "yes", "yes")
    with pytest.raises(ValidationError, match="at least 2 clips"):
        services.compare.effect_sizes("words", [two[0]], "yes")
    with pytest.raises(NotFoundError, match="not in this dataset"):
        services.compare.effect_sizes("words", [two[0], 10**6], "yes")
    with pytest.raises(ValidationError, match="label name or a list"):
        services.compare.effect_sizes("words", 3, "yes")
    save_onset(store, {i: float(i) for i in ids.values()})
    with pytest.raises(ValidationError, match="Unknown feature column"):
        services.compare.distributions("words", "yes", "no", "sample_id")
    assert MAX_CLIPS == 6


def test_comparisons_are_cached_until_a_clip_is_edited(words):
    services, store, ids = words
    chosen = by_label(ids, "up")
    first = services.compare.panels(chosen, "mel_spectrogram")
    assert services.compare.panels(chosen, "mel_spectrogram") is first
    record = services.samples.get(chosen[0])
    services.samples.update(record, reviewer="t", label="yes")
    again = services.compare.panels(chosen, "mel_spectrogram")
    assert again is not first and again.panels[0].record.label == "yes"
    # The relabel changes what label "yes" holds: its template is read again.
    t1 = services.compare.template("words", "up", "mel_spectrogram")
    assert t1.n_equal == 2


def test_column_titles_say_what_a_summary_column_is():
    assert column_title("chroma_mean_1") == "Chromagram · C# · mean over time"
    assert column_title("mfcc_delta_std_3") == "MFCC delta · coefficient 3 · variation over time (std)"
    assert column_title("mel_spectrogram_mean_12") == "Mel spectrogram · mel band 12 · mean over time"
    assert column_title("sample_id") == "sample_id"
