"""FeatureRanking in the app: the Model view's chart, ticks into the state, a feature's detail, playing."""

from __future__ import annotations

import pytest

from audiosoup_widgets.state import VIEWS
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

ROWS = {"mfcc": 4, "chroma": 3, "spectral_contrast": 3, "onset_strength": 1}


@pytest.fixture
def synthetic(sqlite_store):
    seed_synthetic(sqlite_store, dataset="syn", n=160)
    seed_summaries(sqlite_store, "syn", rows=ROWS)
    return sqlite_store


def test_model_view_ranks_and_shows_a_feature(synthetic, make_app):
    app = make_app(synthetic, dataset="syn")
    rk = app.ranking
    assert "model" in VIEWS and rk.families == []  # nothing read before the view is shown
    app.tabs.vue_show("model")
    assert app.views["model"].style_ == ""
    assert rk.busy == "" and rk.message == "" and "train split" in rk.note
    titles = list(rk._bar_mark.x)[::-1]  # drawn bottom up: the best last, on top
    assert len(titles) == len(ROWS) and "Spectral contrast" in titles
    assert list(rk._names.domain)[::-1] == titles
    assert len(rk._bar_mark.colors) == len(titles)
    assert {f["family"] for f in rk.families} == {"spectral", "rhythmic", "deltas"}
    # The best feature is shown at once; a click on another bar shows that one.
    assert rk.picked == app.services.ranking.bars(rk._ranking)[0].feature
    rk._clicked(rk._bar_mark, {"data": {"index": len(titles) - 1 - titles.index("Onset strength")}})
    assert rk.picked == "onset_strength"
    assert rk.detail_figure is not None and len(rk.legend) == 4
    assert len(rk.lowest) == len(rk.highest) == 5
    assert rk._hist.y.shape[0] == 4
    # Mutual information, one label against the rest.
    rk.vue_set_by("mi")
    rk.vue_set_scope("yes")
    assert rk.by == "mi" and rk.scope == "yes" and "mutual information" in rk._score_axis.label
    assert [s["value"] for s in rk.scope_items] == ["all", "down", "no", "up", "yes"]


def test_ticks_write_the_model_features(synthetic, make_app):
    app = make_app(synthetic, dataset="syn")
    rk, state = app.ranking, app.state
    app.tabs.vue_show("model")
    rk.vue_tick({"feature": "onset_strength", "on": True})
    assert state.model_features == ["onset_strength"]
    rk.vue_tick_family({"family": "spectral", "on": True})
    assert state.model_features == ["spectral_contrast", "chroma", "onset_strength"]
    spectral = next(f for f in rk.families if f["family"] == "spectral")
    assert spectral["all"] and all(x["ticked"] for x in spectral["features"])
    rk.vue_tick({"feature": "chroma", "on": False})
    spectral = next(f for f in rk.families if f["family"] == "spectral")
    assert spectral["some"] and not spectral["all"]
    rk.vue_tick_family({"family": "spectral", "on": False})
    assert state.model_features == ["onset_strength"] == rk.ticked


@pytest.mark.parametrize(
    "method,data",
    [
        ("vue_tick", {"feature": "<b>nope</b>", "on": True}),
        ("vue_tick", "mfcc"),
        ("vue_tick_family", {"family": "colour", "on": True}),
        ("vue_pick", "tempogram"),
        ("vue_set_by", "auc"),
        ("vue_set_scope", "nobody"),
        ("vue_play", 99999),
        ("vue_open", "1"),
    ],
)
def test_bad_input_is_refused_with_a_message(synthetic, make_app, method, data):
    app = make_app(synthetic, dataset="syn")
    app.tabs.vue_show("model")
    before = list(app.state.model_features)
    getattr(app.ranking, method)(data)
    assert app.state.error
    assert app.state.model_features == before


def test_without_summaries_the_view_names_the_command(sqlite_store, make_app):
    seed_synthetic(sqlite_store, dataset="bare", n=20)
    app = make_app(sqlite_store, dataset="bare")
    app.tabs.vue_show("model")
    assert "audiosoup features compute --dataset bare" in app.ranking.message
    assert app.state.error == ""


def test_one_label_is_not_enough(sqlite_store, make_app):
    seed_synthetic(sqlite_store, dataset="one", n=30, labels=("yes",))
    seed_summaries(sqlite_store, "one", rows={"mfcc": 2})
    app = make_app(sqlite_store, dataset="one")
    app.tabs.vue_show("model")
    assert "two labels" in app.ranking.message
    assert app.ranking.families == []


def test_extreme_clips_play_and_open(words, make_app, sent):
    store, _ = words
    seed_summaries(store, "words", rows={"mfcc": 3, "chroma": 2})
    app = make_app(store)
    rk = app.ranking
    app.tabs.vue_show("model")
    assert rk.lowest, rk.message
    clip = rk.lowest[0]
    got = sent(rk)
    rk.vue_play(clip["id"])
    ((content, buffers),) = got.messages
    assert content["method"] == "play_audio" and buffers[0][:4] == b"RIFF"
    rk.vue_open(clip["id"])
    assert app.state.selected_sample_id == clip["id"] and app.state.open_request == 1
