"""Serving: waitress (a production WSGI server) plus the embedded worker pool, in one process."""
from __future__ import annotations

import logging
import threading
from typing import Callable

import waitress
from waitress import wasyncore

from .app import create_app
from .job_queue import JobQueue
from .model_pool import ModelHolder, default_model_factory
from .settings import Settings
from .store import JobStore
from .worker_pool import WorkerPool

log = logging.getLogger(__name__)


class ApiServer:
    """The API on ``host:port`` (port 0 = any free port) with ``workers`` embedded worker threads.

    ``start()`` runs everything in background threads (tests); ``serve_forever()`` blocks (the command).
    """

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int = 5000, workers: int = 1,
                 threads: int = 8, serve_http: bool = True, model_factory: Callable[[], object] | None = None,
                 loop_timeout: float = 1.0):
        self.settings = settings
        self.store = JobStore(settings.data_dir)
        self.queue = JobQueue(settings)
        self.holder = ModelHolder(model_factory or default_model_factory(settings))
        self.pool = WorkerPool(settings, self.store, self.queue, self.holder, workers) if workers > 0 else None
        self.app = create_app(settings, store=self.store, queue=self.queue, holder=self.holder, pool=self.pool)
        self.wsgi = None
        if serve_http:
            # Bodies a little over the cap still reach Flask, which answers with a JSON 413; far larger
            # ones are cut off by waitress before they are buffered to disk.
            self.wsgi = waitress.create_server(
                self.app, host=host, port=port, threads=threads, ident="osvos-studio",
                max_request_body_size=settings.max_upload_bytes * 2 + (16 << 20), channel_timeout=300,
                asyncore_loop_timeout=loop_timeout)
        self._thread: threading.Thread | None = None
        self._closing = False

    @property
    def port(self) -> int:
        return int(self.wsgi.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self.wsgi.effective_host}:{self.port}"

    def _start_workers(self) -> None:
        if self.pool is not None:
            self.pool.start()
        elif self.wsgi is not None:
            self.holder.warm_up()  # API-only process: the model version is needed for job ids

    def start(self) -> "ApiServer":
        self._start_workers()
        if self.wsgi is not None:
            self._thread = threading.Thread(target=self._run_wsgi, name="waitress", daemon=True)
            self._thread.start()
        return self

    def _run_wsgi(self) -> None:
        try:
            self.wsgi.run()
        except (OSError, ValueError):
            if not self._closing:
                raise  # sockets closed under the event loop by close() are expected; anything else is not

    def serve_forever(self) -> None:
        self._start_workers()
        if self.wsgi is not None:
            log.info("serving on %s (%d worker thread(s), queue: %s, store: %s)", self.url,
                     self.pool.workers if self.pool else 0, self.queue.backend, self.store.root)
            self.wsgi.run()
        else:
            log.info("worker-only: %d worker thread(s), queue: %s, store: %s",
                     self.pool.workers if self.pool else 0, self.queue.backend, self.store.root)
            threading.Event().wait()

    def close(self, timeout: float = 30.0) -> None:
        self._closing = True
        if self.wsgi is not None:
            # Closing every channel (not just the listening socket) lets the event loop's thread end.
            self.wsgi.task_dispatcher.shutdown(timeout=5)
            wasyncore.close_all(self.wsgi._map)
        if self.pool is not None:
            self.pool.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout=5)
