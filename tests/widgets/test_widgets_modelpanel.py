"""ModelPanel in the app: train on the ticked features, scores, the confusion matrix's cells, the history."""

from __future__ import annotations

import pytest

from audiosoup_widgets.testing import seed_summaries, seed_synthetic
from audiosoup_widgets.widgets.modelpanel import MATRIX_SOURCE, NOTHING_TICKED

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def separable(sqlite_store):
    """160 clips whose summaries separate the labels."""
    seed_synthetic(sqlite_store, dataset="d", n=160, labels=LABELS)
    seed_summaries(sqlite_store, "d", rows={"mfcc": 4, "onset_strength": 1}, spread=2.0)
    return sqlite_store


def _validation_cells(store, app):
    """Every (given, predicted) cell of the latest run's validation clips, from the stored rows."""
    run = app.services.model.latest_run("d")
    split = {sid: sp for sid, _, _, sp in store.sample_table("d")}
    cells: dict[tuple[str, str], set[int]] = {}
    for s in store.run_suspects(run.id, issues_only=False, include_reviewed=True, include_stale=True):
        if split[s.sample_id] == "validation":
            cells.setdefault((s.label, s.suggested), set()).add(s.sample_id)
    return run, cells


def test_train_shows_scores_matrix_and_history(separable, make_app):
    app = make_app(separable, dataset="d")
    panel, state = app.model_panel, app.state
    assert panel.ticked_text == NOTHING_TICKED and not panel.can_train
    app.tabs.vue_show("model")
    assert panel.history == [] and panel.scores == {}
    state.model_features = ["mfcc"]  # what FeatureRanking's ticks write
    assert panel.ticked_text == "1 ticked: MFCC" and panel.can_train
    revision = state.revision
    panel.vue_train()
    assert not state.error and panel.message == "" and panel.busy == {}
    assert state.revision == revision + 1  # badges follow the new run
    sc = panel.scores
    assert sc["model"] == "Logistic regression" and sc["features"] == "MFCC"
    for key in ("cv_accuracy", "cv_balanced", "val_accuracy", "val_balanced"):
        assert 0.5 < float(sc[key]) <= 1.0, key
    assert sc["change"] == ""  # the first run
    assert [r["label"] for r in panel.recall] == sorted(LABELS)
    run = app.services.model.latest_run("d")
    conf = run.scores["validation"]["confusion"]
    assert panel.matrix is not None and panel._cells.color.tolist() == conf["matrix"]
    assert panel._row_axis.tick_labels == dict(enumerate(conf["labels"]))
    assert len(panel.history) == 1 and panel.history[0]["reviewer"] == "(no name)"

    # A second run, a random forest with one more feature, signed: the history grows, newest first.
    state.sign("ann")
    panel.vue_set_model("forest")
    state.model_features = ["mfcc", "onset_strength"]
    panel.vue_train()
    assert not state.error
    assert [h["id"] for h in panel.history] == [run.id + 1, run.id]
    newest = panel.history[0]
    assert newest["model"] == "Random forest" and newest["reviewer"] == "ann"
    assert newest["features"] == "MFCC, Onset strength" and newest["change"]
    assert panel.scores["change"] == newest["change"]
    assert float(newest["balanced"]) == pytest.approx(float(panel.scores["val_balanced"]))


def test_a_cell_filters_the_grid_to_its_clips(separable, make_app):
    app = make_app(separable, dataset="d")
    panel, state = app.model_panel, app.state
    app.tabs.vue_show("model")
    state.model_features = ["mfcc"]
    panel.vue_train()
    run, cells = _validation_cells(separable, app)
    labels = run.scores["validation"]["confusion"]["labels"]
    matrix = run.scores["validation"]["confusion"]["matrix"]
    # The stored rows give back every count of the matrix.
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            assert len(cells.get((a, b), ())) == matrix[i][j]
    empty = next((i, j) for i, row in enumerate(matrix) for j, v in enumerate(row) if v == 0)
    panel.vue_cell({"given": empty[0], "predicted": empty[1]})
    assert panel.message.startswith("No validation clip labelled") and state.view == "model"
    i = max(range(len(labels)), key=lambda k: matrix[k][k])
    panel._clicked(panel._cells, {"data": {"rowNum": i, "columnNum": i, "data": matrix[i][i]}})
    assert not state.error and panel.message == ""
    assert state.view == "clips" and state.id_filter_source == MATRIX_SOURCE
    assert set(state.id_filter) == cells[(labels[i], labels[i])]
    assert state.total == matrix[i][i]
    assert {c["id"] for c in app.grid.cards} == cells[(labels[i], labels[i])]


