"""The job queue (Huey: SQLite by default, Redis when ``OSVOS_REDIS_URL`` is set) and its workers.

Each worker thread loads the parent network once (``OSVOS.load``) and keeps it warm; ``finetune`` always
starts again from those parent weights, so one loaded model serves every job the thread runs.

Scaling out: every process started with the same ``OSVOS_DATA_DIR`` (a shared file system) and the same
``OSVOS_REDIS_URL`` takes jobs from the same queue. ``python -m api_server --worker-only --workers N``
starts workers without HTTP. With the default SQLite queue, extra worker processes work on the same machine.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from osvos.cancel import Cancelled

from .contract import OUTPUTS, STAGES
from .pipeline import JobParams, run_pipeline
from .settings import Settings
from .store import JobStore, worker_identity

log = logging.getLogger(__name__)

QUEUE_NAME = "osvos-studio"
STAGE_WINDOWS = dict(zip(STAGES, ((0.0, 0.02), (0.02, 0.60), (0.60, 0.85), (0.85, 1.0))))
"""Where each stage sits on the job's 0..1 progress bar."""
DEFAULT_RATES = {"segmenting": 0.02, "rendering": 0.05}
"""Seconds per frame and megapixel assumed for the ETA until this store has timed a job of its own."""

_context = threading.local()


def _run_job_task(job_id: str) -> None:
    runner = getattr(_context, "runner", None)
    if runner is None:
        log.error("job %s dequeued by a thread that is not an osvos worker (use python -m api_server "
                  "--worker-only, not huey_consumer); it stays queued until a worker restarts", job_id)
        raise RuntimeError("not an osvos worker thread")
    runner.run(job_id)


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


class ModelHolder:
    """Loads models with ``factory`` (one per worker thread), remembers the weights' version."""

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._free: list = []
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
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
        from osvos.finetune import FinetuneRecipe
        from osvos.system import OSVOS
        return OSVOS.load(settings.weights, work_size=settings.work_size,
                          recipe=FinetuneRecipe(pace=settings.finetune_pace))
    return load


class Perf:
    """Seconds per frame and megapixel of segmenting and rendering, averaged over past jobs (for ETAs)."""

    def __init__(self, store: JobStore):
        self._path = store.root / "perf.json"

    def rates(self) -> dict:
        import json
        try:
            return {**DEFAULT_RATES, **json.loads(self._path.read_text())}
        except (OSError, ValueError):
            return dict(DEFAULT_RATES)

    def record(self, timings: dict, frames: int, megapixels: float) -> None:
        from .store import atomic_write_json
        rates = self.rates()
        for stage in DEFAULT_RATES:
            if stage in timings and frames:
                measured = timings[stage] / (frames * max(megapixels, 1e-3))
                rates[stage] = 0.7 * rates[stage] + 0.3 * measured
        try:
            atomic_write_json(self._path, rates)
        except OSError:
            pass


class Progress:
    """Turns the pipeline's (stage, fraction, eta) into the record's progress / eta_s, written at most
    every ``interval`` seconds (and at every stage change)."""

    def __init__(self, store: JobStore, job_id: str, record: dict, rates: dict, interval: float = 0.5,
                 budget_s: float | None = None):
        self.store, self.job_id, self.interval, self.budget_s = store, job_id, interval, budget_s
        self.frames = int(record.get("frames") or 1)
        self.megapixels = int(record.get("width") or 1) * int(record.get("height") or 1) / 1e6
        self.rates = rates
        self.stage = None
        self.stage_started = time.monotonic()
        self.last_write = 0.0

    def later(self, stage: str) -> float:
        order = list(STAGE_WINDOWS)
        rest = order[order.index(stage) + 1:]
        return sum(self.rates.get(s, 0.0) * self.frames * self.megapixels for s in rest)

    def __call__(self, stage: str, fraction: float, eta: float | None) -> None:
        now = time.monotonic()
        changed = stage != self.stage
        if changed:
            self.stage, self.stage_started = stage, now
        fraction = min(max(float(fraction), 0.0), 1.0)
        if not changed and now - self.last_write < self.interval and fraction < 1.0:
            return
        low, high = STAGE_WINDOWS[stage]
        if eta is None and fraction > 0.02:
            elapsed = now - self.stage_started
            eta = elapsed / fraction * (1.0 - fraction)
        elif eta is None and stage == "finetuning" and self.budget_s:
            eta = self.budget_s * (1.0 - fraction)
        elif eta is None and stage in self.rates:
            eta = self.rates[stage] * self.frames * self.megapixels * (1.0 - fraction)
        eta_s = None if eta is None else round(float(eta) + self.later(stage), 1)
        self.last_write = now
        self.store.update(self.job_id, only_if_state=("running",), stage=stage,
                          progress=round(low + (high - low) * fraction, 4), eta_s=eta_s, heartbeat=time.time())


