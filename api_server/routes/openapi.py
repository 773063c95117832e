"""GET /api/v1/openapi.json — the OpenAPI 3.1 description of every endpoint."""
from __future__ import annotations

from flask import Blueprint, jsonify

from osvos.budget import DEFAULT_SNAP, MAX_DREAMS, QUICK_DREAMS, QUICK_STEPS

from ..contract import OUTPUTS, STAGES, STATES
from ..services import API_VERSION, services
from ..settings import MAX_ITERATIONS

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


JOB_ID = {"name": "job_id", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
          "description": "content-addressed job id"}
FRAME_INDEX = {"name": "index", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0},
               "description": "frame index: 0 is the first frame; frame n of the video is mask n of masks.zip"}


def _image(media_type: str, description: str) -> dict:
    return {"description": description, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}


def _frame_paths() -> dict:
    """The paths that give one frame of a job by index (what a correction is drawn on)."""
    def get(summary: str, operation: str, media_type: str, what: str, extra: dict | None = None) -> dict:
        return {"parameters": [JOB_ID, FRAME_INDEX],
                "get": {"summary": summary, "operationId": operation,
                        "responses": {"200": _image(media_type, what), "304": {"description": "not modified"},
                                      **(extra or {})}}}

    return {
        "/api/v1/jobs/{job_id}/frames/{index}": get(
            "Frame n of the job's video, decoded by index on the server (never seeked by time)", "getFrame",
            "image/jpeg", "the frame", {"404": _error("no such job, or no such frame")}),
        "/api/v1/jobs/{job_id}/masks/{index}": get(
            "Predicted mask n of a finished job (the n-th PNG of masks.zip)", "getPredictedMask", "image/png",
            "0/255 mask", {"404": _error("no such job or frame"), "409": _error("the job is not done")}),
        "/api/v1/jobs/{job_id}/annotations/{index}": get(
            "The mask a job was given for annotated frame n", "getAnnotation", "image/png", "0/255 mask",
            {"404": _error("no such job, or the frame is not annotated")}),
        "/api/v1/jobs/{job_id}/annotations/{index}/thumbnail": get(
            "Annotated frame n with its mask tinted over it, small (the job's history)", "getAnnotationThumbnail",
            "image/jpeg", "thumbnail", {"404": _error("no such job, or the frame is not annotated")}),
    }


