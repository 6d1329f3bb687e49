"""Text embeddings of notes, transcripts and label names, and near-duplicate label names.

Three embedders share one small protocol (:class:`Embedder`: a ``name``, a ``dim`` and
``embed(texts)`` returning float32 rows of unit length, so a dot product is the cosine
similarity):

* :class:`WordLlamaEmbedder` (the default): WordLlama's static 256-dimensional model,
  loaded from the files inside its own wheel, never downloaded;
* :class:`TfidfLsaEmbedder` (the fallback, used when WordLlama cannot load, or chosen):
  character n-gram TF-IDF reduced by latent semantic analysis (truncated SVD), fitted on
  the texts it is given first;
* :class:`SentenceTransformerEmbedder`: a sentence-transformers model named by the user,
  imported only when chosen.

:func:`merge_groups` proposes label (or tag) names that mean the same thing as one group:
names equal after normalisation (case, separators, a simple plural), and names whose
embeddings are at least :data:`MERGE_THRESHOLD` similar.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import ValidationError

__all__ = [
    "EMBEDDERS",
    "MERGE_THRESHOLD",
    "Embedder",
    "MergeGroup",
    "SentenceTransformerEmbedder",
    "TfidfLsaEmbedder",
    "WordLlamaEmbedder",
    "make_embedder",
    "merge_groups",
    "normalise_name",
    "text_hash",
]

#: The embedders :func:`make_embedder` knows by name (any other name is a sentence-transformers model).
EMBEDDERS = ("wordllama", "tfidf")
#: Cosine similarity at or above which two normalised names are proposed as one. With
#: WordLlama, "dog"/"Dog" is 0.88 and "dog"/"dogs" 0.84 (both also equal after
#: normalisation), "dog bark"/"barking dog" 0.99, "dog"/"dog bark" 0.66 and "dog"/"cat"
#: 0.14: 0.8 joins spellings and word orders of one name but not a name and a narrower one.
MERGE_THRESHOLD = 0.8
#: Texts embedded per call of the underlying model.
BATCH = 4096

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    Attributes
    ----------
    name : str
        The key stored with the vectors: two embedders with one name give the same
        vector for the same text.
    dim : int
        Vector length.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text, shape ``(len(texts), dim)``."""
        ...


