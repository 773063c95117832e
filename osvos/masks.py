"""Reading user masks robustly (binary, grayscale, palette, RGB, anti-aliased, JPEG) and writing 0/255 PNGs."""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
from PIL import Image

MAX_MASK_PIXELS = 40_000_000
"""Larger images are refused before decoding (decompression bombs)."""

_BIMODAL_SHARE = 0.9
_NEAR = 0.25


class MaskError(ValueError):
    """The mask image cannot be used (the message says why, in words for a user)."""


def _open(source: str | Path | bytes) -> Image.Image:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise MaskError("the mask file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_MASK_PIXELS:
                raise MaskError(f"the mask is too large ({image.width}x{image.height} pixels)")
            image.load()
    except MaskError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MaskError("the mask image is too large to decode") from exc
    except Exception as exc:  # PIL raises many types for undecodable input
        raise MaskError("the mask is not a readable image (use PNG or JPEG)") from exc
    return image


def _strength(image: Image.Image) -> np.ndarray:
    """One channel in [0, 1] whose high values mean 'object', whatever the image mode."""
    if image.mode == "P":
        return (np.asarray(image) > 0).astype(np.float32)
    if image.mode in ("RGBA", "LA") and np.ptp(np.asarray(image.getchannel("A"))) > 0:
        return np.asarray(image.getchannel("A"), np.float32) / 255.0
    if image.mode in ("1", "L", "LA"):
        # A single-channel mask: white (high) is the object, whatever covers more of the frame.
        return np.asarray(image.getchannel("L") if image.mode == "LA" else image.convert("L"), np.float32) / 255.0
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, np.float64)
        span = values.max() - values.min()
        return ((values - values.min()) / span if span else values * 0).astype(np.float32)
    rgb = np.asarray(image.convert("RGB"), np.float32)
    quantised = (rgb // 32).reshape(-1, 3).astype(np.int32)
    codes = quantised[:, 0] * 64 + quantised[:, 1] * 8 + quantised[:, 2]
    mode = np.bincount(codes).argmax()
    background = rgb.reshape(-1, 3)[codes == mode].mean(axis=0)
    distance = np.linalg.norm(rgb - background, axis=2)
    return distance / max(float(distance.max()), 1e-6)


def binarise(strength: np.ndarray) -> np.ndarray:
    """Threshold a [0, 1] map at Otsu's level; refuse maps that are not two-tone (photos, gradients)."""
    if np.ptp(strength) == 0:
        return np.zeros(strength.shape, bool)
    level, _ = cv2.threshold((strength * 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    foreground = strength * 255 > level
    lo = strength[~foreground].mean() if (~foreground).any() else 0.0
    hi = strength[foreground].mean() if foreground.any() else 1.0
    near = (np.abs(strength - lo) < _NEAR * (hi - lo)) | (np.abs(strength - hi) < _NEAR * (hi - lo))
    if near.mean() < _BIMODAL_SHARE:
        raise MaskError(
            f"the mask does not look like a mask: only {near.mean():.0%} of its pixels are clearly object or "
            "background (is it a photo?). Upload a two-colour image: object in one colour, background in another")
    return foreground


def load_mask(source: str | Path | bytes, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a first-frame mask as a boolean (H, W) array.

    Any non-zero palette index, any alpha, or the colour farther from the dominant (background) colour is
    the object. ``size`` is the video's (width, height): a mask of another size is refused, since resizing
    would silently misplace the object. Empty masks are refused too.
    """
    image = _open(source)
    if size is not None and image.size != tuple(size):
        raise MaskError(f"the mask is {image.width}x{image.height} but the video is {size[0]}x{size[1]}; "
                        "draw the mask on the video's first frame at its full size")
    gray = np.asarray(image.convert("L"))
    has_alpha = image.mode in ("RGBA", "LA", "PA") and np.ptp(np.asarray(image.getchannel("A"))) > 0
    if np.ptp(gray) == 0 and image.mode != "P" and not has_alpha:
        if gray.flat[0] >= 128:
            raise MaskError("the mask covers the whole frame (one light colour): mark only the object")
        raise MaskError("the mask is empty (one dark colour): mark the object in the first frame")
    mask = binarise(_strength(image))
    if not mask.any():
        raise MaskError("the mask is empty: mark the object in the first frame")
    if mask.all():
        raise MaskError("the mask covers the whole frame: mark only the object")
    return mask


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A boolean mask resized to ``size`` = (width, height) as a frame is (area average down, bilinear up) and
    thresholded at half, so that it stays on top of the resized frame. ``cv2.INTER_NEAREST`` samples each output
    pixel's top-left corner instead and moves a mask by about half an output pixel down and right."""
    shrink = size[0] * size[1] < mask.shape[0] * mask.shape[1]
    resized = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resized > 0.5


def mask_png_bytes(mask: np.ndarray) -> bytes:
    """Encode a boolean mask as a 0/255 grayscale PNG."""
    ok, buf = cv2.imencode(".png", np.where(mask, 255, 0).astype(np.uint8))
    assert ok
    return buf.tobytes()


def save_mask(mask: np.ndarray, path: str | Path) -> None:
    """Write a boolean mask as a 0/255 grayscale PNG."""
    Path(path).write_bytes(mask_png_bytes(mask))


def read_label_png(path: str | Path) -> np.ndarray:
    """Read a ground-truth or predicted mask PNG (0/255 or palette): any non-zero label is foreground."""
    image = Image.open(path)
    values = np.asarray(image)
    if values.ndim == 3:
        values = values[..., :3].max(axis=2)
    return values > 0


def write_masks_zip(masks: Iterable[np.ndarray], path: str | Path) -> int:
    """Write one 0/255 PNG per frame (00000.png, …) into a zip; return the count."""
    count = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for count, mask in enumerate(masks, start=1):
            archive.writestr(f"{count - 1:05d}.png", mask_png_bytes(mask))
    return count


def read_masks_zip(path: str | Path, count: int) -> Iterator[np.ndarray]:
    """The first ``count`` masks of a ``write_masks_zip`` archive, in order, as boolean arrays."""
    with zipfile.ZipFile(path) as archive:
        for index in range(count):
            data = np.frombuffer(archive.read(f"{index:05d}.png"), np.uint8)
            yield cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) > 127
