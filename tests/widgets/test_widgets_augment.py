"""The review's Augment tab: a chain built and checked, previewed, heard A/B, applied, deleted.

The app runs on a real store with real audio; the augmentation service makes real
derived clips (files and rows). A fixed gain of +6 dB is the reference: its difference
picture must read +6 dB, and the result's WAV must be twice the original's amplitude.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from audiosoup_widgets.services import SampleFilters

GAIN = "Gain"
SIX_DB = {"min_gain_db": 6.0, "max_gain_db": 6.0}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Derived clips' files under the test's own folder."""
    monkeypatch.setenv("AUDIOSOUP_DATA_DIR", str(tmp_path / "data"))


def _open(app, sid: int) -> None:
    app.state.selected_sample_id = sid
    app.review.vue_set_panel("augment")
    assert app.state.panel == "augment"


def _six_db(aug) -> None:
    aug.vue_add_step(GAIN)
    for name, value in SIX_DB.items():
        aug.vue_set_param({"index": 0, "name": name, "value": value})


def _derived(app) -> int:
    query = SampleFilters(dataset="words", labels=(), split=None, search="", status=None, sort="id")
    return app.services.samples.count({**query, "origin": "derived"})


def test_a_chain_is_built_checked_and_previewed(words, make_app):
    store, ids = words
    app = make_app(store)
    aug = app.augment
    sid = sorted(ids.values())[0]
    _open(app, sid)
    assert aug.sample["id"] == sid
    names = [t["name"] for t in aug.transforms]
    assert GAIN in names and "PitchShift" in names
    gain = next(t for t in aug.transforms if t["name"] == GAIN)
    assert "louder" in gain["explanation"].lower()
    assert {p["name"]: (p["min"], p["max"]) for p in gain["params"]}["min_gain_db"] == (-24.0, 24.0)

    _six_db(aug)
    assert [s["transform"] for s in aug.steps] == [GAIN]
    values = {p["name"]: p["value"] for p in aug.steps[0]["params"]}
    assert values["min_gain_db"] == values["max_gain_db"] == 6.0
    # The preview: two waveforms, the feature of both and their difference.
    assert aug.preview["steps"] == 1
    assert len(aug.wave_figs) == 2 and len(aug.figures) == 3
    diff = aug._plots[2].display
    finite = diff.values[np.isfinite(diff.values)]
    # +6 dB everywhere the clip sounds (20 log10 2 = 6.02): the reference is the gain itself.
    loud = aug._plots[0].display.values > aug._plots[0].display.vmin + 20
    assert np.median(diff.values[loud]) == pytest.approx(20 * np.log10(2.0), abs=0.1)
    assert finite.size
    assert aug.preview["feature"] == "Mel spectrogram"
    # Another feature: the same gain reads +6 dB on the power spectrogram too.
    aug.vue_set_feature("power_spectrogram")
    assert aug.feature == "power_spectrogram" and aug._plots[0].spec.id == "power_spectrogram"
    diff = aug._plots[2].display
    loud = aug._plots[0].display.values > aug._plots[0].display.vmin + 20
    assert np.median(diff.values[loud]) == pytest.approx(20 * np.log10(2.0), abs=0.1)
    aug.vue_set_feature("tempogram")
    assert "Unknown feature" in aug.message
    aug.vue_set_feature("mel_spectrogram")

    # A value outside the safe range is refused with a message; the chain stays as it was.
    before = aug.steps
    aug.vue_set_param({"index": 0, "name": "max_gain_db", "value": 99})
    assert aug.message_kind == "error" and "outside its safe range" in aug.message
    assert "-24 to 24 dB" in aug.message
    assert aug.steps == before
    assert "Traceback" not in app.state.error
    aug.vue_set_param({"index": 0, "name": "min_gain_db", "value": "loud"})
    assert "must be a number" in aug.message
    # A minimum above its maximum is refused too.
    aug.vue_set_param({"index": 0, "name": "min_gain_db", "value": 12})
    assert "above the largest" in aug.message
    assert aug.steps == before

    # Steps are added, moved and removed.
    aug.vue_add_step("PitchShift")
    aug.vue_move_step({"index": 1, "by": -1})
    assert [s["transform"] for s in aug.steps] == ["PitchShift", GAIN]
    aug.vue_move_step({"index": 0, "by": -1})
    assert "cannot move" in aug.message
    aug.vue_remove_step(0)
    assert [s["transform"] for s in aug.steps] == [GAIN]
    aug.vue_add_step("NoSuchTransform")
    assert "Unknown transform" in aug.message
    aug.vue_set_seed("7")
    assert aug.seed == 7


