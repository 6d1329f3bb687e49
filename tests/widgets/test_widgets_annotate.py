"""The review's Annotate tab, driven as the browser drives it (``vue_*`` events): blind votes
between two reviewers, tags with suggestions, flags, regions drawn on the waveform (edited,
conflicting, deleted, undone, played alone), notes, the history's undo, and refusals."""

from __future__ import annotations

import io
import json

import soundfile as sf
from widgettest_helpers import XSS_LABEL, XSS_TEXT

from audiosoup_widgets.store import Store
from audiosoup_widgets.widgets.base import REVIEWER_NEEDED


def _open(app, sid: int, name: str | None):
    app.grid.vue_open_sample(sid)
    app.review.vue_set_panel("annotate")
    if name:
        app.annotate.vue_set_reviewer(name)
    return app.annotate


def _ids(app) -> list[int]:
    return [c["id"] for c in app.grid.cards]


def test_blind_mode_sends_nothing_of_the_others_votes_until_mine(words_any, make_app):
    store, _ = words_any
    ana_app = make_app(store)
    sid = _ids(ana_app)[0]
    ana = _open(ana_app, sid, "ana")
    assert ana.blind and ana.votes == {"mine": "", "hidden": True}
    ana.vue_vote("no")
    assert ana_app.state.error == ""
    assert ana.votes["mine"] == "no" and ana.votes["n"] == 1
    assert ana.votes["voters"] == [{"who": "ana", "label": "no"}]

    bob_app = make_app(Store(store.url))
    bob = _open(bob_app, sid, "bob")
    assert bob.votes == {"mine": "", "hidden": True}
    # Not even the synced state holds ana's vote.
    synced = json.dumps({k: v for k, v in bob.get_state().items() if k != "template"}, default=str)
    assert '"ana"' not in synced and bob.history == []
    bob.vue_vote("yes")
    assert bob.votes["mine"] == "yes" and bob.votes["n"] == 2
    assert {(d["label"], d["n"], d["pct"]) for d in bob.votes["distribution"]} == {
        ("no", 1, "50%"),
        ("yes", 1, "50%"),
    }
    assert {v["who"] for v in bob.votes["voters"]} == {"ana", "bob"}
    # A second vote replaces the first.
    bob.vue_vote("no")
    assert [(d["label"], d["n"]) for d in bob.votes["distribution"]] == [("no", 2)]
    # A vote is undone by its voter only: bob's last vote can be, ana's cannot.
    (anas,) = [h for h in bob.history if h["who"] == "ana"]
    assert (anas["what"], anas["action"], anas["new"], anas["can_undo"]) == ("Vote", "cast", "no", False)
    bob.vue_undo(anas["id"])
    assert "someone else's vote" in bob_app.state.error
    assert bob.history[0]["can_undo"] and bob.history[0]["old"] == "yes"
    bob.vue_undo(bob.history[0]["id"])
    assert bob.message == "Undone." and bob.votes["mine"] == "yes"
    bob.vue_vote("no")

    # Blind mode off: a third reviewer sees the distribution before voting.
    cy_app = make_app(Store(store.url))
    cy = _open(cy_app, sid, "cy")
    assert cy.votes["hidden"]
    cy.vue_set_blind(False)
    assert not cy.votes["hidden"] and cy.votes["mine"] == "" and cy.votes["n"] == 2
    # An unknown label is refused.
    cy.vue_vote("cat")
    assert "not a label of this dataset" in cy_app.state.error
    assert cy.votes["n"] == 2


def test_nothing_is_recorded_without_a_name(words, make_app):
    store, _ = words
    app = make_app(store)
    sid = _ids(app)[0]
    panel = _open(app, sid, None)
    panel.vue_vote("no")
    assert app.state.error == REVIEWER_NEEDED
    panel.vue_add_tag("loud")
    panel.vue_draw_region({"fx0": 0.1, "fx1": 0.5})
    assert panel.tags == [] and panel.regions == [] and panel.history == []
    assert app.services.annotations.history(sid) == []


def test_tags_suggest_from_the_vocabulary_and_undo(words, make_app):
    store, _ = words
    app = make_app(store)
    first, second = _ids(app)[:2]
    panel = _open(app, first, "ana")
    revision = app.state.revision
    panel.vue_add_tag("  breathy ")
    panel.vue_add_tag("background music")
    assert app.state.error == "" and app.state.revision == revision + 2
    assert sorted(panel.tags) == ["background music", "breathy"]
    _open(app, second, None)
    panel.vue_suggest_tags("br")
    assert panel.tag_items == ["breathy"]
    panel.vue_suggest_tags("")
    assert sorted(panel.tag_items) == ["background music", "breathy"]
    panel.vue_add_tag("breathy")
    panel.vue_suggest_tags("")
    assert panel.tag_items == ["background music"]  # the clip's own tags are not suggested
    panel.vue_remove_tag("breathy")
    assert panel.tags == []
    top = panel.history[0]
    assert (top["what"], top["action"], top["who"]) == ("Tag", "removed", "ana")
    panel.vue_undo(top["id"])
    assert app.state.error == "" and panel.tags == ["breathy"]
    assert panel.history[0]["is_undo"] and panel.history[1]["undone"]
    panel.vue_remove_tag("nope")
    assert "does not carry that tag" in app.state.error
    panel.vue_add_tag("x" * 65)
    assert "longer than 64" in app.state.error


