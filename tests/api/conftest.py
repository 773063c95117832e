"""Fixtures for the API tests: tiny synthetic clips, a fake model, and live servers on free loopback ports."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from api_server.server import ApiServer
from api_server.settings import Settings
from devkit.clips import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE, first_mask, synthetic_frames
from devkit.fake_model import FakeModel
from osvos.masks import mask_png_bytes
from osvos.video import write_video


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> dict:
    """A 12-frame 64x48 MP4 at 10 fps, its first mask as a 0/255 PNG and as an RGB drawing."""
    folder = tmp_path_factory.mktemp("clip")
    video = folder / "clip.mp4"
    write_video(synthetic_frames(), video, CLIP_FPS)
    mask = first_mask()
    mask_png = folder / "mask.png"
    mask_png.write_bytes(mask_png_bytes(mask))
    drawing = np.zeros((*mask.shape, 3), np.uint8)
    drawing[:] = (255, 255, 255)
    drawing[mask] = (255, 0, 0)
    rgb_png = folder / "mask-rgb.png"
    cv2.imwrite(str(rgb_png), drawing[..., ::-1])
    return {"video": video, "mask": mask_png, "mask_rgb": rgb_png, "frames": CLIP_FRAMES, "fps": CLIP_FPS,
            "width": CLIP_SIZE[0], "height": CLIP_SIZE[1]}


@pytest.fixture
def make_server(tmp_path):
    """Start ApiServer(s) on free loopback ports with a fake model; all are closed after the test."""
    servers = []

    def start(*, workers: int = 1, data_dir: Path | None = None, model=None, **overrides) -> ApiServer:
        settings = Settings(**{"data_dir": data_dir or tmp_path / "store", "default_steps": 2, "poll_interval": 0.2,
                               **overrides})
        fake = model or FakeModel()
        server = ApiServer(settings, host="127.0.0.1", port=0, workers=workers, threads=4,
                           model_factory=lambda: fake, loop_timeout=0.1)
        server.fake = fake
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close(timeout=10)
