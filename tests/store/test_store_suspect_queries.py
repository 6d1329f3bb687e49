"""Sample queries by suspicion: "suspects only" and "most suspicious first", on both databases."""

from __future__ import annotations

import pytest

from audiosoup_widgets.services import ReviewServices
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_summaries, seed_synthetic

LABELS = ("yes", "no", "up", "down")


@pytest.fixture
def fitted(store: Store):
    seed_synthetic(store, dataset="d", n=160, labels=LABELS)
    seed_summaries(store, "d", rows={"mfcc": 4}, spread=2.0)
    for sid, _, label, split in store.sample_table("d")[:10]:
        if split == "train":
            store.update_sample(sid, version=1, reviewer="t", label=LABELS[(LABELS.index(label) + 1) % 4])
    services = ReviewServices(store)
    services.model.fit("d", features=["mfcc"], reviewer="ann")
    run = services.model.latest_run("d")
    assert run is not None
    return store, services, run.id


def test_without_a_run_no_clip_is_a_suspect_and_the_sort_is_by_id(store: Store):
    seed_synthetic(store, dataset="d", n=20, labels=LABELS)
    assert store.count_samples(SampleQuery("d", suspects=True)) == 0
    ids = store.sample_ids(SampleQuery("d", sort="-suspicion"))
    assert ids == sorted(ids, reverse=True)


def test_suspects_only_and_most_suspicious_first(fitted):
    store, services, run_id = fitted
    expected = store.run_suspects(run_id)
    assert expected
    q = SampleQuery("d", suspects=True, sort="-suspicion")
    assert store.count_samples(q) == len(expected)
    assert store.sample_ids(q) == [s.sample_id for s in expected]
    # The whole dataset by suspicion: the suspects first, in rank order, then the rest.
    every = store.sample_ids(SampleQuery("d", sort="-suspicion"))
    assert every[: len(expected)] == [s.sample_id for s in expected]
    assert len(every) == 160
    page = store.page_samples(SampleQuery("d", sort="-suspicion"), page=0, page_size=3)
    assert [r.id for r in page] == [s.sample_id for s in expected[:3]]
    # Combined with another filter (a label): still only suspects of that label.
    label = expected[0].label
    with_label = store.sample_ids(SampleQuery("d", labels=(label,), suspects=True, sort="-suspicion"))
    assert with_label == [s.sample_id for s in expected if s.label == label]


def test_a_decision_or_a_new_label_takes_a_clip_out(fitted):
    store, services, run_id = fitted
    first, second, third = store.run_suspects(run_id)[:3]
    services.model.keep(first.sample_id, reviewer="bob")
    services.model.accept(second.sample_id, reviewer="bob")
    services.model.ambiguous(third.sample_id, reviewer="bob")
    left = store.sample_ids(SampleQuery("d", suspects=True))
    assert not {first.sample_id, second.sample_id, third.sample_id} & set(left)
    assert sorted(left) == sorted(s.sample_id for s in store.run_suspects(run_id))
    # The service's cached count follows the decision.
    filters = {"dataset": "d", "labels": (), "split": None, "search": "", "status": None, "sort": "id"}
    assert services.samples.count({**filters, "suspects": True}) == len(left)
