"""AnnotationService: one-line errors, blind votes, tag autocomplete, configured flags, regions and
notes with conflicts, a selection in one batch, history and undo, the grid's filters kept fresh."""

from __future__ import annotations

import pytest

from audiosoup_widgets import ConflictError, NotFoundError, ValidationError
from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.services.annotations import DEFAULT_FLAGS, AnnotationService, flags_from_env


def _filters(**extra):
    return {
        "dataset": "words",
        "labels": (),
        "split": None,
        "search": "",
        "status": None,
        "sort": "id",
        **extra,
    }


def test_blind_mode_returns_nothing_of_others_until_you_vote(words):
    services, store, ids = words
    sid = sorted(ids.values())[0]
    ann = services.annotations
    ann.vote(sid, "yes", reviewer="ana")
    ann.vote(sid, "no", reviewer="bo")
    ann.add_note(sid, "a note everyone sees", reviewer="bo")
    hidden = ann.votes_view(sid, reviewer="cy", blind=True)
    assert hidden.hidden and hidden.my_vote is None
    assert (
        hidden.distribution == {} and hidden.votes == () and hidden.consensus is None and hidden.n_votes == 0
    )
    blind_all = ann.annotations(sid, reviewer="cy", blind=True)
    assert blind_all.votes == () and [n.text for n in blind_all.notes] == ["a note everyone sees"]
    open_view = ann.votes_view(sid, reviewer="cy", blind=False)
    assert (
        not open_view.hidden and open_view.distribution == {"no": 1, "yes": 1} and open_view.consensus is None
    )
    ann.vote(sid, "yes", reviewer="cy")
    seen = ann.votes_view(sid, reviewer="cy", blind=True)
    assert not seen.hidden and seen.my_vote == "yes" and seen.consensus == "yes"
    assert seen.distribution == {"yes": 2, "no": 1} and seen.votes == (
        ("ana", "yes"),
        ("bo", "no"),
        ("cy", "yes"),
    )
    assert len(ann.annotations(sid, reviewer="cy", blind=True).votes) == 3


def test_inputs_are_checked_with_one_line_errors(words):
    services, store, ids = words
    sid = sorted(ids.values())[0]
    ann = services.annotations
    for call, message in (
        (lambda: ann.vote(sid, "yes", reviewer=""), "enter your name"),
        (lambda: ann.vote(sid, "", reviewer="ana"), "label cannot be empty"),
        (lambda: ann.vote(999_999, "yes", reviewer="ana"), "no sample with id 999999"),
        (lambda: ann.vote("3", "yes", reviewer="ana"), "invalid sample id"),
        (lambda: ann.tag(sid, "   ", reviewer="ana"), "tag cannot be empty"),
        (lambda: ann.tag(sid, "x" * 101, reviewer="ana"), "at most 100 characters"),
        (
            lambda: ann.flag(sid, "sounds odd", reviewer="ana"),
            "unknown flag 'sounds odd'; choose one of noisy",
        ),
        (lambda: ann.add_region(sid, start=-1, end=0.5, reviewer="ana"), "cannot start before 0"),
        (lambda: ann.add_region(sid, start=0.5, end=0.5, reviewer="ana"), "must end after it starts"),
        (
            lambda: ann.add_region(sid, start=0.5, end=1.5, reviewer="ana"),
            r"cannot end after the clip \(1.000 s\)",
        ),
        (
            lambda: ann.add_region(sid, start=0, end=0.5, label="l" * 101, reviewer="ana"),
            "label is at most 100",
        ),
        (lambda: ann.update_region(1, version=0, reviewer="ana"), "a version is a whole number"),
        (lambda: ann.add_note(sid, "", reviewer="ana"), "note cannot be empty"),
        (lambda: ann.undo_batch("not-a-batch", reviewer="ana"), "invalid batch id"),
        (lambda: ann.undo(True, reviewer="ana"), "invalid edit id"),
        (lambda: ann.bulk_tag([], ["x"], reviewer="ana"), "Select at least one clip"),
        (lambda: ann.bulk_tag("1,2", ["x"], reviewer="ana"), "list of integers"),
    ):
        with pytest.raises((ValidationError, NotFoundError), match=message) as err:
            call()
        assert "\n" not in str(err.value)
    with pytest.raises(NotFoundError):
        ann.update_note(123, "x", version=1, reviewer="ana")


def test_flags_come_from_the_argument_the_environment_or_the_defaults(words, monkeypatch):
    services, store, ids = words
    assert services.annotations.flags == DEFAULT_FLAGS
    assert DEFAULT_FLAGS == ("noisy", "clipped", "wrong word", "unusable", "background speech")
    assert flags_from_env({"AUDIOSOUP_FLAGS": " hum , hum,  dropout ,, "}) == ("hum", "dropout")
    assert flags_from_env({"AUDIOSOUP_FLAGS": " , "}) == DEFAULT_FLAGS
    monkeypatch.setenv("AUDIOSOUP_FLAGS", "hum,dropout")
    assert ReviewServices(store).annotations.flags == ("hum", "dropout")
    assert ReviewServices(store, flags=["Buzz "]).annotations.flags == ("Buzz",)
    custom = AnnotationService(store, services.samples, flags=["buzz"])
    sid = sorted(ids.values())[0]
    assert custom.flag(sid, "buzz", reviewer="ana") is True
    with pytest.raises(ValidationError, match="unknown flag 'noisy'"):
        custom.flag(sid, "noisy", reviewer="ana")
    # a flag no longer configured can still be removed
    assert services.annotations.unflag(sid, "buzz", reviewer="ana") is True
    with pytest.raises(ValidationError, match="at least one reviewer flag"):
        AnnotationService(store, services.samples, flags=[])


