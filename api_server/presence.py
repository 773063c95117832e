"""Which worker processes serve this store, and what each is doing.

Every process with worker threads keeps one small file, ``workers/<host>-<pid>.json`` under the store, rewritten
when one of its jobs starts or ends and every ``BEAT_S`` seconds; ``GET /api/v1/health`` reads them all, so the
API sees the workers of every machine that shares the store. A process that stops cleanly removes its file; the
file of one that died stays, shown as ``stopped`` or ``silent``, until a live worker prunes it.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Callable

from .store import atomic_write_json, pid_alive, worker_identity

BEAT_S = 5.0
"""How often a worker process rewrites its file; three missed beats make it ``silent``."""


def _folder(root: Path) -> Path:
    return Path(root) / "workers"


class Presence:
    """This process's file: its worker threads, the jobs they run now, how many jobs it has run."""

    def __init__(self, root: Path, threads: int, model_state: Callable[[], str]):
        self.model_state = model_state
        self.identity = worker_identity()
        folder = _folder(root)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", self.identity.replace(":", "-")) + ".json")
        self._lock = threading.Lock()
        self._running: list[str] = []
        self._state = {"id": self.identity, "host": socket.gethostname(), "pid": os.getpid(), "threads": threads,
                       "started": time.time(), "jobs_run": 0}

    def _write(self) -> None:
        atomic_write_json(self.path, {**self._state, "running": list(self._running), "model": self.model_state(),
                                      "beat": time.time()})

    def beat(self) -> None:
        with self._lock:
            self._write()

    def job_started(self, job_id: str) -> None:
        with self._lock:
            self._running.append(job_id)
            self._write()

    def job_ended(self, job_id: str, ran: bool) -> None:
        """``ran``: this process claimed and ran it (False: the queue's entry was stale, the job skipped)."""
        with self._lock:
            with contextlib.suppress(ValueError):
                self._running.remove(job_id)
            self._state["jobs_run"] += int(ran)
            self._write()

    def remove(self) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _state(entry: dict, now: float, host: str) -> str:
    pid = entry.get("pid")
    if entry.get("host") == host and isinstance(pid, int) and not pid_alive(pid):
        return "stopped"
    if now - float(entry.get("beat") or 0) > 3 * BEAT_S:
        return "silent"
    if entry.get("running"):
        return "busy"
    return "starting" if entry.get("model") in ("not loaded", "loading") else "idle"


def _entries(root: Path) -> list[tuple[Path, dict]]:
    found = []
    with contextlib.suppress(FileNotFoundError):
        for path in sorted(_folder(root).glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append((path, json.loads(path.read_text())))
    return found


def workers(root: Path) -> list[dict]:
    """Every worker process that has a file in the store: ``id``, ``state`` (starting: loading its model, idle,
    busy, silent: no beat for three rounds, stopped: its process is gone from this host), ``running`` job ids,
    ``jobs_run``, ``threads``, ``model`` (its model's state), ``last_seen_s``."""
    now, host = time.time(), socket.gethostname()
    return [{"id": entry.get("id"), "state": _state(entry, now, host), "running": entry.get("running") or [],
             "jobs_run": entry.get("jobs_run", 0), "threads": entry.get("threads"), "model": entry.get("model"),
             "last_seen_s": round(now - float(entry.get("beat") or 0), 1)}
            for _path, entry in _entries(root)]


def prune(root: Path, older_than: float) -> None:
    """Remove the files of processes that have not beaten for ``older_than`` seconds."""
    now = time.time()
    for path, entry in _entries(root):
        if now - float(entry.get("beat") or 0) > older_than:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
