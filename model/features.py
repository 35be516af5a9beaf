"""Featurization shared by all heads: lemma n-gram TF-IDF next to a dense mean of word vectors.

The training corpus is small and written by the project; real posts use words it never saw. The
lemma n-grams carry what the corpus knows, the word vectors (navec, shipped inside natasha) carry
similarity to words it does not (`поликлиника` ~ `больница`).
"""

from __future__ import annotations

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


@lru_cache(maxsize=300_000)
def word_char_ngrams(word: str) -> tuple[str, ...]:
    """Character 2..5-grams of one word padded with spaces; cached, since words repeat."""
    padded = f" {word} "
    return tuple(padded[i : i + n] for n in range(2, 6) for i in range(len(padded) - n + 1))


def char_ngrams(lemmas: list[str]) -> list[str]:
    """The char TF-IDF analyzer: n-grams inside each lemma, so a misspelled or unknown word
    still shares most of its features with the word it stands for."""
    out: list[str] = []
    for lemma in lemmas:
        if lemma != NUMBER:
            out.extend(word_char_ngrams(lemma))
    return out


class WordVectors:
    """natasha's navec news embedding, loaded on first use and cached per word.

    Not pickled: the vectors ship with the natasha package, so a bundle refers to them by package
    version and re-loads them after unpickling.
    """

    dim = 300

    def __init__(self) -> None:
        self._emb: Any = None
        self._cache: dict[str, np.ndarray | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def _load(self) -> Any:
        if self._emb is None:
            from natasha import NewsEmbedding

            self._emb = NewsEmbedding()
        return self._emb

    def vector(self, word: str, lemma: str) -> np.ndarray | None:
        key = word
        if key in self._cache:
            return self._cache[key]
        emb = self._load()
        vec = None
        for candidate in (word, lemma):
            if candidate in emb:
                vec = np.asarray(emb[candidate], dtype=np.float32)
                break
        if len(self._cache) < 500_000:
            self._cache[key] = vec
        return vec

    def mean(self, doc: Doc) -> np.ndarray:
        """Mean vector of the post's words, L2-normalized; zeros when no word is known."""
        vectors = [
            v
            for token, lemmas in zip(doc.tokens, doc.lemmas, strict=True)
            if token.kind in WORD_KINDS
            and len(token.text) > 1
            and (v := self.vector(token.text, lemmas[0] if lemmas else token.text)) is not None
        ]
        if not vectors:
            return np.zeros(self.dim, dtype=np.float32)
        mean = np.mean(vectors, axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else mean


class Featurizer(TransformerMixin, BaseEstimator):
    """Docs -> sparse rows: TF-IDF over lemma 1-2-grams, TF-IDF over char 2-5-grams of the lemmas
    (`char_weight` 0 turns them off), then `embedding_weight` * the mean word vector."""

    def __init__(
        self,
        min_df: int = 1,
        char_min_df: int = 2,
        max_features: int | None = 200_000,
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
            self.chars_ = TfidfVectorizer(
                analyzer=char_ngrams, min_df=self.char_min_df, max_features=self.max_features,
                sublinear_tf=True, dtype=np.float32,
            ).fit(seqs)
        self.vectors_ = WordVectors()
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        seqs = [lemma_sequence(d) for d in docs]
        blocks = [self.words_.transform(seqs)]
        if self.chars_ is not None:
            blocks.append(self.chars_.transform(seqs) * self.char_weight)
        if self.embedding_weight:
            dense = np.vstack([self.vectors_.mean(d) for d in docs]) if docs else np.zeros((0, WordVectors.dim))
            blocks.append(sp.csr_matrix(dense * self.embedding_weight))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = list(self.words_.get_feature_names_out())
        if self.chars_ is not None:
            names += [f"{CHAR_PREFIX}{g}" for g in self.chars_.get_feature_names_out()]
        if self.embedding_weight:
            names += [f"{EMBEDDING_PREFIX}{i}" for i in range(WordVectors.dim)]
        return np.asarray(names, dtype=object)
