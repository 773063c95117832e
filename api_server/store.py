"""Content-addressed job folders on disk: atomic writes, per-job locks, cancel flags, LRU eviction.

Layout under the storage root::

    jobs/<id>/job.json        the job's record (state, stage, progress, ...), replaced atomically
    jobs/<id>/video           the uploaded video, byte for byte (the client's file name is never used)
    jobs/<id>/mask.png        the binarised first-frame mask (0/255 PNG)
    jobs/<id>/annotations/    the masks of the other annotated frames of a correction job (<frame:05d>.png)
    jobs/<id>/frames/         frames decoded on request (<frame:05d>.jpg), kept for the next request
    jobs/<id>/outputs/        appears in one rename once every output is rendered; never half-written
    jobs/<id>/.lock           flock() target serialising read-modify-write of job.json
    jobs/<id>/.cancel         present when a cancel was requested
    jobs/<id>/.access         its mtime is the last time the job was read (least-recently-used eviction)
    tmp/                      uploads and renders in progress (same file system, so rename is atomic)
    trash/                    deleted / evicted jobs, renamed here first, then removed

Job ids are validated hex strings made by the server; no client string ever becomes part of a path.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

from .contract import ACTIVE

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
TOUCH_EVERY_S = 30.0
"""Granularity of the last-read mark used for least-recently-used eviction."""


def valid_id(job_id: str) -> bool:
    return isinstance(job_id, str) and bool(ID_PATTERN.match(job_id))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it (readers see old or new)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, value) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=1, sort_keys=True).encode())


def annotated_frames(record: dict) -> list[int]:
    """A job's annotated frames, in order (a job made before corrections existed: frame 0)."""
    return list(record.get("annotated_frames") or [0])


def annotation_file(folder: Path, frame: int) -> Path:
    """The mask file of annotated frame ``frame`` in a job folder (or a staging folder that becomes one)."""
    frame = int(frame)
    return folder / "mask.png" if frame == 0 else folder / "annotations" / f"{frame:05d}.png"


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


class JobStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.jobs_dir = self.root / "jobs"
        self.tmp_dir = self.root / "tmp"
        self.trash_dir = self.root / "trash"
        for folder in (self.jobs_dir, self.tmp_dir, self.trash_dir):
            folder.mkdir(parents=True, exist_ok=True)

    # ---- paths -------------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        if not valid_id(job_id):
            raise ValueError("invalid job id")
        return self.jobs_dir / job_id

    def video_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "video"

    def annotation_path(self, job_id: str, frame: int) -> Path:
        """Where the mask of annotated frame ``frame`` is kept: ``mask.png`` for frame 0 (every job has it),
        ``annotations/<frame>.png`` for the frames corrections add."""
        return annotation_file(self.job_dir(job_id), frame)

    def frame_cache_path(self, job_id: str, frame: int) -> Path:
        """Where frame ``frame`` of the job's video is kept once decoded (JPEG)."""
        return self.job_dir(job_id) / "frames" / f"{int(frame):05d}.jpg"

    def output_path(self, job_id: str, filename: str) -> Path:
        """Path of a finished output; ``filename`` must come from the server's own whitelist."""
        if "/" in filename or filename.startswith("."):
            raise ValueError("invalid output name")
        return self.job_dir(job_id) / "outputs" / filename

    def staging(self, prefix: str) -> Path:
        """A fresh private folder under tmp/ (same file system as jobs/, so it can be renamed into place)."""
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.tmp_dir))

    # ---- records -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, job_id: str) -> Iterator[bool]:
        """Hold the job's lock; yields False (no lock) when the job does not exist."""
        try:
            fd = os.open(self.job_dir(job_id) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except (FileNotFoundError, NotADirectoryError):
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield (self.job_dir(job_id) / "job.json").exists()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get(self, job_id: str) -> dict | None:
        return self.parse(job_id, self.get_bytes(job_id))

    def get_bytes(self, job_id: str) -> bytes | None:
        """The record as stored (what a status ETag is computed from), or None when there is no such job."""
        if not valid_id(job_id):
            return None
        try:
            return (self.job_dir(job_id) / "job.json").read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            log.warning("unreadable record of job %s", job_id)
            return None

    @staticmethod
    def parse(job_id: str, raw: bytes | None) -> dict | None:
        """The record in ``raw`` (from ``get_bytes``), or None when there is none or it is not JSON."""
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("unreadable record of job %s", job_id)
            return None

    def mutate(self, job_id: str, change: Callable[[dict], dict | None]) -> dict | None:
        """Read-modify-write the record under the job's lock. ``change`` edits in place (or returns a new
        dict); returning ``False`` leaves it unchanged. Gives the resulting record, or None if no job."""
        with self._locked(job_id) as exists:
            if not exists:
                return None
            record = self.get(job_id)
            if record is None:
                return None
            result = change(record)
            if result is False:
                return record
            if isinstance(result, dict):
                record = result
            record["updated"] = time.time()
            try:
                atomic_write_json(self.job_dir(job_id) / "job.json", record)
            except (FileNotFoundError, NotADirectoryError):
                return None  # deleted (renamed away) while we held its lock
            return record

    def update(self, job_id: str, *, only_if_state: tuple[str, ...] | None = None, **fields) -> dict | None:
        """Set fields; with ``only_if_state``, only while the job is in one of those states."""
        def change(record):
            if only_if_state is not None and record.get("state") not in only_if_state:
                return False
            record.update(fields)
        return self.mutate(job_id, change)

    def create(self, job_id: str, staging: Path, record: dict) -> tuple[dict, bool]:
        """Move a filled staging folder into place as job ``job_id`` in one rename.

        Returns (record, created). If the job already exists (same content), the staging folder is removed
        and the existing record is returned with created=False: identical uploads share one job.
        """
        record = {**record, "id": job_id, "updated": time.time()}
        atomic_write_json(staging / "job.json", record)
        (staging / ".access").touch()
        target = self.job_dir(job_id)
        for _attempt in range(3):
            try:
                os.rename(staging, target)
                return record, True
            except OSError:
                if not target.is_dir():
                    raise
            existing = self.get(job_id)
            if existing is not None:
                shutil.rmtree(staging, ignore_errors=True)
                return existing, False
            time.sleep(0.05)  # the existing folder is being created or deleted right now
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(f"job folder {job_id} is busy")

    def requeue(self, job_id: str, *, reason: str | None = None) -> dict | None:
        """Reset a failed / cancelled / interrupted job to queued (the caller enqueues it again)."""
        def change(record):
            if record.get("state") in ("queued", "done"):
                return False
            with contextlib.suppress(FileNotFoundError):
                (self.job_dir(job_id) / ".cancel").unlink()
            shutil.rmtree(self.job_dir(job_id) / "outputs", ignore_errors=True)
            record.update(state="queued", stage=None, progress=0.0, eta_s=None, error=None, started=None,
                          finished=None, worker=None, heartbeat=None, requeued=reason,
                          attempts=int(record.get("attempts") or 0))
        return self.mutate(job_id, change)

    def claim(self, job_id: str, worker: str) -> dict | None:
        """Atomically move a queued job to running for ``worker``; None when it is not queued (any more)."""
        claimed = {}

        def change(record):
            if record.get("state") != "queued":
                return False
            now = time.time()
            record.update(state="running", stage="decoding", progress=0.0, eta_s=None, started=now,
                          heartbeat=now, worker=worker, attempts=int(record.get("attempts") or 0) + 1)
            claimed["ok"] = True
        record = self.mutate(job_id, change)
        return record if claimed else None

    def touch(self, job_id: str) -> None:
        """Mark the job as read now, at most once every ``TOUCH_EVERY_S``: a status poll is then a pure read
        (a metadata write per poll would wait on the file system's journal while a worker fsyncs)."""
        with contextlib.suppress(OSError, ValueError):
            mark = self.job_dir(job_id) / ".access"
            if time.time() - os.stat(mark).st_mtime >= TOUCH_EVERY_S:
                os.utime(mark)

    # ---- cancel ------------------------------------------------------------------------------------
    def request_cancel(self, job_id: str) -> dict | None:
        """Flag the job for cancellation; a queued job becomes cancelled at once, a running one when its
        worker next checks. Finished jobs are left as they are."""
        def change(record):
            if record.get("state") not in ACTIVE:
                return False
            (self.job_dir(job_id) / ".cancel").touch()
            if record["state"] == "queued":
                record.update(state="cancelled", finished=time.time(), error=None, eta_s=None)
            else:
                record["cancel_requested"] = True
        return self.mutate(job_id, change)

    def cancel_requested(self, job_id: str) -> bool:
        try:
            return (self.job_dir(job_id) / ".cancel").exists() or not (self.job_dir(job_id) / "job.json").exists()
        except ValueError:
            return True

    # ---- outputs -----------------------------------------------------------------------------------
    def publish_outputs(self, job_id: str, rendered: Path) -> bool:
        """Rename a folder of finished outputs into the job in one step. False if the job vanished."""
        target = self.job_dir(job_id) / "outputs"
        with self._locked(job_id) as exists:
            if not exists:
                shutil.rmtree(rendered, ignore_errors=True)
                return False
            if target.exists():
                self._discard(target)
            os.rename(rendered, target)
            return True

    # ---- listing, deletion, eviction ---------------------------------------------------------------
    def ids(self) -> list[str]:
        try:
            return [entry.name for entry in os.scandir(self.jobs_dir) if valid_id(entry.name)]
        except FileNotFoundError:
            return []

    def records(self) -> list[dict]:
        return [record for record in map(self.get, self.ids()) if record is not None]

    def _discard(self, path: Path) -> None:
        """Rename out of sight first (atomic), then delete at leisure."""
        grave = self.trash_dir / f"{path.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, grave)
        except FileNotFoundError:
            return
        shutil.rmtree(grave, ignore_errors=True)

    def delete(self, job_id: str) -> bool:
        if not valid_id(job_id) or not self.job_dir(job_id).is_dir():
            return False
        with contextlib.suppress(OSError):
            (self.job_dir(job_id) / ".cancel").touch()
        self._discard(self.job_dir(job_id))
        return True

    def last_access(self, job_id: str) -> float:
        try:
            return os.stat(self.job_dir(job_id) / ".access").st_mtime
        except OSError:
            return 0.0

    def usage(self) -> int:
        return sum(tree_size(self.job_dir(job_id)) for job_id in self.ids())

    def evict(self, budget_bytes: int, protect: tuple[str, ...] = ()) -> list[str]:
        """Delete finished jobs, least recently used first, until the store fits ``budget_bytes``.

        Queued and running jobs, and those in ``protect``, are never evicted.
        """
        sizes = {job_id: tree_size(self.job_dir(job_id)) for job_id in self.ids()}
        total = sum(sizes.values())
        evicted = []
        if total <= budget_bytes:
            return evicted
        candidates = []
        for job_id in sizes:
            record = self.get(job_id)
            if job_id in protect or (record is not None and record.get("state") in ACTIVE):
                continue
            candidates.append((self.last_access(job_id), job_id))
        for _, job_id in sorted(candidates):
            if total <= budget_bytes:
                break
            if self.delete(job_id):
                total -= sizes[job_id]
                evicted.append(job_id)
                log.info("evicted job %s (%d bytes) to keep the store under budget", job_id, sizes[job_id])
        return evicted

    # ---- recovery ----------------------------------------------------------------------------------
    def recover(self, stale_after: float, *, me: str | None = None) -> list[str]:
        """Fail running jobs whose worker is gone: a dead process on this host, or no heartbeat for
        ``stale_after`` seconds (a worker on another machine that died). Returns the ids failed."""
        host = socket.gethostname()
        now = time.time()
        failed = []
        for record in self.records():
            if record.get("state") != "running":
                continue
            worker = str(record.get("worker") or "")
            worker_host, _, pid = worker.rpartition(":")
            dead = worker_host == host and pid.isdigit() and worker != me and not pid_alive(int(pid))
            silent = now - float(record.get("heartbeat") or record.get("started") or 0) > stale_after
            if not (dead or silent):
                continue
            reason = ("the worker running this job stopped (process ended) before it finished"
                      if dead else f"the worker running this job stopped answering for over {stale_after:g} s")
            result = self.update(record["id"], only_if_state=("running",), state="failed", finished=now,
                                 eta_s=None, error=f"{reason}; post the job again to retry")
            if result is not None and result.get("state") == "failed":
                failed.append(record["id"])
                log.warning("job %s marked failed: %s", record["id"], reason)
                if dead:  # its half-written render (tmp/render-<id>-*) will never be published: remove it
                    self.discard_staging(f"render-{record['id'][:12]}-")
        return failed

    def discard_staging(self, prefix: str) -> None:
        """Remove the folders under tmp/ whose name starts with ``prefix`` (a dead worker's render)."""
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.tmp_dir):
                if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)

    def cleanup_tmp(self, older_than: float = 6 * 3600) -> None:
        """Remove leftovers of crashed uploads / renders and emptied trash."""
        now = time.time()
        for folder in (self.tmp_dir, self.trash_dir):
            for entry in os.scandir(folder):
                with contextlib.suppress(OSError):
                    if folder is self.trash_dir or now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                        if entry.is_dir(follow_symlinks=False):
                            shutil.rmtree(entry.path, ignore_errors=True)
                        else:
                            os.unlink(entry.path)
