"""GET /api/v1/jobs/<id>/frames/<n>, /masks/<n>, /annotations/<n>[/thumbnail] — one frame of a job by index:
the video's frame, the predicted mask, the annotation and its thumbnail (what a correction is drawn on)."""
from __future__ import annotations

import io
from typing import Callable

from flask import Blueprint, send_file

from ..errors import ApiError
from ..frames import annotation_thumbnail, frame_jpeg, predicted_mask_png
from ..services import services
from ..store import annotated_frames
from .views import job_record, private_if_authenticated

bp = Blueprint("frames", __name__, url_prefix="/api/v1/jobs")

MAX_AGE = 3600


def _in_video(record: dict, index: int) -> None:
    frames = int(record.get("frames") or 0)
    if not 0 <= index < frames:
        raise ApiError(404, "not_found", f"frame {index} is outside the video: it has frames 0 to {frames - 1}")


def _annotated(record: dict, index: int) -> None:
    frames = annotated_frames(record)
    if index not in frames:
        raise ApiError(404, "not_found", f"frame {index} is not annotated in this job; its annotated frames are "
                                         + ", ".join(map(str, frames)))


def _send(data_or_path, media_type: str, etag: str):
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    response = send_file(source, mimetype=media_type, conditional=True, etag=etag, max_age=MAX_AGE)
    return private_if_authenticated(response)


def _gone() -> ApiError:
    return ApiError(404, "not_found", "the job's files are gone (deleted or evicted)")


def _made(make: Callable, *args):
    """``make(*args)``; a file that is gone, or a frame the video does not decode to, is a 404."""
    try:
        return make(*args)
    except FileNotFoundError:
        raise _gone() from None
    except ValueError as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@bp.get("/<job_id>/frames/<int:index>")
def frame(job_id: str, index: int):
    """Frame ``index`` of the job's video (JPEG), decoded by index, never by time."""
    record = job_record(job_id)
    _in_video(record, index)
    path = _made(frame_jpeg, services().store, record, index)
    return _send(path, "image/jpeg", f"{job_id}-frame-{index}")


@bp.get("/<job_id>/masks/<int:index>")
def predicted_mask(job_id: str, index: int):
    """Mask ``index`` of a finished job's masks.zip (0/255 PNG)."""
    record = job_record(job_id)
    if record.get("state") != "done":
        raise ApiError(409, "not_ready", f"the job is {record.get('state')}; its masks exist once it is done")
    _in_video(record, index)
    data = _made(predicted_mask_png, services().store, job_id, index)
    return _send(data, "image/png", f"{job_id}-mask-{index}-{record.get('finished')}")


@bp.get("/<job_id>/annotations/<int:index>")
def annotation(job_id: str, index: int):
    """The mask the job was given for annotated frame ``index`` (0/255 PNG)."""
    record = job_record(job_id)
    _annotated(record, index)
    path = services().store.annotation_path(job_id, index)
    if not path.is_file():
        raise _gone()
    return _send(path, "image/png", f"{job_id}-annotation-{index}")


@bp.get("/<job_id>/annotations/<int:index>/thumbnail")
def annotation_preview(job_id: str, index: int):
    """Annotated frame ``index`` with its mask tinted over it, small (JPEG): the job's history."""
    record = job_record(job_id)
    _annotated(record, index)
    data = _made(annotation_thumbnail, services().store, record, index)
    return _send(data, "image/jpeg", f"{job_id}-annotation-{index}-thumbnail")
