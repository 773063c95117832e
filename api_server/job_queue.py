"""The job queue: Huey on SQLite by default, on Redis when ``OSVOS_REDIS_URL`` is set.

Scaling out: every process started with the same ``OSVOS_DATA_DIR`` (a shared file system) and the same
``OSVOS_REDIS_URL`` takes jobs from the same queue. ``python -m api_server --worker-only --workers N``
starts workers without HTTP. With the default SQLite queue, extra worker processes work on the same machine.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from .settings import Settings

log = logging.getLogger(__name__)

QUEUE_NAME = "osvos-studio"

_worker = threading.local()


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
            self.huey = RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False)
        else:
            from huey import SqliteHuey
            root = Path(settings.data_dir)
            root.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(QUEUE_NAME, filename=str(root / "queue.sqlite3"), results=False)
        self._task = self.huey.task(name="run_job")(_run_job_task)

    def enqueue(self, job_id: str) -> None:
        self._task(job_id)

    def pending_ids(self) -> set[str]:
        return {task.args[0] for task in self.huey.pending() if task.args}

    def pending_count(self) -> int:
        return self.huey.pending_count()
