"""A fake of the osvos API (the /api/v1 contract) over real HTTP, for the site's tests: it records what the
site sends and serves canned jobs and outputs (Range supported, as Flask's send_file does)."""
from __future__ import annotations

import io
import threading
import uuid

from flask import Flask, jsonify, request, send_file
from werkzeug.serving import make_server

CSV = ("frame,time_s,area_px,cx,cy,x_min,y_min,x_max,y_max\n"
       "0,0.0,400,20.0,20.0,10,10,30,30\n"
       "1,0.1,420,22.0,20.5,12,10,32,31\n"
       "2,0.2,0,,,,,,\n")
OUTPUT_BYTES = {
    "overlay.mp4": bytes(range(256)) * 40,
    "side_by_side.mp4": b"S" * 5000,
    "masks.zip": b"PK\x05\x06" + b"\0" * 18,
    "cutout.webm": b"\x1aE\xdf\xa3" + b"w" * 100,
    "trajectory.csv": CSV.encode(),
    "thumbnail.jpg": b"\xff\xd8\xff\xe0" + b"j" * 50,
}
FRAME_IMAGES = {"frames": ("image/jpeg", b"\xff\xd8frame-"), "masks": ("image/png", b"\x89PNGmask-"),
                "annotations": ("image/jpeg", b"\xff\xd8thumb-")}
TYPES = {"overlay.mp4": "video/mp4", "side_by_side.mp4": "video/mp4", "masks.zip": "application/zip",
         "cutout.webm": "video/webm", "trajectory.csv": "text/csv", "thumbnail.jpg": "image/jpeg"}


def error(status: int, code: str, detail: str):
    response = jsonify({"error": code, "detail": detail})
    response.status_code = status
    return response


class FakeApi:
    def __init__(self, port: int = 0):
        self.app = Flask("fake_api")
        self.lock = threading.Lock()
        self.reset()
        self._routes()
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeApi":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def reset(self) -> None:
        self.jobs: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.reject: tuple[int, str, str] | None = None  # next POST /jobs answers this error
        self.token: str | None = None

    def add_job(self, state: str = "done", **fields) -> dict:
        job_id = fields.pop("id", None) or uuid.uuid4().hex
        job = {"id": job_id, "name": fields.pop("name", "clip"), "state": state,
               "stage": "finetuning" if state == "running" else None, "progress": 1.0 if state == "done" else 0.4,
               "eta_s": 12.0 if state == "running" else None, "error": None, "frames": 3, "fps": 10.0,
               "width": 64, "height": 48, "created": "2026-01-01T00:00:00Z", "annotated_frames": [0], "parent": None,
               "outputs": {n: f"/api/v1/jobs/{job_id}/outputs/{n}" for n in OUTPUT_BYTES} if state == "done" else {}}
        job.update(fields)
        with self.lock:
            self.jobs[job_id] = job
        return job

    def _routes(self) -> None:
        app = self.app

        @app.before_request
        def record():
            self.requests.append({"method": request.method, "path": request.path, "args": dict(request.args),
                                  "headers": dict(request.headers)})
            if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
                return error(401, "unauthorized", "a valid bearer token is required")
            return None

        @app.get("/api/v1/health")
        def health():
            return jsonify({"status": "ok"})

        @app.post("/api/v1/jobs")
        def create():
            entry = self.requests[-1]
            entry["form"] = dict(request.form)
            entry["files"] = {k: (f.filename, f.read()) for k, f in request.files.items()}
            if self.reject:
                status, code, detail = self.reject
                return error(status, code, detail)
            for field in ("video", "mask"):
                if field not in request.files:
                    return error(400, "missing_field", f"the form field '{field}' is missing")
            job = self.add_job("queued", name=request.form.get("name") or "video", progress=0.0)
            return jsonify({"id": job["id"], "status_url": f"/api/v1/jobs/{job['id']}", "state": "queued"}), 202

        @app.get("/api/v1/jobs")
        def listing():
            limit = int(request.args.get("limit", 20))
            offset = int(request.args.get("offset", 0))
            state = request.args.get("state", "done")
            jobs = [j for j in reversed(list(self.jobs.values())) if state == "all" or j["state"] == state]
            return jsonify({"jobs": jobs[offset:offset + limit], "total": len(jobs)})

        @app.get("/api/v1/jobs/<job_id>")
        def get(job_id):
            job = self.jobs.get(job_id)
            if not job:
                return error(404, "not_found", "no job with this id")
            tag = uuid.uuid5(uuid.NAMESPACE_OID, repr(sorted(job.items()))).hex  # as the API: changes with the job
            if request.if_none_match.contains(tag):
                response = app.response_class(status=304)
            else:
                response = jsonify(job)
            response.set_etag(tag)
            return response

        @app.post("/api/v1/jobs/<job_id>/cancel")
        def cancel(job_id):
            job = self.jobs.get(job_id)
            if not job:
                return error(404, "not_found", "no job with this id")
            if job["state"] in ("done", "failed"):
                return error(409, "not_cancellable", f"the job is already {job['state']}")
            job["state"] = "cancelled"
            return jsonify(job), 202

        @app.delete("/api/v1/jobs/<job_id>")
        def delete(job_id):
            if self.jobs.pop(job_id, None) is None:
                return error(404, "not_found", "no job with this id")
            return jsonify({"id": job_id, "deleted": True})

        @app.post("/api/v1/jobs/<job_id>/corrections")
        def correct(job_id):
            entry = self.requests[-1]
            entry["form"] = request.form.to_dict(flat=False)
            entry["files"] = [(f.filename, f.read()) for f in request.files.getlist("mask")]
            if self.reject:
                status, code, detail = self.reject
                return error(status, code, detail)
            parent = self.jobs.get(job_id)
            if not parent:
                return error(404, "not_found", "no job with this id")
            frames = sorted({0, *parent.get("annotated_frames", [0]), *map(int, request.form.getlist("frame"))})
            job = self.add_job("queued", name=parent["name"], progress=0.0, parent=job_id, annotated_frames=frames)
            return jsonify({"id": job["id"], "status_url": f"/api/v1/jobs/{job['id']}", "state": "queued",
                            "parent": job_id, "annotated_frames": frames, "deduplicated": False}), 202

        @app.get("/api/v1/jobs/<job_id>/<kind>/<int:index>")
        @app.get("/api/v1/jobs/<job_id>/<kind>/<int:index>/thumbnail")
        def frame_image(job_id, kind, index):
            job = self.jobs.get(job_id)
            if not job or kind not in FRAME_IMAGES:
                return error(404, "not_found", "no job with this id")
            if index >= job["frames"]:
                return error(404, "not_found", f"frame {index} is outside the video")
            media_type, data = FRAME_IMAGES[kind]
            return send_file(io.BytesIO(data + str(index).encode()), mimetype=media_type, conditional=True,
                             etag=f"{job_id}-{kind}-{index}", max_age=3600)

        @app.get("/api/v1/jobs/<job_id>/outputs/<name>")
        def output(job_id, name):
            job = self.jobs.get(job_id)
            if not job:
                return error(404, "not_found", "no job with this id")
            if name not in OUTPUT_BYTES:
                return error(404, "unknown_output", "no such output")
            if job["state"] != "done":
                return error(409, "not_ready", "outputs exist once the job is done")
            response = send_file(io.BytesIO(OUTPUT_BYTES[name]), mimetype=TYPES[name], conditional=True,
                                 etag=f"{job_id}-{name}", download_name=name, max_age=3600)
            response.headers["Accept-Ranges"] = "bytes"
            return response
