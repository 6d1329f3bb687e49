"""store.bulk: the loader's writes are idempotent."""

from __future__ import annotations

from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import seed_synthetic


def test_bulk_insert_is_idempotent(store: Store):
    seed_synthetic(store, dataset="d", n=50)
    seed_synthetic(store, dataset="d", n=50)
    assert store.count_samples(SampleQuery("d")) == 50
