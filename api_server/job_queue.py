"""The job queue: Huey on SQLite by default, on Redis when ``OSVOS_REDIS_URL`` is set.

Scaling out: every process started with the same ``OSVOS_DATA_DIR`` (a shared file system) and the same
``OSVOS_REDIS_URL`` takes jobs from the same queue. ``python -m api_server --worker-only --workers N``
starts workers without HTTP. With the default SQLite queue, extra worker processes work on the same machine.
The job store, not the queue, is the record of what is queued: a queue that loses an entry (a Redis restarted
without persistence, an enqueue that failed while it was down) is filled again from the store by the workers.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable

from .settings import Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "osvos-studio"

REDIS_CONNECT_TIMEOUT_S = 3.0
REDIS_TIMEOUT_S = 5.0
"""Bounds on a Redis call (connect, then each reply; a worker's blocking read waits 1 s), so that an unreachable
Redis is an error within seconds, never a request that hangs."""

_worker = threading.local()


class QueueUnavailable(Exception):
    """The queue cannot be reached (Redis down or unreachable); the API answers 503."""

    def __init__(self, backend: str, reason: BaseException, job_id: str | None = None):
        self.backend, self.job_id = backend, job_id
        super().__init__(f"the job queue ({backend}) cannot be reached: {type(reason).__name__}: {reason}")


def serve_jobs_on_this_thread(run: Callable[[str], None]) -> None:
    """Make the calling thread an osvos worker: every job it takes from the queue goes to ``run(job_id)``."""
    _worker.run = run


def _run_job_task(job_id: str) -> None:
    run = getattr(_worker, "run", None)
    if run is None:
        log.error("job %s dequeued by a thread that is not an osvos worker (use python -m api_server "
                  "--worker-only, not huey_consumer); it stays queued until a worker restarts", job_id)
        raise RuntimeError("not an osvos worker thread")
    run(job_id)


class JobQueue:
    """A Huey instance with the one task this service has; the same code for SQLite and Redis."""

    def __init__(self, settings: Settings):
        self.backend = settings.queue_backend
        if settings.redis_url:
            from huey import RedisHuey
            from redis import ConnectionPool, RedisError
            pool = ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
                                           socket_timeout=REDIS_TIMEOUT_S)
            self.huey = RedisHuey(QUEUE_NAME, connection_pool=pool, results=False)
            self._errors: tuple[type[BaseException], ...] = (RedisError,)
        else:
            from huey import SqliteHuey
            root = Path(settings.data_dir)
            root.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(QUEUE_NAME, filename=str(root / "queue.sqlite3"), results=False)
            self._errors = (sqlite3.Error,)
        self._task = self.huey.task(name="run_job")(_run_job_task)

    def enqueue(self, job_id: str) -> None:
        """Put the job in the queue; QueueUnavailable when the queue cannot be reached."""
        try:
            self._task(job_id)
        except self._errors as exc:
            raise QueueUnavailable(self.backend, exc, job_id) from exc

    def pending_ids(self) -> set[str]:
        """The ids waiting in the queue; QueueUnavailable when it cannot be reached."""
        try:
            return {task.args[0] for task in self.huey.pending() if task.args}
        except self._errors as exc:
            raise QueueUnavailable(self.backend, exc) from exc

    def pending_count(self) -> int:
        """How many jobs wait in the queue (its depth); QueueUnavailable when it cannot be reached."""
        try:
            return self.huey.pending_count()
        except self._errors as exc:
            raise QueueUnavailable(self.backend, exc) from exc
