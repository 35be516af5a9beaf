"""Featurization: the fast paths compute what the plain sklearn/numpy ones do."""

from __future__ import annotations

import pickle

import numpy as np

from model.doc import analyze
from model.features import Featurizer, WordVectors, char_ngrams, lemma_sequence
from model.lemma import Lemmatizer

TEXTS = [
    "Третий день нет горячей воды на Гайве!!! УК молчит 😡 #жкх",
    "Ямы на дороге Пермь–Березники, колёса бьём каждый день",
    "отапление нипадаёт а платим как за тёплое",
    "С днём рождения 🎂",
    "!!!",
    "123 456",
]


def test_char_grams_equal_sklearn(lemmatizer: Lemmatizer) -> None:
    docs = analyze(TEXTS, lemmatizer)
    featurizer = Featurizer(char_min_df=1).fit(docs)
    assert featurizer.chars_ is not None
    seqs = [lemma_sequence(d) for d in docs] + [["невиданноеслово"]]
    fast = featurizer.chars_.transform(seqs).toarray()
    plain = featurizer.chars_.vectorizer.transform(seqs).toarray()
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-6)
    assert char_ngrams(["яма", "<num>"]) == char_ngrams(["яма"])


def test_word_vector_means_equal_numpy(lemmatizer: Lemmatizer) -> None:
    docs = analyze(TEXTS, lemmatizer)
    vectors = WordVectors()
    got = vectors.means(docs)
    for row, doc in enumerate(docs):
        vs = [vectors.vector(t.text, ls[0]) for t, ls in zip(doc.tokens, doc.lemmas, strict=True)
              if t.kind in ("word", "hashtag") and len(t.text) > 1]
        vs = [v for v in vs if v is not None]
        if not vs:
            assert not got[row].any()
            continue
        mean = np.mean(vs, axis=0)
        np.testing.assert_allclose(got[row], mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-6)


def test_featurizer_pickles_without_caches(lemmatizer: Lemmatizer) -> None:
    docs = analyze(TEXTS, lemmatizer)
    featurizer = Featurizer(char_min_df=1).fit(docs)
    before = featurizer.transform(docs).toarray()
    clone = pickle.loads(pickle.dumps(featurizer))
    assert clone.chars_ is not None and clone.chars_._cache == {}
    np.testing.assert_allclose(clone.transform(docs).toarray(), before, rtol=1e-6)


def test_word_vector_cache_starts_over_when_full(lemmatizer: Lemmatizer) -> None:
    docs = analyze(TEXTS, lemmatizer)
    vectors = WordVectors()
    expected = vectors.means(docs)
    small = WordVectors()
    small.max_words = 3  # fills up inside the batch
    np.testing.assert_allclose(small.means(docs), expected, rtol=1e-5, atol=1e-6)
