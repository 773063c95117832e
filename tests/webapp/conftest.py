"""Fixtures for the site's tests: its database migrated (Django itself is set up by tests/conftest.py), a fake
API over real HTTP, and tiny media files made with ffmpeg."""
from __future__ import annotations

import subprocess

import pytest
from django.core.management import call_command
from django.test.utils import setup_test_environment

from devkit.live_api import free_port

from webapp_fakes import FakeApi

setup_test_environment()
call_command("migrate", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def fake_api():
    api = FakeApi().start()
    yield api
    api.stop()


@pytest.fixture
def api(fake_api, settings_override):
    """The fake API, reset, with the site pointed at it."""
    fake_api.reset()
    settings_override(OSVOS_API_URL=fake_api.url, OSVOS_API_RETRIES=0)
    return fake_api


@pytest.fixture
def api_down(settings_override):
    """The site pointed at a closed port (nothing listens there)."""
    url = f"http://127.0.0.1:{free_port()}"
    settings_override(OSVOS_API_URL=url, OSVOS_API_RETRIES=0, OSVOS_API_CONNECT_TIMEOUT=1.0)
    return url


@pytest.fixture
def settings_override():
    from django.test import override_settings

    active = []

    def apply(**values):
        cm = override_settings(**values)
        cm.enable()
        active.append(cm)

    yield apply
    for cm in reversed(active):
        cm.disable()


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict:
    """A 64x48, 10-frame MP4; a matching mask PNG; a wrongly sized mask; a non-video and a non-image."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("media")
    video = folder / "clip.mp4"
    subprocess.run([_ffmpeg(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=10", "-frames:v", "10", "-pix_fmt", "yuv420p", "-c:v", "mpeg4",
                    str(video)], check=True)
    mask = Image.new("L", (64, 48), 0)
    mask.paste(255, (10, 10, 30, 30))
    mask_path = folder / "mask.png"
    mask.save(mask_path)
    wrong = folder / "mask-wrong-size.png"
    Image.new("L", (32, 24), 0).save(wrong)
    not_video = folder / "notes.mp4"
    not_video.write_bytes(b"this is text, not a video\n" * 20)
    not_image = folder / "mask.png.txt"
    not_image.write_bytes(b"not an image")
    fake_png = folder / "fake.png"
    fake_png.write_bytes(b"\x89PNG but truncated")
    return {"video": video, "mask": mask_path, "mask_wrong": wrong, "not_video": not_video,
            "not_image": not_image, "fake_png": fake_png, "width": 64, "height": 48}
