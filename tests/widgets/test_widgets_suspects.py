"""Label suspects where the reviewer works: badges on cards, sort and filter, the review's "why"."""

from __future__ import annotations

import pytest

from audiosoup_widgets.testing import seed_summaries, seed_synthetic

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def fitted(sqlite_store, make_app):
    """An app on 160 clips whose summaries separate the labels, with a few labels flipped, fitted."""
    store = sqlite_store
    seed_synthetic(store, dataset="d", n=160, labels=LABELS)
    seed_summaries(store, "d", rows={"mfcc": 4}, spread=2.0)
    for sid, _, label, split in store.sample_table("d")[:10]:
        if split == "train":
            store.update_sample(sid, version=1, reviewer="t", label=LABELS[(LABELS.index(label) + 1) % 4])
    app = make_app(store, dataset="d")
    app.services.model.fit("d", features=["mfcc"], reviewer="ann")
    app.state.saved()  # what a fit in the model view does
    run = app.services.model.latest_run("d")
    assert run is not None
    return app, store.run_suspects(run.id)


def _open(app, sid: int) -> None:
    app.state.open_review(sid)


def test_without_a_run_the_controls_say_fit_a_model_first(sqlite_store, make_app):
    seed_synthetic(sqlite_store, dataset="d", n=30, labels=LABELS)
    app = make_app(sqlite_store, dataset="d")
    grid = app.grid
    assert not grid.has_model
    item = next(i for i in grid.sort_items if i["value"] == "-suspicion")
    assert item["disabled"] and item["subtitle"] == "fit a model first"
    assert all(c["suspect"] == "" for c in grid.cards)
    grid.vue_set_suspects(True)
    assert "fit a model first" in app.state.error and not app.state.suspects_only
    grid.vue_set_sort("-suspicion")
    assert "fit a model first" in app.state.error and app.state.sort == "id"


def test_badges_sort_and_filter(fitted):
    app, suspects = fitted
    grid = app.grid
    assert grid.has_model
    assert "disabled" not in next(i for i in grid.sort_items if i["value"] == "-suspicion")
    # Badges on the cards of the first page (default order) that are suspects.
    by_id = {s.sample_id: s for s in suspects}
    badged = {c["id"]: c for c in grid.cards if c["suspect"]}
    assert set(badged) == set(by_id) & {c["id"] for c in grid.cards}
    some = next(iter(badged.values()))
    s = by_id[some["id"]]
    assert some["suspect"].startswith(f"maybe {s.suggested} · ") and some["suspect"].endswith("%")
    assert "gives" in some["suspect_title"] and s.label in some["suspect_title"]
    # Most suspicious first: the page starts with the run's ranking.
    grid.vue_set_sort("-suspicion")
    assert app.state.sort == "-suspicion" and not app.state.error
    head = [c["id"] for c in grid.cards[: len(suspects)]]
    assert head == [s.sample_id for s in suspects][: len(head)]
    assert all(c["suspect"] for c in grid.cards[: len(suspects)])
    # Suspects only, server-side: the count is the run's suspects.
    grid.vue_set_suspects(True)
    assert app.state.suspects_only and app.state.filtered
    assert app.state.total == len(suspects)
    assert {c["id"] for c in grid.cards} == set(by_id)
    grid.vue_clear_filters()
    assert not app.state.suspects_only and app.state.total == 160
    grid.vue_set_suspects("yes")
    assert app.state.error == "invalid choice"


