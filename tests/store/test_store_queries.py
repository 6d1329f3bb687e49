"""store.queries: filters, pages, allow-lists, edits with conflicts, history and undo, on both databases."""

from __future__ import annotations

import pytest

from audiosoup_widgets import ConflictError, NotFoundError, ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row, seed_synthetic


def test_page_filters_and_count(store: Store):
    seed_synthetic(store, dataset="d", n=100, labels=("a", "b", "c", "d"))
    q = SampleQuery("d")
    assert store.count_samples(q) == 100
    page0 = store.page_samples(q, page=0, page_size=24)
    page4 = store.page_samples(q, page=4, page_size=24)
    assert len(page0) == 24 and len(page4) == 4
    assert [r.id for r in page0] == sorted(r.id for r in page0)
    assert page0[-1].id < page4[0].id
    qa = SampleQuery("d", labels=("a", "c"))
    assert store.count_samples(qa) == 50
    assert {r.label for r in store.page_samples(qa, page_size=50)} == {"a", "c"}
    assert store.count_samples(SampleQuery("d", split="test")) == 10
    assert store.count_samples(SampleQuery("d", search="clip 42 ")) == 1
    # LIKE wildcards in user text are literal
    assert store.count_samples(SampleQuery("d", search="%")) == 0
    desc = store.page_samples(SampleQuery("d", sort="-id"), page_size=3)
    assert [r.id for r in desc] == sorted((r.id for r in desc), reverse=True)
    by_label = store.page_samples(SampleQuery("d", sort="label"), page_size=100)
    assert [r.label for r in by_label] == sorted(r.label for r in by_label)
    labels = store.list_labels("d")
    assert [(lab.name, lab.n_samples) for lab in labels] == [("a", 25), ("b", 25), ("c", 25), ("d", 25)]


def test_query_allow_lists_refuse_before_sql(store: Store):
    seed_synthetic(store, dataset="d", n=5)
    with pytest.raises(ValidationError):
        SampleQuery("d", sort="path; DROP TABLE samples")
    with pytest.raises(ValidationError):
        SampleQuery("d", split="holdout")
    with pytest.raises(ValidationError):
        store.count_samples(SampleQuery("d", labels=("nope",)))
    with pytest.raises(NotFoundError):
        store.count_samples(SampleQuery("missing"))
    with pytest.raises(ValidationError):
        store.page_samples(SampleQuery("d"), page=-1)
    with pytest.raises(ValidationError):
        store.page_samples(SampleQuery("d"), page_size=10_000)
    assert store.count_samples(SampleQuery("d")) == 5


def test_edit_conflict_history_and_undo(store: Store):
    seed_synthetic(store, dataset="d", n=3, labels=("yes", "no"))
    s = store.page_samples(SampleQuery("d"), page_size=1)[0]
    assert s.label == "yes" and s.version == 1
    after = store.update_sample(s.id, version=s.version, reviewer="ana", label="no")
    assert after.label == "no" and after.version == 2 and after.updated_by == "ana"
    # a second reviewer still holding version 1 gets a conflict with both values
    with pytest.raises(ConflictError) as info:
        store.update_sample(s.id, version=1, reviewer="bo", label="yes")
    assert info.value.mine == "yes" and info.value.theirs == "no"
    assert info.value.theirs_by == "ana"
    assert store.get_sample(s.id).label == "no"
    # a new label needs create_label
    with pytest.raises(ValidationError):
        store.update_sample(s.id, version=2, reviewer="ana", label="maybe")
    store.update_sample(
        s.id, version=2, reviewer="ana", label="maybe", create_label=True, text="said quietly"
    )
    hist = store.sample_history(s.id)
    assert [(h.field, h.old, h.new, h.reviewer) for h in hist][:3] == [
        ("text", "synthetic clip 0 of yes", "said quietly", "ana"),
        ("label", "no", "maybe", "ana"),
        ("label", "yes", "no", "ana"),
    ]
    undone = store.undo_last_edit(s.id, version=3, reviewer="ana")
    assert undone.label == "no" and undone.text == "synthetic clip 0 of yes"
    assert undone.version == 4
    assert store.undo_last_edit(s.id, version=4, reviewer="ana").label == "yes"
    with pytest.raises(ValidationError):
        store.undo_last_edit(s.id, version=5, reviewer="ana")


def test_edit_validation_changes_nothing(store: Store):
    seed_synthetic(store, dataset="d", n=1)
    s = store.page_samples(SampleQuery("d"))[0]
    for kwargs in (
        {"reviewer": "", "label": "no"},
        {"reviewer": "x", "text": "t" * 20_000},
        {"reviewer": "x", "split": "nope"},
        {"reviewer": "x", "meta": {"k": [1]}},
        {"reviewer": "x", "label": "   "},
    ):
        with pytest.raises(ValidationError):
            store.update_sample(s.id, version=1, **kwargs)
    with pytest.raises(NotFoundError):
        store.update_sample(999_999, version=1, reviewer="x", label="no")
    assert store.get_sample(s.id) == s
    assert store.sample_history(s.id) == []


def test_custom_metadata_roundtrip(store: Store):
    seed_synthetic(store, dataset="d", n=1)
    s = store.page_samples(SampleQuery("d"))[0]
    out = store.update_sample(s.id, version=1, reviewer="x", meta={"mic": "<b>usb</b>", "snr_db": 12.5})
    assert store.get_sample(out.id).meta == {"mic": "<b>usb</b>", "snr_db": 12.5}


def test_sample_of_other_dataset_is_refused(store: Store):
    seed_synthetic(store, dataset="a", n=1)
    seed_synthetic(store, dataset="b", n=1)
    b = store.page_samples(SampleQuery("b"))[0]
    with pytest.raises(NotFoundError):
        store.get_sample(b.id, dataset="a")
    assert store.get_sample(b.id, dataset="b").id == b.id


def test_odd_text_is_stored_verbatim(store: Store):
    ds = store.ensure_dataset("odd", root="/r", layout="folders")
    rows = [
        sample_row(
            ds,
            "x/\\xff\\xfe name <img src=x onerror=1>.wav",
            path_bytes=b"x/\xff\xfe name <img src=x onerror=1>.wav",
            sample_rate=8000,
            frames=8,
            text="quote ' \" and ; -- and \x00 nul",
        )
    ]
    assert store.insert_samples(rows) == 1
    rec = store.page_samples(SampleQuery("odd"))[0]
    assert rec.path == "x/\\xff\\xfe name <img src=x onerror=1>.wav"
    assert store.sample_file(rec.id).endswith("\udcff\udcfe name <img src=x onerror=1>.wav")
