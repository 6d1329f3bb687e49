"""The comparison view, driven as the browser drives it (``vue_*`` events) on real stores.

From the grid's checkboxes through the selection bar's Compare button to panels on one
scale, the difference, a class template, and effect sizes with their distributions.
"""

from __future__ import annotations

import bqplot as bq
import numpy as np
import pytest

from audiosoup_widgets.widgets.compare import EMPTY_MESSAGE, SELECTION_GROUP


def compare(app, ids):
    """Check ``ids`` in the grid and press Compare, as a user does."""
    for sid in ids:
        app.grid.vue_toggle_check({"id": sid, "shift": False})
    app.selection.vue_compare()
    return app.comparison


def card_ids(app, label=None):
    return [c["id"] for c in app.grid.cards if label is None or c["label"] == label]


def test_empty_until_clips_are_compared_and_nothing_computed_while_hidden(words, make_app):
    store, ids = words
    app = make_app(store)
    view = app.comparison
    assert view.message == EMPTY_MESSAGE and view.panels == [] and view.figures == []
    app.state.show("compare")
    assert view.message == EMPTY_MESSAGE
    app.state.show("clips")
    app.state.compare_ids = card_ids(app)[:2]  # as the selection bar writes it
    assert view.panels == []  # hidden: nothing computed yet
    app.state.show("compare")
    assert len(view.panels) == 2 and view.message == ""


def test_compare_button_shows_panels_side_by_side_on_one_scale(words, make_app):
    store, ids = words
    app = make_app(store)
    chosen = card_ids(app)[:3]
    view = compare(app, chosen)
    assert app.state.view == "compare" and app.state.compare_ids == sorted(chosen)
    assert [p["id"] for p in view.panels] == sorted(chosen)
    assert all(p["kind"] == "clip" and p["name"] and p["label"] for p in view.panels)
    assert len(view.figures) == 3 and all(isinstance(f, bq.Figure) for f in view.figures)
    # One colour bar; the same axes in every panel.
    assert view.colorbar["label"] == "dB below the loudest point of all clips shown"
    assert "to right" in view.colorbar["gradient"]
    xs = {(f.marks[0].scales["x"].min, f.marks[0].scales["x"].max) for f in view.figures}
    ys = {(f.marks[0].scales["y"].min, f.marks[0].scales["y"].max) for f in view.figures}
    assert len(xs) == 1 and len(ys) == 1
    pictures = [bytes(f.marks[0].image.value) for f in view.figures]
    assert all(p.startswith(b"\x89PNG") for p in pictures) and len(set(pictures)) == 3
    assert not view.can_difference and app.state.error == ""


def test_feature_picker_and_bad_events(words, make_app):
    store, ids = words
    app = make_app(store)
    view = compare(app, card_ids(app)[:2])
    before = list(view.figures)
    view.vue_set_feature("mfcc")
    assert view.feature == "mfcc" and view.colorbar["gradient"].startswith(
        "linear-gradient(to right, #2166ac"
    )
    assert view.figures != before and len(view.figures) == 2
    view.vue_set_feature("onset_strength")  # a line: no colour bar, one y range
    assert view.colorbar == {} and len({f.marks[0].scales["y"].max for f in view.figures}) == 1
    for event, bad in [
        ("vue_set_feature", "<img src=x>"),
        ("vue_set_feature", 3),
        ("vue_set_template", "no such label"),
        ("vue_set_difference", "yes"),
        ("vue_play", 10**9),
        ("vue_pick_column", "mfcc_mean_0"),
        ("vue_set_group", {"side": "c", "value": ""}),
        ("vue_set_group", {"side": "a", "value": "label:nope"}),
    ]:
        app.state.clear_error()
        getattr(view, event)(bad)
        assert app.state.error, event
    assert view.feature == "onset_strength" and view.template_label == "" and not view.difference


def test_difference_of_exactly_two_clips(words, make_app):
    store, ids = words
    app = make_app(store)
    view = compare(app, card_ids(app)[:2])
    assert view.can_difference
    view.vue_set_difference(True)
    kinds = [p["kind"] for p in view.panels]
    assert kinds == ["clip", "clip", "difference"] and len(view.figures) == 3
    diff = view.panels[2]
    assert diff["colorbar"]["label"] == "dB difference, A − B"
    assert bytes(view.figures[2].marks[0].image.value).startswith(b"\x89PNG")
    view.vue_set_difference(False)
    assert [p["kind"] for p in view.panels] == ["clip", "clip"]
    app.state.show("clips")
    app.grid.vue_toggle_check({"id": card_ids(app)[2], "shift": False})
    app.selection.vue_compare()
    assert not view.can_difference
    app.state.clear_error()
    view.vue_set_difference(True)
    assert "exactly 2" in app.state.error and not view.difference


