"""store.relabel: bulk relabel with one history row per sample and a shared batch id, conflicts
skipped and reported, the undo of a batch as one step; on both databases."""

from __future__ import annotations

import datetime as dt

import pytest

from audiosoup_widgets import NotFoundError, ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_synthetic


def _ids(store: Store, n: int) -> list[int]:
    return store.sample_ids(SampleQuery("d"), limit=n)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_preview_counts_per_current_label(store: Store):
    seed_synthetic(store, dataset="d", n=10, labels=("a", "b", "c"))
    ids = _ids(store, 5)  # a b c a b
    assert store.label_counts("d", ids) == {"a": 2, "b": 2, "c": 1}
    assert store.label_counts("d", []) == {}
    assert store.label_counts("d", [10_000]) == {}


def test_relabel_writes_one_history_row_each_with_a_shared_batch(store: Store):
    seed_synthetic(store, dataset="d", n=10, labels=("a", "b", "c"))
    ids = _ids(store, 5)
    seen = _now()
    res = store.relabel_samples("d", ids, label="c", reviewer="ana", seen_at=seen, reason="all were c")
    assert res.changed == 4 and res.unchanged == 1 and res.skipped == () and res.label == "c"
    assert res.batch_id and len(res.batch_id) == 32
    assert store.label_counts("d", ids) == {"c": 5}
    olds = []
    for sid in ids:
        s = store.get_sample(sid)
        hist = store.sample_history(sid)
        if s.version == 1:  # the one that was already "c": untouched, no history
            assert hist == []
            continue
        assert s.version == 2 and s.updated_by == "ana"
        (edit,) = hist
        assert (edit.field, edit.new, edit.kind, edit.reviewer) == ("label", "c", "edit", "ana")
        assert edit.batch_id == res.batch_id and edit.reason == "all were c" and edit.version == 2
        olds.append(edit.old)
    assert sorted(olds) == ["a", "a", "b", "b"]
    # the single-sample editor holding the old version now gets a conflict
    from audiosoup_widgets import ConflictError

    with pytest.raises(ConflictError):
        store.update_sample(ids[0], version=1, reviewer="bo", label="b")
    # the same again changes nothing and makes no batch
    again = store.relabel_samples("d", ids, label="c", reviewer="ana", seen_at=_now())
    assert again.batch_id is None and again.changed == 0 and again.unchanged == 5


def test_a_sample_changed_by_someone_else_since_selection_is_skipped(store: Store):
    seed_synthetic(store, dataset="d", n=6, labels=("a", "b"))
    ids = _ids(store, 4)
    seen = _now()
    store.update_sample(ids[1], version=1, reviewer="bo", label="a")  # someone else, after selection
    store.update_sample(ids[2], version=1, reviewer="ana", text="mine")  # the same reviewer: fine
    res = store.relabel_samples("d", ids, label="b", reviewer="ana", seen_at=seen)
    assert [(s.id, s.updated_by) for s in res.skipped] == [(ids[1], "bo")]
    assert res.skipped[0].file_name.endswith(".wav")
    assert res.changed == 2 and res.unchanged == 1  # ids[0] a->b, ids[2] a->b; ids[3] already b
    assert store.get_sample(ids[1]).label == "a"  # never overwritten
    assert all(e.batch_id is None for e in store.sample_history(ids[1]))
    # an edit before the selection was made is no conflict
    later = store.relabel_samples("d", ids, label="a", reviewer="ana", seen_at=_now())
    assert later.skipped == () and store.get_sample(ids[1]).label == "a"


def test_undo_of_a_batch_is_one_step_and_skips_samples_edited_since(store: Store):
    seed_synthetic(store, dataset="d", n=8, labels=("a", "b"))
    ids = _ids(store, 6)
    res = store.relabel_samples("d", ids, label="new", reviewer="ana", seen_at=_now(), create_label=True)
    assert res.changed == 6
    store.update_sample(ids[0], version=2, reviewer="bo", text="edited since")
    one = store.get_sample(ids[1])
    store.undo_last_edit(ids[1], version=one.version, reviewer="ana")  # undone on its own
    out = store.undo_batch(res.batch_id, reviewer="cy")
    assert out.reverted == 4 and out.already_undone == 1 and out.label == "new"
    assert [s.id for s in out.skipped] == [ids[0]] and out.skipped[0].updated_by == "bo"
    labels = {sid: store.get_sample(sid).label for sid in ids}
    assert labels == {ids[0]: "new", **{sid: ("a" if i % 2 == 0 else "b") for i, sid in enumerate(ids) if i}}
    for sid in ids[2:]:
        undo, edit = store.sample_history(sid)
        assert (undo.kind, undo.batch_id, undo.reviewer, undo.old, undo.new) == (
            "undo",
            res.batch_id,
            "cy",
            "new",
            edit.old,
        )
        assert edit.undone and store.get_sample(sid).version == 3 == undo.version
    # a second undo has nothing left to revert and touches nothing
    again = store.undo_batch(res.batch_id, reviewer="cy")
    assert again.reverted == 0 and [s.id for s in again.skipped] == [ids[0]]
    with pytest.raises(NotFoundError):
        store.undo_batch("0" * 32, reviewer="cy")
    with pytest.raises(ValidationError):
        store.undo_batch("x'; DROP TABLE samples", reviewer="cy")


def test_undo_gives_back_no_label_to_samples_that_had_none(store: Store):
    seed_synthetic(store, dataset="d", n=3, labels=("a",))
    ids = _ids(store, 3)
    store.update_sample(ids[0], version=1, reviewer="ana", label="ä/é “x”", create_label=True)
    with store.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE samples SET label_id = NULL WHERE id = :i"), {"i": ids[1]})
    res = store.relabel_samples("d", ids, label="a", reviewer="ana", seen_at=_now())
    assert res.changed == 2
    store.undo_batch(res.batch_id, reviewer="ana")
    assert [store.get_sample(i).label for i in ids] == ["ä/é “x”", None, "a"]


def test_bad_relabels_are_refused_and_change_nothing(store: Store):
    seed_synthetic(store, dataset="d", n=4, labels=("a", "b"))
    seed_synthetic(store, dataset="other", n=2, labels=("a",))
    ids = _ids(store, 4)
    other = store.sample_ids(SampleQuery("other"))
    kw = {"reviewer": "ana", "seen_at": _now()}
    cases = [
        ([], {"label": "a"}, "at least one"),
        (ids, {"label": "zzz"}, "unknown label"),
        (ids + other, {"label": "a"}, "2 of the selected clips are not in dataset 'd'"),
        (ids + [99_999], {"label": "a"}, "ids 99999"),
        (ids, {"label": "  "}, "empty"),
        (ids, {"label": "a\nb"}, "control"),
        (ids, {"label": "b", "reason": "x" * 501}, "reason longer"),
        (["1"], {"label": "a"}, "integers"),
    ]
    for given, extra, message in cases:
        with pytest.raises(ValidationError, match=message):
            store.relabel_samples("d", given, **kw, **extra)
    with pytest.raises(ValidationError, match="name"):
        store.relabel_samples("d", ids, label="a", reviewer=" ", seen_at=_now())
    with pytest.raises(ValidationError, match="timezone"):
        store.relabel_samples("d", ids, label="a", reviewer="ana", seen_at=dt.datetime.now())
    with pytest.raises(NotFoundError):
        store.relabel_samples("nope", ids, label="a", reviewer="ana", seen_at=_now())
    assert all(store.get_sample(i).version == 1 for i in ids)
    assert [lab.name for lab in store.list_labels("d")] == ["a", "b"]
