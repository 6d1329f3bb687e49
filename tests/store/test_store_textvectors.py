"""Stored text vectors and ranked id lists, on both databases."""

from __future__ import annotations

import numpy as np
import pytest

from audiosoup_widgets.errors import NotFoundError, ValidationError
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row


def _seed(store: Store, texts: list[str | None], labels: list[str] | None = None) -> list[int]:
    ds = store.ensure_dataset("d", root="d-root", layout="flat")
    names = sorted(set(labels or ["a"]))
    label_ids = store.ensure_labels(ds, names)
    rows = [
        sample_row(ds, f"c{i:03d}.wav", text=t, label_id=label_ids[(labels or ["a"] * len(texts))[i]])
        for i, t in enumerate(texts)
    ]
    store.insert_samples(rows)
    ids, _ = store.sample_texts("d")
    return ids.tolist()


def test_texts_hashes_and_matrix_round_trip(store: Store):
    ids = _seed(store, ["wind", None, "a dog barks"])
    got_ids, texts = store.sample_texts("d")
    assert got_ids.tolist() == ids == sorted(ids)
    assert texts == ["wind", "", "a dog barks"]
    assert store.text_hashes("d", "e") == {}
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    assert store.write_text_vectors("e", ids, ["h0", "h1", "h2"], vectors) == 3
    assert store.text_hashes("d", "e") == {ids[0]: "h0", ids[1]: "h1", ids[2]: "h2"}
    out_ids, out = store.text_matrix("d", "e", dim=8)
    assert out_ids.tolist() == ids
    np.testing.assert_array_equal(out, vectors)
    # Replacing one keeps the others; another embedder is separate; another length is left out.
    store.write_text_vectors("e", [ids[1]], ["h1b"], np.ones((1, 8), np.float32))
    assert store.text_hashes("d", "e")[ids[1]] == "h1b"
    np.testing.assert_array_equal(store.text_matrix("d", "e", dim=8)[1][1], np.ones(8, np.float32))
    store.write_text_vectors("f", [ids[0]], ["x"], np.ones((1, 4), np.float32))
    assert store.text_matrix("d", "f", dim=4)[0].tolist() == [ids[0]]
    assert store.text_matrix("d", "f", dim=8)[0].tolist() == []
    assert len(store.text_hashes("d", "e")) == 3


def test_vectors_of_deleted_samples_are_skipped_and_bad_input_refused(store: Store):
    ids = _seed(store, ["a", "b"])
    assert store.write_text_vectors("e", [ids[0], 10**6], ["h", "h"], np.zeros((2, 2), np.float32)) == 1
    with pytest.raises(ValidationError):
        store.write_text_vectors("e", ids, ["h"], np.zeros((2, 2), np.float32))
    with pytest.raises(ValidationError):
        store.write_text_vectors("", ids, ["h", "h"], np.zeros((2, 2), np.float32))
    with pytest.raises(NotFoundError):
        store.sample_texts("nope")


def test_a_ranked_query_keeps_its_order_and_the_other_filters(store: Store):
    ids = _seed(store, ["t"] * 6, labels=["a", "b", "a", "b", "a", "b"])
    ranked = (ids[4], ids[1], ids[0], ids[5])
    q = SampleQuery("d", ranked=ranked, sort="-path")
    assert store.sample_ids(q) == list(ranked)
    assert store.count_samples(q) == 4
    assert [r.id for r in store.page_samples(q, page=1, page_size=2)] == [ids[0], ids[5]]
    only_a = SampleQuery("d", labels=("a",), ranked=ranked)
    assert store.sample_ids(only_a) == [ids[4], ids[0]]
    assert store.count_samples(only_a) == 2
    assert store.sample_ids(SampleQuery("d", ranked=())) == []
    assert "ranked=<4 ids>" in repr(q)


def test_a_samples_text_is_its_transcript_then_its_notes_then_its_tags(store: Store):
    ids = _seed(store, ["wind on the mic", None, "a dog barks"])
    store.add_note(ids[0], "gusts at the start", reviewer="ann")
    store.add_note(ids[1], "a light breeze", reviewer="bob")
    store.add_tag(ids[1], "outdoor", reviewer="bob")
    _, texts = store.sample_texts("d")
    assert texts[0] == "wind on the mic\ngusts at the start"
    # No transcript: the note and the tag alone, no blank line before them.
    assert texts[1] == "a light breeze\noutdoor"
    assert texts[2] == "a dog barks"  # untouched: its stored vector stays current
