"""The worker threads of one process, taking jobs from the queue, and the maintenance that keeps the store
sound: jobs whose worker died are failed, queued jobs the queue lost are queued again, the size budget holds."""
from __future__ import annotations

import logging
import threading
import time

from .job_queue import JobQueue, serve_jobs_on_this_thread
from .job_runner import JobRunner
from .model_pool import ModelHolder
from .settings import Settings
from .store import JobStore, worker_identity

log = logging.getLogger(__name__)


class WorkerPool:
    """N worker threads in this process taking jobs from the queue, plus a maintenance thread that fails
    jobs whose worker died, re-queues queued jobs the queue lost, and keeps the store within its budget."""

    def __init__(self, settings: Settings, store: JobStore, queue: JobQueue, holder: ModelHolder,
                 workers: int = 1):
        self.settings, self.store, self.queue, self.holder = settings, store, queue, holder
        self.workers = max(0, int(workers))
        self.stopping = threading.Event()
        self._stop = threading.Event()
        self.runner = JobRunner(settings, store, queue, holder, self.stopping)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.recover()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"osvos-worker-{index + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)
        thread = threading.Thread(target=self._maintain, name="osvos-maintenance", daemon=True)
        thread.start()
        self._threads.append(thread)

    def alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive() and t.name.startswith("osvos-worker"))

    def recover(self) -> None:
        """Fail running jobs whose worker is gone; re-enqueue queued jobs missing from the queue."""
        self.store.cleanup_tmp()
        self.store.recover(self.settings.stale_after, me=worker_identity())
        try:
            pending = self.queue.pending_ids()
        except Exception:  # noqa: BLE001 - e.g. Redis unreachable; try again later
            log.exception("could not read the queue")
            return
        for record in self.store.records():
            if record.get("state") == "queued" and record["id"] not in pending:
                log.warning("job %s was queued but not in the queue; re-queueing it", record["id"])
                self.queue.enqueue(record["id"])

    def _work(self) -> None:
        from huey.consumer import Worker

        serve_jobs_on_this_thread(self.runner.run)
        try:
            self.holder.for_this_thread()
        except Exception:  # noqa: BLE001 - jobs fail with the reason; the thread keeps serving the queue
            pass
        worker = Worker(self.queue.huey, self._stop, default_delay=0.05,
                        max_delay=self.settings.poll_interval, backoff=1.5)
        while not self._stop.is_set():
            try:
                worker.loop()
            except Exception:  # noqa: BLE001 - logged; the worker thread outlives any one failure of Huey's loop
                log.exception("worker loop error")
                self._stop.wait(1.0)

    def _maintain(self) -> None:
        every = max(1.0, min(60.0, self.settings.stale_after / 2))
        while not self._stop.wait(every):
            try:
                self.store.recover(self.settings.stale_after, me=worker_identity())
                self.store.evict(self.settings.cache_bytes)
            except Exception:  # noqa: BLE001 - logged; maintenance tries again at its next round
                log.exception("maintenance error")

    def stop(self, timeout: float = 30.0) -> None:
        """Ask running jobs to stop (they are re-queued), then wait for the threads."""
        self.stopping.set()
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
