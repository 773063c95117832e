"""GET /api/v1/health — is the service up, is the model loaded, how long is the queue."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..services import API_VERSION, services

bp = Blueprint("health", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    svc = services()
    counts = {state: 0 for state in ("queued", "running")}
    for record in svc.store.records():
        if record.get("state") in counts:
            counts[record["state"]] += 1
    try:
        pending = svc.queue.pending_count()
        queue_ok = True
    except Exception:  # noqa: BLE001 - e.g. Redis down: reported, not raised
        pending, queue_ok = None, False
    workers = svc.pool.workers if svc.pool else 0
    alive = svc.pool.alive() if svc.pool else 0
    ok = queue_ok and svc.holder.state != "error" and alive == workers
    return jsonify({
        "status": "ok" if ok else "degraded",
        "api_version": API_VERSION,
        "model": {"state": svc.holder.state, "version": svc.holder.version_if_known, "error": svc.holder.error,
                  "work_size": svc.settings.work_size},
        "queue": {"backend": svc.queue.backend, "pending": pending, "reachable": queue_ok},
        "workers": {"embedded": workers, "alive": alive},
        "jobs": counts,
        "limits": {"max_upload_mb": svc.settings.max_upload_mb, "max_frames": svc.settings.max_frames,
                   "default_steps": svc.settings.default_steps, "max_budget_s": svc.settings.max_budget},
        "auth": bool(svc.settings.api_token),
    })
