"""TextService: a dataset's texts searched by meaning, label names merged, and text-label checks.

* search: the query's embedding against a cached matrix of the dataset's text vectors
  (one matrix-vector product); the matrix is built once (texts that changed are
  embedded and stored first, so a new kernel reads stored vectors) and dropped when the
  sample service reports a change (an edit, a relabel, a reload);
* the grid's "by meaning" filter: :meth:`TextService.ranked_ids`, the
  :data:`SEMANTIC_LIMIT` closest clips with text, which the sample service turns into
  a ranked query (the other filters still apply);
* label hygiene: near-duplicate label names as merge groups, and a merge applied as a
  bulk relabel with history (reason :data:`MERGE_REASON`);
* text-label consistency: where a cross-validated text model disagrees with a clip's
  label, and whether the audio model suspects the clip too ("strong").
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..analysis.text import Embedder, MergeGroup, text_hash
from ..analysis.textmodel import top_matches
from ..errors import ValidationError
from ..jobs.text import (
    MAX_QUERY,
    TextCheck,
    label_merge_suggestions,
    prepare_embedder,
    tag_merge_suggestions,
    text_label_check,
    text_matrix,
)
from ..store import SampleQuery, Store
from ..store.records import AnnotationBatchRecord, RelabelRecord
from .relabel import RelabelService
from .samples import SampleService, as_sample_id

__all__ = ["MERGE_REASON", "SEMANTIC_LIMIT", "TextCheck", "TextService", "MergeGroup", "MAX_QUERY"]

#: The reason recorded in the history of a merge's relabels.
MERGE_REASON = "merge labels"
#: Clips a "by meaning" grid filter keeps: the closest texts, best first.
SEMANTIC_LIMIT = 5000


#: Changed texts re-embedded into a cached matrix in place; more, and it is read again.
PATCH_LIMIT = 2000


@dataclass
class _Matrix:
    """A dataset's vectors as last built: every sample (by id), its text's hash, whether it has text."""

    generation: int
    ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    hashes: list[str]
    has_text: npt.NDArray[np.bool_]


def _has_text(texts: list[str]) -> npt.NDArray[np.bool_]:
    return np.fromiter((bool(t.strip()) for t in texts), bool, len(texts))


class TextService:
    """Semantic search, label merges and text-label checks over one store.

    Parameters
    ----------
    store : Store
    samples : SampleService
        Its ``generation`` says when cached vectors are stale; it gets this service's
        ranking for "by meaning" filters.
    relabel : RelabelService
        Applies merges.
    text_model : str, optional
        ``"wordllama"`` (the default), ``"tfidf"``, or a sentence-transformers model name.
    """

    def __init__(
        self, store: Store, samples: SampleService, relabel: RelabelService, *, text_model: str | None = None
    ) -> None:
        self._store = store
        self._samples = samples
        self._relabel = relabel
        self._model_name = text_model
        self._embedders: dict[str, Embedder] = {}
        self._matrices: dict[str, _Matrix] = {}
        self._merges: dict[str, tuple[int, list[MergeGroup]]] = {}
        self._checks: dict[str, tuple[int, dict[int, TextCheck]]] = {}
        # One build at a time: a dashboard's background search and its grid may ask together.
        self._lock = threading.RLock()
        samples.ranker = self.ranked_ids

    def embedder(self, dataset: str) -> Embedder:
        """Return the dataset's embedder (loaded once; a TF-IDF one is fitted on each dataset's texts)."""
        key = dataset if self._model_name == "tfidf" else "*"
        with self._lock:
            if key not in self._embedders:
                self._embedders[key] = prepare_embedder(self._store, dataset, self._model_name)
            return self._embedders[key]

    def _matrix(self, dataset: str) -> _Matrix:
        with self._lock:
            gen = self._samples.generation
            cached = self._matrices.get(dataset)
            if cached is not None and cached.generation == gen:
                return cached
            emb = self.embedder(dataset)
            built = self._patched(dataset, emb, cached, gen) if cached is not None else None
            if built is None:
                ids, vectors, texts = text_matrix(self._store, dataset, emb)
                built = _Matrix(gen, ids, vectors, [text_hash(t) for t in texts], _has_text(texts))
            self._matrices[dataset] = built
            return built

    def _patched(self, dataset: str, emb: Embedder, old: _Matrix, gen: int) -> _Matrix | None:
        """Bring a cached matrix up to date by re-embedding the texts that changed (None: rebuild).

        After an edit, the texts are read again and hashed (cheap); only those whose hash
        moved are embedded and stored, so a label edit costs no re-read of the vectors.
        """
        ids, texts = self._store.sample_texts(dataset)
        if not np.array_equal(ids, old.ids):
            return None  # clips added or removed: read everything again
        hashes = [text_hash(t) for t in texts]
        changed = [i for i, (h, o) in enumerate(zip(hashes, old.hashes, strict=True)) if h != o]
        if not changed:
            return replace(old, generation=gen)
        if len(changed) > PATCH_LIMIT:
            return None
        try:
            fresh = emb.embed([texts[i] for i in changed])
        except Exception:  # noqa: BLE001 - the full path embeds text by text
            return None
        self._store.write_text_vectors(emb.name, ids[changed], [hashes[i] for i in changed], fresh)
        vectors = old.vectors.copy()
        vectors[changed] = fresh
        return _Matrix(gen, ids, vectors, hashes, _has_text(texts))

    def prepare(self, dataset: str) -> int:
        """Embed what changed and cache the dataset's vectors; returns the clips with text."""
        return int(np.count_nonzero(self._matrix(dataset).has_text))

    def search(self, dataset: str, query: str, *, k: int = 20) -> list[tuple[int, float]]:
        """Return ``(sample_id, cosine similarity)`` of the ``k`` texts closest to ``query``, best first."""
        ids, scores = self._top(dataset, query, k)
        return [(sid, round(s, 6)) for sid, s in zip(ids.tolist(), scores.tolist(), strict=True)]

    def ranked_ids(self, dataset: str, query: str) -> tuple[int, ...]:
        """Return the :data:`SEMANTIC_LIMIT` clips whose text is closest to ``query``, best first."""
        return tuple(self._top(dataset, query, SEMANTIC_LIMIT)[0].tolist())

    def _top(self, dataset: str, query: str, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("a search needs some text")
        if len(query) > MAX_QUERY:
            raise ValidationError(f"search text longer than {MAX_QUERY} characters")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValidationError("k must be a positive integer")
        m = self._matrix(dataset)
        q = self.embedder(dataset).embed([query.strip()])[0]
        rows, scores = top_matches(m.vectors, q, k=k, keep=m.has_text)
        return m.ids[rows], scores

    # -- label names -------------------------------------------------------------------

    def merge_suggestions(self, dataset: str) -> list[MergeGroup]:
        """Return groups of label names that look like one (cached until a change)."""
        with self._lock:
            gen = self._samples.generation
            cached = self._merges.get(dataset)
            if cached is not None and cached[0] == gen:
                return cached[1]
            groups = label_merge_suggestions(dataset, db=self._store, embedder=self.embedder(dataset))
            self._merges[dataset] = (gen, groups)
            return groups

    def apply_merge(
        self, dataset: str, names: Sequence[str], *, keep: str, reviewer: str
    ) -> RelabelRecord | None:
        """Relabel every clip of ``names`` (other than ``keep``) as ``keep``, with history.

        One bulk relabel (its batch can be undone in one step) with the reason
        :data:`MERGE_REASON`. Returns None when no clip carries the other names.

        Raises
        ------
        ValidationError
            ``keep`` not among ``names``, or a name the dataset does not have.
        """
        names = list(dict.fromkeys(names))
        if keep not in names:
            raise ValidationError("the label to keep must be one of the merged names")
        known = self._samples.label_names(dataset)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValidationError(f"“{unknown[0]}” is not a label of this dataset")
        others = tuple(n for n in names if n != keep)
        if not others:
            return None
        seen_at = dt.datetime.now(dt.UTC)
        ids = self._store.sample_ids(SampleQuery(dataset, labels=others))
        if not ids:
            return None
        return self._relabel.relabel(
            dataset, ids, keep, reviewer=reviewer, seen_at=seen_at, reason=MERGE_REASON
        )

    def tag_merge_suggestions(self, dataset: str) -> list[MergeGroup]:
        """Return groups of the dataset's tags that look like one (cached until a change)."""
        with self._lock:
            key = f"tags\x00{dataset}"
            gen = self._samples.generation
            cached = self._merges.get(key)
            if cached is not None and cached[0] == gen:
                return cached[1]
            groups = tag_merge_suggestions(dataset, db=self._store, embedder=self.embedder(dataset))
            self._merges[key] = (gen, groups)
            return groups

    def apply_tag_merge(
        self, dataset: str, names: Sequence[str], *, keep: str, reviewer: str
    ) -> AnnotationBatchRecord | None:
        """Give every clip tagged with one of ``names`` the tag ``keep`` instead, as one batch.

        The additions and removals share a batch id, so the annotation service's
        ``undo_batch`` reverts the merge in one step. Returns None when no clip carries
        the other tags.

        Raises
        ------
        ValidationError
            ``keep`` not among ``names``.
        """
        names = list(dict.fromkeys(names))
        if keep not in names:
            raise ValidationError("the tag to keep must be one of the merged tags")
        others = tuple(n for n in names if n != keep)
        ids = self._store.sample_ids(SampleQuery(dataset, tags=others)) if others else []
        if not ids:
            return None
        added = self._store.mark_samples("tag", ids, [keep], reviewer=reviewer, dataset=dataset)
        removed = self._store.mark_samples(
            "tag", ids, others, reviewer=reviewer, dataset=dataset, remove=True, batch_id=added.batch_id
        )
        self._samples.forget()  # the tag filter's counts and the texts changed
        return AnnotationBatchRecord(
            batch_id=removed.batch_id,
            kind="tag",
            changed=added.changed + removed.changed,
            unchanged=added.unchanged + removed.unchanged,
        )

    # -- text against labels -----------------------------------------------------------

    def consistency(self, dataset: str) -> dict[int, TextCheck]:
        """Return the clips whose text disagrees with their label, by id.

        The text model's verdicts are cached until a change; ``strong`` is read afresh
        from the audio model's current suspects (a fit or a decision moves them).
        """
        with self._lock:
            gen = self._samples.generation
            cached = self._checks.get(dataset)
            if cached is None or cached[0] != gen:
                checks = text_label_check(dataset, db=self._store, embedder=self.embedder(dataset))
                cached = self._checks[dataset] = (gen, checks)
        suspects = self._store.current_suspect_ids(dataset)
        return {sid: replace(c, strong=sid in suspects) for sid, c in cached[1].items()}

    def checks(self, dataset: str, ids: Iterable[object], *, compute: bool = True) -> dict[int, TextCheck]:
        """Return the text disagreements among ``ids`` (a page of cards), by id.

        With ``compute=False``, only what the text model already found since the last
        change (nothing if it has not run): a page of cards never waits for a fit.
        """
        wanted = {as_sample_id(i) for i in ids}
        if not compute:
            cached = self._checks.get(dataset)
            if cached is None or cached[0] != self._samples.generation or not wanted & set(cached[1]):
                return {}
        every = self.consistency(dataset)
        return {sid: every[sid] for sid in wanted if sid in every}
