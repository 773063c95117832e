"""What the routes share: the app's settings, job store, queue and model, and the API's version."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .job_queue import JobQueue
from .model_pool import ModelHolder
from .settings import Settings
from .store import JobStore
from .worker_pool import WorkerPool

API_VERSION = "1.0.0"


@dataclass
class Services:
    """What the routes use, built once per app (and shared with the embedded workers)."""

    settings: Settings
    store: JobStore
    queue: JobQueue
    holder: ModelHolder
    pool: WorkerPool | None = None


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["osvos"]
