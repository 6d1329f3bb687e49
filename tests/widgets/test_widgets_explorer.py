"""FeatureExplorer: every tab renders real bqplot figures for a real clip; export; errors."""

from __future__ import annotations

import io
import json
import os

import bqplot as bq
import numpy as np
import pytest

from audiosoup_widgets.features.registry import FAMILIES, FEATURES, features_in
from audiosoup_widgets.services import EXPORT_FORMATS, ReviewServices
from audiosoup_widgets.state import GENERIC_ERROR, ReviewState
from audiosoup_widgets.widgets import FeatureExplorer


def explorer_on(store, sample_id, *, visible=True):
    st = ReviewState(dataset="words", selected_sample_id=sample_id)
    ex = FeatureExplorer(st, ReviewServices(store))
    if visible:
        ex.vue_set_visible(True)  # as the browser does once the explorer is on screen
    return st, ex


def first_id(ids):
    return ids["yes/spk00_nohash_0.wav"]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_tab_draws_every_feature_with_labelled_axes(words, family):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    ex.vue_set_tab(family)
    specs = features_in(family)
    assert [it["id"] for it in ex.items] == [s.id for s in specs]
    assert len(ex.figures) == len(specs) and st.error == "" and ex.message == ""
    for spec, item, fig in zip(specs, ex.items, ex.figures, strict=True):
        assert isinstance(fig, bq.Figure)
        (mark,) = fig.marks
        assert not isinstance(mark, bq.GridHeatMap)
        assert isinstance(mark, bq.Image if spec.kind == "image" else bq.Lines)
        assert isinstance(fig.interaction, bq.PanZoom)
        x_axis, y_axis = fig.axes[:2]
        assert x_axis.label in ("time (s)", "beat")
        assert y_axis.label and y_axis.label != "y"
        assert item["explanation"] == spec.explanation and item["title"] == spec.title
        assert item["links"] and all(link["url"].startswith("https://") for link in item["links"])
        if spec.kind == "image":
            png = bytes(mark.image.value)
            assert png.startswith(b"\x89PNG") and len(png) > 100
            assert item["colorbar"]["gradient"].startswith("linear-gradient(")
            assert len(item["colorbar"]["ticks"]) == 5
        else:
            assert len(mark.x) == len(mark.y) > 10


def test_axes_are_in_real_units(words):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    labels = {
        it["id"]: (fig.axes[1].label, fig.axes[1].scale) for it, fig in zip(ex.items, ex.figures, strict=True)
    }
    assert labels["mel_spectrogram"][0] == "frequency (Hz)"
    mel_ticks = dict(ex.figures[0].axes[1].tick_labels)
    assert {"200", "500", "1k", "2k", "4k"} <= set(mel_ticks.values())
    assert labels["power_spectrogram"][0] == "frequency (Hz)"
    assert labels["chroma"][0] == "pitch class"
    chroma_fig = ex.figures[[it["id"] for it in ex.items].index("chroma")]
    assert list(chroma_fig.axes[1].tick_labels.values())[:3] == ["C", "C#", "D"]
    ex.vue_set_tab("rhythmic")
    tempo = ex.figures[[it["id"] for it in ex.items].index("tempogram")]
    assert tempo.axes[1].label == "tempo (BPM)" and isinstance(tempo.axes[1].scale, bq.LogScale)
    ex.vue_set_tab("deltas")
    assert ex.figures[0].axes[1].label == "coefficient number"
    db_item = None
    ex.vue_set_tab("spectral")
    db_item = ex.items[0]
    assert db_item["colorbar"]["label"] == "dB below the loudest point"
    assert [t["text"] for t in db_item["colorbar"]["ticks"]] == ["-80", "-60", "-40", "-20", "0"]


def test_hover_readout_names_time_frequency_and_level(words):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    ex.vue_hover({"id": "mel_spectrogram", "fx": 0.5, "fy": 0.5})
    text = ex.readouts["mel_spectrogram"]
    assert " s · " in text and "Hz" in text and text.endswith("dB")
    ex.vue_hover({"id": "chroma", "fx": 0.5, "fy": 0.02})
    assert ex.readouts["chroma"].split(" · ")[1] == "B"
    ex.vue_hover({"id": "mel_spectrogram", "fx": None, "fy": None})
    assert ex.readouts["mel_spectrogram"] == ""
    for bad in ({"id": "nope", "fx": 0.1, "fy": 0.1}, {"id": "chroma", "fx": "a", "fy": 0}, "chroma"):
        st.clear_error()
        ex.vue_hover(bad)
        assert st.error


def test_zoom_changes_what_the_readout_reads(words):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    plot = ex._plots["mel_spectrogram"]
    plot.x_scale.min, plot.x_scale.max = 0.25, 0.5  # what PanZoom writes back
    ex.vue_hover({"id": "mel_spectrogram", "fx": 0.0, "fy": 0.5})
    assert ex.readouts["mel_spectrogram"].startswith("0.2")
    ex.vue_reset_zoom("mel_spectrogram")
    assert plot.x_scale.min < 0.0 < 1.0 < plot.x_scale.max + 0.1


def test_features_are_cached_and_figures_reused(words, monkeypatch):
    import audiosoup_widgets.features as engine

    store, ids = words
    calls = []
    real = engine.compute_features_with_status
    monkeypatch.setattr(
        engine, "compute_features_with_status", lambda *a, **k: calls.append(a[2]) or real(*a, **k)
    )
    st, ex = explorer_on(store, first_id(ids))
    figs = list(ex.figures)
    st.selected_sample_id = ids["no/spk01_nohash_0.wav"]
    assert ex.figures == figs  # same widgets, new data
    st.selected_sample_id = first_id(ids)
    assert len(calls) == 2  # the first clip came back from the cache


