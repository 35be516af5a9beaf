"""The bundle in use: loaded once, swapped atomically on reload."""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

from model.bundle import BundleError, load_bundle
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.records import Post

log = logging.getLogger("otklik.models")
WARMUP = Post(id="warmup", text="Третий день нет горячей воды в Перми")


class ModelHolder:
    """Holds the current `Predictor`; a request takes `current` once and keeps it to the end.

    So requests in flight finish on the bundle they started with, and the next request sees the
    new one. A bundle that fails verification never replaces the current one.
    """

    def __init__(self, bundle_dir: Path) -> None:
        self.bundle_dir = bundle_dir
        self._current: Predictor | None = None
        self._lock = threading.Lock()
        self._lemmatizer = Lemmatizer()  # shared across bundles: its cache stays warm
        self.error: str | None = None

    @property
    def current(self) -> Predictor | None:
        return self._current

    def load(self) -> Predictor:
        """Load the bundle `bundle_dir` points to now; raise BundleError and keep the old one on failure."""
        with self._lock:
            if not self.bundle_dir.exists():
                raise BundleError(f"no model bundle at {self.bundle_dir}; train one with `otklik train`")
            predictor = Predictor(load_bundle(self.bundle_dir), self._lemmatizer)
            predictor.predict([WARMUP], explain=True)  # compile caches before traffic arrives
            self._current = predictor
            # The bundle's objects live until the next reload: keep the collector from scanning them
            # on every request (unfreeze first, so a replaced bundle's cycles can be collected).
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.error = None
            log.info("bundle loaded", extra={"bundle": predictor.bundle.id})
            return predictor

    def try_load(self) -> None:
        try:
            self.load()
        except BundleError as exc:
            self.error = str(exc)
            log.error("bundle not loaded: %s", exc)