def test_tag_vocabulary_autocompletes_prefix_first_then_contains(words):
    services, store, ids = words
    ann = services.annotations
    s = sorted(ids.values())
    for sid in s[:3]:
        ann.tag(sid, "door slam", reviewer="ana")
    ann.tag(s[3], "Dog", reviewer="ana")
    ann.tag(s[4], "indoor", reviewer="ana")
    ann.tag(s[5], "outdoor", reviewer="ana")
    assert ann.tag_vocabulary("words") == [("door slam", 3), ("Dog", 1), ("indoor", 1), ("outdoor", 1)]
    assert ann.tag_vocabulary("words", "do") == [("door slam", 3), ("Dog", 1)]
    assert ann.tag_vocabulary("words", "DOOR", contains=True) == [
        ("door slam", 3),
        ("indoor", 1),
        ("outdoor", 1),
    ]
    assert ann.tag_vocabulary("words", "", limit=2) == [("door slam", 3), ("Dog", 1)]
    with pytest.raises(NotFoundError):
        ann.tag_vocabulary("nope")


def test_votes_tags_and_flags_keep_the_grids_counts_fresh(words_any):
    services, store, ids = words_any
    ann = services.annotations
    s = sorted(ids.values())
    disputed = _filters(disagreement=True)
    tagged = _filters(tags=["music"])
    flagged = _filters(reviewer_flags=["noisy"])
    assert services.samples.count(disputed) == services.samples.count(tagged) == 0  # cached now
    assert services.samples.count(flagged) == 0
    ann.vote(s[0], "yes", reviewer="ana")
    ann.vote(s[0], "no", reviewer="bo")
    assert services.samples.count(disputed) == 1 and services.samples.ids(disputed) == [s[0]]
    res = ann.bulk_tag(s[:4], ["music"], reviewer="ana", dataset="words")
    assert services.samples.count(tagged) == 4
    assert [r.id for r in services.samples.page(tagged, page=0, page_size=12)] == s[:4]
    ann.flag(s[2], "noisy", reviewer="ana")
    assert services.samples.count(flagged) == 1
    ann.undo_batch(res.batch_id, reviewer="ana")
    assert services.samples.count(tagged) == 0
    bos = next(h for h in ann.history(s[0]) if h.kind == "vote" and h.target == "bo")
    ann.undo(bos.id, reviewer="bo")  # bo's vote withdrawn by undo
    assert services.samples.count(disputed) == 0


def test_regions_and_notes_with_conflicts_history_and_undo(words_any):
    services, store, ids = words_any
    ann = services.annotations
    sid = sorted(ids.values())[1]
    r = ann.add_region(sid, start=0.2, end=0.6, label="word", reviewer="ana")
    r2 = ann.update_region(r.id, version=r.version, reviewer="bo", label="")
    assert r2.label is None and r2.version == 2
    with pytest.raises(ConflictError):
        ann.update_region(r.id, version=1, reviewer="cy", end=0.9)
    with pytest.raises(ConflictError):
        ann.delete_region(r.id, version=1, reviewer="cy")
    n = ann.add_note(sid, "first take", reviewer="ana")
    ann.update_note(n.id, "second take", version=1, reviewer="ana")
    with pytest.raises(ConflictError):
        ann.delete_note(n.id, version=1, reviewer="bo")
    hist = ann.history(sid)
    assert [(h.kind, h.action) for h in hist] == [
        ("note", "update"),
        ("note", "add"),
        ("region", "update"),
        ("region", "add"),
    ]
    ann.undo(hist[0].id, reviewer="ana")
    assert [x.text for x in ann.notes(sid)] == ["first take"]
    ann.undo(hist[2].id, reviewer="ana")
    assert ann.regions(sid)[0].label == "word"
    ann.delete_region(r.id, version=3, reviewer="ana")
    assert ann.regions(sid) == []


def test_agreement_of_the_dataset_without_a_model(words):
    services, store, ids = words
    ann = services.annotations
    s = sorted(ids.values())
    for sid, votes in zip(
        s, (("yes", "yes"), ("yes", "no"), ("no", "no"), ("yes", "yes", "no")), strict=False
    ):
        for r, lab in zip(("r1", "r2", "r3"), votes, strict=False):
            ann.vote(sid, lab, reviewer=r)
    rep = ann.agreement("words")
    # the hand-computed example of tests/analysis/test_agreement.py, with a = yes and b = no
    assert rep.alpha == pytest.approx(0.2) and rep.per_class == {
        "no": pytest.approx(0.25),
        "yes": pytest.approx(0.4),
    }
    assert rep.consensus == {s[0]: "yes", s[1]: None, s[2]: "no", s[3]: "yes"}
    assert rep.n_disputed == 2 and rep.run_id is None and rep.model_consensus is None and rep.notes == []
    empty = AnnotationService(store, services.samples).agreement("words")
    assert empty.n_items == 4
    with pytest.raises(NotFoundError):
        ann.agreement("nope")