def test_template_panel_and_profile_beside_the_clips(words, make_app):
    store, ids = words
    app = make_app(store)
    view = compare(app, card_ids(app, "no"))
    view.vue_set_template("yes")
    kinds = [p["kind"] for p in view.panels]
    assert kinds == ["clip", "clip", "clip", "template"] and len(view.figures) == 4
    assert view.panels[3]["name"] == "Template of yes" and "4 clips" in view.panels[3]["meta"]
    assert "at most 64 clips are read" in view.template_note
    assert isinstance(view.profile_figure, bq.Figure)
    assert [entry["name"] for entry in view.profile_legend][-1] == "template of yes"
    lines = view.profile_figure.marks
    assert np.asarray(lines[0].y).shape == (3, 128) and np.asarray(lines[1].y).shape == (128,)
    # Without stored summaries another feature has no template: said, and the clips still show.
    view.vue_set_feature("chroma")
    assert [p["kind"] for p in view.panels] == ["clip", "clip", "clip"]
    assert any(n.startswith("No template:") and "audiosoup features compute" in n for n in view.notes)
    view.vue_set_template("")
    assert view.template_label == "" and view.profile_figure is None


def test_effect_sizes_between_labels_and_the_selection(words, make_app):
    from audiosoup_widgets.jobs.compute import compute_dataset

    store, ids = words
    app = make_app(store)
    view = compare(app, card_ids(app)[:2])
    values = [o["value"] for o in view.group_options]
    assert values[0] == SELECTION_GROUP and "label:yes" in values
    view.vue_set_group({"side": "a", "value": "label:yes"})
    assert view.effects == [] and "Pick" not in app.state.error
    view.vue_set_group({"side": "b", "value": "label:no"})
    assert view.effects == [] and "audiosoup features compute" in view.effect_note  # nothing stored yet
    assert compute_dataset(store, "words", workers=1).failed == []
    app.services.compare.forget()
    view.vue_set_group({"side": "b", "value": "label:up"})
    rows = view.effects
    assert 0 < len(rows) <= 25 and rows[0]["width"] == 100.0
    ds = [abs(float(r["d"])) for r in rows]
    assert ds == sorted(ds, reverse=True) and "label 'yes'" in view.effect_note
    assert view.effect_features and view.effect_features[0]["column"] == rows[0]["column"]
    view.vue_pick_column(rows[0]["column"])
    assert view.column == rows[0]["column"] and isinstance(view.dist_figure, bq.Figure)
    assert view.dist_info["d"] == rows[0]["d"] and view.dist_info["a"].startswith("label 'yes' (4 clips")
    shares = np.asarray(view.dist_figure.marks[0].y)
    assert shares.shape[0] == 2 and shares[:, :-1].sum(axis=1) == pytest.approx([1.0, 1.0])
    # "The selection" is a group too.
    app.state.select(card_ids(app, "up"), mode="replace")
    view.vue_set_group({"side": "a", "value": SELECTION_GROUP})
    assert view.effect_note.startswith("Cohen's d") and "3 selected clips" in view.effect_note
    app.state.clear_error()
    view.vue_set_group({"side": "b", "value": SELECTION_GROUP})
    assert "two different groups" in app.state.error


def test_play_sends_the_clip_and_reset_zoom_restores_the_shared_range(words, make_app, sent):
    store, ids = words
    app = make_app(store)
    chosen = card_ids(app)[:2]
    view = compare(app, chosen)
    out = sent(view)
    view.vue_play(chosen[1])
    ((content, buffers),) = out.messages
    assert content == {"method": "play_audio", "args": [{"id": chosen[1], "truncated": False}]}
    assert buffers[0][:4] == b"RIFF"
    scale = view.figures[0].marks[0].scales["x"]
    full = (scale.min, scale.max)
    scale.min, scale.max = 0.2, 0.4  # the user zoomed
    view.vue_reset_zoom()
    assert (scale.min, scale.max) == full


def test_an_edit_refreshes_the_panel_label(words, make_app):
    store, ids = words
    app = make_app(store)
    chosen = card_ids(app, "yes")[:2]
    view = compare(app, chosen)
    record = app.services.samples.get(chosen[0])
    app.services.samples.update(record, reviewer="t", label="no")
    app.state.revision += 1  # as the editor does after a save
    assert view.panels[0]["label"] == "no"


def test_clips_of_another_dataset_are_not_an_error(words, make_app, tmp_path):
    from widgettest_helpers import add_samples

    store, ids = words
    add_samples(store, tmp_path / "other", dataset="other", clips=[{"label": "a", "name": "x"}])
    app = make_app(store)
    view = compare(app, card_ids(app)[:2])
    assert len(view.panels) == 2
    app.grid.vue_set_dataset("other")
    app.state.show("compare")
    assert view.panels == [] and view.message.startswith("The clips to compare are in another dataset")
    assert app.state.error == ""
