"""Bulk relabel from the selection bar, driven as the browser drives it (``vue_*`` events):
the preview, the change with its shared batch, the grid refreshing, conflicts skipped and
listed, the undo of the batch, and bad input refused with a message."""

from __future__ import annotations

from audiosoup_widgets.store import Store


def _select(app, n: int) -> list[int]:
    ids = [c["id"] for c in app.grid.cards[:n]]
    for sid in ids:
        app.grid.vue_toggle_check({"id": sid, "shift": False})
    return ids


def test_relabel_previews_applies_as_one_batch_and_undoes(words_any, make_app):
    store, _ = words_any
    app = make_app(store)
    bar = app.selection
    ids = _select(app, 4)  # yes no up yes
    assert app.state.selected_since is not None
    bar.vue_open_relabel()
    assert bar.relabel_open and bar.relabel_n == 4
    assert bar.relabel_preview == [{"label": "yes", "n": 2}, {"label": "no", "n": 1}, {"label": "up", "n": 1}]
    assert bar.label_items == ["no", "up", "yes"]
    revision = app.state.revision
    bar.vue_relabel({"label": "no", "create": False, "reason": "  heard  no ", "reviewer": "ana"})
    assert app.state.error == "" and not bar.relabel_open
    assert app.state.reviewer == "ana" and app.state.revision == revision + 1
    assert bar.outcome["text"] == "Relabelled 3 clips as “no”; 1 clip already had it."
    assert bar.outcome["can_undo"] and bar.outcome["n_skipped"] == 0
    # the grid re-read: its cards show the new label
    assert [c["label"] for c in app.grid.cards[:4]] == ["no"] * 4
    batches = {e.batch_id for sid in ids for e in store.sample_history(sid)}
    assert len(batches) == 1 and bar.last_batch in batches
    assert {e.reason for sid in ids for e in store.sample_history(sid)} == {"heard no"}
    bar.vue_undo_relabel()
    assert app.state.error == "" and app.state.revision == revision + 2
    assert bar.outcome["text"] == "Undid the relabel: 3 clips got their previous label back."
    assert [c["label"] for c in app.grid.cards[:4]] == ["yes", "no", "up", "yes"]
    assert [store.get_sample(i).label for i in ids] == ["yes", "no", "up", "yes"]
    undo_rows = [e for sid in ids for e in store.sample_history(sid) if e.kind == "undo"]
    assert len(undo_rows) == 3 and {e.batch_id for e in undo_rows} == batches
    # nothing left to undo
    bar.vue_undo_relabel()
    assert "no relabel to undo" in app.state.error


def test_a_clip_changed_by_someone_else_since_selection_is_skipped_and_listed(words_any, make_app):
    store, _ = words_any
    app = make_app(store)
    ids = _select(app, 3)
    other_store = Store(store.url)  # a second user: own kernel, own connections
    other = make_app(other_store)
    other.grid.vue_open_sample(ids[1])
    other.editor.vue_set_reviewer("bob")
    other.editor.vue_save_label("yes")  # after ana selected it
    app.selection.vue_open_relabel()
    app.selection.vue_relabel({"label": "up", "create": False, "reason": "", "reviewer": "ana"})
    out = app.selection.outcome
    assert out["text"] == (
        "Relabelled 1 clip as “up” (1 skipped: changed by someone else since you selected them); "
        "1 clip already had it."
    )
    assert [(s["id"], s["by"]) for s in out["skipped"]] == [(ids[1], "bob")]
    assert out["skipped"][0]["name"] == "spk01_nohash_0.wav"
    assert store.get_sample(ids[1]).label == "yes"  # bob's change stands
    # bob edits another clip of the batch after it: the undo leaves that one alone
    bob_clip = other.services.samples.get(ids[0], fresh=True)
    other.services.samples.update(bob_clip, reviewer="bob", text="bob was here")
    app.selection.vue_undo_relabel()
    out = app.selection.outcome
    assert out["text"] == (
        "Undid the relabel: 0 clips got their previous label back "
        "(1 left alone: edited again since the relabel)."
    )
    assert [s["id"] for s in out["skipped"]] == [ids[0]]
    assert store.get_sample(ids[0]).label == "up"
    other_store.dispose()


def test_new_label_only_when_asked_and_bad_input_refused(words, make_app):
    store, _ = words
    app = make_app(store)
    bar = app.selection
    bar.vue_open_relabel()
    assert "Nothing is selected" in app.state.error and not bar.relabel_open
    ids = _select(app, 2)
    bar.vue_open_relabel()
    bad = [
        ({"label": "up", "create": False, "reviewer": " "}, "enter your name"),  # before any name is known
        ({"label": "cat", "create": False, "reviewer": "ana"}, "not a label of this dataset"),
        ({"label": "", "create": True, "reviewer": "ana"}, "label cannot be empty"),
        ({"label": "a\u0007", "create": True, "reviewer": "ana"}, "control characters"),
        ({"label": "up", "create": False, "reviewer": "ana", "reason": "x" * 501}, "reason longer"),
        ("up", "invalid relabel request"),
    ]
    for data, message in bad:
        bar.vue_relabel(data)
        assert message in app.state.error.lower() or message in app.state.error, (data, app.state.error)
        assert bar.relabel_error == app.state.error and bar.relabel_open
    assert all(store.get_sample(i).version == 1 for i in ids)
    bar.vue_relabel({"label": "<b>cat</b>", "create": True, "reviewer": "ana"})
    assert [store.get_sample(i).label for i in ids] == ["<b>cat</b>"] * 2
    assert "<b>cat</b>" in bar.label_items or "<b>cat</b>" in {c["label"] for c in app.grid.cards}
    bar.vue_dismiss_outcome()
    assert bar.outcome == {} and bar.last_batch is None


def test_selection_time_starts_with_the_selection(words, make_app):
    store, _ = words
    app = make_app(store)
    st = app.state
    assert st.selected_since is None
    ids = _select(app, 1)
    first = st.selected_since
    app.grid.vue_toggle_check({"id": app.grid.cards[1]["id"], "shift": False})
    assert st.selected_since == first  # added ids keep the first time
    st.select(ids, mode="replace")
    assert st.selected_since >= first
    st.clear_selection()
    assert st.selected_since is None
