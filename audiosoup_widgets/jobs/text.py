"""A dataset's texts as vectors: embedded incrementally, searched, and label names checked.

* :func:`embed_dataset` embeds the samples whose text changed since their stored vector
  (by the hash of the text), batch by batch, with progress;
* :func:`search_text` ranks a dataset's samples by how close their text is in meaning
  to a query;
* :func:`label_merge_suggestions` proposes label names that look like one
  (:func:`~audiosoup_widgets.analysis.text.merge_groups`);
* :func:`text_label_check` predicts each clip's label from its text (cross-validated)
  and marks where the text disagrees, and where the audio model's current suspects
  disagree too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..analysis.text import (
    MERGE_THRESHOLD,
    Embedder,
    MergeGroup,
    TfidfLsaEmbedder,
    make_embedder,
    merge_groups,
)
from ..analysis.text import text_hash as hash_text
from ..analysis.textmodel import MIN_CONFIDENCE, text_consistency, top_matches
from ..errors import ValidationError
from .compute import open_store

if TYPE_CHECKING:  # pragma: no cover
    from ..store import Store

__all__ = [
    "EMBED_BATCH",
    "MAX_QUERY",
    "EmbedReport",
    "TextCheck",
    "embed_dataset",
    "label_merge_suggestions",
    "prepare_embedder",
    "search_text",
    "tag_merge_suggestions",
    "text_label_check",
    "text_matrix",
]

log = logging.getLogger(__name__)

#: Texts embedded and stored per batch.
EMBED_BATCH = 8192
#: Longest search query, in characters.
MAX_QUERY = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbedReport:
    """What :func:`embed_dataset` did.

    Attributes
    ----------
    embedder : str
        The embedder's key.
    embedded : int
        Samples (re-)embedded now.
    current : int
        Samples whose stored vector was already current.
    failed : int
        Samples whose text could not be embedded (left without a vector).
    """

    embedder: str
    embedded: int
    current: int
    failed: int = 0


def prepare_embedder(store: Store, dataset: str, embedder: Embedder | str | None) -> Embedder:
    """Return an embedder ready for ``dataset``: by name, and a TF-IDF one fitted on its texts."""
    emb = embedder if embedder is not None and not isinstance(embedder, str) else make_embedder(embedder)
    if isinstance(emb, TfidfLsaEmbedder) and not emb.fitted:
        emb.fit(store.sample_texts(dataset)[1])
    return emb


def _embed_safely(emb: Embedder, texts: list[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Embed a batch; if the batch fails, text by text, so a bad text costs itself alone."""
    try:
        return emb.embed(texts), np.ones(len(texts), bool)
    except Exception:  # noqa: BLE001 - retried one by one below
        log.warning("a batch of %d texts failed to embed; embedding them one by one", len(texts))
    out = np.zeros((len(texts), emb.dim), np.float32)
    ok = np.zeros(len(texts), bool)
    for i, t in enumerate(texts):
        try:
            out[i] = emb.embed([t])[0]
            ok[i] = True
        except Exception:  # noqa: BLE001 - one bad text, logged and skipped
            log.warning("a text could not be embedded (%d characters)", len(t))
    return out, ok


def embed_dataset(
    dataset: str,
    *,
    db: Store | str | None = None,
    embedder: Embedder | str | None = None,
    batch: int = EMBED_BATCH,
    progress: Progress | None = None,
) -> EmbedReport:
    """Embed the texts of a dataset's samples that changed since their stored vectors.

    Parameters
    ----------
    dataset : str
    db : str or Store, optional
    embedder : Embedder or str, optional
        An embedder, or its name (see :func:`~audiosoup_widgets.analysis.text.make_embedder`);
        WordLlama by default.
    batch : int
        Texts embedded and written together.
    progress : callable, optional
        Called as ``progress(done, total)`` at the start and after each batch.
    """
    if batch < 1:
        raise ValidationError("batch must be 1 or more")
    store = open_store(db)
    emb = prepare_embedder(store, dataset, embedder)
    ids, texts = store.sample_texts(dataset)
    stored = store.text_hashes(dataset, emb.name)
    hashes = [hash_text(t) for t in texts]
    todo = [i for i, (sid, h) in enumerate(zip(ids.tolist(), hashes, strict=True)) if stored.get(sid) != h]
    if progress is not None:
        progress(0, len(todo))
    failed = 0
    for start in range(0, len(todo), batch):
        rows = todo[start : start + batch]
        vectors, ok = _embed_safely(emb, [texts[i] for i in rows])
        kept = [r for r, good in zip(rows, ok.tolist(), strict=True) if good]
        failed += len(rows) - len(kept)
        store.write_text_vectors(emb.name, ids[kept], [hashes[i] for i in kept], vectors[ok])
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
    return EmbedReport(emb.name, len(todo) - failed, len(ids) - len(todo), failed)


def text_matrix(
    store: Store, dataset: str, emb: Embedder
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], list[str]]:
    """Embed what changed, then return the dataset's ids, their vectors and their texts (by id)."""
    embed_dataset(dataset, db=store, embedder=emb)
    ids, texts = store.sample_texts(dataset)
    vec_ids, matrix = store.text_matrix(dataset, emb.name, dim=emb.dim)
    if not np.array_equal(vec_ids, ids):
        # A sample whose text failed to embed (or arrived meanwhile) has no row: zeros.
        full = np.zeros((len(ids), emb.dim), np.float32)
        pos = np.searchsorted(ids, vec_ids).clip(0, max(len(ids) - 1, 0))
        found = ids[pos] == vec_ids if len(ids) else np.zeros(len(vec_ids), bool)
        full[pos[found]] = matrix[found]
        matrix = full
    return ids, matrix, texts


