"""Text embeddings, search, label-name merges and the text model, against hand-checked references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from audiosoup_widgets.analysis.text import (
    MERGE_THRESHOLD,
    Embedder,
    TfidfLsaEmbedder,
    WordLlamaEmbedder,
    make_embedder,
    merge_groups,
    normalise_name,
    text_hash,
)
from audiosoup_widgets.analysis.textmodel import text_consistency, top_matches
from audiosoup_widgets.errors import ValidationError

NOTES = [
    "a light breeze",
    "the phone rings twice",
    "a man speaks slowly",
    "children laughing in a park",
    "keys dropped on a table",
]


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def test_wordllama_loads_offline_and_gives_unit_float32_rows(wordllama):
    assert isinstance(wordllama, Embedder)
    assert make_embedder().name == wordllama.name == "wordllama-256"
    v = wordllama.embed(NOTES + [""])
    assert v.dtype == np.float32 and v.shape == (6, 256)
    np.testing.assert_allclose(np.linalg.norm(v[:5], axis=1), 1.0, rtol=1e-5)
    assert not v[5].any()  # an empty text is a zero row, not NaN
    assert wordllama.embed([]).shape == (0, 256)


def test_wind_finds_a_breeze_sharing_no_word(wordllama):
    rows, scores = top_matches(wordllama.embed(NOTES), wordllama.embed(["wind"])[0], k=len(NOTES))
    assert rows[0] == 0
    assert not set("wind".split()) & set(NOTES[0].split())
    assert np.all(np.diff(scores) <= 0)
    # The scores are the cosine similarities, as numpy computes them.
    m = wordllama.embed(NOTES)
    q = wordllama.embed(["wind"])[0]
    np.testing.assert_allclose(scores, (m @ q)[rows], rtol=1e-6)


def test_top_matches_partial_sort_matches_a_full_sort():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(1000, 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    q = m[7]
    rows, scores = top_matches(m, q, k=10)
    full = np.argsort(-(m @ q), kind="stable")[:10]
    assert rows.tolist() == full.tolist() and rows[0] == 7
    assert top_matches(m, q, k=0)[0].size == 0
    assert len(top_matches(m, q, k=5000)[0]) == 1000


def test_tfidf_fallback_matches_scikit_learn_and_finds_spellings():
    emb = TfidfLsaEmbedder(dim=3)
    corpus = NOTES + ["windy afternoon", "wind noise on the microphone"]
    v = emb.embed(corpus)
    assert v.shape == (7, 3) and emb.name.startswith("tfidf-lsa-3-")
    rows, _ = top_matches(v, emb.embed(["wind"])[0], k=2)
    assert set(rows.tolist()) == {5, 6}
    # A tiny corpus (a few names) uses TF-IDF itself: the cosine is scikit-learn's.
    small = TfidfLsaEmbedder().fit(["dog", "dogs"])
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    ref = vectorizer.fit_transform(["dog", "dogs"]).toarray()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = small.embed(["dog", "dogs"])
    assert got[0] @ got[1] == pytest.approx(ref[0] @ ref[1], rel=1e-5)
    # Another corpus is another key: its vectors never mix with these.
    assert TfidfLsaEmbedder(dim=3).fit(corpus[:-1]).name != emb.name


def test_unknown_sentence_transformer_model_is_one_line():
    with pytest.raises(ValidationError) as err:
        make_embedder("no-such-model-here")
    assert "\n" not in str(err.value)


def test_normalised_names():
    assert normalise_name("Dog") == normalise_name("dogs") == normalise_name(" DOGS ") == "dog"
    assert normalise_name("dog_bark") == normalise_name("Dog-Bark") == "dog bark"
    assert normalise_name("buses") == "bus" and normalise_name("cities") == "city"
    assert normalise_name("glass") == "glass" and normalise_name("bus") == "bus"


def test_dog_names_merge_and_cat_stays_alone(wordllama):
    groups = merge_groups(["dog", "Dog", "dogs", "cat"], [40, 3, 2, 30], wordllama)
    assert len(groups) == 1
    assert set(groups[0].names) == {"dog", "Dog", "dogs"}
    assert groups[0].keep == "dog" and groups[0].counts == (40, 3, 2) and groups[0].total == 45
    # Counts by name give the same; with the TF-IDF fallback too.
    counts = {"dog": 40, "Dog": 3, "dogs": 2}
    by_name = merge_groups(["dog", "Dog", "dogs", "cat"], counts, TfidfLsaEmbedder())
    assert [set(g.names) for g in by_name] == [{"dog", "Dog", "dogs"}]


def test_word_order_joins_by_meaning_and_the_threshold_holds(wordllama):
    names = ["dog", "dog_bark", "barking dog", "cat"]
    groups = merge_groups(names, [5, 4, 1, 3], wordllama)
    assert [g.names for g in groups] == [("dog_bark", "barking dog")]
    assert groups[0].similarity >= MERGE_THRESHOLD
    # A lower threshold (the "dog"/"dog bark" similarity is 0.66) joins the three dog names.
    loose = merge_groups(names, [5, 4, 1, 3], wordllama, threshold=0.6)
    assert [set(g.names) for g in loose] == [{"dog", "dog_bark", "barking dog"}]
    with pytest.raises(ValidationError):
        merge_groups(names, [1], wordllama)


def test_text_model_flags_the_mislabelled_clip(wordllama):
    texts = ["a dog barks loudly"] * 8 + ["a cat meows softly"] * 8 + ["a car engine starts"] * 8
    labels: list[str | None] = ["dog"] * 8 + ["cat"] * 8 + ["car"] * 8
    labels[0] = "cat"
    labels[23] = None
    result = text_consistency(wordllama.embed(texts), labels)
    assert result.suggested[0] == "dog" and result.disagrees[0]
    assert result.disagrees.sum() == 1
    assert result.suggested[23] is None and np.isnan(result.confidence[23])
    assert result.classes == ("car", "cat", "dog")
    # Speakers known: folds keep a speaker's clips together.
    speakers = [f"s{i % 4}" for i in range(24)]
    assert text_consistency(wordllama.embed(texts), labels, speakers=speakers).grouped
    with pytest.raises(ValidationError):
        text_consistency(wordllama.embed(texts[:3]), ["a", "a", "b"])


def test_text_hash_is_stable():
    assert text_hash("wind") == text_hash("wind") != text_hash("Wind")
    assert len(text_hash("")) == 32


def test_the_default_falls_back_to_tfidf_when_wordllama_cannot_load(monkeypatch):
    import wordllama

    def broken(*args, **kwargs):
        raise OSError("bundled files missing")

    monkeypatch.setattr(wordllama.WordLlama, "load", broken)
    assert isinstance(make_embedder(), TfidfLsaEmbedder)
    with pytest.raises(ValidationError, match="WordLlama could not load its bundled model") as err:
        make_embedder("wordllama")
    assert "\n" not in str(err.value)
