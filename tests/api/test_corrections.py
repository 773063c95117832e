"""Corrections over real HTTP (fake model): a finished job plus masks drawn on later frames becomes a new job with
every annotation; frames, predicted masks and annotations are served by index."""
from __future__ import annotations

import io
import os
import zipfile

import cv2
import numpy as np
import pytest
import requests

from devkit.clips import synthetic_frames
from devkit.live_api import post_correction, post_job, wait_for
from osvos.masks import mask_png_bytes
from osvos.video import read_frames


def box(top: int, left: int, height: int = 10, width: int = 12, shape=(48, 64)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top:top + height, left:left + width] = True
    return mask


def masks_zip(base: str, job: dict) -> list[np.ndarray]:
    data = requests.get(base + job["outputs"]["masks.zip"], timeout=30).content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_GRAYSCALE) > 127
                for name in archive.namelist()]


def png(response: requests.Response) -> np.ndarray:
    assert response.status_code == 200, response.text[:300]
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_GRAYSCALE) > 127


@pytest.fixture
def done_job(make_server, clip):
    server = make_server()
    job_id = post_job(server.url, clip, iterations=2).json()["id"]
    assert wait_for(server.url, job_id)["state"] == "done"
    return server, job_id


def test_a_correction_is_a_new_job_with_every_annotation(done_job, clip):
    server, parent_id = done_job
    base, store = server.url, server.store
    parent = requests.get(f"{base}/api/v1/jobs/{parent_id}", timeout=5).json()
    assert (parent["annotated_frames"], parent["parent"]) == ([0], None)
    parent_files = {p.relative_to(store.job_dir(parent_id)): p.read_bytes()
                    for p in store.job_dir(parent_id).rglob("*") if p.is_file() and p.name != ".access"}
    drawn = box(2, 40)  # not where the square is: the fake model would never predict it

    reply = post_correction(base, parent_id, [(5, mask_png_bytes(drawn))])
    assert reply.status_code == 202, reply.text
    created = reply.json()
    assert created["id"] != parent_id and created["parent"] == parent_id and created["deduplicated"] is False
    assert created["annotated_frames"] == [0, 5]
    job = wait_for(base, created["id"])
    assert job["state"] == "done" and job["parent"] == parent_id and job["annotated_frames"] == [0, 5]
    assert job["params"] == parent["params"] and job["name"] == parent["name"]

    # Fine-tuning got frames 0 and 5 of the video with their masks, in frame order.
    frames, masks = server.fake.finetuned_on[-1]
    decoded = list(read_frames(clip["video"]))
    assert [f.tobytes() for f in frames] == [decoded[0].tobytes(), decoded[5].tobytes()]
    assert np.array_equal(masks[1], drawn) and np.array_equal(masks[0], png(requests.get(
        f"{base}/api/v1/jobs/{parent_id}/annotations/0", timeout=5)))
    # The annotated frames come out exactly as annotated; the others are predicted.
    new_masks, old_masks = masks_zip(base, job), masks_zip(base, parent)
    assert np.array_equal(new_masks[5], drawn) and not np.array_equal(old_masks[5], drawn)
    assert np.array_equal(new_masks[0], masks[0])
    assert all(np.array_equal(a, b) for i, (a, b) in enumerate(zip(new_masks, old_masks)) if i not in (0, 5))
    assert np.array_equal(png(requests.get(f"{base}/api/v1/jobs/{job['id']}/annotations/5", timeout=5)), drawn)

    # The corrected job is untouched; the new one has its own video (linked) and annotation files.
    assert requests.get(f"{base}/api/v1/jobs/{parent_id}", timeout=5).json()["annotated_frames"] == [0]
    for path, data in parent_files.items():
        assert (store.job_dir(parent_id) / path).read_bytes() == data, path
    folder = store.job_dir(job["id"])
    assert (folder / "video").read_bytes() == clip["video"].read_bytes()
    assert os.stat(folder / "video").st_nlink >= 2 and (folder / "annotations" / "00005.png").is_file()

    # The same correction twice is one job; a correction of the correction keeps every annotation so far.
    again = post_correction(base, parent_id, [(5, mask_png_bytes(drawn))]).json()
    assert (again["id"], again["deduplicated"]) == (job["id"], True)
    assert server.fake.finetune_calls == 2
    third = post_correction(base, job["id"], [(9, mask_png_bytes(box(30, 2))), (1, mask_png_bytes(box(20, 30)))])
    assert third.status_code == 202, third.text
    third_job = wait_for(base, third.json()["id"])
    assert third_job["annotated_frames"] == [0, 1, 5, 9] and third_job["parent"] == job["id"]
    assert len(server.fake.finetuned_on[-1][0]) == 4
    # Deleting the parent leaves its correction whole.
    assert requests.delete(f"{base}/api/v1/jobs/{parent_id}", timeout=5).status_code == 200
    assert requests.get(base + job["outputs"]["overlay.mp4"], timeout=5).status_code == 200
    assert (folder / "video").read_bytes() == clip["video"].read_bytes()


