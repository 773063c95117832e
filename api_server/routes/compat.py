"""POST /api/infer — the original app's synchronous API (fields File, Frame, videoname → side-by-side MP4).

The request waits for a normal job (so the render cache and dedupe apply) and returns its
``side_by_side.mp4``. The job id is in the ``X-Job-Id`` header.
"""
from __future__ import annotations

import time

from flask import Blueprint, request

from ..errors import ApiError
from ..services import services
from ..submit import submit
from .outputs import send_output

bp = Blueprint("compat", __name__, url_prefix="/api")


@bp.post("/infer")
def infer():
    svc = services()
    record, _created = submit(svc, video=request.files.get("File"), mask=request.files.get("Frame"),
                              form=request.form, name=request.form.get("videoname"),
                              video_field="File", mask_field="Frame")
    job_id = record["id"]
    deadline = time.monotonic() + svc.settings.infer_timeout
    delay = 0.1
    while True:
        record = svc.store.get(job_id)
        if record is None:
            raise ApiError(410, "gone", "the job was deleted while waiting for it")
        state = record.get("state")
        if state == "done":
            break
        if state == "failed":
            raise ApiError(500, "job_failed", record.get("error") or "the job failed")
        if state == "cancelled":
            raise ApiError(409, "cancelled", "the job was cancelled")
        if time.monotonic() > deadline:
            raise ApiError(504, "timeout", f"the job is still {state}; poll /api/v1/jobs/{job_id}",
                           {"X-Job-Id": job_id})
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    response = send_output(job_id, "side_by_side.mp4")
    response.headers["X-Job-Id"] = job_id
    return response
