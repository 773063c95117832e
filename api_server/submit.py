"""Validating an upload and turning it into a queued, content-addressed job (both upload routes), and the steps
of that which corrections share: the job id, the annotation files, the record, the queueing."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
import unicodedata
from pathlib import Path
from typing import Mapping

import numpy as np
from werkzeug.datastructures import FileStorage

from osvos.budget import DEFAULT_SNAP, MAX_DREAMS
from osvos.masks import MaskError, load_mask, mask_png_bytes
from osvos.video import VideoError, VideoInfo, probe_video

from .contract import RETRYABLE
from .errors import ApiError
from .pipeline import JobParams
from .settings import MAX_ITERATIONS, parse_boolean
from .store import annotation_file

log = logging.getLogger(__name__)

MAX_NAME = 200
MIN_FRAMES = 2
"""Frame 0 is the one the user's mask is drawn on: a video needs at least one more to have anything to track."""


def parse_params(form, settings) -> JobParams:
    """``iterations`` (fine-tuning steps) and/or ``budget`` (seconds: with ``iterations`` a cap, alone the whole
    budget); neither: ``settings.default_steps``. ``snap`` (boolean, default ``DEFAULT_SNAP``), ``dreams`` (0 to
    ``MAX_DREAMS``, default ``settings.default_dreams``). 400 with a clear message otherwise."""
    iterations_raw = (form.get("iterations") or "").strip()
    budget_raw = (form.get("budget") or "").strip()
    iterations = budget = None
    if iterations_raw:
        try:
            iterations = int(iterations_raw)
        except ValueError:
            raise ApiError(400, "invalid_parameter", "'iterations' must be a whole number of steps") from None
        if not 1 <= iterations <= MAX_ITERATIONS:
            raise ApiError(400, "invalid_parameter", f"'iterations' must be between 1 and {MAX_ITERATIONS}")
    if budget_raw:
        try:
            budget = float(budget_raw)
        except ValueError:
            raise ApiError(400, "invalid_parameter", "'budget' must be a number of seconds") from None
        if not math.isfinite(budget) or not 0 < budget <= settings.max_budget:
            raise ApiError(400, "invalid_parameter",
                           f"'budget' must be more than 0 and at most {settings.max_budget:g} seconds")
    if iterations is None and budget is None:
        iterations = settings.default_steps
    snap_raw = (form.get("snap") or "").strip()
    try:
        snap = parse_boolean(snap_raw) if snap_raw else DEFAULT_SNAP
    except ValueError:
        raise ApiError(400, "invalid_parameter", "'snap' must be true or false") from None
    dreams_raw = (form.get("dreams") or "").strip() or str(settings.default_dreams)
    if not (dreams_raw.isascii() and dreams_raw.isdigit()) or int(dreams_raw) > MAX_DREAMS:
        raise ApiError(400, "invalid_parameter", f"'dreams' must be a whole number from 0 to {MAX_DREAMS}")
    return JobParams(budget=budget, iterations=iterations, snap=snap, dreams=int(dreams_raw))