def test_a_frame_annotated_before_takes_the_new_mask(done_job):
    server, parent_id = done_job
    redrawn = box(14, 4, 16, 20)
    job_id = post_correction(server.url, parent_id, [(0, mask_png_bytes(redrawn))]).json()["id"]
    job = wait_for(server.url, job_id)
    assert job["annotated_frames"] == [0] and job["parent"] == parent_id
    assert np.array_equal(masks_zip(server.url, job)[0], redrawn)


def test_frames_masks_and_annotations_by_index(done_job, clip):
    server, job_id = done_job
    base = f"{server.url}/api/v1/jobs/{job_id}"
    job = requests.get(base, timeout=5).json()
    predicted = masks_zip(server.url, job)
    for index in (0, 7, clip["frames"] - 1):
        reply = requests.get(f"{base}/frames/{index}", timeout=10)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/jpeg"
        frame = cv2.cvtColor(cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_COLOR),
                             cv2.COLOR_BGR2RGB)
        assert frame.shape == (clip["height"], clip["width"], 3)
        red = (frame[..., 0].astype(int) - frame[..., 1]) > 100
        columns = np.nonzero(red.any(axis=0))[0]
        assert abs(columns.min() - (4 + 2 * index)) <= 1, "the square sits where frame n has it"
        distances = [np.abs(frame.astype(int) - f.astype(int)).mean() for f in synthetic_frames()]
        assert int(np.argmin(distances)) == index
        assert np.array_equal(png(requests.get(f"{base}/masks/{index}", timeout=5)), predicted[index])
        assert server.store.frame_cache_path(job_id, index).is_file()
        cached = requests.get(f"{base}/frames/{index}", headers={"If-None-Match": reply.headers["ETag"]}, timeout=5)
        assert cached.status_code == 304
    thumb = requests.get(f"{base}/annotations/0/thumbnail", timeout=5)
    assert thumb.headers["Content-Type"] == "image/jpeg"
    tinted = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert tinted.shape[:2] == (clip["height"], clip["width"])
    for path, words in ((f"frames/{clip['frames']}", "outside the video: it has frames 0 to 11"),
                        ("masks/99", "outside the video"), ("annotations/3", "not annotated"),
                        ("annotations/3/thumbnail", "not annotated"), ("frames/-1", "")):
        reply = requests.get(f"{base}/{path}", timeout=5)
        assert reply.status_code == 404 and words in reply.json()["detail"], (path, reply.text)


def test_frames_of_a_queued_job_but_no_masks(make_server, clip):
    server = make_server(workers=0)
    job_id = post_job(server.url, clip).json()["id"]
    assert requests.get(f"{server.url}/api/v1/jobs/{job_id}/frames/3", timeout=10).status_code == 200
    reply = requests.get(f"{server.url}/api/v1/jobs/{job_id}/masks/3", timeout=5)
    assert reply.status_code == 409 and reply.json()["error"] == "not_ready"


@pytest.mark.parametrize("pairs, extra, status, code, words", [
    ([(12, "good")], {}, 400, "invalid_parameter", "frame 12 is outside the video: it has frames 0 to 11"),
    ([(-1, "good")], {}, 400, "invalid_parameter", "frame -1 is outside the video"),
    ([("four", "good")], {}, 400, "invalid_parameter", "'frame' must be a whole number"),
    ([(4, "good"), (4, "other")], {}, 400, "invalid_parameter", "frame 4 is given twice"),
    ([(3, "small")], {}, 422, "invalid_mask", "the mask of frame 3: the mask is 32x24 but the video is 64x48"),
    ([(3, "empty")], {}, 422, "invalid_mask", "the mask of frame 3: the mask is empty"),
    ([], {}, 400, "missing_field", "'mask'"),
    ([(3, "good")], {"frame": "4"}, 400, "invalid_parameter", "one 'frame' for each 'mask'"),
])
def test_bad_corrections_get_a_clear_4xx_and_store_nothing(done_job, pairs, extra, status, code, words):
    server, job_id = done_job
    images = {"good": mask_png_bytes(box(2, 2)), "other": mask_png_bytes(box(20, 20)),
              "small": mask_png_bytes(box(2, 2, shape=(24, 32))), "empty": mask_png_bytes(np.zeros((48, 64), bool))}
    before = sorted(server.store.ids())
    reply = post_correction(server.url, job_id, [(frame, images[name]) for frame, name in pairs], **extra)
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] == code and words in body["detail"], body
    assert sorted(server.store.ids()) == before and server.fake.finetune_calls == 1


def test_only_a_finished_job_can_be_corrected(make_server, clip):
    server = make_server(workers=0)
    job_id = post_job(server.url, clip).json()["id"]
    reply = post_correction(server.url, job_id, [(3, mask_png_bytes(box(2, 2)))])
    assert reply.status_code == 409 and reply.json()["error"] == "not_ready"
    assert "once it is done" in reply.json()["detail"]
    missing = post_correction(server.url, "0" * 32, [(3, mask_png_bytes(box(2, 2)))])
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert server.store.ids() == [job_id]