def test_ab_switch_sends_the_original_then_the_result(words, make_app, sent):
    store, ids = words
    app = make_app(store)
    aug = app.augment
    _open(app, sorted(ids.values())[1])
    out = sent(aug)
    aug.vue_listen("b")
    assert "no result" in aug.message  # nothing to hear before a step
    _six_db(aug)
    aug.vue_listen("a")
    aug.vue_listen("b")
    assert aug.ab == "b"
    (ma, (wa,)), (mb, (wb,)) = out.messages[-2:]
    assert ma["args"][0]["which"] == "a" and mb["args"][0]["which"] == "b"
    a, sra = sf.read(io.BytesIO(wa))
    b, srb = sf.read(io.BytesIO(wb))
    assert sra == srb == 16000 and len(a) == len(b)
    # The result is the original at twice the amplitude (16-bit rounding aside).
    k = np.abs(a) > 0.01
    assert np.median(b[k] / a[k]) == pytest.approx(10 ** (6 / 20), rel=0.01)
    aug.vue_listen("c")
    assert "choose A" in aug.message


def test_apply_to_the_selection_then_the_grid_and_the_group_deletion(words_any, make_app, env):
    store, ids = words_any
    app = make_app(store)
    aug, grid, state = app.augment, app.grid, app.state
    chosen = sorted(ids.values())[:3]
    _open(app, chosen[0])
    _six_db(aug)
    aug.vue_apply({"variants": 2, "name": "louder"})
    assert "name" in aug.message.lower()  # no reviewer yet: refused, nothing made
    state.sign("Ada")
    aug.vue_apply({"variants": 2, "name": "louder"})
    assert "Check some clips" in aug.message
    state.select(chosen[:2])
    aug.vue_apply({"variants": 0, "name": "louder"})
    assert "out of range" in aug.message
    aug.vue_apply({"variants": 2, "name": "<b>louder</b>"})
    assert not aug.applying
    assert aug.progress["done"] == aug.progress["total"] == 4
    assert "Made 4 derived clips" in aug.message
    assert _derived(app) == 4
    # The recipe keeps the name as typed (text, never markup) and counts its clips.
    assert [r["name"] for r in aug.recipes] == ["<b>louder</b>"]

    # The grid: originals, derived or both; a derived card says where it comes from.
    grid.vue_set_origin("derived")
    assert state.origin_filter == "derived" and state.total == 4
    parents = {app.services.samples.get(i).file_name for i in chosen[:2]}
    notes = [c["derived"] for c in grid.cards]
    assert all(n.startswith("derived from ") and "<b>louder</b>" in n for n in notes)
    assert {n.split("derived from ")[1].split(" · ")[0] for n in notes} == parents
    grid.vue_set_origin("original")
    assert state.total == len(ids)
    assert not any(c.get("derived") for c in grid.cards)
    grid.vue_set_origin(None)
    assert state.total == len(ids) + 4
    grid.vue_set_origin("copies")
    assert "invalid origin" in state.error
    grid.vue_clear_filters()
    assert state.origin_filter is None

    # Deleting the recipe's clips asks for a confirmation first.
    aug.vue_delete_group({"name": "<b>louder</b>"})
    assert "Confirm" in aug.message and _derived(app) == 4
    aug.vue_delete_group({"name": "<b>louder</b>", "confirm": True})
    assert "Deleted 4 clips" in aug.message
    assert _derived(app) == 0


def test_save_and_load_a_recipe(words, make_app, env):
    store, ids = words
    app = make_app(store)
    aug = app.augment
    _open(app, sorted(ids.values())[0])
    app.state.sign("Ada")
    _six_db(aug)
    aug.vue_add_step("PitchShift")
    aug.vue_set_seed(11)
    aug.vue_save_recipe("six up")
    assert "Saved" in aug.message and "six up" in [r["name"] for r in aug.recipes]
    aug.vue_remove_step(1)
    aug.vue_remove_step(0)
    assert aug.steps == []
    aug.vue_load_recipe("six up")
    assert [s["transform"] for s in aug.steps] == [GAIN, "PitchShift"]
    assert {p["name"]: p["value"] for p in aug.steps[0]["params"]}["max_gain_db"] == 6.0
    assert aug.seed == 11
    aug.vue_load_recipe("missing")
    assert "not one of this dataset's" in aug.message
