"""store.annotation_filters: disagreements, tags and reviewer flags as sample filters, on both databases."""

from __future__ import annotations

import pytest

from audiosoup_widgets import ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_synthetic


@pytest.fixture
def voted(store: Store) -> tuple[Store, list[int]]:
    seed_synthetic(store, dataset="d", n=8, labels=("a", "b"))
    seed_synthetic(store, dataset="e", n=3, labels=("a", "b"))
    ids = store.sample_ids(SampleQuery("d"))
    other = store.sample_ids(SampleQuery("e"))
    store.set_vote(ids[0], "a", reviewer="ana")
    store.set_vote(ids[0], "b", reviewer="bo")  # disputed
    store.set_vote(ids[1], "a", reviewer="ana")
    store.set_vote(ids[1], "a", reviewer="bo")  # agreed
    store.set_vote(ids[2], "b", reviewer="ana")  # one vote
    for r, lab in (("ana", "a"), ("bo", "b"), ("cy", "b")):
        store.set_vote(ids[3], lab, reviewer=r)  # disputed, three votes
    store.set_vote(other[0], "a", reviewer="ana")
    store.set_vote(other[0], "b", reviewer="bo")  # disputed in another dataset
    store.add_tag(ids[1], "music", reviewer="ana")
    store.add_tag(ids[4], "speech", reviewer="ana")
    store.add_tag(ids[5], "music", reviewer="ana")
    store.add_tag(other[1], "music", reviewer="ana")
    store.add_flag(ids[5], "noisy", reviewer="ana")
    store.add_flag(ids[6], "clipped", reviewer="ana")
    return store, ids


def test_disagreement_keeps_clips_whose_votes_hold_two_labels(voted):
    store, ids = voted
    q = SampleQuery("d", disagreement=True)
    assert store.sample_ids(q) == [ids[0], ids[3]] and store.count_samples(q) == 2
    assert [s.id for s in store.page_samples(q, page=0, page_size=10)] == [ids[0], ids[3]]
    # changing a vote moves the clip out of the filter
    store.set_vote(ids[0], "a", reviewer="bo")
    assert store.sample_ids(q) == [ids[3]]
    # combined with other filters and sorts
    assert store.sample_ids(SampleQuery("d", disagreement=True, labels=("a",))) == [
        i for i in [ids[3]] if store.get_sample(i).label == "a"
    ]
    assert store.sample_ids(SampleQuery("d", disagreement=True, sort="-id")) == [ids[3]]


def test_tags_and_reviewer_flags_match_any_of(voted):
    store, ids = voted
    assert store.sample_ids(SampleQuery("d", tags=("music",))) == [ids[1], ids[5]]
    assert store.sample_ids(SampleQuery("d", tags=("music", "speech"))) == [ids[1], ids[4], ids[5]]
    assert store.sample_ids(SampleQuery("d", tags=("nothing",))) == []
    assert store.sample_ids(SampleQuery("d", reviewer_flags=("noisy", "clipped"))) == [ids[5], ids[6]]
    assert store.sample_ids(SampleQuery("d", tags=("music",), reviewer_flags=("noisy",))) == [ids[5]]
    # reviewer flags are not the quality flags of ``status``
    assert store.count_samples(SampleQuery("d", status="flagged")) == 0
    assert store.sample_ids(SampleQuery("d", tags=["music"])) == [ids[1], ids[5]]  # a list is a tuple


def test_bad_annotation_filters_are_refused_in_one_line():
    with pytest.raises(ValidationError, match="tags in a filter"):
        SampleQuery("d", tags=("",))
    with pytest.raises(ValidationError, match="reviewer flags in a filter"):
        SampleQuery("d", reviewer_flags=(3,))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at most 50"):
        SampleQuery("d", tags=tuple(f"t{i}" for i in range(51)))
    with pytest.raises(ValidationError, match="true or false"):
        SampleQuery("d", disagreement="yes")  # type: ignore[arg-type]
    assert SampleQuery("d", tags="music").tags == ("music",)  # type: ignore[arg-type]
    assert "disagreement=True" in repr(SampleQuery("d", disagreement=True))
