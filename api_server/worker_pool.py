"""The worker threads of one process, taking jobs from the queue, and the maintenance that keeps the store
sound: jobs whose worker died are failed, queued jobs the queue lost are queued again (at start, every round, and
as soon as an unreachable queue answers again), the size budget holds, the process's presence file is fresh."""
from __future__ import annotations

import logging
import threading
import time

from . import presence
from .job_queue import JobQueue, QueueUnavailable, serve_jobs_on_this_thread
from .job_runner import JobRunner
from .model_pool import ModelHolder
from .settings import Settings
from .store import JobStore, worker_identity

log = logging.getLogger(__name__)

LOST_AFTER_S = 10.0
"""A queued job missing from the queue for this long is queued again (younger ones may be between the store and
the queue right now: the API writes the record first, then enqueues)."""
IDLE_JOIN_S = 2.0
"""How long stopping waits for a worker thread without a job (its wait on the queue lasts at most a second)."""


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
        self.presence = presence.Presence(store.root, self.workers, lambda: holder.state)
        self._threads: list[threading.Thread] = []
        self._busy: set[threading.Thread] = set()

    def start(self) -> None:
        self.presence.beat()
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
        self.requeue_lost(grace=0.0)

    def requeue_lost(self, grace: float = LOST_AFTER_S) -> list[str]:
        """Enqueue again every job the store holds as queued that the queue does not hold (and has not for
        ``grace`` seconds); the ids. A job queued twice runs once: only one worker can claim it."""
        requeued: list[str] = []
        try:
            pending = self.queue.pending_ids()
            now = time.time()
            for record in self.store.records():
                if (record.get("state") == "queued" and record["id"] not in pending
                        and now - float(record.get("updated") or 0) >= grace):
                    log.warning("job %s was queued but not in the queue; re-queueing it", record["id"])
                    self.queue.enqueue(record["id"])
                    requeued.append(record["id"])
        except QueueUnavailable as exc:
            log.warning("lost jobs not re-queued for now: %s", exc)
        return requeued

    def _run(self, job_id: str) -> None:
        self._busy.add(threading.current_thread())
        self.presence.job_started(job_id)
        ran = False
        try:
            self.runner.run(job_id)
            ran = (self.store.get(job_id) or {}).get("worker") == self.presence.identity
        finally:
            self.presence.job_ended(job_id, ran)
            self._busy.discard(threading.current_thread())

    def _work(self) -> None:
        from huey.consumer import Worker

        serve_jobs_on_this_thread(self._run)
        try:
            self.holder.for_this_thread()
        except Exception:  # noqa: BLE001 - jobs fail with the reason; the thread keeps serving the queue
            pass
        self.presence.beat()  # the model's state changed: show it now
        worker = Worker(self.queue.huey, self._stop, default_delay=0.05,
                        max_delay=self.settings.poll_interval, backoff=1.5)
        while not self._stop.is_set():
            try:
                worker.loop()
            except Exception:  # noqa: BLE001 - logged; the worker thread outlives any one failure of Huey's loop
                log.exception("worker loop error")
                self._stop.wait(1.0)

    def _queue_reachable(self) -> bool:
        try:
            self.queue.pending_count()
            return True
        except QueueUnavailable:
            return False

    def _maintain(self) -> None:
        """Every ``BEAT_S`` (or round, if shorter): the presence file, and a look at the queue (back after an
        outage: re-queue what it lost). Every round (half of ``stale_after``, at most a minute): fail jobs of dead
        workers, re-queue lost jobs, keep the store in its budget, prune the files of workers long gone."""
        every = max(1.0, min(60.0, self.settings.stale_after / 2))
        next_round = time.monotonic() + every
        reachable = True
        while not self._stop.wait(min(presence.BEAT_S, every)):
            try:
                self.presence.beat()
                was_reachable, reachable = reachable, self._queue_reachable()
                if reachable and not was_reachable:
                    log.info("the queue answers again; re-queueing the jobs it lost")
                    self.requeue_lost()
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + every
                    self.store.recover(self.settings.stale_after, me=worker_identity())
                    self.requeue_lost()
                    self.store.evict(self.settings.cache_bytes)
                    presence.prune(self.store.root, self.settings.stale_after)
            except Exception:  # noqa: BLE001 - logged; maintenance tries again at its next round
                log.exception("maintenance error")

    def stop(self, timeout: float = 30.0) -> None:
        """Ask running jobs to stop (they are re-queued) and wait for them, up to ``timeout``; a thread without
        a job (idle, or still loading its model) gets ``IDLE_JOIN_S``: it has nothing to lose."""
        self.stopping.set()
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            left = max(0.0, deadline - time.monotonic())
            thread.join(timeout=left if thread in self._busy else min(left, IDLE_JOIN_S))
        self.presence.remove()
