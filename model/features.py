"""Featurization shared by all heads: lemma n-gram TF-IDF next to a dense mean of word vectors.

The training corpus is small and written by the project; real posts use words it never saw. The
lemma n-grams carry what the corpus knows, the word vectors (navec, shipped inside natasha) carry
similarity to words it does not (`поликлиника` ~ `больница`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from model.doc import Doc

NUMBER = "<num>"
WORD_KINDS = frozenset({"word", "hashtag"})
EMBEDDING_PREFIX = "emb:"
CHAR_PREFIX = "chars:"


def lemma_sequence(doc: Doc) -> list[str]:
    """The words of a post as their most probable lemmas; numbers collapse to one token, emoji stay."""
    out: list[str] = []
    for token, lemmas in zip(doc.tokens, doc.lemmas, strict=True):
        if token.kind in WORD_KINDS:
            out.append(lemmas[0] if lemmas else token.text)
        elif token.kind == "number":
            out.append(NUMBER)
        elif token.kind == "emoji":
            out.append(token.text)
    return out


def unigrams_and_bigrams(lemmas: list[str]) -> list[str]:
    """The TF-IDF analyzer: lemmas are already tokens, add adjacent pairs."""
    return lemmas + [f"{a} {b}" for a, b in pairwise(lemmas)]


def char_ngrams_of(word: str) -> tuple[str, ...]:
    """Character 2..5-grams of one word padded with spaces."""
    padded = f" {word} "
    return tuple(padded[i : i + n] for n in range(2, 6) for i in range(len(padded) - n + 1))


# Fitting counts every lemma occurrence's n-grams: cached there, since words repeat. Prediction goes
# through CharGrams, which keeps each lemma's vocabulary indices instead of its n-gram strings.
word_char_ngrams = lru_cache(maxsize=100_000)(char_ngrams_of)


def char_ngrams(lemmas: list[str]) -> list[str]:
    """The char TF-IDF analyzer: n-grams inside each lemma, so a misspelled or unknown word
    still shares most of its features with the word it stands for."""
    out: list[str] = []
    for lemma in lemmas:
        if lemma != NUMBER:
            out.extend(word_char_ngrams(lemma))
    return out


class WordVectors:
    """natasha's navec news embedding, loaded on first use, with the vectors of the words seen so
    far copied into one matrix so that a batch's means are one sparse product.

    Not pickled: the vectors ship with the natasha package, so a bundle refers to them by package
    version and re-loads them after unpickling.
    """

    dim = 300
    max_words = 20_000  # 24 MB of float32; when full, the cache starts over

    def __init__(self) -> None:
        self._emb: Any = None
        self._row: dict[str, int] = {}
        self._matrix = np.zeros((1024, self.dim), dtype=np.float32)
        self._n = 0
        self._generation = 0  # bumped when the cache starts over
        # The API scores requests on several threads; the matrix grows and is reused in place.
        self._lock = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def _load(self) -> Any:
        if self._emb is None:
            from natasha import NewsEmbedding

            self._emb = NewsEmbedding()
        return self._emb

    def row(self, word: str, lemma: str) -> int:
        """Row of the word's vector in the matrix (the surface form, else the lemma); -1 if unknown.

        Callers hold the lock: a row number is only meaningful while the cache does not start over.
        """
        row = self._row.get(word)
        if row is not None:
            return row
        emb = self._load()
        row = -1
        for candidate in (word, lemma):
            if candidate in emb:
                if self._n == self.max_words:
                    self._row.clear()
                    self._n = 0
                    self._generation += 1
                if self._n == len(self._matrix):
                    grown = min(2 * len(self._matrix), self.max_words)
                    self._matrix = np.resize(self._matrix, (grown, self.dim))
                self._matrix[self._n] = emb[candidate]
                row = self._n
                self._n += 1
                break
        self._row[word] = row
        return row

    def vector(self, word: str, lemma: str) -> np.ndarray | None:
        with self._lock:
            row = self.row(word, lemma)
            return self._matrix[row].copy() if row >= 0 else None

    def _means_uncached(self, docs: Sequence[Doc]) -> np.ndarray:
        """The slow path for a batch with more distinct words than the cache holds."""
        emb = self._load()
        out = np.zeros((len(docs), self.dim), dtype=np.float32)
        for i, doc in enumerate(docs):
            total = np.zeros(self.dim, dtype=np.float32)
            for token, lemmas in zip(doc.tokens, doc.lemmas, strict=True):
                if token.kind in WORD_KINDS and len(token.text) > 1:
                    for candidate in (token.text, lemmas[0] if lemmas else token.text):
                        if candidate in emb:
                            total += emb[candidate]
                            break
            norm = float(np.linalg.norm(total))
            out[i] = total / norm if norm > 0 else total
        return out

    def means(self, docs: Sequence[Doc]) -> np.ndarray:
        """Per post, the mean vector of its words, L2-normalized; zeros when no word is known."""
        with self._lock:
            return self._means(docs)

    def _means(self, docs: Sequence[Doc]) -> np.ndarray:
        generation = self._generation
        rows: list[int] = []
        cols: list[int] = []
        for i, doc in enumerate(docs):
            for token, lemmas in zip(doc.tokens, doc.lemmas, strict=True):
                if token.kind in WORD_KINDS and len(token.text) > 1:
                    col = self.row(token.text, lemmas[0] if lemmas else token.text)
                    if col >= 0:
                        rows.append(i)
                        cols.append(col)
        if generation != self._generation:  # the cache started over mid-batch: rows were reused
            return self._means_uncached(docs)
        counts = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(docs), max(self._n, 1))
        )
        # the direction of the sum is the direction of the mean
        sums = np.asarray(counts @ self._matrix[: max(self._n, 1)], dtype=np.float32)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return sums / np.where(norms > 0, norms, 1.0)


class CharGrams:
    """Char n-gram TF-IDF of lemmas with a per-lemma cache of vocabulary indices.

    The same numbers as the fitted `TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True)`
    (l2 norm) it wraps, without building and counting every n-gram string of every post again.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        self._cache: dict[str, np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"vectorizer": self.vectorizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["vectorizer"])  # type: ignore[misc]

    def _indices(self, lemma: str) -> np.ndarray:
        hit = self._cache.get(lemma)
        if hit is None:
            vocab = self.vectorizer.vocabulary_
            hit = np.fromiter((vocab[g] for g in char_ngrams_of(lemma) if g in vocab), dtype=np.int32)
            if len(self._cache) < 300_000:
                self._cache[lemma] = hit
        return hit

    def transform(self, seqs: Sequence[list[str]]) -> sp.csr_matrix:
        idf = self.vectorizer.idf_.astype(np.float32)
        indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        for row, seq in enumerate(seqs):
            parts = [self._indices(lemma) for lemma in seq if lemma != NUMBER]
            idx = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            cols, counts = np.unique(idx, return_counts=True)
            values = (1.0 + np.log(counts.astype(np.float32))) * idf[cols]
            norm = float(np.sqrt(values @ values))
            indices.append(cols)
            data.append(values / norm if norm > 0 else values)
            indptr[row + 1] = indptr[row] + len(cols)
        return sp.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0, np.float32),
             np.concatenate(indices) if indices else np.zeros(0, np.int64), indptr),
            shape=(len(seqs), len(self.vectorizer.vocabulary_)),
        )