def test_lazy_explorer_waits_until_it_is_on_screen(words, monkeypatch):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids), visible=False)
    assert ex.items == [] and ex.figures == []
    st.selected_sample_id = ids["no/spk01_nohash_0.wav"]
    assert ex.items == []
    ex.vue_set_visible(True)
    assert ex.title == "spk01_nohash_0.wav" and len(ex.items) == 5
    ex.vue_set_visible(False)
    st.selected_sample_id = first_id(ids)
    assert ex.title == "spk01_nohash_0.wav"  # nothing computed while hidden


def test_selecting_features_writes_the_state_in_registry_order(words):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    ex.vue_toggle_feature({"id": "chroma", "selected": True})
    ex.vue_toggle_feature({"id": "mel_spectrogram", "selected": True})
    assert st.selected_features == ["mel_spectrogram", "chroma"]
    assert [it["id"] for it in ex.items if it["selected"]] == ["mel_spectrogram", "chroma"]
    ex.vue_toggle_feature({"id": "chroma", "selected": False})
    assert st.selected_features == ["mel_spectrogram"]
    ex.vue_set_tab("deltas")
    ex.vue_select_tab(True)
    assert st.selected_features == [
        "mel_spectrogram",
        "mfcc",
        "mfcc_delta",
        "mfcc_delta2",
        "mel_delta",
        "mel_delta2",
        "stack_memory",
    ]
    for bad in ({"id": "evil", "selected": True}, {"id": "mfcc", "selected": "yes"}, "mfcc"):
        st.clear_error()
        ex.vue_toggle_feature(bad)
        assert st.error and "evil" not in st.selected_features


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_sends_a_file_of_the_selected_features(words, sent, fmt):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    out = sent(ex)
    ex.vue_toggle_feature({"id": "mfcc", "selected": True})
    ex.vue_toggle_feature({"id": "onset_strength", "selected": True})
    ex.vue_export_selected(fmt)
    assert st.error == ""
    ((content, buffers),) = out.messages
    info = content["args"][0]
    assert content["method"] == "download" and info["name"].endswith(f".{fmt}")
    data = buffers[0]
    assert data and ex.download["size"] == len(data) and ex.export_note
    if fmt == "json":
        doc = json.loads(data)
        (rec,) = doc["samples"]
        assert rec["sample_id"] == first_id(ids) and rec["label"] == "yes"
        assert rec["mfcc"]["shape"][0] == 20 and "onset_strength" in rec
        assert len(rec["mfcc"]["values"]) == rec["mfcc"]["shape"][0] * rec["mfcc"]["shape"][1]
        assert doc["provenance"]["features"] == ["onset_strength", "mfcc"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(data)).num_rows == 1


def test_export_refuses_nothing_selected_and_unknown_formats(words, sent):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    out = sent(ex)
    ex.vue_export_selected("csv")
    assert "Select" in st.error
    ex.vue_toggle_feature({"id": "mfcc", "selected": True})
    for bad in ("exe", "../../x", None, 3):
        st.clear_error()
        ex.vue_export_selected(bad)
        assert st.error
    assert out.messages == []


def test_unknown_tab_is_refused(words):
    store, ids = words
    st, ex = explorer_on(store, first_id(ids))
    ex.vue_set_tab("<script>")
    assert st.error and ex.tab == "spectral"


def test_unreadable_audio_is_a_plain_message(words):
    store, ids = words
    sid = first_id(ids)
    os.remove(store.sample_file(sid))
    st, ex = explorer_on(store, sid)
    assert st.error and ex.message == st.error and "Traceback" not in st.error
    assert ex.items == [] and not ex.busy


def test_unexpected_failure_is_generic_and_logged(words, monkeypatch, caplog):
    store, ids = words

    def boom(*a, **k):
        raise RuntimeError("secret internals at /srv/db")

    import audiosoup_widgets.features as engine

    monkeypatch.setattr(engine, "compute_features_with_status", boom)
    st, ex = explorer_on(store, first_id(ids))
    assert st.error == GENERIC_ERROR and "secret" not in ex.message
    assert "secret internals" in caplog.text


def test_silent_and_long_clips_are_explained(sqlite_store, tmp_path):
    from widgettest_helpers import add_samples

    ids = add_samples(
        sqlite_store,
        tmp_path / "a",
        clips=[
            {"label": "x", "name": "silent", "level": 0.0},
            {"label": "x", "name": "long", "seconds": 30.0, "sr": 22050},
        ],
    )
    st, ex = explorer_on(sqlite_store, ids["x/silent.wav"])
    assert "silent" in ex.note
    st.selected_sample_id = ids["x/long.wav"]
    assert st.error == "" and len(ex.items) == 5
    # 30 s at hop 512 is 1,292 frames: the picture is pooled to stay light.
    png_widths = [bytes(fig.marks[0].image.value)[16:20] for fig in ex.figures]
    assert all(int.from_bytes(w, "big") <= 800 for w in png_widths)


def test_registry_has_what_the_explorer_needs():
    assert set(FEATURES) == {s.id for fam in FAMILIES for s in features_in(fam)}
    assert np.all([spec.kind in ("image", "line") for spec in FEATURES.values()])
