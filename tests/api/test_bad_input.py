"""Bad input gets a 4xx with a JSON {"error", "detail"} body, checked before anything is queued."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import requests

from devkit.live_api import post_job
from osvos.masks import mask_png_bytes
from osvos.video import FFMPEG


def _error(response: requests.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"} and body["detail"], body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.fixture
def server(make_server):
    return make_server(workers=0, max_frames=30, max_upload_mb=1.0)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, clip):
    folder = tmp_path_factory.mktemp("bad")
    files = {}
    files["text"] = folder / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 50)
    files["empty"] = folder / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["truncated"] = folder / "truncated.mp4"
    files["truncated"].write_bytes(clip["video"].read_bytes()[:600])
    files["audio"] = folder / "tone.m4a"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5",
                    "-c:a", "aac", str(files["audio"])], check=True)
    mask = np.zeros((clip["height"], clip["width"]), bool)
    files["mask_empty"] = folder / "empty-mask.png"
    files["mask_empty"].write_bytes(mask_png_bytes(mask))
    files["mask_full"] = folder / "full-mask.png"
    files["mask_full"].write_bytes(mask_png_bytes(~mask))
    small = np.zeros((clip["height"] // 2, clip["width"] // 2), bool)
    small[2:8, 2:8] = True
    files["mask_small"] = folder / "small-mask.png"
    files["mask_small"].write_bytes(mask_png_bytes(small))
    files["mask_garbage"] = folder / "garbage.png"
    files["mask_garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    return files


@pytest.mark.parametrize("video, status, code, words", [
    ("text", 422, "invalid_video", "no video stream"),
    ("empty", 422, "invalid_video", "empty"),
    ("truncated", 422, "invalid_video", ""),
    ("audio", 422, "invalid_video", "audio only"),
])
def test_bad_videos(server, clip, bad_files, video, status, code, words):
    body = _error(post_job(server.url, clip, video=bad_files[video]), status, code)
    assert words in body["detail"]


@pytest.mark.parametrize("mask, words", [
    ("mask_empty", "empty"),
    ("mask_full", "whole frame"),
    ("mask_small", "32x24 but the video is 64x48"),
    ("mask_garbage", "not a readable image"),
])
def test_bad_masks(server, clip, bad_files, mask, words):
    body = _error(post_job(server.url, clip, mask=bad_files[mask]), 422, "invalid_mask")
    assert words in body["detail"]


def test_too_many_frames(make_server, clip):
    server = make_server(workers=0, max_frames=5)
    body = _error(post_job(server.url, clip), 422, "too_many_frames")
    assert "12 frames" in body["detail"] and "at most 5" in body["detail"]


def test_upload_over_the_size_cap_is_413(make_server, clip):
    server = make_server(workers=0, max_upload_mb=0.002)  # about 2 KB; the clip is larger
    body = _error(post_job(server.url, clip), 413, "too_large")
    assert "limit" in body["detail"]


def test_photo_instead_of_mask_is_refused(make_server, clip, hevc_sample, photo_mask):
    server = make_server(workers=0, max_upload_mb=50, max_frames=900)
    body = _error(post_job(server.url, clip, video=hevc_sample, mask=photo_mask), 422, "invalid_mask")
    assert "does not look like a mask" in body["detail"]
    assert server.store.ids() == [], "nothing is stored for refused input"


@pytest.mark.parametrize("fields, words", [
    ({"budget": "abc"}, "number of seconds"),
    ({"budget": "-1"}, "more than 0"),
    ({"budget": "inf"}, "more than 0"),
    ({"budget": "nan"}, "more than 0"),
    ({"budget": "100000"}, "at most"),
    ({"iterations": "0"}, "between 1"),
    ({"iterations": "1.5"}, "whole number of steps"),
    ({"iterations": "many"}, "whole number of steps"),
    ({"iterations": "100001"}, "between 1 and 100000"),
    ({"iterations": "3", "budget": "0"}, "more than 0"),
    ({"iterations": "-3", "budget": "5"}, "between 1"),
    ({"snap": "maybe"}, "true or false"),
    ({"dreams": "-1"}, "from 0 to 100"),
    ({"dreams": "2.5"}, "whole number from 0 to 100"),
    ({"dreams": "101"}, "from 0 to 100"),
])
def test_bad_parameters(server, clip, fields, words):
    body = _error(post_job(server.url, clip, **fields), 400, "invalid_parameter")
    assert words in body["detail"]


def test_missing_fields_and_wrong_encoding(server, clip):
    with open(clip["video"], "rb") as video:
        body = _error(requests.post(f"{server.url}/api/v1/jobs", files={"video": video}, timeout=10), 400,
                      "missing_field")
    assert "'mask'" in body["detail"]
    with open(clip["mask"], "rb") as mask:
        body = _error(requests.post(f"{server.url}/api/v1/jobs", files={"mask": mask}, timeout=10), 400,
                      "missing_field")
    assert "'video'" in body["detail"]
    _error(requests.post(f"{server.url}/api/v1/jobs", json={"video": "x"}, timeout=10), 400, "missing_field")


def test_client_file_names_never_become_paths(server, clip, tmp_path):
    with open(clip["video"], "rb") as video, open(clip["mask"], "rb") as mask:
        response = requests.post(f"{server.url}/api/v1/jobs", timeout=30, files={
            "video": ("../../../../escape.mp4", video), "mask": ("../../escape.png", mask)})
    assert response.status_code == 202
    job = requests.get(f"{server.url}{response.json()['status_url']}", timeout=5).json()
    assert job["name"] == "../../../../escape.mp4", "kept as a display name only"
    stored = {p.name for p in server.store.job_dir(job["id"]).iterdir()}
    assert {"video", "mask.png", "job.json"} <= stored
    assert not list(server.store.root.parent.rglob("escape*"))


def test_unknown_ids_outputs_routes_and_methods(server, clip):
    base = server.url
    _error(requests.get(f"{base}/api/v1/jobs/{'0' * 32}", timeout=5), 404, "not_found")
    _error(requests.get(f"{base}/api/v1/jobs/..%2F..%2Fetc", timeout=5), 404)
    _error(requests.get(f"{base}/api/v1/jobs/NOT-AN-ID/outputs/overlay.mp4", timeout=5), 404)
    _error(requests.post(f"{base}/api/v1/jobs/{'a' * 32}/cancel", timeout=5), 404, "not_found")
    _error(requests.delete(f"{base}/api/v1/jobs/{'a' * 32}", timeout=5), 404, "not_found")
    _error(requests.get(f"{base}/api/v1/nothing-here", timeout=5), 404, "not_found")
    _error(requests.put(f"{base}/api/v1/jobs", timeout=5), 405, "method_not_allowed")

    job_id = post_job(base, clip).json()["id"]  # no workers: stays queued
    _error(requests.get(f"{base}/api/v1/jobs/{job_id}/outputs/overlay.mp4", timeout=5), 409, "not_ready")
    _error(requests.get(f"{base}/api/v1/jobs/{job_id}/outputs/..%2Fjob.json", timeout=5), 404)
    _error(requests.get(f"{base}/api/v1/jobs/{job_id}/outputs/job.json", timeout=5), 404, "unknown_output")
    _error(requests.get(f"{base}/api/v1/jobs/{job_id}/outputs/video", timeout=5), 404, "unknown_output")


def test_bearer_token(make_server, clip):
    server = make_server(workers=0, api_token="s3cret")
    base = server.url
    body = _error(requests.get(f"{base}/api/v1/health", timeout=5), 401, "unauthorized")
    assert "Bearer" in body["detail"]
    assert requests.get(f"{base}/api/v1/health", timeout=5).headers["WWW-Authenticate"].startswith("Bearer")
    _error(requests.get(f"{base}/api/v1/jobs", headers={"Authorization": "Bearer wrong"}, timeout=5), 401)
    _error(requests.get(f"{base}/api/v1/jobs", headers={"Authorization": "s3cret"}, timeout=5), 401)
    _error(post_job(base, clip), 401, "unauthorized")
    good = {"Authorization": "Bearer s3cret"}
    assert requests.get(f"{base}/api/v1/health", headers=good, timeout=5).status_code == 200
    assert post_job(base, clip, headers=good).status_code == 202


def test_health_and_openapi_describe_every_route(make_server):
    server = make_server()
    health = requests.get(f"{server.url}/api/v1/health", timeout=5).json()
    assert health["status"] == "ok"
    assert health["model"]["state"] == "ready" and health["model"]["version"] == "fake-v1"
    assert health["queue"] == {"backend": "sqlite", "pending": 0, "reachable": True, "oldest_queued_s": None}
    workers = health["workers"]
    assert (workers["embedded"], workers["alive"], len(workers["processes"])) == (1, 1, 1)

    spec = requests.get(f"{server.url}/api/v1/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    routes = {}
    for rule in server.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    for path, methods in routes.items():
        assert path in spec["paths"], f"{path} missing from openapi.json"
        assert methods <= set(spec["paths"][path]), (path, methods)
    assert set(spec["paths"]) == set(routes)
