"""The job cycle over real HTTP against a live waitress server with the embedded worker (fake model)."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import requests
from PIL import Image

from api_server.pipeline import JobParams
from devkit.fake_model import FakeModel
from devkit.live_api import post_job, wait_for, wait_until
from osvos.budget import DEFAULT_DREAMS
from osvos.video import probe_video, read_frames


def test_whole_cycle_post_poll_outputs(make_server, clip, tmp_path):
    server = make_server()
    base = server.url
    response = post_job(base, clip, iterations=2, name="moving square")
    assert response.status_code == 202, response.text
    created = response.json()
    assert set(created) >= {"id", "status_url"}
    assert created["status_url"] == f"/api/v1/jobs/{created['id']}"
    assert response.headers["Location"].endswith(created["status_url"])
    assert len(created["id"]) == 32

    body = wait_for(base, created["id"])
    assert body["state"] == "done", body
    assert body["progress"] == 1.0 and body["error"] is None
    assert body["name"] == "moving square"
    assert (body["frames"], body["fps"], body["width"], body["height"]) == (
        clip["frames"], clip["fps"], clip["width"], clip["height"])
    assert body["created"].endswith("Z")
    assert set(body["outputs"]) == {"overlay.mp4", "side_by_side.mp4", "masks.zip", "cutout.webm",
                                    "trajectory.csv", "thumbnail.jpg"}

    files = {}
    for name, url in body["outputs"].items():
        got = requests.get(base + url, timeout=30)
        assert got.status_code == 200, (name, got.text[:200])
        assert got.content and len(got.content) == body["output_bytes"][name]
        files[name] = got
        (tmp_path / name).write_bytes(got.content)
    assert files["overlay.mp4"].headers["Content-Type"] == "video/mp4"
    assert files["cutout.webm"].headers["Content-Type"] == "video/webm"
    assert files["thumbnail.jpg"].headers["Content-Type"] == "image/jpeg"

    overlay = probe_video(tmp_path / "overlay.mp4")
    assert overlay.frames == clip["frames"] and overlay.fps == clip["fps"], overlay
    assert (overlay.width, overlay.height, overlay.codec) == (clip["width"], clip["height"], "h264")
    side = probe_video(tmp_path / "side_by_side.mp4")
    assert (side.frames, side.fps, side.width, side.height) == (clip["frames"], clip["fps"],
                                                                2 * clip["width"], clip["height"])
    cut = probe_video(tmp_path / "cutout.webm")
    assert (cut.frames, cut.codec) == (clip["frames"], "vp9")

    # The overlay is tinted where the object is: frame 0's square (rows 14-29, cols 4-19) turned pinker.
    first = next(read_frames(tmp_path / "overlay.mp4"))
    assert first[22, 12, 2] > 60 and first[40, 50, 2] < 70

    with zipfile.ZipFile(io.BytesIO(files["masks.zip"].content)) as archive:
        names = archive.namelist()
        assert names == [f"{i:05d}.png" for i in range(clip["frames"])]
        mask0 = np.asarray(Image.open(io.BytesIO(archive.read("00000.png"))))
        assert mask0.dtype == np.uint8 and set(np.unique(mask0)) <= {0, 255}
        assert mask0[22, 12] == 255 and mask0[2, 2] == 0

    table = pd.read_csv(io.StringIO(files["trajectory.csv"].text))
    assert list(table.columns) == ["frame", "time_s", "area_px", "cx", "cy", "x_min", "y_min", "x_max", "y_max"]
    assert len(table) == clip["frames"]
    assert table["time_s"].iloc[-1] == (clip["frames"] - 1) / clip["fps"]
    assert table["cx"].is_monotonic_increasing, "the square moves right"

    thumb = Image.open(io.BytesIO(files["thumbnail.jpg"].content))
    assert thumb.format == "JPEG" and thumb.size == (clip["width"], clip["height"])

    listed = requests.get(f"{base}/api/v1/jobs", timeout=10).json()
    assert [job["id"] for job in listed["jobs"]] == [created["id"]]


def test_same_upload_twice_is_one_job(make_server, clip):
    server = make_server()
    first = post_job(server.url, clip, iterations=2)
    assert first.status_code == 202 and first.json()["deduplicated"] is False
    done = wait_for(server.url, first.json()["id"])
    assert done["state"] == "done"

    again = post_job(server.url, clip, iterations=2)
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["deduplicated"] is True and again.json()["state"] == "done"
    # The same mask drawn as a red-on-white RGB image binarises to the same mask: same job.
    drawn = post_job(server.url, clip, mask=clip["mask_rgb"], iterations=2)
    assert drawn.json()["id"] == first.json()["id"]
    assert server.fake.finetune_calls == 1, "the cached render is reused, nothing is computed again"
    assert wait_for(server.url, first.json()["id"])["started"] == done["started"]

    # Other parameters are another job.
    other = post_job(server.url, clip, iterations=3)
    assert other.json()["id"] != first.json()["id"] and other.json()["deduplicated"] is False
    assert wait_for(server.url, other.json()["id"])["state"] == "done"
    assert server.fake.finetune_calls == 2


def test_dreams_reach_the_model_and_make_another_job(make_server, clip):
    server = make_server()
    default = post_job(server.url, clip, iterations=2).json()
    same = post_job(server.url, clip, iterations=2, dreams=DEFAULT_DREAMS).json()
    assert same["id"] == default["id"], f"dreams={DEFAULT_DREAMS} is the default: the same job"
    assert wait_for(server.url, default["id"])["params"]["dreams"] == DEFAULT_DREAMS
    none = post_job(server.url, clip, iterations=2, dreams=0).json()
    assert none["id"] != default["id"]
    none_params = wait_for(server.url, none["id"])["params"]
    assert "dreams" not in none_params, "ids of jobs without dreams are the ones they had before dreams existed"
    assert none_params["snap"] is True, "snapping where unsure is the default"
    dreamed = post_job(server.url, clip, iterations=2, dreams=3).json()
    assert wait_for(server.url, dreamed["id"])["params"]["dreams"] == 3
    assert sorted(server.fake.dreams) == [0, 3, DEFAULT_DREAMS]


def test_a_stored_job_without_dreams_stays_without_them():
    """Records written before dreams were the default name none, and were fine-tuned without: read back, 0."""
    params = JobParams.from_dict({"iterations": 125, "budget": None, "snap": True, "threshold": 0.5}, 400)
    assert params.dreams == 0 and params.iterations == 125
    assert JobParams.from_dict({"budget": None}, 400) == JobParams(iterations=400, dreams=0)
    assert JobParams().dreams == DEFAULT_DREAMS and JobParams.from_dict(JobParams().as_dict(), 1) == JobParams()


def test_cancel_running_job(make_server, clip):
    server = make_server()
    job_id = post_job(server.url, clip, budget=30).json()["id"]  # the fake spends the 30 s budget
    wait_until(lambda: requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()["progress"]
               > 0.02)
    running = requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()
    assert running["state"] == "running" and 0 < running["progress"] < 1
    assert running["eta_s"] is not None and running["eta_s"] > 1

    cancel = requests.post(f"{server.url}/api/v1/jobs/{job_id}/cancel", timeout=5)
    assert cancel.status_code == 202
    body = wait_for(server.url, job_id, timeout=10)
    assert body["state"] == "cancelled" and body["outputs"] == {}
    out = requests.get(f"{server.url}/api/v1/jobs/{job_id}/outputs/overlay.mp4", timeout=5)
    assert out.status_code == 409 and out.json()["error"] == "not_ready"
    assert requests.post(f"{server.url}/api/v1/jobs/{job_id}/cancel", timeout=5).status_code == 200
    assert not server.store.output_path(job_id, "overlay.mp4").parent.exists()

    # Posting the same content again runs it again.
    again = post_job(server.url, clip, budget=30)
    assert again.json()["id"] == job_id and again.json()["state"] == "queued"
    wait_until(lambda: requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()["state"]
               == "running")
    requests.post(f"{server.url}/api/v1/jobs/{job_id}/cancel", timeout=5)
    assert wait_for(server.url, job_id, timeout=10)["state"] == "cancelled"


def test_cancel_queued_job_and_cancel_finished(make_server, clip):
    server = make_server(workers=0)
    job_id = post_job(server.url, clip, iterations=2).json()["id"]
    assert requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()["state"] == "queued"
    cancel = requests.post(f"{server.url}/api/v1/jobs/{job_id}/cancel", timeout=5)
    assert cancel.status_code == 202 and cancel.json()["state"] == "cancelled"

    busy = make_server(data_dir=server.settings.data_dir / "other")
    done_id = post_job(busy.url, clip, iterations=2).json()["id"]
    wait_for(busy.url, done_id)
    refused = requests.post(f"{busy.url}/api/v1/jobs/{done_id}/cancel", timeout=5)
    assert refused.status_code == 409 and refused.json()["error"] == "not_cancellable"


def test_range_requests_and_conditional_get(make_server, clip):
    server = make_server()
    job_id = post_job(server.url, clip, iterations=2).json()["id"]
    body = wait_for(server.url, job_id)
    url = server.url + body["outputs"]["overlay.mp4"]
    full = requests.get(url, timeout=10)
    assert full.headers["Accept-Ranges"] == "bytes"
    size = len(full.content)

    part = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert part.content == full.content[:100]

    tail = requests.get(url, headers={"Range": "bytes=100-"}, timeout=10)
    assert tail.status_code == 206 and tail.content == full.content[100:]
    suffix = requests.get(url, headers={"Range": "bytes=-50"}, timeout=10)
    assert suffix.status_code == 206 and suffix.content == full.content[-50:]

    bad = requests.get(url, headers={"Range": f"bytes={size + 10}-"}, timeout=10)
    assert bad.status_code == 416
    assert bad.json()["error"] == "requested_range_not_satisfiable"

    etag = full.headers["ETag"]
    cached = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    assert cached.status_code == 304 and not cached.content
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size

    download = requests.get(url + "?download=1", timeout=10)
    assert download.headers["Content-Disposition"].startswith("attachment")
    for word, disposition in (("off", "inline"), ("TRUE", "attachment")):
        shown = requests.get(url + f"?download={word}", timeout=10)
        assert shown.status_code == 200 and shown.headers["Content-Disposition"].startswith(disposition)
    unclear = requests.get(url + "?download=maybe", timeout=10)
    assert unclear.status_code == 400
    assert unclear.json() == {"error": "invalid_parameter", "detail": "'download' must be true or false"}


def test_list_newest_first_with_paging_and_delete(make_server, clip):
    server = make_server()
    ids = []
    for iterations in (1, 2, 3):
        ids.append(post_job(server.url, clip, iterations=iterations).json()["id"])
        wait_for(server.url, ids[-1])
    listed = requests.get(f"{server.url}/api/v1/jobs", timeout=10).json()
    assert [job["id"] for job in listed["jobs"]] == ids[::-1] and listed["total"] == 3
    page = requests.get(f"{server.url}/api/v1/jobs?limit=1&offset=1", timeout=10).json()
    assert [job["id"] for job in page["jobs"]] == [ids[1]] and (page["limit"], page["offset"]) == (1, 1)
    assert requests.get(f"{server.url}/api/v1/jobs?limit=0", timeout=10).status_code == 400
    assert requests.get(f"{server.url}/api/v1/jobs?offset=x", timeout=10).status_code == 400
    assert requests.get(f"{server.url}/api/v1/jobs?state=weird", timeout=10).status_code == 400

    gone = requests.delete(f"{server.url}/api/v1/jobs/{ids[0]}", timeout=10)
    assert gone.status_code == 200 and gone.json() == {"id": ids[0], "deleted": True}
    assert requests.get(f"{server.url}/api/v1/jobs/{ids[0]}", timeout=10).status_code == 404
    assert requests.delete(f"{server.url}/api/v1/jobs/{ids[0]}", timeout=10).status_code == 404
    assert not (server.store.jobs_dir / ids[0]).exists()
    assert requests.get(f"{server.url}/api/v1/jobs", timeout=10).json()["total"] == 2


def test_delete_running_job(make_server, clip):
    server = make_server()
    job_id = post_job(server.url, clip, budget=30).json()["id"]
    wait_until(lambda: requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()["state"]
               == "running")
    assert requests.delete(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).status_code == 404
    # The worker notices, stops, and takes the next job.
    other = post_job(server.url, clip, iterations=1).json()["id"]
    assert wait_for(server.url, other, timeout=20)["state"] == "done"
    assert not (server.store.jobs_dir / job_id).exists()


def test_compat_infer_returns_side_by_side(make_server, clip, tmp_path):
    server = make_server()
    with open(clip["video"], "rb") as video, open(clip["mask"], "rb") as mask:
        response = requests.post(f"{server.url}/api/infer",
                                 files={"File": ("blackswan.mp4", video), "Frame": ("00000.png", mask)},
                                 data={"videoname": "blackswan", "iterations": "1"}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"] == "video/mp4"
    (tmp_path / "sbs.mp4").write_bytes(response.content)
    info = probe_video(tmp_path / "sbs.mp4")
    assert (info.frames, info.width, info.height) == (clip["frames"], 2 * clip["width"], clip["height"])
    job = requests.get(f"{server.url}/api/v1/jobs/{response.headers['X-Job-Id']}", timeout=5).json()
    assert job["name"] == "blackswan" and job["state"] == "done"
    with open(clip["video"], "rb") as video:
        missing = requests.post(f"{server.url}/api/infer", files={"File": video}, timeout=30)
    assert missing.status_code == 400 and "'Frame'" in missing.json()["detail"]


def test_job_directory_never_holds_half_a_render(make_server, clip):
    server = make_server(model=FakeModel(segment_delay=0.15))
    job_id = post_job(server.url, clip, iterations=1).json()["id"]
    folder = server.store.job_dir(job_id)
    expected = {"overlay.mp4", "side_by_side.mp4", "masks.zip", "cutout.webm", "trajectory.csv", "thumbnail.jpg"}
    seen = set()
    while True:
        body = requests.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5).json()
        seen.add(body["stage"])
        entries = {p.name for p in folder.iterdir() if not p.name.startswith(".job.json.")}  # atomic-write temps
        assert entries <= {"job.json", "video", "mask.png", ".lock", ".access", "outputs"}, entries
        if "outputs" in entries:
            assert {p.name for p in (folder / "outputs").iterdir()} == expected, "outputs appear all at once"
        if body["state"] == "done":
            break
        assert body["state"] in ("queued", "running")
    assert "segmenting" in seen
    assert {p.name for p in (folder / "outputs").iterdir()} == expected


def test_steps_and_seconds_in_the_job_record(make_server, clip):
    """Neither field: the default steps; ``budget`` alone: seconds only; both: steps with a time cap. The fake
    model is handed the matching ``Budget``; the record keeps both fields (and no pace)."""
    from osvos.budget import Budget

    server = make_server(default_steps=7)
    cases = [({}, {"budget": None, "iterations": 7}), ({"budget": 0.1}, {"budget": 0.1, "iterations": None}),
             ({"iterations": 3, "budget": 0.2}, {"budget": 0.2, "iterations": 3})]
    for fields, expected in cases:
        job_id = post_job(server.url, clip, **fields).json()["id"]
        body = wait_for(server.url, job_id)
        assert body["state"] == "done", body
        assert {k: body["params"][k] for k in ("budget", "iterations")} == expected
        record = server.store.get(job_id)
        assert "finetune_pace" not in record and record["params"] == body["params"]
    assert server.fake.finetune_calls == 3
    assert [Budget(seconds=e["budget"], iterations=e["iterations"]) for _, e in cases] == server.fake.budgets
    health = requests.get(f"{server.url}/api/v1/health", timeout=5).json()
    assert health["limits"]["default_steps"] == 7 and "default_budget_s" not in health["limits"]
