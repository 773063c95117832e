"""GET /api/v1/jobs/<id>/outputs/<name> — files with ETag, conditional requests and HTTP Range."""
from __future__ import annotations

from flask import Blueprint, request, send_file

from ..contract import OUTPUTS
from ..errors import ApiError
from ..services import services
from ..settings import parse_boolean
from .views import job_record, private_if_authenticated

bp = Blueprint("outputs", __name__, url_prefix="/api/v1/jobs")


def send_output(job_id: str, name: str, *, attachment: bool = False):
    store = services().store
    media_type = OUTPUTS.get(name)
    if media_type is None:
        raise ApiError(404, "unknown_output", f"no output called '{name[:60]}'; outputs are: "
                                              + ", ".join(OUTPUTS))
    record = job_record(job_id)
    if record.get("state") != "done":
        raise ApiError(409, "not_ready", f"the job is {record.get('state')}; outputs exist once it is done")
    path = store.output_path(job_id, name)  # name is one of the OUTPUTS keys (checked above)
    try:
        size = path.stat().st_size
        response = send_file(path, mimetype=media_type, conditional=True, etag=f"{job_id}-{name}-{size}",
                             as_attachment=attachment, download_name=f"{job_id[:12]}-{name}", max_age=3600)
    except FileNotFoundError:
        raise ApiError(404, "not_found", "the job's outputs are gone (deleted or evicted)") from None
    store.touch(job_id)
    response.headers["Accept-Ranges"] = "bytes"
    return private_if_authenticated(response)


@bp.get("/<job_id>/outputs/<name>")
def get_output(job_id: str, name: str):
    raw = request.args.get("download", "").strip()
    try:
        attachment = parse_boolean(raw) if raw else False
    except ValueError:
        raise ApiError(400, "invalid_parameter", "'download' must be true or false") from None
    return send_output(job_id, name, attachment=attachment)