def clean_name(raw: str | None) -> str:
    """A display name only (never a path): printable characters, at most 200 of them."""
    text = unicodedata.normalize("NFC", raw or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C").strip()
    return text[:MAX_NAME]


def mask_digest(mask: np.ndarray) -> bytes:
    """Content hash of a binarised mask (the same drawing saved as PNG or JPEG gives the same job)."""
    mask = np.asarray(mask, bool)
    return hashlib.sha256(np.array(mask.shape, np.int64).tobytes() + np.packbits(mask).tobytes()).digest()


def _missing(field: str, what: str) -> ApiError:
    return ApiError(400, "missing_field", f"the form field '{field}' ({what}) is missing; "
                                          "send multipart/form-data with a file in it")


def submit(services, *, video: FileStorage | None, mask: FileStorage | None, form, name: str | None,
           video_field: str = "video", mask_field: str = "mask") -> tuple[dict, bool]:
    """Validate and queue a job. Returns (record, created); raises ApiError for bad input.

    Identical content (video bytes, binarised mask, parameters, model version and work size) gives the same
    id: the existing job is returned and nothing is computed again, unless it had failed or been cancelled,
    in which case it is queued again.
    """
    settings, store = services.settings, services.store
    if video is None:
        raise _missing(video_field, "the video")
    if mask is None:
        raise _missing(mask_field, "the first-frame mask image")
    params = parse_params(form, settings)
    staging = store.staging("upload")
    try:
        video_path = staging / "video"
        digest = hashlib.sha256()
        size = 0
        with open(video_path, "wb") as out:
            while True:
                chunk = video.stream.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size == 0:
            raise ApiError(422, "invalid_video", "the video file is empty")
        try:
            info = probe_video(video_path)
        except VideoError as exc:
            raise ApiError(422, "invalid_video", str(exc)) from None
        if info.frames > settings.max_frames:
            raise ApiError(422, "too_many_frames", f"the video has {info.frames} frames; this server takes at "
                                                   f"most {settings.max_frames} (trim or subsample it)")
        if info.frames < MIN_FRAMES:
            raise ApiError(422, "too_few_frames",
                           f"the video has only {info.frames} frame; at least {MIN_FRAMES} are needed "
                           "(the mask gives frame 0, the others are what gets segmented)")
        if not info.fps or info.fps <= 0:
            raise ApiError(422, "invalid_video", "the video has no usable frame rate")
        try:
            mask_array = load_mask(mask.stream.read(), size=(info.width, info.height))
        except MaskError as exc:
            raise ApiError(422, "invalid_mask", str(exc)) from None
        annotations = {0: mask_array}
        write_annotations(staging, annotations)
        version = model_version(services)
        job_id = content_id(digest.digest(), annotations, params, version, settings.work_size)
        record = new_record(name=clean_name(name) or clean_name(video.filename) or "video", info=info,
                            video_bytes=size, params=params, version=version, settings=settings,
                            annotations=annotations)
        record, created = store.create(job_id, staging, record)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return enqueue_new(services, job_id, record, created), created


def model_version(services) -> str:
    """The weights' version (part of every job id); 503 when the model cannot be loaded."""
    try:
        return services.holder.version()
    except Exception as exc:  # noqa: BLE001 - reported to the client as 503
        raise ApiError(503, "model_unavailable", f"the model could not be loaded: {exc}") from None


def content_id(video_digest: bytes, annotations: Mapping[int, np.ndarray], params: JobParams, version: str,
               work_size: int) -> str:
    """The job id: a hash of the video's bytes, every annotated frame's binarised mask, the parameters, the model
    version and the work size. A job annotated on frame 0 only has the id it had before corrections existed."""
    key = {"params": params.as_dict(), "model": version, "work_size": work_size}
    others = {str(index): mask_digest(mask).hex() for index, mask in annotations.items() if index != 0}
    if others:
        key["annotations"] = others
    return hashlib.sha256(b"osvos-studio job v1\0" + video_digest + mask_digest(annotations[0])
                          + json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def write_annotations(folder: Path, annotations: Mapping[int, np.ndarray]) -> None:
    """Write each annotated frame's mask (0/255 PNG) where the store keeps it, into a staging folder."""
    for index, mask in annotations.items():
        path = annotation_file(folder, index)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(mask_png_bytes(mask))


def new_record(*, name: str, info: VideoInfo, video_bytes: int, params: JobParams, version: str, settings,
               annotations: Mapping[int, np.ndarray], parent: str | None = None) -> dict:
    """The record of a job about to be queued."""
    return {
        "name": name, "state": "queued", "stage": None, "progress": 0.0, "eta_s": None, "error": None,
        "frames": info.frames, "fps": info.fps, "width": info.width, "height": info.height, "codec": info.codec,
        "video_bytes": video_bytes, "params": params.as_dict(), "model_version": version,
        "work_size": settings.work_size, "annotated_frames": sorted(annotations), "parent": parent,
        "created": time.time(), "started": None, "finished": None, "attempts": 0,
    }


def enqueue_new(services, job_id: str, record: dict, created: bool) -> dict:
    """Queue a job that ``store.create`` just made, or queue again an existing one that failed or was cancelled;
    then keep the store within its budget. Returns the job's record."""
    settings, store = services.settings, services.store
    if created:
        services.queue.enqueue(job_id)
        log.info("job %s queued (%d frames %dx%d, annotated %s)", job_id, record["frames"], record["width"],
                 record["height"], record.get("annotated_frames"))
    elif record.get("state") in RETRYABLE:
        requeued = store.requeue(job_id, reason=f"posted again after it was {record['state']}")
        if requeued is not None and requeued.get("state") == "queued":
            services.queue.enqueue(job_id)
            record = requeued
            log.info("job %s queued again", job_id)
    store.touch(job_id)
    try:
        store.evict(settings.cache_bytes, protect=(job_id,))
    except OSError:
        log.exception("eviction failed")
    return record
