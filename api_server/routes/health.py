"""GET /api/v1/health — is the service up, is the model loaded, how deep is the queue, what each worker
process sharing the store is doing."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from .. import presence
from ..job_queue import QueueUnavailable
from ..services import API_VERSION, services
from ..store import worker_identity

bp = Blueprint("health", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    svc = services()
    counts = {state: 0 for state in ("queued", "running")}
    oldest_queued = None
    for record in svc.store.records():
        if record.get("state") in counts:
            counts[record["state"]] += 1
        if record.get("state") == "queued":
            oldest_queued = min(oldest_queued or float("inf"), float(record.get("updated") or 0))
    try:
        pending = svc.queue.pending_count()
        queue_ok = True
    except QueueUnavailable:
        pending, queue_ok = None, False
    workers = svc.pool.workers if svc.pool else 0
    alive = svc.pool.alive() if svc.pool else 0
    processes = presence.workers(svc.store.root)
    ok = queue_ok and svc.holder.state != "error" and alive == workers
    return jsonify({
        "status": "ok" if ok else "degraded",
        "api_version": API_VERSION,
        "instance": worker_identity(),
        "model": {"state": svc.holder.state, "version": svc.holder.version_if_known, "error": svc.holder.error,
                  "work_size": svc.settings.work_size},
        "queue": {"backend": svc.queue.backend, "pending": pending, "reachable": queue_ok,
                  "oldest_queued_s": None if oldest_queued is None else round(time.time() - oldest_queued, 1)},
        "workers": {"embedded": workers, "alive": alive,
                    "live": sum(1 for w in processes if w["state"] in ("idle", "busy")), "processes": processes},
        "jobs": counts,
        "limits": {"max_upload_mb": svc.settings.max_upload_mb, "max_frames": svc.settings.max_frames,
                   "default_steps": svc.settings.default_steps, "max_budget_s": svc.settings.max_budget},
        "auth": bool(svc.settings.api_token),
    })
