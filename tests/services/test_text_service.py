"""TextService and the text jobs: search by meaning, incremental vectors, merges, text-label checks."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text as sql

from audiosoup_widgets import ValidationError, label_merge_suggestions, search_text
from audiosoup_widgets.analysis.text import WordLlamaEmbedder
from audiosoup_widgets.jobs.text import embed_dataset
from audiosoup_widgets.services import MERGE_REASON, ReviewServices
from audiosoup_widgets.store import SampleQuery, Store
from audiosoup_widgets.testing import sample_row, seed_summaries, seed_synthetic

NOTES = ["a light breeze", "the phone rings twice", "a man speaks slowly", "children laughing", ""]
NAMES = ("dog", "Dog", "dogs", "cat")


def _filters(**kw):
    base = {"dataset": "d", "labels": (), "split": None, "search": "", "status": None, "sort": "id"}
    return {**base, **kw}


@pytest.fixture
def notes(store: Store):
    ds = store.ensure_dataset("d", root="d-root", layout="flat")
    label_ids = store.ensure_labels(ds, NAMES)
    # 20 clips: dog 8, Dog 4, dogs 4, cat 4 (so "dog" is the one to keep).
    labels = ["dog", "dog", "Dog", "dogs", "cat"]
    rows = [
        sample_row(ds, f"c{i:02d}.wav", text=NOTES[i % 5], label_id=label_ids[labels[i % 5]])
        for i in range(20)
    ]
    store.insert_samples(rows)
    return ReviewServices(store), store


def test_search_by_meaning_and_the_public_function_agree(notes):
    services, store = notes
    hits = services.text.search("d", "wind", k=4)
    assert len(hits) == 4 and {store.get_sample(i).text for i, _ in hits} == {"a light breeze"}
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    # The score is the cosine of WordLlama's vectors, as numpy computes it.
    emb = WordLlamaEmbedder()
    ref = float(emb.embed(["a light breeze"])[0] @ emb.embed(["wind"])[0])
    assert hits[0][1] == pytest.approx(ref, abs=1e-5)
    assert search_text("d", "wind", k=4, db=store) == hits
    # Clips without text never match.
    every = services.text.search("d", "wind", k=100)
    assert len(every) == 16
    with pytest.raises(ValidationError):
        services.text.search("d", "  ")
    with pytest.raises(ValidationError):
        search_text("d", "wind", k=0, db=store)


def test_vectors_are_embedded_once_and_again_after_an_edit(notes, calls):
    services, store = notes
    calls = calls(store, "text_matrix")
    first = embed_dataset("d", db=store)
    assert (first.embedded, first.current) == (20, 0)
    again = embed_dataset("d", db=store)
    assert (again.embedded, again.current) == (0, 20)
    sid = store.sample_texts("d")[0][1].item()
    rec = services.samples.get(sid)
    services.samples.update(rec, reviewer="ann", text="strong wind noise")
    # The service's cached matrix is dropped by the edit: the new text is found.
    assert services.text.search("d", "wind", k=1)[0][0] == sid
    assert embed_dataset("d", db=store).embedded == 0  # the service stored it already
    # Read once; the edit re-embedded one text into it (no second read of every vector).
    assert calls["text_matrix"] == 1
    services.samples.update(services.samples.get(sid), reviewer="ann", label="cat")
    assert services.text.search("d", "wind", k=1)[0][0] == sid
    assert calls["text_matrix"] == 1


def test_grid_filter_by_meaning_keeps_the_other_filters(notes):
    services, store = notes
    by_meaning = _filters(semantic="wind")
    ids = services.samples.ids(by_meaning)
    assert len(ids) == 16 and store.get_sample(ids[0]).text == "a light breeze"
    assert services.samples.count(by_meaning) == 16
    cats = services.samples.ids(_filters(semantic="wind", labels=("dogs",)))
    assert len(cats) == 4 and all(store.get_sample(i).label == "dogs" for i in cats)
    assert cats == [i for i in ids if i in set(cats)]  # the same ranking, filtered
    page = services.samples.page(_filters(semantic="wind"), page=0, page_size=12)
    assert [r.id for r in page] == ids[:12]


def test_merge_suggestions_and_applying_one(notes):
    services, store = notes
    groups = services.text.merge_suggestions("d")
    assert [(g.names, g.counts) for g in groups] == [(("dog", "Dog", "dogs"), (8, 4, 4))]
    assert [g.names for g in label_merge_suggestions("d", db=store)] == [("dog", "Dog", "dogs")]
    assert label_merge_suggestions("d", db=store, embedder="tfidf")[0].names == ("dog", "Dog", "dogs")
    was_dog = store.sample_ids(SampleQuery("d", labels=("Dog",)))
    done = services.text.apply_merge("d", groups[0].names, keep="dog", reviewer="ann")
    assert done is not None and done.changed == 8
    counts = {lab.name: lab.n_samples for lab in store.list_labels("d")}
    assert counts["dog"] == 16 and counts["Dog"] == counts["dogs"] == 0
    latest = store.sample_history(was_dog[0])[0]
    assert (latest.field, latest.old, latest.new, latest.reason) == ("label", "Dog", "dog", MERGE_REASON)
    assert services.text.merge_suggestions("d") == []
    services.relabel.undo_batch(done.batch_id, reviewer="ann")
    assert {lab.name: lab.n_samples for lab in store.list_labels("d")}["Dog"] == 4
    with pytest.raises(ValidationError):
        services.text.apply_merge("d", ["dog", "cat"], keep="bird", reviewer="ann")


def test_text_disagreements_and_strong_suspects(store: Store):
    labels = ("yes", "no", "up", "down")
    seed_synthetic(store, dataset="d", n=160, labels=labels)
    seed_summaries(store, "d", rows={"mfcc": 4}, spread=2.0)
    words = {
        "yes": "she answers yes, of course",
        "no": "he refuses: no way",
        "up": "look up at the sky",
        "down": "sit down on the floor",
    }
    with store.engine.begin() as conn:
        for lab, words_of in words.items():
            conn.execute(
                sql("UPDATE samples SET text = :t WHERE label_id = (SELECT id FROM labels WHERE name = :l)"),
                {"t": words_of, "l": lab},
            )
    moved = []
    for sid, _, label, split in store.sample_table("d")[:12]:
        if split == "train":
            store.update_sample(sid, version=1, reviewer="t", label=labels[(labels.index(label) + 1) % 4])
            moved.append(sid)
    services = ReviewServices(store)
    checks = services.text.consistency("d")
    assert set(moved) <= set(checks)
    for sid in moved:
        rec = store.get_sample(sid)
        assert checks[sid].label == rec.label and checks[sid].suggested != rec.label
        assert checks[sid].confidence >= 0.6 and not checks[sid].strong  # no model run yet
    services.model.fit("d", features=["mfcc"], reviewer="ann")
    run = services.model.latest_run("d")
    assert run is not None
    suspects = {s.sample_id for s in store.run_suspects(run.id)}
    after = services.text.consistency("d")
    assert {sid for sid, c in after.items() if c.strong} == set(after) & suspects
    page = services.text.checks("d", moved[:2] + [10**6])
    assert set(page) == set(moved[:2])
    assert np.all([c.suggested in labels for c in after.values()])
