"""store.idset: a set of sample ids as a grid filter, and every id matching a query, on both databases."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets import ValidationError
from audiosoup_widgets.store import MAX_IDS, SampleQuery, Store
from audiosoup_widgets.testing import sample_row, seed_synthetic

SORT_KEYS = ("id", "-id", "label", "-label", "duration", "-duration", "path", "-speaker", "split")


def _seed_varied(store: Store, n: int = 60) -> list[int]:
    """Samples with varied labels (some none), durations, splits and speakers; return their ids."""
    ds = store.ensure_dataset("d", root="/x", layout="folders")
    labels = store.ensure_labels(ds, ["cat", "dog", "eel"])
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        lab = ("cat", "dog", "eel", None)[i % 4]
        rows.append(
            sample_row(
                ds,
                f"f/{rng.integers(0, 10**6):07d}_{i}.wav",
                label_id=labels[lab] if lab else None,
                frames=int(rng.choice([8000, 16000, 24000])),
                split=("train", "test", None)[i % 3],
                speaker=f"s{i % 5}" if i % 7 else None,
                text=f"clip {i}",
            )
        )
    store.insert_samples(rows)
    return store.sample_ids(SampleQuery("d"))


def _all_pages(store: Store, query: SampleQuery, page_size: int = 7) -> list[int]:
    out: list[int] = []
    page = 0
    while batch := store.page_samples(query, page=page, page_size=page_size):
        out += [r.id for r in batch]
        page += 1
    return out


def test_ids_filter_combines_with_the_other_filters(store: Store):
    ids = _seed_varied(store)
    chosen = tuple(ids[::2])
    q = SampleQuery("d", ids=chosen)
    assert store.count_samples(q) == len(chosen)
    assert _all_pages(store, q) == sorted(chosen)
    records = {r.id: r for r in store.page_samples(SampleQuery("d"), page_size=60)}
    for extra in (
        {"labels": ("cat", "eel")},
        {"split": "train"},
        {"search": "clip 1"},
        {"labels": ("eel",), "split": "test"},
    ):
        combined = SampleQuery("d", ids=chosen, **extra)  # type: ignore[arg-type]
        without = set(store.sample_ids(SampleQuery("d", **extra)))  # type: ignore[arg-type]
        expected = sorted(set(chosen) & without)
        assert expected, extra  # the case tests something
        assert store.count_samples(combined) == len(expected), extra
        assert _all_pages(store, combined) == expected, extra
        if "labels" in extra:
            assert {records[i].label for i in expected} <= set(extra["labels"])  # type: ignore[arg-type]


def test_empty_none_and_foreign_ids(store: Store):
    ids = _seed_varied(store, n=10)
    seed_synthetic(store, dataset="other", n=5)
    foreign = store.sample_ids(SampleQuery("other"))
    assert store.count_samples(SampleQuery("d", ids=None)) == 10
    assert store.count_samples(SampleQuery("d", ids=())) == 0
    assert store.page_samples(SampleQuery("d", ids=())) == []
    assert store.sample_ids(SampleQuery("d", ids=())) == []
    # ids of another dataset (and ids that never existed) match nothing
    mixed = SampleQuery("d", ids=(*foreign, ids[3], 10**9, -1, ids[1]))
    assert store.count_samples(mixed) == 2
    assert [r.id for r in store.page_samples(mixed)] == [ids[1], ids[3]]
    assert store.count_samples(SampleQuery("d", ids=tuple(foreign))) == 0


def test_forty_thousand_ids_stay_one_parameter(store: Store):
    # Above SQLite's cap on bound variables (32,766): a plain IN list would fail.
    seed_synthetic(store, dataset="d", n=300)
    seed_synthetic(store, dataset="other", n=10)
    ids = store.sample_ids(SampleQuery("d"))
    wanted = np.arange(1, 40_001, dtype=np.int64)
    wanted = wanted[(wanted % 3 != 0) | ~np.isin(wanted, ids)]  # drop a third of the real ids
    q = SampleQuery("d", ids=wanted)
    assert len(q.ids or ()) > 32_766
    expected = [i for i in ids if i % 3 != 0]
    assert store.count_samples(q) == len(expected)
    assert [r.id for r in store.page_samples(q, page=1, page_size=50)] == expected[50:100]
    assert store.sample_ids(q) == expected
    assert store.count_samples(SampleQuery("d", ids=wanted, sort="-path")) == len(expected)


@pytest.mark.parametrize("sort", SORT_KEYS)
def test_sample_ids_follow_the_paging_order(store: Store, sort: str):
    ids = _seed_varied(store)
    for q in (SampleQuery("d", sort=sort), SampleQuery("d", sort=sort, ids=tuple(ids[5:50]), split="train")):
        assert store.sample_ids(q) == _all_pages(store, q)
        assert store.sample_ids(q, limit=4) == _all_pages(store, q)[:4]
    assert store.sample_ids(SampleQuery("d"), limit=0) == []
    with pytest.raises(ValidationError):
        store.sample_ids(SampleQuery("d"), limit=-1)


def test_ids_are_validated_into_a_tuple_of_ints():
    q = SampleQuery("d", ids=np.array([3, 1, 2], dtype=np.int32))  # type: ignore[arg-type]
    assert q.ids == (3, 1, 2) and all(type(i) is int for i in q.ids)
    assert SampleQuery("d", ids=[np.int64(5), 6]).ids == (5, 6)  # type: ignore[arg-type]
    assert SampleQuery("d", ids=range(3)).ids == (0, 1, 2)  # type: ignore[arg-type]
    # equal filters are equal queries (services cache by query)
    assert SampleQuery("d", ids=(1, 2)) == SampleQuery("d", ids=[1, 2])  # type: ignore[arg-type]
    assert hash(SampleQuery("d", ids=(1, 2))) == hash(SampleQuery("d", ids=(1, 2)))
    for bad in (
        ["1"],
        [True],
        [1.0],
        "12",
        5,
        np.array([1.0]),
        np.array([[1, 2]]),
        [2**31],
        [-(2**31) - 1],
        range(MAX_IDS + 1),
    ):
        with pytest.raises(ValidationError):
            SampleQuery("d", ids=bad)  # type: ignore[arg-type]