class Featurizer(TransformerMixin, BaseEstimator):
    """Docs -> sparse rows: TF-IDF over lemma 1-2-grams, TF-IDF over char 2-5-grams of the lemmas
    (`char_weight` 0 turns them off), then `embedding_weight` * the mean word vector."""

    def __init__(
        self,
        min_df: int = 1,
        char_min_df: int = 2,
        max_features: int | None = 60_000,
        char_weight: float = 1.0,
        embedding_weight: float = 0.6,
    ) -> None:
        self.min_df = min_df
        self.char_min_df = char_min_df
        self.max_features = max_features
        self.char_weight = char_weight
        self.embedding_weight = embedding_weight

    def fit(self, docs: Sequence[Doc], y: Any = None) -> Featurizer:
        seqs = [lemma_sequence(d) for d in docs]
        self.words_ = TfidfVectorizer(
            analyzer=unigrams_and_bigrams, min_df=self.min_df, max_features=self.max_features,
            sublinear_tf=True, dtype=np.float32,
        ).fit(seqs)
        self.chars_ = None
        if self.char_weight:
            self.chars_ = CharGrams(
                TfidfVectorizer(
                    analyzer=char_ngrams, min_df=self.char_min_df, max_features=self.max_features,
                    sublinear_tf=True, dtype=np.float32,
                ).fit(seqs)
            )
        # the terms cut by min_df / max_features: only for introspection, and often the largest part
        # of a fitted vectorizer (scikit-learn says it may be deleted before pickling)
        for vectorizer in (self.words_, self.chars_.vectorizer if self.chars_ else None):
            if vectorizer is not None and hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
        self.vectors_ = WordVectors()
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        seqs = [lemma_sequence(d) for d in docs]
        blocks = [self.words_.transform(seqs)]
        if self.chars_ is not None:
            blocks.append(self.chars_.transform(seqs) * self.char_weight)
        if self.embedding_weight:
            blocks.append(sp.csr_matrix(self.vectors_.means(docs) * self.embedding_weight))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.words_.get_feature_names_out())
        if self.chars_ is not None:
            names += [f"{CHAR_PREFIX}{g}" for g in self.chars_.vectorizer.get_feature_names_out()]
        if self.embedding_weight:
            names += [f"{EMBEDDING_PREFIX}{i}" for i in range(WordVectors.dim)]
        return np.asarray(names, dtype=object)
