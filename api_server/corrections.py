"""A correction: a finished job's video and every annotation so far, plus masks the user drew on frames where the
result went wrong, queued as a new job. The corrected job is never changed; the new one links to it (``parent``).
"""
from __future__ import annotations

import hashlib
import os
import shutil

from werkzeug.datastructures import FileStorage

from osvos.masks import MaskError, load_mask

from .errors import ApiError
from .frames import stored_annotations, video_info
from .pipeline import JobParams
from .submit import clean_name, content_id, enqueue_new, model_version, new_record, write_annotations


def parse_corrections(form, files, frames: int) -> dict[int, FileStorage]:
    """The request's (frame, mask) pairs: repeated ``frame`` fields and ``mask`` files, paired in order.
    400 with a clear message for a missing or unpaired field, an index that is not a frame of the video, or a
    frame given twice."""
    indices, masks = form.getlist("frame"), files.getlist("mask")
    if not masks:
        raise ApiError(400, "missing_field", "the form field 'mask' (a corrected mask image) is missing; send "
                                             "multipart/form-data with one 'frame' and one 'mask' per frame")
    if len(indices) != len(masks):
        raise ApiError(400, "invalid_parameter", f"give one 'frame' for each 'mask' (in the same order): got "
                                                 f"{len(indices)} frame fields and {len(masks)} masks")
    pairs: dict[int, FileStorage] = {}
    for raw, mask in zip(indices, masks):
        try:
            index = int(raw.strip())
        except ValueError:
            raise ApiError(400, "invalid_parameter",
                           f"'frame' must be a whole number (0 is the first frame), not {raw[:20]!r}") from None
        if not 0 <= index < frames:
            raise ApiError(400, "invalid_parameter",
                           f"frame {index} is outside the video: it has frames 0 to {frames - 1}")
        if index in pairs:
            raise ApiError(400, "invalid_parameter", f"frame {index} is given twice; send one mask per frame")
        pairs[index] = mask
    return pairs


def _file_digest(path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _link_or_copy(source, target) -> None:
    """The parent's video in the new job's folder: a hard link (same store, no copy), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def correct(services, parent_id: str, parent: dict, form, files) -> tuple[dict, bool]:
    """Queue the correction of job ``parent`` (its record) as a new job: its video, its annotations and the new
    ones (a frame it had annotated takes the new mask), its parameters. Returns (record, created); the same
    correction twice is one job. Raises ApiError for a job that is not done and for bad input."""
    store, settings = services.store, services.settings
    if parent.get("state") != "done":
        raise ApiError(409, "not_ready", f"the job is {parent.get('state')}; a job can be corrected once it is done")
    info = video_info(parent)
    drawn = {}
    for index, upload in parse_corrections(form, files, info.frames).items():
        try:
            drawn[index] = load_mask(upload.stream.read(), size=(info.width, info.height))
        except MaskError as exc:
            raise ApiError(422, "invalid_mask", f"the mask of frame {index}: {exc}") from None
    try:
        annotations = {**stored_annotations(store, parent), **drawn}
    except FileNotFoundError:
        raise ApiError(404, "not_found", "the job's files are gone (deleted or evicted)") from None
    params = JobParams.from_dict(parent.get("params"), settings.default_steps)
    staging = store.staging("correction")
    try:
        try:
            _link_or_copy(store.video_path(parent_id), staging / "video")
        except FileNotFoundError:
            raise ApiError(404, "not_found", "the job's files are gone (deleted or evicted)") from None
        write_annotations(staging, annotations)
        version = model_version(services)
        job_id = content_id(_file_digest(staging / "video"), annotations, params, version, settings.work_size)
        record = new_record(name=clean_name(form.get("name")) or parent.get("name") or "video", info=info,
                            video_bytes=int(parent.get("video_bytes") or 0), params=params, version=version,
                            settings=settings, annotations=annotations, parent=parent_id)
        record, created = store.create(job_id, staging, record)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return enqueue_new(services, job_id, record, created), created
