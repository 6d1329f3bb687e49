"""embed_dataset: batches with progress, changed texts only, and a bad text costing itself alone."""

from __future__ import annotations

import numpy as np

from audiosoup_widgets.analysis.text import TfidfLsaEmbedder, text_hash
from audiosoup_widgets.jobs.text import embed_dataset, search_text
from audiosoup_widgets.store import Store
from audiosoup_widgets.testing import sample_row


class Picky:
    """A real TF-IDF embedder that refuses one text (as a model may refuse odd input)."""

    def __init__(self, corpus: list[str]) -> None:
        self._inner = TfidfLsaEmbedder(dim=4).fit(corpus)
        self.name = self._inner.name
        self.dim = self._inner.dim

    def embed(self, texts):
        if "poison" in texts:
            raise ValueError("cannot embed this")
        return self._inner.embed(texts)


def _seed(store: Store, texts: list[str]) -> None:
    ds = store.ensure_dataset("d", root="d-root", layout="flat")
    store.insert_samples([sample_row(ds, f"c{i}.wav", text=t) for i, t in enumerate(texts)])


def test_batches_report_progress_and_only_changed_texts_are_embedded(store: Store):
    texts = [f"note number {i} about wind" for i in range(10)]
    _seed(store, texts)
    calls: list[tuple[int, int]] = []
    report = embed_dataset(
        "d", db=store, embedder="tfidf", batch=4, progress=lambda d, t: calls.append((d, t))
    )
    assert report.embedded == 10 and report.current == 0
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]
    stored = store.text_hashes("d", report.embedder)
    assert sorted(stored.values()) == sorted(text_hash(t) for t in texts)


def test_a_bad_text_costs_one_item(store: Store):
    texts = ["wind in the trees", "poison", "a dog barks", "rain on the roof"]
    _seed(store, texts)
    emb = Picky(texts)
    report = embed_dataset("d", db=store, embedder=emb, batch=10)
    assert (report.embedded, report.failed) == (3, 1)
    ids, matrix = store.text_matrix("d", emb.name, dim=emb.dim)
    assert len(ids) == 3
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)
    # The search still works over the others.
    hits = search_text("d", "wind", k=1, db=store, embedder=emb)
    assert store.get_sample(hits[0][0]).text == "wind in the trees"