class JobRunner:
    """Runs one queued job to done / failed / cancelled, with heartbeats; never raises for a job's error."""

    def __init__(self, settings: Settings, store: JobStore, queue: JobQueue, holder: ModelHolder,
                 stopping: threading.Event):
        self.settings, self.store, self.queue, self.holder, self.stopping = (
            settings, store, queue, holder, stopping)
        self.perf = Perf(store)

    def _model(self):
        model = getattr(_context, "model", None)
        if model is None:
            model = self.holder.acquire()
            _context.model = model
        return model

    def run(self, job_id: str) -> None:
        from osvos.masks import MaskError, load_mask
        from osvos.video import VideoError, VideoInfo

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
            model = self._model()
            info = VideoInfo(record["width"], record["height"], record["fps"], record["frames"],
                             record.get("codec") or "")
            mask = load_mask(self.store.mask_path(job_id).read_bytes(), size=(info.width, info.height))
            params = JobParams(**{k: v for k, v in (record.get("params") or {}).items()
                                  if k in ("budget", "iterations", "snap", "threshold")})
            if params.iterations is None and params.budget is None:
                params = JobParams(budget=self.settings.default_budget, snap=params.snap)
            out_dir = self.store.staging(f"render-{job_id[:12]}")
            progress = Progress(self.store, job_id, record, self.perf.rates(),
                                budget_s=params.budget if params.iterations is None else None)
            summary = run_pipeline(
                model, video=self.store.video_path(job_id), mask=mask, info=info, params=params,
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
                import shutil
                shutil.rmtree(out_dir, ignore_errors=True)

    def _finish_with_error(self, job_id: str, exc: BaseException, input_errors: tuple) -> None:
        now = time.time()
        cancelled = isinstance(exc, Cancelled)
        if cancelled and self.stopping.is_set() and not self.store.cancel_requested(job_id):
            log.info("job %s interrupted by shutdown; re-queued", job_id)
            if self.store.requeue(job_id, reason="the worker shut down while running it") is not None:
                try:
                    self.queue.enqueue(job_id)
                except Exception:  # noqa: BLE001
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

        _context.runner = self.runner
        try:
            _context.model = self.holder.acquire()
        except Exception:  # noqa: BLE001 - jobs fail with the reason; the thread keeps serving the queue
            _context.model = None
        worker = Worker(self.queue.huey, self._stop, default_delay=0.05,
                        max_delay=self.settings.poll_interval, backoff=1.5)
        while not self._stop.is_set():
            try:
                worker.loop()
            except Exception:  # noqa: BLE001
                log.exception("worker loop error")
                self._stop.wait(1.0)

    def _maintain(self) -> None:
        every = max(1.0, min(60.0, self.settings.stale_after / 2))
        while not self._stop.wait(every):
            try:
                self.store.recover(self.settings.stale_after, me=worker_identity())
                self.store.evict(self.settings.cache_bytes)
            except Exception:  # noqa: BLE001
                log.exception("maintenance error")

    def stop(self, timeout: float = 30.0) -> None:
        """Ask running jobs to stop (they are re-queued), then wait for the threads."""
        self.stopping.set()
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def mask_digest(mask: np.ndarray) -> bytes:
    """Content hash of a binarised mask (the same drawing saved as PNG or JPEG gives the same job)."""
    import hashlib
    mask = np.asarray(mask, bool)
    return hashlib.sha256(np.array(mask.shape, np.int64).tobytes() + np.packbits(mask).tobytes()).digest()