def test_the_why_and_accept(fitted):
    app, suspects = fitted
    grid, panel = app.grid, app.suspect
    grid.vue_set_sort("-suspicion")
    top = suspects[0]
    grid.vue_open_sample(top.sample_id)
    assert app.state.panel == "review"
    why = panel.why
    assert why["id"] == top.sample_id and why["suggested"] == top.suggested and why["open"]
    assert [t["label"] for t in why["top3"]] == [lab for lab, _ in top.top3]
    assert all(0 <= t["width"] <= 100 and t["pct"].endswith("%") for t in why["top3"])
    assert len(why["nearest"]) == 3
    for n in why["nearest"]:
        assert app.services.samples.get(n["id"]).label == top.suggested
    # No reviewer name yet: refused with the editor's message, nothing written.
    panel.vue_accept({"id": top.sample_id, "reason": "clearly"})
    assert "Enter your name" in panel.message and panel.message_kind == "error"
    assert app.services.samples.get(top.sample_id, fresh=True).label == top.label
    app.editor.vue_set_reviewer("ann")
    revision = app.state.revision
    panel.vue_accept({"id": top.sample_id, "reason": "clearly"})
    assert panel.message_kind == "success", panel.message
    assert app.state.revision == revision + 1
    assert app.services.samples.get(top.sample_id, fresh=True).label == top.suggested
    # The review stays on the clip; the ranking moves on; its card has the new label, no badge.
    assert app.state.selected_sample_id == top.sample_id
    assert grid.cards[0]["id"] == suspects[1].sample_id
    assert top.sample_id not in app.state.page_ids[: len(suspects) - 1]
    grid.vue_set_search(app.services.samples.get(top.sample_id).file_name)
    card = next(c for c in grid.cards if c["id"] == top.sample_id)
    assert card["label"] == top.suggested and card["suspect"] == ""
    # The panel says it was relabelled; the editor's history shows the edit with its reason.
    assert panel.why["changed"] and not panel.why["open"]
    edit = app.editor.history[0]
    assert edit["field"] == "Label" and edit["new"] == top.suggested and edit["kind"] == "edit"
    assert "model run" in edit["reason"] and edit["reason"].endswith("clearly")


def test_keep_and_ambiguous_leave_the_label_and_the_suspects(fitted):
    app, suspects = fitted
    panel = app.suspect
    app.editor.vue_set_reviewer("bob")
    first, second = suspects[0], suspects[1]
    _open(app, first.sample_id)
    app.state.panel = "review"
    panel.vue_keep({"id": first.sample_id, "reason": "the speaker says it oddly"})
    assert panel.message_kind == "success"
    assert app.services.samples.get(first.sample_id, fresh=True).label == first.label
    assert panel.why["decision"] == "keep" and not panel.why["open"]
    row = app.editor.history[0]
    assert (row["field"], row["kind"], row["new"], row["reason"]) == (
        "Label suspect",
        "review",
        "keep",
        "the speaker says it oddly",
    )
    _open(app, second.sample_id)
    panel.vue_ambiguous({"id": second.sample_id})
    assert panel.why["decision"] == "ambiguous"
    assert app.editor.history[0]["new"] == "ambiguous" and "model run" in app.editor.history[0]["reason"]
    app.grid.vue_set_suspects(True)
    shown = {c["id"] for c in app.grid.cards}
    assert first.sample_id not in shown and second.sample_id not in shown
    assert app.state.total == len(suspects) - 2


def test_bad_answers_are_refused(fitted):
    app, suspects = fitted
    panel = app.suspect
    app.editor.vue_set_reviewer("bob")
    _open(app, suspects[0].sample_id)
    app.state.panel = "review"
    panel.vue_accept({"id": suspects[1].sample_id})
    assert "no longer the one open" in panel.message
    panel.vue_keep({"id": suspects[0].sample_id, "reason": "x" * 501})
    assert "longer than" in panel.message
    panel.vue_play_near(suspects[1].sample_id)
    assert "not one of the nearest" in panel.message
    near = panel.why["nearest"][0]["id"]
    panel.vue_open_near(near)
    assert app.state.selected_sample_id == near and app.state.panel == "review"
    # A clip the model agrees with shows no "why".
    calm = next(i for i in app.state.page_ids if i not in {s.sample_id for s in suspects})
    _open(app, calm)
    assert panel.why == {}
