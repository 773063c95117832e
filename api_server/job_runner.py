"""Running one queued job to done, failed or cancelled: claim it, beat its heart, run the pipeline with the
thread's warm model, publish the outputs, and record any outcome with a reason."""
from __future__ import annotations

import logging
import shutil
import threading
import time

from osvos.cancel import Cancelled

from .contract import OUTPUTS
from .frames import stored_annotations, video_info
from .job_queue import JobQueue
from .model_pool import ModelHolder
from .pipeline import JobParams, run_pipeline
from .progress import Perf, Progress
from .settings import Settings
from .store import JobStore, worker_identity

log = logging.getLogger(__name__)


class JobRunner:
    """Runs one queued job to done / failed / cancelled, with heartbeats; never raises for a job's error."""

    def __init__(self, settings: Settings, store: JobStore, queue: JobQueue, holder: ModelHolder,
                 stopping: threading.Event):
        self.settings, self.store, self.queue, self.holder, self.stopping = (
            settings, store, queue, holder, stopping)
        self.perf = Perf(store)

    def run(self, job_id: str) -> None:
        from osvos.masks import MaskError
        from osvos.video import VideoError

        record = self.store.claim(job_id, worker_identity())
        if record is None:
            log.info("job %s is no longer queued (cancelled, deleted or taken); skipped", job_id)
            return
        log.info("job %s started", job_id)
        beat = _Heartbeat(self.store, job_id, min(10.0, self.settings.stale_after / 3))
        beat.start()
        out_dir = None
        started = time.monotonic()
        try:
            if self.store.cancel_requested(job_id):
                raise Cancelled("cancelled before it started")
            model = self.holder.for_this_thread()
            info = video_info(record)
            annotations = stored_annotations(self.store, record)
            params = JobParams.from_dict(record.get("params"), self.settings.default_steps)
            out_dir = self.store.staging(f"render-{job_id[:12]}")
            progress = Progress(self.store, job_id, record, self.perf.rates(),
                                budget_s=params.budget)
            summary = run_pipeline(
                model, video=self.store.video_path(job_id), annotations=annotations, info=info, params=params,
                out_dir=out_dir, report=progress,
                cancel=lambda: self.stopping.is_set() or self.store.cancel_requested(job_id))
            sizes = {name: (out_dir / name).stat().st_size for name in OUTPUTS}
            if not self.store.publish_outputs(job_id, out_dir):
                log.info("job %s was deleted while running; its outputs are dropped", job_id)
                return
            out_dir = None
            self.store.update(job_id, state="done", stage=None, progress=1.0, eta_s=0.0, error=None,
                              finished=time.time(), output_bytes=sizes, timings=summary["timings"],
                              duration_s=round(time.monotonic() - started, 3))
            self.perf.record(summary["timings"], summary["frames"], info.width * info.height / 1e6)
            log.info("job %s done in %.1f s", job_id, time.monotonic() - started)
            self.store.evict(self.settings.cache_bytes, protect=(job_id,))
        except BaseException as exc:  # noqa: BLE001 - every outcome is recorded; nothing is re-raised
            self._finish_with_error(job_id, exc, (VideoError, MaskError))
            if not isinstance(exc, Exception):
                raise
        finally:
            beat.stop()
            if out_dir is not None:
                shutil.rmtree(out_dir, ignore_errors=True)

    def _finish_with_error(self, job_id: str, exc: BaseException, input_errors: tuple) -> None:
        now = time.time()
        cancelled = isinstance(exc, Cancelled)
        if cancelled and self.stopping.is_set() and not self.store.cancel_requested(job_id):
            log.info("job %s interrupted by shutdown; re-queued", job_id)
            if self.store.requeue(job_id, reason="the worker shut down while running it") is not None:
                try:
                    self.queue.enqueue(job_id)
                except Exception:  # noqa: BLE001 - logged; still queued in the store: next start re-queues it
                    log.exception("could not re-queue job %s", job_id)
            return
        if cancelled:
            log.info("job %s cancelled", job_id)
            self.store.update(job_id, only_if_state=("running",), state="cancelled", finished=now, eta_s=None)
            return
        if isinstance(exc, input_errors):
            detail = str(exc)
        elif isinstance(exc, Exception):
            log.exception("job %s failed", job_id)
            stage = (self.store.get(job_id) or {}).get("stage") or "starting"
            if self.holder.state == "error":
                detail = f"the model could not be loaded ({self.holder.error})"
            else:
                detail = f"failed while {stage}: {type(exc).__name__}: {exc}"[:500]
        else:
            detail = "the worker was stopped while running this job"
        self.store.update(job_id, only_if_state=("running",), state="failed", finished=now, eta_s=None,
                          error=detail)


class _Heartbeat:
    def __init__(self, store: JobStore, job_id: str, every: float):
        self.store, self.job_id, self.every = store, job_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self):
        while not self._stop.wait(self.every):
            self.store.update(self.job_id, only_if_state=("running",), heartbeat=time.time())
