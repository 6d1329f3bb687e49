"""MetadataEditor: saves as edits are made, refuses bad input, never overwrites silently."""

from __future__ import annotations

import pytest

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.state import ReviewState
from audiosoup_widgets.store import Store
from audiosoup_widgets.store.models import MAX_TEXT
from audiosoup_widgets.widgets import MetadataEditor


def editor_on(store, sample_id, reviewer="ann"):
    st = ReviewState(dataset="words", selected_sample_id=sample_id)
    ed = MetadataEditor(st, ReviewServices(store))
    if reviewer:
        ed.vue_set_reviewer(reviewer)
    return st, ed


def first_id(ids):
    return ids["yes/spk00_nohash_0.wav"]


def test_shows_the_sample_with_measured_fields_read_only(words):
    store, ids = words
    st, ed = editor_on(store, first_id(ids), reviewer=None)
    s = ed.sample
    assert s["name"] == "spk00_nohash_0.wav" and s["label"] == "yes" and s["text"] == "clip 0 says yes"
    assert (s["sample_rate"], s["duration"], s["channels"]) == ("16 kHz", "1.00 s", "mono")
    assert ed.label_items == ["no", "up", "yes"]
    assert ed.history == [] and not ed.can_undo
    for read_only in ("vue_save_sample_rate", "vue_save_duration", "vue_save_channels"):
        assert not hasattr(ed, read_only)


def test_no_edit_without_a_reviewer_name(words):
    store, ids = words
    st, ed = editor_on(store, first_id(ids), reviewer=None)
    ed.vue_save_text("hello")
    assert "name" in st.error and store.get_sample(first_id(ids)).text == "clip 0 says yes"
    ed.vue_set_reviewer("   ")
    assert st.reviewer == ""
    ed.vue_set_reviewer("  Ann  ")
    assert st.reviewer == "Ann" and ed.reviewer == "Ann"


def test_each_edit_is_saved_at_once_with_history_and_revision(words_any):
    store, ids = words_any
    sid = first_id(ids)
    st, ed = editor_on(store, sid)
    ed.vue_save_label("no")
    assert store.get_sample(sid).label == "no" and st.revision == 1
    ed.vue_save_text("a new transcript")
    ed.vue_save_split("test")
    ed.vue_set_meta({"key": "mic", "value": "usb"})
    ed.vue_set_meta({"key": "room", "value": "kitchen"})
    ed.vue_delete_meta("mic")
    rec = store.get_sample(sid)
    assert (rec.label, rec.text, rec.split, rec.meta) == (
        "no",
        "a new transcript",
        "test",
        {"room": "kitchen"},
    )
    assert rec.updated_by == "ann" and st.revision == 6 and st.error == ""
    assert [h["field"] for h in ed.history][:3] == ["Custom metadata"] * 3
    assert ed.history[-1] == {**ed.history[-1], "who": "ann", "field": "Label", "old": "yes", "new": "no"}
    assert ed.message.startswith("Saved")
    # Saving the same value again writes nothing.
    ed.vue_save_text("a new transcript")
    assert st.revision == 6 and len(store.sample_history(sid)) == 6


def test_undo_reverts_the_last_edit_and_records_it(words_any):
    store, ids = words_any
    sid = first_id(ids)
    st, ed = editor_on(store, sid)
    ed.vue_save_label("up")
    ed.vue_save_text("changed")
    assert ed.can_undo
    ed.vue_undo()
    rec = store.get_sample(sid)
    assert rec.text == "clip 0 says yes" and rec.label == "up"
    assert ed.history[0]["kind"] == "undo" and ed.history[1]["undone"]
    ed.vue_undo()
    assert store.get_sample(sid).label == "yes"
    assert not ed.can_undo
    ed.vue_undo()
    assert "nothing to undo" in st.error


def test_creating_a_label_needs_the_explicit_create(words):
    store, ids = words
    sid = first_id(ids)
    st, ed = editor_on(store, sid)
    ed.vue_save_label("maybe")
    assert "not a label" in st.error and store.get_sample(sid).label == "yes"
    assert [lab.name for lab in store.list_labels("words")] == ["no", "up", "yes"]
    st.clear_error()
    ed.vue_create_label("maybe")
    assert store.get_sample(sid).label == "maybe" and "maybe" in ed.label_items
    assert st.error == ""