def _check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("a search needs some text")
    if len(query) > MAX_QUERY:
        raise ValidationError(f"search text longer than {MAX_QUERY} characters")
    return query.strip()


def search_text(
    dataset: str,
    query: str,
    *,
    k: int = 20,
    db: Store | str | None = None,
    embedder: Embedder | str | None = None,
) -> list[tuple[int, float]]:
    """Return the samples whose text is closest in meaning to ``query``, best first.

    Texts that changed are embedded (and stored) first; samples without text are never
    returned.

    Parameters
    ----------
    dataset : str
    query : str
        A few words ("wind" also finds "a light breeze").
    k : int
        At most this many.
    db : str or Store, optional
    embedder : Embedder or str, optional
        WordLlama by default.

    Returns
    -------
    list of (int, float)
        ``(sample_id, score)`` pairs, the score being the cosine similarity (-1 to 1).
    """
    query = _check_query(query)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValidationError("k must be a positive integer")
    store = open_store(db)
    emb = prepare_embedder(store, dataset, embedder)
    ids, matrix, texts = text_matrix(store, dataset, emb)
    has_text = np.array([bool(t.strip()) for t in texts], bool)
    rows, scores = top_matches(matrix, emb.embed([query])[0], k=k, keep=has_text)
    return [(int(ids[r]), round(float(s), 6)) for r, s in zip(rows, scores, strict=True)]


def label_merge_suggestions(
    dataset: str,
    *,
    db: Store | str | None = None,
    embedder: Embedder | str | None = None,
    threshold: float = MERGE_THRESHOLD,
) -> list[MergeGroup]:
    """Return groups of a dataset's label names that look like one, with their sample counts.

    "dog", "Dog" and "dogs" are one group; "cat" is in none. Names join when equal
    after folding case, separators and a simple plural, or when their embeddings are at
    least ``threshold`` similar (see :data:`~audiosoup_widgets.analysis.text.MERGE_THRESHOLD`).

    Returns
    -------
    list of MergeGroup
        Largest total first; in each, the most used name first (the one to keep).
    """
    store = open_store(db)
    # A label no clip carries any more (the rest of a merge) is not proposed again.
    labels = [lab for lab in store.list_labels(dataset) if lab.n_samples > 0]
    emb = embedder if embedder is not None and not isinstance(embedder, str) else make_embedder(embedder)
    return merge_groups(
        [lab.name for lab in labels], [lab.n_samples for lab in labels], emb, threshold=threshold
    )


def tag_merge_suggestions(
    dataset: str,
    *,
    db: Store | str | None = None,
    embedder: Embedder | str | None = None,
    threshold: float = MERGE_THRESHOLD,
) -> list[MergeGroup]:
    """Return groups of a dataset's tags that look like one ("noisy", "Noisy", "noise"), with counts.

    The same rule as :func:`label_merge_suggestions`; the counts are clips carrying each tag.
    """
    store = open_store(db)
    words = store.word_counts("tag", dataset)
    emb = embedder if embedder is not None and not isinstance(embedder, str) else make_embedder(embedder)
    return merge_groups([w for w, _ in words], [c for _, c in words], emb, threshold=threshold)


@dataclass(frozen=True)
class TextCheck:
    """One clip's label as its text predicts it.

    Attributes
    ----------
    sample_id : int
    label : str
        Its current label.
    suggested : str
        The label its text predicts (out of fold).
    confidence : float
        That prediction's probability.
    strong : bool
        The audio model's latest run suspects the clip too.
    """

    sample_id: int
    label: str
    suggested: str
    confidence: float
    strong: bool


def text_label_check(
    dataset: str,
    *,
    db: Store | str | None = None,
    embedder: Embedder | str | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> dict[int, TextCheck]:
    """Return the clips whose text disagrees with their label, by sample id.

    A logistic regression on the text embeddings, cross-validated (folds grouped by
    speaker when known), predicts each labelled clip with text; a prediction that
    differs from the label with at least ``min_confidence`` marks the clip, and
    ``strong`` says the audio model's current suspects include it too.

    Raises
    ------
    ValidationError
        Fewer than two labels with two texts each.
    """
    store = open_store(db)
    emb = prepare_embedder(store, dataset, embedder)
    ids, matrix, texts = text_matrix(store, dataset, emb)
    col_ids, labels, speakers = store.label_speaker_columns(dataset)
    if not np.array_equal(col_ids, ids):  # a sample arrived between the two reads
        keep = np.isin(ids, col_ids)
        ids, matrix, texts = ids[keep], matrix[keep], [t for t, k in zip(texts, keep, strict=True) if k]
        at = {int(s): i for i, s in enumerate(col_ids)}
        labels = [labels[at[int(s)]] for s in ids]
        speakers = [speakers[at[int(s)]] for s in ids]
    has_text = np.array([bool(t.strip()) for t in texts], bool)
    result = text_consistency(
        matrix, labels, speakers=speakers, has_text=has_text, min_confidence=min_confidence
    )
    suspects = store.current_suspect_ids(dataset)
    out: dict[int, TextCheck] = {}
    for i in np.flatnonzero(result.disagrees).tolist():
        sid = int(ids[i])
        confidence = round(float(result.confidence[i]), 6)
        out[sid] = TextCheck(sid, str(labels[i]), str(result.suggested[i]), confidence, sid in suspects)
    return out
