"""The parent networks the workers use: each worker thread loads one once (``OSVOS.load``) and keeps it warm.
``finetune`` always starts again from the parent weights, so one loaded model serves every job of its thread."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .settings import Settings

log = logging.getLogger(__name__)


class ModelHolder:
    """Loads models with ``factory`` (one per worker thread), remembers the weights' version."""

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._free: list = []
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._threads = threading.local()
        self.state = "not loaded"
        self.error: str | None = None
        self._version: str | None = None
        self.loaded = 0

    def _load(self):
        self.state = "loading"
        started = time.monotonic()
        try:
            model = self._factory()
        except Exception as exc:
            self.state, self.error = "error", f"{type(exc).__name__}: {exc}"
            log.exception("the model could not be loaded")
            raise
        self.state, self.error = "ready", None
        self._version = str(getattr(model, "version", None) or "unversioned")
        self.loaded += 1
        log.info("model %s loaded in %.1f s", self._version, time.monotonic() - started)
        return model

    def acquire(self):
        with self._lock:
            if self._free:
                return self._free.pop()
        with self._load_lock:
            return self._load()

    def release(self, model) -> None:
        with self._lock:
            self._free.append(model)

    def for_this_thread(self):
        """The calling thread's model: acquired at its first call, kept for the thread's life (a failed load is
        tried again at the next call)."""
        model = getattr(self._threads, "model", None)
        if model is None:
            model = self.acquire()
            self._threads.model = model
        return model

    @property
    def version_if_known(self) -> str | None:
        return self._version

    def version(self) -> str:
        """The weights' version (part of every job id); loads a model when none is loaded yet."""
        if self._version is not None:
            return self._version
        with self._load_lock:
            if self._version is None:
                model = self._load()
                with self._lock:
                    self._free.append(model)
        return self._version

    def warm_up(self) -> threading.Thread:
        """Load one model in the background (the API process without workers needs its version)."""
        def load():
            try:
                self.version()
            except Exception:  # noqa: BLE001 - state and error are recorded for /health
                pass
        thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
        thread.start()
        return thread


def default_model_factory(settings: Settings) -> Callable[[], object]:
    def load():
        from osvos.system import OSVOS
        return OSVOS.load(settings.weights, work_size=settings.work_size, views=settings.views,
                          segment_scale=settings.segment_scale, flow_weight=settings.flow_weight,
                          crf=settings.crf, min_region=settings.min_region)
    return load