def test_bad_input_is_refused(separable, sqlite_store, make_app):
    app = make_app(separable, dataset="d")
    panel, state = app.model_panel, app.state
    app.tabs.vue_show("model")
    panel.vue_train()  # nothing ticked
    assert panel.message == NOTHING_TICKED and panel.history == []
    panel.vue_set_model("svm")
    assert "logistic regression" in state.error and panel.model == "logreg"
    state.error = ""
    panel.vue_cell({"given": 0, "predicted": 0})  # no run yet
    assert "train a model first" in state.error
    state.model_features = ["chroma"]  # no summaries stored
    panel.vue_train()
    assert "audiosoup features compute" in panel.message and panel.history == []
    state.model_features = ["mfcc"]
    panel.vue_train()
    state.error = ""
    for bad in ({"given": 99, "predicted": 0}, {"given": "0", "predicted": 0}, [0, 0], None):
        panel.vue_cell(bad)
        assert state.error, bad
        state.error = ""
    assert state.view == "model"


def test_too_few_clips_per_label(separable, make_app):
    sid = next(sid for sid, _, _, split in separable.sample_table("d") if split == "train")
    separable.update_sample(sid, version=1, reviewer="t", label="rare", create_label=True)
    app = make_app(separable, dataset="d")
    app.tabs.vue_show("model")
    app.state.model_features = ["mfcc"]
    app.model_panel.vue_train()
    assert "'rare' has fewer than 2 clips in the train split" in app.model_panel.message
    assert app.model_panel.history == [] and not app.state.error


def test_the_model_retrains_after_the_set_number_of_edits(separable, make_app):
    for sid, _, label, split in separable.sample_table("d")[:16]:
        if split == "train":  # a few labels flipped: the model's suspects
            separable.update_sample(sid, version=1, reviewer="t", label=LABELS[(LABELS.index(label) + 1) % 4])
    app = make_app(separable, dataset="d")
    panel, state = app.model_panel, app.state
    app.tabs.vue_show("model")
    state.model_features = ["mfcc"]
    panel.vue_set_retrain_after("3")
    panel.vue_train()
    first = app.services.model.latest_run("d")
    assert panel.edits == 0 and panel.retrain_after == 3
    # Accept the model's suggestion for two suspects: two saved edits, no retrain yet.
    state.sign("ann")
    suspects = separable.run_suspects(first.id)
    assert len(suspects) >= 3
    for s in suspects[:2]:
        app.services.model.accept(s.sample_id, reviewer="ann")
        state.saved()
    assert panel.edits == 2 and app.services.model.latest_run("d").id == first.id
    app.services.model.accept(suspects[2].sample_id, reviewer="ann")
    state.saved()  # the third: the latest model is fitted again, on the same features
    second = app.services.model.latest_run("d")
    assert second.id == first.id + 1 and second.features == first.features and second.model == first.model
    assert panel.edits == 0 and not state.error
    # What changed: the accepted clips are no longer suspects of the new run.
    before = {s.sample_id for s in suspects}
    now = {s.sample_id for s in separable.run_suspects(second.id, include_reviewed=True, include_stale=True)}
    fixed, new, still = len(before - now), len(now - before), len(now & before)
    want = f"{fixed:,} suspects fixed, {new:,} new, {still:,} still suspected"
    assert panel.scores["suspects"] == want and len(before - now) >= 3
    assert {s.sample_id for s in suspects[:3]}.isdisjoint(now)


@pytest.mark.parametrize("bad", ["-1", "ten", "2.5", "100000"])
def test_a_bad_retrain_count_is_refused(separable, make_app, bad):
    app = make_app(separable, dataset="d")
    app.model_panel.vue_set_retrain_after(bad)
    assert app.state.error and app.model_panel.retrain_after == 10


def test_no_retrain_without_a_run_or_when_turned_off(separable, make_app):
    app = make_app(separable, dataset="d")
    panel, state = app.model_panel, app.state
    panel.vue_set_retrain_after("1")
    state.saved()  # no run yet: counted, nothing fitted
    assert panel.edits == 1 and app.services.model.latest_run("d") is None
    state.model_features = ["mfcc"]
    panel.vue_set_retrain_after("0")
    panel.vue_train()
    run = app.services.model.latest_run("d")
    for _ in range(3):
        state.saved()
    assert app.services.model.latest_run("d").id == run.id and panel.edits == 3