def spec(settings) -> dict:
    upload_fields = {
        "iterations": {"type": "integer", "minimum": 1, "maximum": MAX_ITERATIONS,
                       "description": f"fine-tuning steps (default {settings.default_steps}): the same video and "
                                      "mask give the same masks on any machine"},
        "budget": {"type": "number", "exclusiveMinimum": 0, "maximum": settings.max_budget,
                   "description": "fine-tuning seconds: with 'iterations', a time cap (whichever comes first); "
                                  "alone, train for this long (the result then depends on the machine)"},
        "snap": {"type": "boolean", "default": DEFAULT_SNAP,
                 "description": "snap the network's mask to image contours where it is unsure: the mask carried "
                                "to the next frame, and the mask given out when the server runs without the dense "
                                "CRF (OSVOS_CRF=false)"},
        "dreams": {"type": "integer", "minimum": 0, "maximum": MAX_DREAMS, "default": settings.default_dreams,
                   "description": "synthetic later frames made from the annotated one (object moved, warped and "
                                  f"recoloured) to fine-tune on as well; {QUICK_DREAMS} with iterations "
                                  f"{QUICK_STEPS} is the quick setting (a third of the fine-tuning time, lower "
                                  "J and F)"},
    }
    bad_input = {
        "400": _error("missing field or invalid parameter"),
        "413": _error(f"request larger than {settings.max_upload_mb:g} MB"),
        "422": _error("not a video / fewer than 2 frames / more than the frame cap / mask undecodable, empty, "
                      "full, not a mask or not the video's size"),
    }
    video_response = {"description": "the file; supports Range requests (206) and conditional GET (304)",
                      "content": {media: {"schema": {"type": "string", "format": "binary"}}
                                  for media in sorted(set(OUTPUTS.values()))}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "osvos-studio inference API", "version": API_VERSION,
                 "description": "One-shot video object segmentation (OSVOS) as jobs: upload a video and its "
                                "first-frame mask, poll the job, download the outputs. Job ids are derived "
                                "from the content, so identical uploads share one job (render cache)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}] if settings.api_token else [],
        "paths": {
            "/api/v1/jobs": {
                "post": {
                    "summary": "Queue a segmentation job",
                    "operationId": "createJob",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["video", "mask"],
                        "properties": {
                            "video": {"type": "string", "format": "binary",
                                      "description": f"any video ffmpeg decodes, at most "
                                                     f"{settings.max_frames} frames"},
                            "mask": {"type": "string", "format": "binary",
                                     "description": "first-frame mask image (PNG/JPEG, the video's size; "
                                                    "object in one colour, background in another)"},
                            "name": {"type": "string", "maxLength": 200, "description": "display name"},
                            **upload_fields}}}}},
                    "responses": {"202": {**_json("JobCreated", "queued, running or already done (same id)"),
                                          "headers": {"Location": {"schema": {"type": "string"}}}},
                                  **bad_input, "503": _error("the model could not be loaded, or the job queue "
                                                             "cannot be reached (header Retry-After)")},
                },
                "get": {
                    "summary": "List jobs, newest first (finished ones by default: the gallery)",
                    "operationId": "listJobs",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                     "maximum": 100, "default": 20}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                      "default": 0}},
                        {"name": "state", "in": "query",
                         "schema": {"type": "string", "enum": [*STATES, "all"], "default": "done"}}],
                    "responses": {"200": _json("JobList", "a page of jobs"), "400": _error("bad parameter")},
                },
            },
            "/api/v1/jobs/{job_id}": {
                "parameters": [JOB_ID],
                "get": {"summary": "A job's state, progress and outputs", "operationId": "getJob",
                        "responses": {"200": {**_json("Job", "the job (header ETag: send it back in "
                                                                    "If-None-Match while polling)"),
                                              "headers": {"ETag": {"schema": {"type": "string"}}}},
                                      "304": {"description": "unchanged since the ETag given in If-None-Match"},
                                      "404": _error("no such job")}},
                "delete": {"summary": "Delete a job and its files (cancels it if running)",
                           "operationId": "deleteJob",
                           "responses": {"200": {"description": "deleted", "content": {"application/json": {
                               "schema": {"type": "object", "properties": {"id": {"type": "string"},
                                                                           "deleted": {"type": "boolean"}}}}}},
                                         "404": _error("no such job")}},
            },
            "/api/v1/jobs/{job_id}/corrections": {
                "parameters": [JOB_ID],
                "post": {
                    "summary": "Correct a finished job: re-run it with masks drawn on more frames",
                    "operationId": "correctJob",
                    "description": "A new job with the job's video, every annotation so far (its own and its "
                                   "parent's) and the posted ones; a frame annotated before takes the new mask. "
                                   "Its id is the content hash of all of them (the same correction twice is one "
                                   "job); its record links to this job as 'parent'; this job is not changed. "
                                   "Fine-tuning shares the job's budget between the annotated frames, and they "
                                   "come out exactly as annotated.",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {
                        "schema": {"type": "object", "required": ["frame", "mask"], "properties": {
                            "frame": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                      "description": "index of each corrected frame (0 is the first), once each"},
                            "mask": {"type": "array", "items": {"type": "string", "format": "binary"},
                                     "description": "one mask image per 'frame', in the same order, at the "
                                                    "video's size"},
                            "name": {"type": "string", "maxLength": 200,
                                     "description": "display name (default: the job's)"}}},
                        "encoding": {"frame": {"style": "form", "explode": True},
                                     "mask": {"style": "form", "explode": True}}}}},
                    "responses": {"202": {**_json("JobCreated", "the new job: queued, running or already done"),
                                          "headers": {"Location": {"schema": {"type": "string"}}}},
                                  "400": _error("missing or unpaired field, frame outside the video, a frame "
                                                "given twice"),
                                  "404": _error("no such job"),
                                  "409": _error("the job is not done"),
                                  "413": _error(f"request larger than {settings.max_upload_mb:g} MB"),
                                  "422": _error("a mask undecodable, empty, full, not a mask or not the video's "
                                                "size"),
                                  "503": _error("the model could not be loaded")},
                },
            },
            **_frame_paths(),
            "/api/v1/jobs/{job_id}/cancel": {
                "parameters": [JOB_ID],
                "post": {"summary": "Cancel a queued or running job", "operationId": "cancelJob",
                         "responses": {"202": _json("Job", "cancel requested (queued jobs are cancelled at once)"),
                                       "200": _json("Job", "already cancelled"),
                                       "404": _error("no such job"),
                                       "409": _error("already done or failed")}},
            },
            "/api/v1/jobs/{job_id}/outputs/{name}": {
                "parameters": [JOB_ID, {"name": "name", "in": "path", "required": True,
                                        "schema": {"type": "string", "enum": list(OUTPUTS)}},
                               {"name": "download", "in": "query", "required": False,
                                "schema": {"type": "boolean"},
                                "description": "send as an attachment (Content-Disposition)"}],
                "get": {"summary": "Download an output of a finished job", "operationId": "getOutput",
                        "description": "overlay.mp4 (mask tinted over the video), side_by_side.mp4 "
                                       "(original | overlay), masks.zip (00000.png … 0/255), cutout.webm "
                                       "(VP9 with alpha), trajectory.csv (frame, time_s, area_px, cx, cy, "
                                       "x_min, y_min, x_max, y_max), thumbnail.jpg. MP4s are H.264 yuv420p "
                                       "+faststart with the input's fps and frame count.",
                        "responses": {"200": video_response, "206": video_response,
                                      "304": {"description": "not modified"},
                                      "404": _error("no such job or output"),
                                      "409": _error("the job is not done"),
                                      "416": _error("range not satisfiable")}},
            },
            "/api/v1/health": {
                "get": {"summary": "Service, model, queue and worker status", "operationId": "health",
                        "responses": {"200": _json("Health", "status")}},
            },
            "/api/v1/openapi.json": {
                "get": {"summary": "This document", "operationId": "openapi",
                        "responses": {"200": {"description": "OpenAPI 3.1 JSON",
                                              "content": {"application/json": {}}}}},
            },
            "/api/infer": {
                "post": {
                    "summary": "Original app's synchronous API: waits for the job, returns side_by_side.mp4",
                    "operationId": "inferCompat",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["File", "Frame"],
                        "properties": {"File": {"type": "string", "format": "binary", "description": "video"},
                                       "Frame": {"type": "string", "format": "binary",
                                                 "description": "first-frame mask"},
                                       "videoname": {"type": "string", "description": "display name only"},
                                       **upload_fields}}}}},
                    "responses": {"200": {"description": "the side-by-side MP4 (header X-Job-Id)",
                                          "content": {"video/mp4": {"schema": {"type": "string",
                                                                               "format": "binary"}}}},
                                  **bad_input, "409": _error("cancelled"), "500": _error("the job failed"),
                                  "504": _error("still running after OSVOS_INFER_TIMEOUT")},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "required when the server sets OSVOS_API_TOKEN"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "detail"],
                          "properties": {"error": {"type": "string", "description": "stable code"},
                                         "detail": {"type": "string", "description": "for people"}}},
                "JobCreated": {"type": "object", "required": ["id", "status_url"],
                               "properties": {"id": {"type": "string"}, "status_url": {"type": "string"},
                                              "state": {"type": "string", "enum": list(STATES)},
                                              "deduplicated": {"type": "boolean",
                                                               "description": "an identical job existed"},
                                              "parent": {"type": ["string", "null"]},
                                              "annotated_frames": {"type": "array",
                                                                   "items": {"type": "integer"}}}},
                "Job": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "state": {"type": "string", "enum": list(STATES)},
                    "stage": {"type": ["string", "null"], "enum": [*STAGES, None]},
                    "progress": {"type": "number", "minimum": 0, "maximum": 1},
                    "eta_s": {"type": ["number", "null"], "description": "estimated seconds left"},
                    "error": {"type": ["string", "null"]},
                    "frames": {"type": "integer"}, "fps": {"type": "number"},
                    "width": {"type": "integer"}, "height": {"type": "integer"},
                    "created": {"type": "string", "format": "date-time"},
                    "started": {"type": ["string", "null"], "format": "date-time"},
                    "finished": {"type": ["string", "null"], "format": "date-time"},
                    "params": {"type": "object"}, "model_version": {"type": "string"},
                    "annotated_frames": {"type": "array", "items": {"type": "integer"},
                                         "description": "the frames the job was given masks for, in order"},
                    "parent": {"type": ["string", "null"],
                               "description": "the job this one corrects (null for an upload)"},
                    "cancel_requested": {"type": "boolean"},
                    "status_url": {"type": "string"},
                    "outputs": {"type": "object", "additionalProperties": {"type": "string"},
                                "description": "output name → URL (empty until done)"},
                    "output_bytes": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "duration_s": {"type": ["number", "null"]}}},
                "JobList": {"type": "object", "properties": {
                    "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                    "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}}},
                "Health": {"type": "object", "properties": {
                    "status": {"type": "string", "enum": ["ok", "degraded"]},
                    "api_version": {"type": "string"}, "model": {"type": "object"}, "queue": {"type": "object"},
                    "workers": {"type": "object"}, "jobs": {"type": "object"}, "limits": {"type": "object"},
                    "auth": {"type": "boolean"}}},
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec(services().settings))