def _normalised(x: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    out = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def text_hash(text: str) -> str:
    """Return the stored hash of a text (32 hex digits of its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class WordLlamaEmbedder:
    """WordLlama's bundled static model (256 dimensions), loaded offline.

    ``WordLlama.load()`` alone looks for the tokenizer where the wheel does not put it
    and then tries to download it; the wheel's own folder as ``cache_dir`` with
    downloads disabled loads the bundled files.

    Raises
    ------
    ValidationError
        If wordllama is not installed or its bundled files cannot be loaded.
    """

    name = "wordllama-256"
    dim = 256

    def __init__(self) -> None:
        try:
            from pathlib import Path

            import wordllama
            from wordllama import WordLlama

            self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        except Exception as exc:  # noqa: BLE001 - any failure means "use the fallback"
            raise ValidationError(f"WordLlama could not load its bundled model: {exc}") from exc

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one unit-length float32 row per text."""
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        # Its own normalisation divides by zero for an empty text; ours leaves a zero row.
        out = self._model.embed(list(texts), norm=False, batch_size=BATCH)
        return _normalised(np.asarray(out))


class TfidfLsaEmbedder:
    """Character n-gram TF-IDF and latent semantic analysis, fitted on a corpus.

    It knows the words of its corpus only by their letters ("wind" finds "winds" and
    "windy", not "breeze"). Fitted on the first texts it embeds (or :meth:`fit`);
    ``name`` carries a fingerprint of the fitted corpus, so vectors of another fit are
    never mixed with these.

    Parameters
    ----------
    dim : int
        Components kept (fewer when the corpus is smaller).
    """

    def __init__(self, dim: int = 128) -> None:
        if dim < 1:
            raise ValidationError("the TF-IDF embedding needs at least one dimension")
        self._want = dim
        self.dim = dim
        self.name = "tfidf-lsa"
        self._tfidf: Any = None
        self._svd: Any = None

    @property
    def fitted(self) -> bool:
        """Whether the model has been fitted."""
        return self._tfidf is not None

    def fit(self, texts: Sequence[str]) -> TfidfLsaEmbedder:
        """Fit the vocabulary and the components on ``texts``; returns self."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        corpus = [t for t in texts if t.strip()] or ["empty"]
        tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True, sublinear_tf=True)
        x = tfidf.fit_transform(corpus)
        k = min(self._want, x.shape[0] - 1, x.shape[1] - 1)
        self._tfidf = tfidf
        # Too few texts for a decomposition (a handful of label names): TF-IDF itself.
        self._svd = TruncatedSVD(n_components=k, random_state=0).fit(x) if k >= 2 else None
        self.dim = k if self._svd is not None else x.shape[1]
        digest = hashlib.sha256("\x00".join(sorted(set(corpus))).encode("utf-8", "surrogatepass"))
        self.name = f"tfidf-lsa-{self.dim}-{digest.hexdigest()[:12]}"
        return self

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one unit-length float32 row per text (fitting on ``texts`` first if unfitted)."""
        if not self.fitted:
            self.fit(texts)
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        x = self._tfidf.transform(list(texts))
        dense = self._svd.transform(x) if self._svd is not None else x.toarray()
        return _normalised(dense)


class SentenceTransformerEmbedder:
    """A sentence-transformers model named by the user (imported only here).

    Parameters
    ----------
    model : str
        A model name or folder that sentence-transformers can load without a download.

    Raises
    ------
    ValidationError
        If sentence-transformers is not installed or the model cannot be loaded.
    """

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ValidationError(
                f"text model {model!r} needs sentence-transformers: pip install sentence-transformers"
            ) from exc
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # noqa: BLE001 - one line for any loading failure
            raise ValidationError(f"sentence-transformers could not load {model!r}: {exc}") from exc
        dim = self._model.get_sentence_embedding_dimension()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])
        self.name = f"st:{model}"[:200]

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one unit-length float32 row per text."""
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        return _normalised(np.asarray(self._model.encode(list(texts), batch_size=256)))


def make_embedder(name: str | None = None) -> Embedder:
    """Return an embedder by name: WordLlama (the default, the TF-IDF one if it cannot load).

    Parameters
    ----------
    name : str, optional
        ``"wordllama"`` (also the default), ``"tfidf"``, or a sentence-transformers
        model name or folder.
    """
    if name is None or name == "wordllama":
        try:
            return WordLlamaEmbedder()
        except ValidationError:
            if name == "wordllama":
                raise
            return TfidfLsaEmbedder()
    if name == "tfidf":
        return TfidfLsaEmbedder()
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("a text model name must be a non-empty string")
    return SentenceTransformerEmbedder(name)


# -- label-name hygiene --------------------------------------------------------

_SEPARATORS = re.compile(r"[\s_\-./:]+")


def normalise_name(name: str) -> str:
    """Return a name folded for comparison: lower case, separators as spaces, simple plurals cut.

    Each word loses a plural ``s`` ("dogs" -> "dog", "buses" -> "bus", "cities" ->
    "city") unless it ends in "ss", "us" or "is" or is three letters or fewer.
    """
    words = _SEPARATORS.sub(" ", name.casefold()).split()
    return " ".join(_singular(w) for w in words)


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


@dataclass(frozen=True)
class MergeGroup:
    """Names proposed as one.

    Attributes
    ----------
    names : tuple of str
        Most used first (on a tie, a name already folded, then by name); the first is the
        suggested name to keep.
    counts : tuple of int
        Each name's count, in the same order.
    similarity : float
        The lowest embedding similarity between two of the group's normalised names
        (1.0 when they all normalise to the same name).
    """

    names: tuple[str, ...]
    counts: tuple[int, ...]
    similarity: float

    @property
    def keep(self) -> str:
        """The suggested name to keep (the most used)."""
        return self.names[0]

    @property
    def total(self) -> int:
        """Samples of the whole group."""
        return sum(self.counts)


def merge_groups(
    names: Sequence[str],
    counts: Sequence[int] | Mapping[str, int] | None,
    embedder: Embedder,
    *,
    threshold: float = MERGE_THRESHOLD,
) -> list[MergeGroup]:
    """Group names that look like one: equal when normalised, or similar in meaning.

    Names are first folded by :func:`normalise_name`; the distinct folded names are
    embedded and linked when their cosine similarity is at least ``threshold`` (single
    linkage). Only groups of two or more names are returned, largest total first.

    Parameters
    ----------
    names : sequence of str
        Distinct names (labels, tags).
    counts : sequence of int or mapping, optional
        Each name's count (by position, or by name); missing counts are 0.
    embedder : Embedder
    threshold : float
        Similarity at which two folded names join (see :data:`MERGE_THRESHOLD`).

    Returns
    -------
    list of MergeGroup
    """
    if not 0.0 < threshold <= 1.0:
        raise ValidationError("the merge threshold must be in (0, 1]")
    names = list(dict.fromkeys(names))
    if isinstance(counts, Mapping):
        count_of = {n: int(counts.get(n, 0)) for n in names}
    elif counts is None:
        count_of = dict.fromkeys(names, 0)
    else:
        if len(counts) != len(names):
            raise ValidationError("one count per name is needed")
        count_of = {n: int(c) for n, c in zip(names, counts, strict=True)}
    folded = [normalise_name(n) for n in names]
    keys = list(dict.fromkeys(f for f in folded if f))
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sims = np.eye(len(keys), dtype=np.float32)
    if len(keys) > 1:
        vectors = embedder.embed(keys)
        sims = vectors @ vectors.T
        a, b = np.nonzero(np.triu(sims >= threshold, k=1))
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            parent[root(i)] = root(j)
    members: dict[int, list[str]] = {}
    key_index = {k: i for i, k in enumerate(keys)}
    for name, f in zip(names, folded, strict=True):
        if f:
            members.setdefault(root(key_index[f]), []).append(name)
    groups = []
    for group in members.values():
        if len(group) < 2:
            continue
        # Most used first; on a tie, the name already in its folded form ("dog" before "Dog").
        group.sort(key=lambda n: (-count_of[n], n != normalise_name(n), n))
        idx = sorted({key_index[normalise_name(n)] for n in group})
        low = float(sims[np.ix_(idx, idx)].min()) if len(idx) > 1 else 1.0
        groups.append(MergeGroup(tuple(group), tuple(count_of[n] for n in group), round(min(low, 1.0), 4)))
    groups.sort(key=lambda g: (-g.total, g.keep))
    return groups
