"""The API scores requests on a thread pool: one Predictor shared by threads gives the same answers."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from model.bundle import Bundle
from model.predictor import Predictor
from model.records import Post
from tests.conftest import ANNOTATIONS
from training.corpus import read_corpus


def test_concurrent_predictions_equal_sequential(bundle: Bundle) -> None:
    texts = [ex.text for ex in read_corpus(ANNOTATIONS / "corpus")][:800]
    batches = [[Post(id=f"{b}-{i}", text=t) for i, t in enumerate(texts[b::4])] for b in range(4)]
    expected = [[p.to_json() for p in Predictor(bundle).predict(batch)] for batch in batches]
    shared = Predictor(bundle)  # cold caches, filled by four threads at once
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so races show up
    try:
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda batch: [p.to_json() for p in shared.predict(batch)], batches))
    finally:
        sys.setswitchinterval(interval)
    assert got == expected
