"""POST/GET/DELETE /api/v1/jobs…"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..contract import STATES, TERMINAL
from ..corrections import correct
from ..errors import ApiError
from ..services import services
from ..submit import submit
from .views import NOT_FOUND, checked_id, job_record, job_view, view_etag

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


def _queued(record: dict, created: bool):
    """202 with the job's id, status URL and state; ``deduplicated`` when an identical job existed."""
    view = job_view(record)
    body = {"id": record["id"], "status_url": view["status_url"], "state": record["state"],
            "deduplicated": not created, "parent": view["parent"], "annotated_frames": view["annotated_frames"]}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = view["status_url"]
    return response


@bp.post("")
def create_job():
    record, created = submit(services(), video=request.files.get("video"), mask=request.files.get("mask"),
                             form=request.form, name=request.form.get("name"))
    return _queued(record, created)


@bp.post("/<job_id>/corrections")
def correct_job(job_id: str):
    """A new job: this finished job's video and annotations plus the posted (frame, mask) pairs."""
    record, created = correct(services(), job_id, job_record(job_id), request.form, request.files)
    return _queued(record, created)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"'{name}' must be between {low} and {high}")
    return value


@bp.get("")
def list_jobs():
    limit = _int_arg("limit", 20, 1, 100)
    offset = _int_arg("offset", 0, 0, 10**9)
    state = request.args.get("state", "done").strip().lower() or "done"
    if state not in STATES + ("all",):
        raise ApiError(400, "invalid_parameter", f"'state' must be one of {', '.join(STATES + ('all',))}")
    records = [r for r in services().store.records() if state == "all" or r.get("state") == state]
    records.sort(key=lambda r: (r.get("finished") or r.get("created") or 0), reverse=True)
    page = records[offset:offset + limit]
    return jsonify({"jobs": [job_view(r) for r in page], "total": len(records), "limit": limit,
                    "offset": offset})


@bp.get("/<job_id>")
def get_job(job_id: str):
    """The job's view, with an ETag of its stored record: a poller that sends it back in ``If-None-Match`` gets
    ``304 Not Modified`` (no body) until the record changes. A read never writes (the last-read mark moves at
    most every 30 s)."""
    store = services().store
    raw = store.get_bytes(checked_id(job_id))
    record = store.parse(job_id, raw)
    if record is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    store.touch(job_id)
    tag = view_etag(raw)
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        response = jsonify(job_view(record))
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str):
    record = job_record(job_id)
    if record.get("state") == "cancelled":
        return jsonify(job_view(record))
    if record.get("state") in TERMINAL:
        raise ApiError(409, "not_cancellable", f"the job is already {record['state']}")
    record = services().store.request_cancel(job_id) or record
    response = jsonify(job_view(record))
    response.status_code = 202
    return response


@bp.delete("/<job_id>")
def delete_job(job_id: str):
    job_record(job_id)
    if not services().store.delete(job_id):
        raise ApiError(404, "not_found", "no job with this id")
    return jsonify({"id": job_id, "deleted": True})
