"""The bundle in use: loaded once, swapped atomically on reload."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from pathlib import Path

from model.bundle import Bundle, BundleError, load_bundle
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.records import Post

log = logging.getLogger("otklik.models")
WARMUP = Post(id="warmup", text="Третий день нет горячей воды в Перми")
FOLLOW_SECONDS = 1.0  # how often a worker looks where `current` points


def open_predictor(bundle_dir: Path, lemmatizer: Lemmatizer | None = None) -> Predictor:
    """The predictor of a bundle, scored once on a known post; BundleError for every way it can fail.

    `load_bundle` refuses a wrong protocol or hash with BundleError; whatever else breaks on the way
    (a pickle rewritten with its hashes, a classifier of the wrong shapes, labels the directories do
    not know) is an exception of any type from unpickling, the predictor or the first prediction:
    it becomes a BundleError too, so the server and the CLI have one failure to handle."""
    try:
        bundle = load_bundle(bundle_dir)
        if (wrong := labels_problem(bundle)) is not None:
            raise BundleError(f"{bundle_dir}: {wrong}; retrain with `otklik train`")
        predictor = Predictor(bundle, lemmatizer)
        predictor.predict([WARMUP], explain=True)  # also compiles caches before traffic arrives
    except BundleError:
        raise
    except Exception as exc:
        why = (str(exc).strip().splitlines() or [""])[0][:300]
        raise BundleError(f"{bundle_dir} does not load: {type(exc).__name__}: {why}; it was not written by this "
                          "Otklik or was damaged; retrain with `otklik train`") from exc
    return predictor


def labels_problem(bundle: Bundle) -> str | None:
    """A head whose classes are not the labels meta.json lists, or not codes of the bundle's taxonomy."""
    heads = {"topics": (bundle.classifier.topic.classes_, bundle.taxonomy.topics),
             "agencies": (bundle.classifier.agency.classes_, bundle.taxonomy.agencies)}
    listed = bundle.meta.get("labels", {})
    for name, (classes, known) in heads.items():
        labels = [str(c) for c in classes]
        if name in listed and labels != list(listed[name]):
            return f"its {name} head predicts other labels than the {len(listed[name])} meta.json lists"
        if unknown := sorted(set(labels) - set(known)):
            return f"its {name} head predicts codes its taxonomy does not know: {', '.join(unknown[:5])}"
    return None


class ModelHolder:
    """Holds the current `Predictor`; a request takes `current` once and keeps it to the end.

    So requests in flight finish on the bundle they started with, and the next request sees the
    new one. A bundle that fails verification never replaces the current one.

    `POST /v1/model/reload` reaches one worker of several; the others follow `current` by
    themselves: at most once a second a request looks where the link points, and when it points
    elsewhere than the loaded bundle, that bundle is loaded in the background (a bundle that fails
    is not tried again until the link changes).
    """

    def __init__(self, bundle_dir: Path, follow: bool = True) -> None:
        self.bundle_dir = bundle_dir
        self.follow = follow
        self._current: Predictor | None = None
        self._lock = threading.Lock()
        self._lemmatizer = Lemmatizer()  # shared across bundles: its cache stays warm
        self.error: str | None = None
        self._loaded_target: str | None = None
        self._refused_target: str | None = None
        self._checked = 0.0
        self._following = False

    @property
    def current(self) -> Predictor | None:
        if self.follow:
            self._follow()
        return self._current

    def _follow(self) -> None:
        now = time.monotonic()
        if self._following or now - self._checked < FOLLOW_SECONDS:
            return
        self._checked = now
        if not self.bundle_dir.exists():
            return
        target = os.path.realpath(self.bundle_dir)
        if target in (self._loaded_target, self._refused_target):
            return
        self._following = True
        threading.Thread(target=self._load_in_background, name="otklik-follow-bundle", daemon=True).start()

    def _load_in_background(self) -> None:
        try:
            self.load()
        except BundleError as exc:
            if self._current is None:
                self.error = str(exc)
            log.error("bundle not loaded: %s", exc)
        finally:
            self._following = False

    def load(self) -> Predictor:
        """Load the bundle `bundle_dir` points to now; raise BundleError and keep the old one on failure."""
        with self._lock:
            if not self.bundle_dir.exists():
                raise BundleError(f"no model bundle at {self.bundle_dir}; train one with `otklik train`")
            target = os.path.realpath(self.bundle_dir)
            try:
                predictor = open_predictor(Path(target), self._lemmatizer)
            except BundleError:
                self._refused_target = target
                raise
            self._current = predictor
            self._loaded_target, self._refused_target = target, None
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

