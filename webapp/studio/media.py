"""Cheap checks of uploaded files: the first frame of a video (ffmpeg decodes one frame) and a mask's size."""
from __future__ import annotations

import io
import os
import subprocess
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from PIL import Image

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ogv")
MASK_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_MASK_PIXELS = 40_000_000


class MediaError(ValueError):
    """The file cannot be used; the message is for the user."""


@dataclass(frozen=True)
class FirstFrame:
    png: bytes
    width: int
    height: int


def ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - not installed, or no binary for this platform
        return None


@contextmanager
def local_path(uploaded) -> Iterator[str]:
    """A filesystem path for a Django UploadedFile (a temporary copy when it is held in memory)."""
    if hasattr(uploaded, "temporary_file_path"):
        yield uploaded.temporary_file_path()
        return
    suffix = os.path.splitext(getattr(uploaded, "name", "") or "")[1][:8]
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="osvos-upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            uploaded.seek(0)
            for chunk in uploaded.chunks():
                out.write(chunk)
        yield path
    finally:
        uploaded.seek(0)
        os.unlink(path)


def first_frame(path: str, timeout: float = 60.0) -> FirstFrame:
    """Decode frame 0 (display orientation, as the API sees it) to PNG. Raises MediaError if it is no video."""
    exe = ffmpeg_exe()
    if exe is None:
        raise MediaError("the server cannot decode videos (ffmpeg is missing)")
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0",
           "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "pipe:1"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError("the video took too long to open") from exc
    if proc.returncode != 0 or not proc.stdout:
        raise MediaError("this file is not a video the server can decode (no readable video stream)")
    with Image.open(io.BytesIO(proc.stdout)) as image:
        width, height = image.size
    return FirstFrame(proc.stdout, width, height)


def image_size(uploaded) -> tuple[int, int]:
    """(width, height) of an uploaded image, checked to be a real, decodable image of sane size."""
    uploaded.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(uploaded) as image:
                size = image.size
                if size[0] * size[1] > MAX_MASK_PIXELS:
                    raise MediaError(f"the image is too large ({size[0]}x{size[1]} pixels)")
                image.verify()
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"the image is too large (over {MAX_MASK_PIXELS // 1_000_000} megapixels)") from exc
    except Exception as exc:  # Pillow raises many types for bad input
        raise MediaError("this file is not a readable image (use a PNG, or a JPEG)") from exc
    finally:
        uploaded.seek(0)
    return size
