"""store.annotations: votes, tags, reviewer flags, regions and notes with history and undo,
a selection's tags and flags as one batch, the export columns; on both databases."""

from __future__ import annotations

import pytest

from audiosoup_widgets import ConflictError, NotFoundError, ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_synthetic


def _ids(store: Store, n: int, dataset: str = "d") -> list[int]:
    return store.sample_ids(SampleQuery(dataset), limit=n)


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_synthetic(store, dataset="d", n=6, labels=("a", "b"))
    return store


def test_one_current_vote_per_reviewer_changing_it_is_an_edit(seeded: Store):
    store = seeded
    s1, s2 = _ids(store, 2)
    v = store.set_vote(s1, "a", reviewer="ana")
    assert (v.sample_id, v.reviewer, v.label) == (s1, "ana", "a") and v.at.tzinfo is not None
    store.set_vote(s1, "a", reviewer="ana")  # the same vote again: nothing recorded
    store.set_vote(s1, "b", reviewer="ana")
    store.set_vote(s1, "b", reviewer=" bo ")
    assert [(x.reviewer, x.label) for x in store.sample_votes(s1)] == [("ana", "b"), ("bo", "b")]
    hist = store.annotation_history(s1)  # newest first
    assert [(h.kind, h.action, h.target, h.before, h.after, h.reviewer) for h in hist] == [
        ("vote", "set", "bo", None, {"label": "b"}, "bo"),
        ("vote", "set", "ana", {"label": "a"}, {"label": "b"}, "ana"),
        ("vote", "set", "ana", None, {"label": "a"}, "ana"),
    ]
    assert store.clear_vote(s1, reviewer="bo") is True and store.clear_vote(s1, reviewer="bo") is False
    assert store.vote_table("d") == [(s1, "ana", "b")]
    assert store.sample_votes(s2) == []
    with pytest.raises(ValidationError, match="enter your name"):
        store.set_vote(s1, "a", reviewer=" ")
    with pytest.raises(ValidationError, match="label cannot be empty"):
        store.set_vote(s1, "  ", reviewer="ana")
    with pytest.raises(NotFoundError):
        store.set_vote(10_000, "a", reviewer="ana")


def test_undo_a_vote_restores_the_previous_one_and_refuses_after_a_newer_change(seeded: Store):
    store = seeded
    (s1,) = _ids(store, 1)
    store.set_vote(s1, "a", reviewer="ana")
    store.set_vote(s1, "b", reviewer="ana")
    change = store.annotation_history(s1)[0]
    undo = store.undo_annotation(change.id, reviewer="cy")
    assert (undo.action, undo.undoes, undo.before, undo.after, undo.reviewer) == (
        "undo",
        change.id,
        {"label": "b"},
        {"label": "a"},
        "cy",
    )
    assert [(v.reviewer, v.label) for v in store.sample_votes(s1)] == [("ana", "a")]
    with pytest.raises(ValidationError, match="undone already"):
        store.undo_annotation(change.id, reviewer="cy")
    with pytest.raises(ValidationError, match="cannot be undone"):
        store.undo_annotation(undo.id, reviewer="cy")
    # the first vote, undone after a newer change of the same vote: a conflict, nothing changes
    first = store.annotation_history(s1)[-1]
    store.set_vote(s1, "b", reviewer="ana")
    store.set_vote(s1, "a", reviewer="ana")
    with pytest.raises(ConflictError):
        store.undo_annotation(first.id, reviewer="cy")
    assert [(v.reviewer, v.label) for v in store.sample_votes(s1)] == [("ana", "a")]
    # an undo of a first vote removes it
    (s2,) = _ids(store, 2)[1:]
    store.set_vote(s2, "b", reviewer="bo")
    store.undo_annotation(store.annotation_history(s2)[0].id, reviewer="bo")
    assert store.sample_votes(s2) == []
    with pytest.raises(NotFoundError):
        store.undo_annotation(99_999, reviewer="bo")