def test_flags_come_from_the_list(words, make_app):
    store, _ = words
    app = make_app(store)
    sid = _ids(app)[0]
    panel = _open(app, sid, "ana")
    flags = app.services.annotations.flags
    assert [f["flag"] for f in panel.flags] == list(flags) and not any(f["on"] for f in panel.flags)
    panel.vue_set_flag({"flag": "noisy", "on": True})
    assert [f["flag"] for f in panel.flags if f["on"]] == ["noisy"]
    panel.vue_set_flag({"flag": "noisy", "on": False})
    assert not any(f["on"] for f in panel.flags)
    panel.vue_set_flag({"flag": "haunted", "on": True})
    assert "unknown flag" in app.state.error
    panel.vue_set_flag({"flag": "noisy", "on": "yes"})
    assert app.state.error == "invalid flag"


def test_regions_drawn_edited_conflicting_deleted_undone_and_played(words_any, make_app, sent):
    store, _ = words_any
    app = make_app(store)
    sid = _ids(app)[0]
    panel = _open(app, sid, "ana")
    assert panel.wave_fig is not None and panel.spec_fig is not None and panel.duration == 1.0
    # Waveform and spectrogram: one time axis (0 .. 1 s) over the same plot area.
    wave, spec = panel.wave_fig, panel.spec_fig
    assert wave.fig_margin["left"] == spec.fig_margin["left"] == panel.margin["left"]
    assert wave.fig_margin["right"] == spec.fig_margin["right"] == panel.margin["right"]
    assert wave.interaction is None and spec.interaction is None
    for fig in (wave, spec):
        x = fig.axes[0].scale
        assert (x.min, x.max) == (0.0, 1.0)
    # A drag from 50 % back to 25 % of the plot width: the region 0.25 .. 0.5 s.
    panel.vue_draw_region({"fx0": 0.5, "fx1": 0.25})
    assert app.state.error == ""
    (r,) = panel.regions
    assert (r["start"], r["end"], r["label"], r["who"]) == (0.25, 0.5, "", "ana")
    assert (r["left"], r["width"]) == (25.0, 25.0)
    panel.vue_update_region({"id": r["id"], "start": 0.2, "end": 0.6, "label": XSS_LABEL, "note": "onset"})
    assert app.state.error == ""
    (r,) = panel.regions
    assert (r["start"], r["end"], r["label"], r["note"]) == (0.2, 0.6, XSS_LABEL, "onset")
    stored = app.services.annotations.regions(sid)
    assert [(x.start, x.end, x.label) for x in stored] == [(0.2, 0.6, XSS_LABEL)]

    # Played alone: a WAV of exactly the region's samples.
    log = sent(panel)
    panel.vue_play_region(r["id"])
    ((content, buffers),) = log.messages
    assert content == {"method": "play_region", "args": [{"id": r["id"]}]}
    y, sr = sf.read(io.BytesIO(buffers[0]))
    assert sr == 16000 and len(y) == round(0.4 * sr)

    # Someone else changes the region: my edit, made on the older version, is a conflict.
    other_app = make_app(Store(store.url))
    other = _open(other_app, sid, "bob")
    (theirs,) = other.regions
    other.vue_update_region({**theirs, "label": "breath"})
    assert other_app.state.error == ""
    panel.vue_update_region({**r, "label": "mine"})
    assert "Not saved: bob changed this region" in panel.message
    assert panel.regions[0]["label"] == "breath"  # their version is shown now

    # Too small, out of the clip, bad input.
    panel.vue_draw_region({"fx0": 0.5, "fx1": 0.502})
    assert "Drag across the waveform" in app.state.error
    panel.vue_update_region({**panel.regions[0], "end": 3.0})
    assert "within the clip" in app.state.error
    panel.vue_draw_region({"fx0": "0", "fx1": 1})
    assert app.state.error == "invalid region"

    panel.vue_delete_region(panel.regions[0]["id"])
    assert panel.regions == []
    top = panel.history[0]
    assert (top["what"], top["action"]) == ("Region", "deleted")
    panel.vue_undo(top["id"])
    assert [x["label"] for x in panel.regions] == ["breath"]
    panel.vue_play_region(999_999)
    assert "not one of this clip's" in app.state.error


def test_notes_added_edited_deleted_and_shown_as_text(words, make_app):
    store, _ = words
    app = make_app(store)
    sid = _ids(app)[0]
    panel = _open(app, sid, "ana")
    panel.vue_add_note(XSS_TEXT)
    (n,) = panel.notes
    assert n["text"] == XSS_TEXT and n["who"] == "ana"
    panel.vue_update_note({"id": n["id"], "text": "heard a door"})
    assert [x["text"] for x in panel.notes] == ["heard a door"]
    panel.vue_update_note({"id": n["id"], "text": "   "})
    assert "cannot be empty" in app.state.error
    panel.vue_add_note("")
    assert "cannot be empty" in app.state.error
    panel.vue_delete_note(n["id"])
    assert panel.notes == []
    panel.vue_delete_note(n["id"])
    assert "may have been deleted" in app.state.error
    kinds = [(h["what"], h["action"]) for h in panel.history]
    assert kinds == [("Note", "deleted"), ("Note", "changed"), ("Note", "added")]


def test_the_panel_follows_the_selected_clip_and_reads_nothing_while_hidden(words, make_app):
    store, _ = words
    app = make_app(store)
    first, second = _ids(app)[:2]
    panel = _open(app, first, "ana")
    panel.vue_add_tag("one")
    app.review.vue_set_panel("review")
    app.grid.vue_select_sample(second)
    assert panel.sample["id"] == first  # not read while the tab is not shown
    app.review.vue_set_panel("annotate")
    assert panel.sample["id"] == second and panel.tags == []
