"""Annotations across clips, driven as the browser drives them: a selection tagged and flagged
in one step (and undone as one), the grid's disagreement, tag and flag filters, and the
quality view's agreement card checked against the ``krippendorff`` package."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from audiosoup_widgets.store import Store


def _select(app, n: int) -> list[int]:
    ids = [c["id"] for c in app.grid.cards[:n]]
    for sid in ids:
        app.grid.vue_toggle_check({"id": sid, "shift": False})
    return ids


def _votes(store, url: str, votes: dict[str, dict[int, str]], make_app) -> None:
    """Each reviewer votes through their own app (own connections), in the Annotate tab."""
    for reviewer, by_clip in votes.items():
        app = make_app(Store(url))
        for sid, label in by_clip.items():
            app.grid.vue_open_sample(sid)
            app.review.vue_set_panel("annotate")
            app.annotate.vue_set_reviewer(reviewer)
            app.annotate.vue_vote(label)
            assert app.state.error == "", app.state.error


def test_selection_is_tagged_and_flagged_in_one_step_and_undone_as_one(words_any, make_app):
    store, _ = words_any
    app = make_app(store)
    bar = app.selection
    ids = _select(app, 3)
    bar.vue_open_mark("tag")
    assert bar.mark_kind == "tag" and bar.mark_items == []
    revision = app.state.revision
    bar.vue_mark({"value": " windy ", "reviewer": "ana"})
    assert app.state.error == "" and bar.mark_kind == ""
    assert app.state.reviewer == "ana" and app.state.revision == revision + 1
    assert bar.outcome["text"] == "Tagged 3 clips “windy”." and bar.outcome["can_undo"]
    assert all(store.sample_annotations(i).tags == ("windy",) for i in ids)
    batches = {e.batch_id for i in ids for e in store.annotation_history(i)}
    assert len(batches) == 1 and None not in batches
    # The vocabulary now suggests it.
    bar.vue_open_mark("tag")
    bar.vue_suggest_mark("wi")
    assert bar.mark_items == ["windy"]
    bar.vue_close_mark()
    bar.vue_open_mark("flag")
    assert bar.mark_items == list(app.services.annotations.flags)
    bar.vue_mark({"value": "noisy"})
    assert bar.outcome["text"] == "Flagged 3 clips “noisy”."
    assert all(store.sample_annotations(i).flags == ("noisy",) for i in ids)
    bar.vue_undo_relabel()
    assert app.state.error == ""
    assert bar.outcome["text"] == "Undid it: 3 changes reverted."
    assert all(store.sample_annotations(i).flags == () for i in ids)
    assert all(store.sample_annotations(i).tags == ("windy",) for i in ids)  # only the last batch
    # Again on clips that have it: nothing changes, nothing to undo.
    bar.vue_open_mark("tag")
    bar.vue_mark({"value": "windy"})
    assert (
        bar.outcome["text"] == "Tagged 0 clips “windy”; 3 clips already had it."
        and not bar.outcome["can_undo"]
    )
    bar.vue_open_mark("stamp")
    assert app.state.error == "choose tag or flag"
    bar.vue_open_mark("flag")
    bar.vue_mark({"value": "haunted"})
    assert bar.mark_error != "" and bar.mark_kind == "flag"


def test_grid_filters_disagreements_tags_and_flags(words_any, make_app):
    store, _ = words_any
    app = make_app(store)
    ids = [c["id"] for c in app.grid.cards]
    _votes(
        store,
        store.url,
        {"ana": {ids[0]: "yes", ids[1]: "no", ids[2]: "up"}, "bob": {ids[0]: "no", ids[1]: "no"}},
        make_app,
    )
    grid = app.grid
    grid.vue_set_disagreements(True)
    assert app.state.disagreements_only and app.state.filtered
    assert [c["id"] for c in grid.cards] == [ids[0]] and app.state.total == 1
    grid.vue_set_disagreements(False)
    store.add_tag(ids[3], "windy", reviewer="ana")
    store.add_tag(ids[4], "breathy", reviewer="ana")
    store.add_flag(ids[4], "clipped", reviewer="ana")
    grid.vue_reload()
    assert sorted(grid.tag_items) == ["breathy", "windy"]
    assert grid.flag_items == list(app.services.annotations.flags)
    grid.vue_set_tag_filter(["windy", "breathy"])
    assert sorted(c["id"] for c in grid.cards) == sorted(ids[3:5])
    grid.vue_set_flag_filter(["clipped"])
    assert [c["id"] for c in grid.cards] == [ids[4]]
    grid.vue_set_flag_filter(["haunted"])
    assert app.state.error == "unknown flag in filter"
    grid.vue_clear_filters()
    assert not app.state.filtered and app.state.tag_filter == [] and app.state.flag_filter == []
    assert app.state.total == len(ids)
    grid.vue_set_tag_filter("windy")
    assert app.state.error == "invalid tag filter"


def _alpha(table) -> float:
    reviewers = sorted({r for _, r, _ in table})
    samples = sorted({s for s, _, _ in table})
    codes = {lab: i for i, lab in enumerate(sorted({lab for _, _, lab in table}))}
    data = np.full((len(reviewers), len(samples)), np.nan)
    for sid, reviewer, lab in table:
        data[reviewers.index(reviewer), samples.index(sid)] = codes[lab]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_agreement_card_shows_krippendorffs_alpha(words, make_app):
    store, _ = words
    app = make_app(store)
    card = app.agreement
    assert card.report == {}  # nothing is read before the quality view is shown
    app.state.show("quality")
    assert card.report["alpha"] == "–" and card.report["n_multi"] == 0
    ids = [c["id"] for c in app.grid.cards]
    votes = {
        "ana": {ids[0]: "yes", ids[1]: "no", ids[2]: "up", ids[3]: "yes"},
        "bob": {ids[0]: "yes", ids[1]: "no", ids[2]: "yes", ids[3]: "yes"},
        "cy": {ids[0]: "yes", ids[1]: "up", ids[2]: "up"},
    }
    _votes(store, store.url, votes, make_app)
    app.state.saved()  # another kernel's votes: the card reads again on the next change
    expected = _alpha(store.vote_table("words"))
    assert 0 < expected < 1
    assert card.report["alpha"] == f"{expected:.3f}"
    assert card.report["n_multi"] == 4 and card.report["n_reviewers"] == 3 and card.report["n_votes"] == 11
    # Clip 1 (no, no, up) and clip 2 (up, yes, up) are disputed; every clip has a majority.
    assert card.report["disagreements"] == 2 and card.report["consensus"] == 4 and card.report["ties"] == 0
    # Per class, counted pair by pair: among the pairs of votes on one clip touching a label,
    # the share where both votes are it.
    pairs: dict[str, list[bool]] = {}
    for sid in ids[:4]:
        on_clip = [v[sid] for v in votes.values() if sid in v]
        for i in range(len(on_clip)):
            for j in range(i + 1, len(on_clip)):
                for lab in {on_clip[i], on_clip[j]}:
                    pairs.setdefault(lab, []).append(on_clip[i] == on_clip[j])
    by_label = {c["label"]: c["agreement"] for c in card.classes}
    assert by_label == {lab: f"{sum(p) / len(p):.3f}" for lab, p in pairs.items()}
    assert by_label["yes"] == f"{4 / 6:.3f}"  # by hand: clip 0 three pairs, clip 2 two, clip 3 one
    assert [c["label"] for c in card.classes] == sorted(by_label, key=lambda k: (by_label[k], k))
    # Nothing is read while another view is shown.
    app.state.show("clips")
    store.set_vote(ids[3], "no", reviewer="cy")
    app.state.saved()
    assert card.report["n_votes"] == 11
    app.state.show("quality")
    assert card.report["n_votes"] == 12
    card.vue_refresh()
    assert app.state.error == ""


@pytest.mark.parametrize("bad", [None, 3, {"value": ""}])
def test_mark_refuses_without_the_dialog_or_a_value(words, make_app, bad):
    store, _ = words
    app = make_app(store)
    _select(app, 2)
    if isinstance(bad, dict):
        app.selection.vue_open_mark("tag")
    app.selection.vue_mark(bad)
    assert app.state.error in ("Open the tag or flag dialog first.", "Choose a tag first.")
    assert all(store.sample_annotations(c["id"]).tags == () for c in app.grid.cards[:2])