def test_tags_and_reviewer_flags_are_apart_from_quality_flags(seeded: Store):
    store = seeded
    s1, s2, s3 = _ids(store, 3)
    assert store.add_tag(s1, "  dog   bark ", reviewer="ana") is True
    assert store.add_tag(s1, "dog bark", reviewer="bo") is False  # already there
    store.add_tag(s2, "dog bark", reviewer="ana")
    store.add_tag(s2, "Door", reviewer="ana")
    store.add_tag(s3, "indoor", reviewer="ana")
    assert store.add_flag(s1, "noisy", reviewer="ana") is True
    ann = store.sample_annotations(s1)
    assert ann.tags == ("dog bark",) and ann.flags == ("noisy",)
    assert store.get_sample(s1).flags == ()  # the ingest quality flags are untouched
    assert store.word_counts("tag", "d") == [("dog bark", 2), ("Door", 1), ("indoor", 1)]
    assert store.word_counts("tag", "d", prefix="do") == [("dog bark", 2), ("Door", 1)]
    assert store.word_counts("tag", "d", contains="oor") == [("Door", 1), ("indoor", 1)]
    assert store.word_counts("tag", "d", prefix="%") == []  # LIKE wildcards are text
    assert store.word_counts("flag", "d") == [("noisy", 1)]
    assert store.remove_tag(s2, "Door", reviewer="bo") is True
    assert store.remove_tag(s2, "Door", reviewer="bo") is False
    undo = store.undo_annotation(store.annotation_history(s2)[0].id, reviewer="bo")
    assert (undo.before, undo.after) == (None, "Door")
    assert store.sample_annotations(s2).tags == ("Door", "dog bark")
    for bad, message in (("", "cannot be empty"), ("x" * 101, "at most 100"), ("a\tb\x00", "control")):
        with pytest.raises(ValidationError, match=message):
            store.add_tag(s1, bad, reviewer="ana")


def test_a_selection_is_tagged_in_one_batch_and_undone_as_one_step(seeded: Store):
    store = seeded
    ids = _ids(store, 4)
    store.add_tag(ids[0], "music", reviewer="ana")
    res = store.mark_samples("tag", ids, ["music", "loud"], reviewer="bo", dataset="d")
    assert res.kind == "tag" and res.changed == 7 and res.unchanged == 1 and len(res.batch_id or "") == 32
    cols = store.annotation_columns("d")
    assert [cols[i]["tags"] for i in ids] == [["loud", "music"]] * 4
    rows = store.annotation_batch(res.batch_id or "")
    assert len(rows) == 7 and {r.batch_id for r in rows} == {res.batch_id}
    assert all(
        r.reviewer == "bo" and r.action == "add" and (r.before, r.after) == (None, r.target) for r in rows
    )
    assert {(r.sample_id, r.target) for r in rows} == {(i, w) for i in ids for w in ("loud", "music")} - {
        (ids[0], "music")
    }
    # a tag removed by hand since: not as the batch left it, so that sample is reported
    store.remove_tag(ids[1], "loud", reviewer="cy")
    undo = store.undo_annotation_batch(res.batch_id or "", reviewer="bo")
    assert undo.reverted == 6 and undo.already_undone == 0 and undo.conflicts == (ids[1],)
    cols = store.annotation_columns("d")
    assert [cols[i]["tags"] for i in ids] == [["music"], [], [], []]
    again = store.undo_annotation_batch(res.batch_id or "", reviewer="bo")
    assert again.reverted == 0 and again.already_undone == 6 and again.conflicts == (ids[1],)
    undos = [r for r in store.annotation_batch(res.batch_id or "") if r.action == "undo"]
    assert len(undos) == 6 and all(
        (u.before, u.after) == (u.target, None) and u.reviewer == "bo" for u in undos
    )
    assert {u.undoes for u in undos} == {r.id for r in rows if r.sample_id != ids[1] or r.target != "loud"}
    # removing from a selection is a batch too
    flagged = store.mark_samples("flag", ids[:2], "clipped", reviewer="ana")
    removed = store.mark_samples("flag", ids, ["clipped"], reviewer="ana", remove=True)
    assert flagged.changed == 2 and removed.changed == 2 and removed.unchanged == 2
    store.undo_annotation_batch(removed.batch_id or "", reviewer="ana")
    assert store.word_counts("flag", "d") == [("clipped", 2)]
    nothing = store.mark_samples("flag", ids[:2], ["clipped"], reviewer="ana")
    assert nothing.batch_id is None and nothing.changed == 0
    with pytest.raises(ValidationError, match="not clips in dataset"):
        store.mark_samples("tag", [ids[0], 10_000], ["x"], reviewer="ana", dataset="d")
    assert store.word_counts("tag", "d", prefix="x") == []  # nothing written
    with pytest.raises(ValidationError, match="at least one clip"):
        store.mark_samples("tag", [], ["x"], reviewer="ana")
    with pytest.raises(NotFoundError):
        store.undo_annotation_batch("0" * 32, reviewer="ana")
    with pytest.raises(ValidationError, match="invalid batch id"):
        store.undo_annotation_batch("nope", reviewer="ana")


