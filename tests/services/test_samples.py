"""SampleService: cached records, pages and counts; edits that invalidate what they change; conflicts."""

from __future__ import annotations

import pytest

from audiosoup_widgets.errors import ConflictError, NotFoundError, ValidationError
from audiosoup_widgets.services import PAGE_SIZES, ReviewServices, SampleFilters
from audiosoup_widgets.testing import seed_synthetic

FIRST = "yes/spk00_nohash_0.wav"


def filters(dataset: str = "words", **kw) -> SampleFilters:
    base = SampleFilters(dataset=dataset, labels=(), split=None, search="", status=None, sort="id")
    return SampleFilters(**{**base, **kw})


@pytest.mark.parametrize("bad", [0, -1, "3", None, True, 2.5, 2**63, [1]])
def test_ids_are_checked_with_a_plain_message(words, bad):
    services, _, _ = words
    with pytest.raises(ValidationError, match="invalid sample id"):
        services.samples.get(bad)


def test_a_sample_of_another_dataset_or_none_at_all_is_not_found(words):
    services, store, ids = words
    seed_synthetic(store, dataset="other", n=3)
    other = services.samples.page(filters("other"), page=0, page_size=12)[0].id
    with pytest.raises(NotFoundError):
        services.samples.get(other, dataset="words")
    with pytest.raises(NotFoundError):
        services.samples.get(999_999)
    assert services.samples.get(float(ids[FIRST])).id == ids[FIRST]  # JSON numbers as floats


def test_records_are_cached_and_a_page_read_refreshes_them(words_any, calls):
    services, store, ids = words_any
    reads = calls(store, "get_sample", "page_samples")
    sid = ids[FIRST]
    assert services.samples.get(sid) is services.samples.get(sid)
    assert reads["get_sample"] == 1
    # Someone edits elsewhere; the next page read brings the new values into the cache.
    rec = store.get_sample(sid)
    store.update_sample(sid, version=rec.version, reviewer="bob", text="changed elsewhere")
    before = reads["get_sample"]
    page = services.samples.page(filters(), page=0, page_size=24)
    assert services.samples.get(sid).text == "changed elsewhere"
    assert services.samples.get(page[3].id) is page[3]
    assert reads["get_sample"] == before  # every record came with the page
    assert services.samples.get(sid, fresh=True).version == rec.version + 1
    assert reads["get_sample"] == before + 1


def test_counts_and_lists_are_cached_until_an_edit(words_any, calls):
    services, store, ids = words_any
    reads = calls(store, "count_samples", "list_labels", "list_datasets")
    samples = services.samples
    yes = filters(labels=("yes",))
    assert samples.count(yes) == 4 and samples.count(yes) == 4
    assert [lab.n_samples for lab in samples.labels("words")] == [3, 3, 4]
    samples.labels("words")
    samples.datasets()
    samples.datasets()
    assert (reads["count_samples"], reads["list_labels"], reads["list_datasets"]) == (1, 1, 1)
    record = samples.get(ids[FIRST])
    new = samples.update(record, reviewer="ann", label="no")
    assert new.version == record.version + 1 and samples.get(record.id) is new
    assert samples.count(yes) == 3 and samples.label_names("words") == {"no", "up", "yes"}
    assert {lab.name: lab.n_samples for lab in samples.labels("words")}["no"] == 4
    assert (reads["count_samples"], reads["list_labels"]) == (2, 2)


def test_an_edit_that_changes_nothing_keeps_the_caches(words, calls):
    services, store, ids = words
    reads = calls(store, "count_samples")
    samples = services.samples
    samples.count(filters())
    record = samples.get(ids[FIRST])
    same = samples.update(record, reviewer="ann", text=record.text)
    assert same.version == record.version
    samples.count(filters())
    assert reads["count_samples"] == 1


def test_forget_drops_records_counts_and_lists(words, calls):
    services, store, ids = words
    reads = calls(store, "get_sample", "count_samples")
    samples = services.samples
    samples.get(ids[FIRST])
    samples.count(filters())
    samples.forget()
    samples.get(ids[FIRST])
    samples.count(filters())
    assert (reads["get_sample"], reads["count_samples"]) == (2, 2)


def test_a_conflict_saves_nothing_and_drops_the_stale_record(words_any):
    services, store, ids = words_any
    ann, bob = services, ReviewServices(store)  # two users, two sets of services
    sid = ids[FIRST]
    seen_by_ann = ann.samples.get(sid)
    bob.samples.update(bob.samples.get(sid), reviewer="bob", label="up")
    with pytest.raises(ConflictError) as info:
        ann.samples.update(seen_by_ann, reviewer="ann", label="no")
    assert info.value.theirs == "up" and info.value.theirs_by == "bob"
    assert "nothing was saved" in info.value.message
    now = ann.samples.get(sid)  # read again: the cache no longer holds the stale version
    assert (now.label, now.updated_by) == ("up", "bob")
    with pytest.raises(ConflictError):
        ann.samples.undo(seen_by_ann, reviewer="ann")
    assert ann.samples.update(now, reviewer="ann", label="no").label == "no"


def test_undo_goes_through_the_cache_too(words_any):
    services, store, ids = words_any
    samples = services.samples
    record = samples.get(ids[FIRST])
    edited = samples.update(record, reviewer="ann", split="test", text="new")
    assert samples.count(filters(split="test")) == 3
    undone = samples.undo(edited, reviewer="ann")
    assert (undone.split, undone.text) == ("train", "clip 0 says yes")
    assert samples.get(record.id) is undone and samples.count(filters(split="test")) == 2
    history = samples.history(record.id)
    assert [e.kind for e in history][:2] == ["undo", "undo"] and history[-1].kind == "edit"
    with pytest.raises(ValidationError, match="nothing to undo"):
        samples.undo(undone, reviewer="ann")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"split": "holdout"}, "unknown split"),
        ({"label": ""}, "label cannot be empty"),
        ({"label": "maybe"}, "unknown label"),
        ({"meta": {"k": {"nested": 1}}}, "must be text or a number"),
    ],
)
def test_edits_are_validated_with_plain_messages(words, change, message):
    services, store, ids = words
    record = services.samples.get(ids[FIRST])
    with pytest.raises(ValidationError, match=message):
        services.samples.update(record, reviewer="ann", **change)
    with pytest.raises(ValidationError, match="enter your name"):
        services.samples.update(record, reviewer="  ", text="x")
    assert store.get_sample(record.id).version == record.version


@pytest.mark.parametrize(
    "change,message",
    [
        ({"sort": "content_hash"}, "cannot sort by"),
        ({"split": "training"}, "unknown split"),
        ({"status": "broken"}, "unknown status"),
        ({"search": "x" * 201}, "longer than 200"),
    ],
)
def test_filters_are_validated_with_plain_messages(words, change, message):
    services, _, _ = words
    with pytest.raises(ValidationError, match=message):
        services.samples.count(filters(**change))


def test_pages_take_only_the_offered_sizes(words):
    services, _, _ = words
    assert PAGE_SIZES == (12, 24, 48, 96)
    assert len(services.samples.page(filters(), page=0, page_size=12)) == 10
    with pytest.raises(ValidationError, match="page size must be one of"):
        services.samples.page(filters(), page=0, page_size=10)
