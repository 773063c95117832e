"""End to end with the real network: ``python -m api_server`` in a subprocess (waitress + embedded Huey worker
+ ``OSVOS.load``), a downscaled clip of DAVIS blackswan with its real first mask, a 2-iteration fine-tune at
work size 64 (TensorFlow import and model load included, it is the slowest test of tests/api)."""
from __future__ import annotations

import io
import signal
import time
import zipfile

import cv2
import numpy as np
import pytest
import requests

from devkit.live_api import ApiProcess, post_correction, wait_for
from osvos.masks import mask_png_bytes, read_label_png
from osvos.video import probe_video, read_frames, write_video


@pytest.fixture(scope="module")
def small_blackswan(tmp_path_factory, hevc_sample, blackswan_mask) -> dict:
    folder = tmp_path_factory.mktemp("blackswan")
    size = (160, 90)
    frames = []
    for index, frame in enumerate(read_frames(hevc_sample)):
        if index == 10:
            break
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    video = folder / "blackswan-small.mp4"
    write_video(frames, video, 24.0)
    mask = cv2.resize(read_label_png(blackswan_mask).astype("uint8"), size, interpolation=cv2.INTER_NEAREST) > 0
    mask_path = folder / "00000.png"
    mask_path.write_bytes(mask_png_bytes(mask))
    return {"video": video, "mask": mask_path, "info": probe_video(video)}


@pytest.fixture
def live_api(tmp_path):
    api = ApiProcess(("--workers", "1"), env={"OSVOS_DATA_DIR": str(tmp_path / "store"), "OSVOS_WORK_SIZE": "64",
                                              "OSVOS_DEFAULT_STEPS": "2"}, timeout=120)
    yield api.url, api.proc, api.log
    api.stop()


def test_real_osvos_job_over_http(live_api, small_blackswan, tmp_path):
    base, proc, log = live_api
    started = time.monotonic()
    with open(small_blackswan["video"], "rb") as video, open(small_blackswan["mask"], "rb") as mask:
        response = requests.post(f"{base}/api/v1/jobs", files={"video": video, "mask": mask},
                                 data={"iterations": "2", "name": "blackswan"}, timeout=120)
    assert response.status_code == 202, response.text
    body = wait_for(base, response.json()["id"], timeout=240)
    assert body["state"] == "done", (body, "".join(log[-40:]))
    assert body["model_version"].startswith(("hed-init-", "osvos_parent-")) or body["model_version"]

    overlay = requests.get(base + body["outputs"]["overlay.mp4"], timeout=30)
    (tmp_path / "overlay.mp4").write_bytes(overlay.content)
    source, result = small_blackswan["info"], probe_video(tmp_path / "overlay.mp4")
    assert (result.frames, result.fps) == (source.frames, source.fps) == (10, 24.0)
    assert (result.width, result.height, result.codec) == (160, 90, "h264")
    csv = requests.get(base + body["outputs"]["trajectory.csv"], timeout=30).text.strip().split("\n")
    assert len(csv) == 11
    health = requests.get(f"{base}/api/v1/health", timeout=10).json()
    assert health["model"]["state"] == "ready" and health["workers"]["alive"] == 1
    print(f"real end-to-end job: {time.monotonic() - started:.1f} s")

    # A correction on frame 6 (the first mask shifted, standing in for the user's drawing): the real model
    # fine-tunes on frames 0 and 6 and gives frame 6 back exactly as drawn.
    drawn = np.roll(read_label_png(small_blackswan["mask"]), 3, axis=1)
    reply = post_correction(base, body["id"], [(6, mask_png_bytes(drawn))])
    assert reply.status_code == 202, reply.text
    corrected = wait_for(base, reply.json()["id"], timeout=240)
    assert corrected["state"] == "done", (corrected, "".join(log[-40:]))
    assert (corrected["parent"], corrected["annotated_frames"]) == (body["id"], [0, 6])
    with zipfile.ZipFile(io.BytesIO(requests.get(base + corrected["outputs"]["masks.zip"], timeout=30).content)) as zf:
        assert np.array_equal(cv2.imdecode(np.frombuffer(zf.read("00006.png"), np.uint8), 0) > 127, drawn)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, "".join(log[-20:])