def test_regions_edit_with_versions_conflict_and_undo(seeded: Store):
    store = seeded
    (s1,) = _ids(store, 1)
    duration = store.get_sample(s1).duration
    r = store.add_region(s1, start=0.1, end=0.4, label="word", note="onset", reviewer="ana")
    assert (r.start, r.end, r.label, r.note, r.version, r.reviewer) == (0.1, 0.4, "word", "onset", 1, "ana")
    r2 = store.update_region(r.id, version=1, reviewer="bo", end=0.5, note="")
    assert (r2.start, r2.end, r2.note, r2.version, r2.updated_by) == (0.1, 0.5, None, 2, "bo")
    with pytest.raises(ConflictError) as err:
        store.update_region(r.id, version=1, reviewer="cy", label="other")
    assert err.value.theirs_by == "bo"
    assert store.sample_regions(s1)[0].label == "word"  # the stale edit saved nothing
    for start, end, message in (
        (-0.1, 0.2, "before 0"),
        (0.3, 0.3, "end after it starts"),
        (0.0, duration + 0.5, "after the clip"),
        (float("nan"), 0.2, "finite"),
        ("a", 0.2, "numbers of seconds"),
    ):
        with pytest.raises(ValidationError, match=message):
            store.add_region(s1, start=start, end=end, reviewer="ana")
    upd = store.annotation_history(s1)[0]
    assert upd.action == "update" and upd.before["version"] == 1 and upd.after["version"] == 2
    store.undo_annotation(upd.id, reviewer="ana")
    back = store.sample_regions(s1)[0]
    assert (back.end, back.note, back.version) == (0.4, "onset", 3)
    store.delete_region(r.id, version=3, reviewer="ana")
    assert store.sample_regions(s1) == []
    with pytest.raises(NotFoundError):
        store.update_region(r.id, version=3, reviewer="ana", end=0.2)
    store.undo_annotation(store.annotation_history(s1)[0].id, reviewer="ana")  # the delete
    (restored,) = store.sample_regions(s1)
    assert (restored.id, restored.start, restored.end, restored.label, restored.version) == (
        r.id,
        0.1,
        0.4,
        "word",
        4,
    )
    with pytest.raises(ConflictError):
        store.delete_region(r.id, version=3, reviewer="ana")
    # undoing the creation after a later edit is a conflict; after undoing that edit it works
    edit = store.update_region(r.id, version=4, reviewer="ana", start=0.0)
    created = store.annotation_history(s1)[-1]
    assert created.action == "add"
    with pytest.raises(ConflictError):
        store.undo_annotation(created.id, reviewer="ana")
    assert edit.version == 5


def test_notes_several_per_sample_editable_deletable_undoable(seeded: Store):
    store = seeded
    (s1,) = _ids(store, 1)
    n1 = store.add_note(s1, "  speaker coughs  ", reviewer="ana")
    n2 = store.add_note(s1, "<b>not html</b>", reviewer="bo")
    assert [(n.text, n.reviewer) for n in store.sample_notes(s1)] == [
        ("speaker coughs", "ana"),
        ("<b>not html</b>", "bo"),
    ]
    e = store.update_note(n1.id, "speaker coughs at 0.3 s", version=1, reviewer="ana")
    assert e.version == 2 and e.updated_by == "ana"
    with pytest.raises(ConflictError):
        store.update_note(n1.id, "mine", version=1, reviewer="bo")
    store.delete_note(n2.id, version=1, reviewer="ana")
    assert [n.id for n in store.sample_notes(s1)] == [n1.id]
    store.undo_annotation(store.annotation_history(s1)[0].id, reviewer="ana")
    back = [n for n in store.sample_notes(s1) if n.id == n2.id][0]
    assert (back.text, back.reviewer, back.version) == ("<b>not html</b>", "bo", 2)
    with pytest.raises(ValidationError, match="cannot be empty"):
        store.add_note(s1, "   ", reviewer="ana")
    with pytest.raises(ValidationError, match="at most"):
        store.add_note(s1, "x" * 10_001, reviewer="ana")