@pytest.mark.parametrize(
    "event,bad",
    [
        ("vue_save_label", ""),
        ("vue_save_label", "x" * 201),
        ("vue_save_label", "a\nb"),
        ("vue_save_label", 3),
        ("vue_create_label", "  "),
        ("vue_create_label", "bell\x07"),
        ("vue_save_text", "x" * (MAX_TEXT + 1)),
        ("vue_save_text", ["text"]),
        ("vue_save_split", "holdout"),
        ("vue_set_meta", {"key": "", "value": "v"}),
        ("vue_set_meta", {"key": "k", "value": "v" * 1001}),
        ("vue_set_meta", {"key": "k" * 101}),
        ("vue_set_meta", "k=v"),
        ("vue_set_meta", {"key": "k", "value": {"nested": 1}}),
        ("vue_delete_meta", "absent"),
        ("vue_set_reviewer", "x" * 101),
        ("vue_set_reviewer", 7),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_changes(words, event, bad):
    store, ids = words
    sid = first_id(ids)
    st, ed = editor_on(store, sid)
    before = store.get_sample(sid)
    getattr(ed, event)(bad)
    assert st.error and "Traceback" not in st.error
    assert ed.message_kind == "error"
    after = store.get_sample(sid)
    assert (after.version, after.label, after.text, after.split, after.meta) == (
        before.version,
        before.label,
        before.text,
        before.split,
        before.meta,
    )
    assert store.sample_history(sid) == [] and st.revision == 0 and st.reviewer == "ann"


def test_unknown_or_foreign_sample_is_refused(words, sqlite_store):
    store, ids = words
    st = ReviewState(dataset="words", selected_sample_id=999_999)
    ed = MetadataEditor(st, ReviewServices(store))
    assert st.error and ed.sample == {}
    ed.vue_set_reviewer("ann")
    ed.vue_save_text("hello")
    assert st.error and store.sample_history(first_id(ids)) == []


def test_two_apps_editing_the_same_sample_get_a_conflict(words_any, make_app):
    store, ids = words_any
    sid = first_id(ids)
    other_store = Store(store.url)  # a second user: own kernel, own connections
    a, b = make_app(store), make_app(other_store)
    for app, name in ((a, "ann"), (b, "bob")):
        app.grid.vue_open_sample(sid)
        app.editor.vue_set_reviewer(name)
    a.editor.vue_save_label("no")
    b.editor.vue_save_label("up")  # bob still sees version 1
    rec = store.get_sample(sid)
    assert rec.label == "no" and rec.updated_by == "ann"  # nothing overwritten
    c = b.editor.conflict
    assert c["who"] == "ann" and c["theirs"] == "no" and c["mine"] == "up" and c["field"] == "Label"
    assert "ann" in b.state.error and b.editor.message_kind == "error"
    assert [e.new for e in store.sample_history(sid)] == ["no"]
    # Bob's other fields are stale too: a text edit is refused the same way.
    b.editor.vue_save_text("bob's text")
    assert store.get_sample(sid).text == "clip 0 says yes"
    # Bob looks at theirs, then decides to apply his label on top.
    b.editor.vue_resolve_conflict("theirs")
    assert b.editor.conflict == {} and b.editor.sample["label"] == "no"
    b.editor.vue_save_label("up")
    assert store.get_sample(sid).label == "up"
    assert [e.reviewer for e in store.sample_history(sid)] == ["bob", "ann"]
    other_store.dispose()


def test_keep_mine_reapplies_only_my_change_on_top_of_theirs(words, make_app):
    store, ids = words
    sid = first_id(ids)
    a, b = make_app(store), make_app(Store(store.url))
    for app, name in ((a, "ann"), (b, "bob")):
        app.grid.vue_open_sample(sid)
        app.editor.vue_set_reviewer(name)
    a.editor.vue_set_meta({"key": "room", "value": "kitchen"})
    b.editor.vue_set_meta({"key": "mic", "value": "usb"})
    assert b.editor.conflict and store.get_sample(sid).meta == {"room": "kitchen"}
    b.editor.vue_resolve_conflict("mine")
    assert store.get_sample(sid).meta == {"room": "kitchen", "mic": "usb"}
    assert b.editor.conflict == {}


def test_undo_over_someone_elses_newer_edit_is_a_conflict(words, make_app):
    store, ids = words
    sid = first_id(ids)
    a, b = make_app(store), make_app(Store(store.url))
    for app, name in ((a, "ann"), (b, "bob")):
        app.grid.vue_open_sample(sid)
        app.editor.vue_set_reviewer(name)
    b.editor.vue_save_text("bob was here")
    a.editor.vue_undo()  # ann's view is stale; undoing would revert bob's change
    assert store.get_sample(sid).text == "bob was here" and a.editor.conflict


def test_editor_follows_the_selection(words):
    store, ids = words
    st, ed = editor_on(store, first_id(ids))
    st.selected_sample_id = ids["no/spk01_nohash_0.wav"]
    assert ed.sample["name"] == "spk01_nohash_0.wav" and ed.sample["label"] == "no"
    gen = ed.generation
    st.selected_sample_id = None
    assert ed.sample == {} and ed.generation == gen + 1
