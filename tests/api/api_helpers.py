"""Helpers shared by the API tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import requests

from api_server.contract import TERMINAL
from osvos.cancel import Cancelled

CLIP_FRAMES = 12
CLIP_FPS = 10.0
CLIP_SIZE = (64, 48)  # width, height


def synthetic_frames(count: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE) -> list[np.ndarray]:
    """A red square moving right over a dark textured background."""
    width, height = size
    rng = np.random.default_rng(0)
    background = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = background.copy()
        x = 4 + 2 * index
        frame[14:30, x:x + 16] = (230, 30, 30)
        frames.append(frame)
    return frames


def first_mask(size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    width, height = size
    mask = np.zeros((height, width), bool)
    mask[14:30, 4:20] = True
    return mask


class FakeTuned:
    def __init__(self, delay: float):
        self.delay = delay

    def segment(self, frames, *, snap=False, threshold=0.5, progress=None, cancel=None):
        for frame in frames:
            if cancel is not None and cancel():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay)
            yield frame[..., 0].astype(np.int32) - frame[..., 1] > 100


class FakeModel:
    """Stands in for ``osvos.system.OSVOS``: an int budget is iterations (instant), a float budget is
    seconds actually spent (so a test can cancel a running job); segmentation thresholds redness."""

    version = "fake-v1"

    def __init__(self, segment_delay: float = 0.0):
        self.segment_delay = segment_delay
        self.finetune_calls = 0

    def finetune(self, frame, mask, budget, *, progress=None, cancel=None):
        self.finetune_calls += 1
        assert frame.ndim == 3 and mask.shape == frame.shape[:2] and mask.dtype == bool
        if isinstance(budget, int):
            steps, pause = budget, 0.0
        else:
            steps, pause = max(1, int(budget / 0.05)), 0.05
        for step in range(steps):
            if cancel is not None and cancel():
                raise Cancelled()
            time.sleep(pause)
            if progress is not None:
                progress((step + 1) / steps, (steps - step - 1) * pause)
        return FakeTuned(self.segment_delay)


def post_job(base: str, clip: dict, *, mask: Path | None = None, video: Path | None = None, headers=None,
             **fields) -> requests.Response:
    video = video or clip["video"]
    mask = mask or clip["mask"]
    with open(video, "rb") as v, open(mask, "rb") as m:
        return requests.post(f"{base}/api/v1/jobs", files={"video": ("clip.mp4", v, "video/mp4"),
                                                          "mask": ("mask.png", m, "image/png")},
                             data={k: str(v) for k, v in fields.items()}, headers=headers, timeout=60)


def wait_for(base: str, job_id: str, states=TERMINAL, timeout: float = 60.0,
             headers=None) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if body.get("state") in states:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body.get('state')} after {timeout} s: {body}")
        time.sleep(0.1)


def wait_until(predicate, timeout: float = 30.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")