def test_annotation_columns_cover_every_sample_in_the_export_shape(seeded: Store):
    store = seeded
    seed_synthetic(store, dataset="other", n=2)
    s1, s2 = _ids(store, 2)
    store.add_tag(s1, "b-tag", reviewer="ana")
    store.add_tag(s1, "a-tag", reviewer="ana")
    store.add_flag(s1, "noisy", reviewer="ana")
    store.add_note(s1, "first", reviewer="ana")
    store.add_note(s1, "second", reviewer="bo")
    store.add_region(s1, start=0.5, end=0.6, label="b", reviewer="ana")
    store.add_region(s1, start=0.1, end=0.2, note="n", reviewer="ana")
    store.set_vote(s1, "a", reviewer="bo")
    store.set_vote(s1, "b", reviewer="ana")
    cols = store.annotation_columns("d")
    assert sorted(cols) == sorted(_ids(store, 100))  # every sample of "d", none of "other"
    assert cols[s1] == {
        "tags": ["a-tag", "b-tag"],
        "reviewer_flags": ["noisy"],
        "notes": ["first", "second"],
        "regions": [
            {"start": 0.1, "end": 0.2, "label": None, "note": "n"},
            {"start": 0.5, "end": 0.6, "label": "b", "note": None},
        ],
        "votes": {"ana": "b", "bo": "a"},
    }
    assert cols[s2] == {"tags": [], "reviewer_flags": [], "notes": [], "regions": [], "votes": {}}
    with pytest.raises(NotFoundError):
        store.annotation_columns("nope")


def test_deleting_a_sample_deletes_its_annotations(seeded: Store):
    from sqlalchemy import delete, func, select

    from audiosoup_widgets.store.models import AnnotationEdit, AnnotationTag, Sample

    store = seeded
    (s1,) = _ids(store, 1)
    store.add_tag(s1, "x", reviewer="ana")
    with store.session() as sess:
        sess.execute(delete(Sample).where(Sample.id == s1))
    with store.session() as sess:
        assert sess.scalar(select(func.count()).select_from(AnnotationTag)) == 0
        assert sess.scalar(select(func.count()).select_from(AnnotationEdit)) == 0


def test_concurrent_writers_of_one_sample_take_turns(store: Store):
    """Votes, tags and the undo of one batch from several threads: no lost or doubled history."""
    from concurrent.futures import ThreadPoolExecutor

    seed_synthetic(store, dataset="d", n=6, labels=("a", "b"))
    ids = _ids(store, 6)
    sid = ids[0]

    def work(k: int) -> None:
        for i in range(10):
            store.set_vote(sid, "ab"[(i + k) % 2], reviewer="ana")
            if (i + k) % 2:
                store.add_tag(sid, "x", reviewer=f"r{k}")
            else:
                store.remove_tag(sid, "x", reviewer=f"r{k}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    hist = store.annotation_history(sid)[::-1]  # oldest first
    votes = [h for h in hist if h.kind == "vote"]
    # each recorded change starts from the state the previous one left
    assert all(b.before == a.after for a, b in zip(votes, votes[1:], strict=False))
    assert [(v.reviewer, v.label) for v in store.sample_votes(sid)] == [("ana", votes[-1].after["label"])]
    tags = [h for h in hist if h.kind == "tag"]
    assert all(b.before == a.after for a, b in zip(tags, tags[1:], strict=False))
    assert store.sample_annotations(sid).tags == (("x",) if tags[-1].after else ())

    batch = store.mark_samples("flag", ids, ["noisy"], reviewer="ana")
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(lambda _: store.undo_annotation_batch(batch.batch_id or "", reviewer="bo"), range(3))
        )
    assert sum(r.reverted for r in results) == 6
    assert len(store.annotation_batch(batch.batch_id or "")) == 12  # 6 changes, 6 undos
    assert store.word_counts("flag", "d") == []
