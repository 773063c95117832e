"""How a stored job record is shown to clients."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from flask import url_for

from ..contract import OUTPUTS
from ..errors import ApiError
from ..services import services
from ..store import annotated_frames, valid_id

NOT_FOUND = "no job with this id (it may have been deleted or evicted)"

VIEW_VERSION = b"job view 1"
"""Part of every job ETag: change it when ``job_view`` shows a record differently."""


def iso(timestamp) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(float(timestamp), timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def checked_id(job_id: str) -> str:
    if not valid_id(job_id):
        raise ApiError(404, "not_found", "no job with this id")
    return job_id


def view_etag(raw: bytes) -> str:
    """The ETag of a job's view: a digest of its stored record (the view is a function of it alone)."""
    return hashlib.blake2b(VIEW_VERSION + b"\0" + raw, digest_size=12).hexdigest()


def job_record(job_id: str) -> dict:
    """The stored record of ``job_id``; 404 when there is none."""
    record = services().store.get(checked_id(job_id))
    if record is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    return record


def private_if_authenticated(response):
    """Files of an API that needs a token must not sit in shared caches."""
    if services().settings.api_token:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def job_view(record: dict) -> dict:
    job_id = record["id"]
    done = record.get("state") == "done"
    eta = record.get("eta_s")
    view = {
        "id": job_id,
        "name": record.get("name"),
        "state": record.get("state"),
        "stage": record.get("stage") if record.get("state") == "running" else None,
        "progress": round(float(record.get("progress") or 0.0), 4),
        "eta_s": None if eta is None else round(float(eta), 1),
        "error": record.get("error"),
        "frames": record.get("frames"),
        "fps": record.get("fps"),
        "width": record.get("width"),
        "height": record.get("height"),
        "created": iso(record.get("created")),
        "started": iso(record.get("started")),
        "finished": iso(record.get("finished")),
        "params": record.get("params"),
        "annotated_frames": annotated_frames(record),
        "parent": record.get("parent"),
        "model_version": record.get("model_version"),
        "cancel_requested": bool(record.get("cancel_requested")) and record.get("state") == "running",
        "status_url": url_for("jobs.get_job", job_id=job_id),
        "outputs": {name: url_for("outputs.get_output", job_id=job_id, name=name) for name in OUTPUTS}
        if done else {},
    }
    if done:
        view["output_bytes"] = record.get("output_bytes") or {}
        view["duration_s"] = record.get("duration_s")
        view["timings"] = {k: round(float(v), 3) for k, v in (record.get("timings") or {}).items()}
    return view
