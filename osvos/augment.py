"""Flip, scale and crop augmentation, applied identically to an image and its mask."""
from __future__ import annotations

import cv2
import numpy as np

from .dreams import fill_background
from .masks import resize_mask

SCALES = (0.5, 0.8, 1.0)


def rescale(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize image (area / bilinear) and mask (``masks.resize_mask``) by ``scale``."""
    if scale == 1.0:
        return image, mask
    height, width = mask.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return small, resize_mask(mask, size)


def random_crop(image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                fill: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crop (H, W) = ``size`` at a random place; pad with ``fill`` (image) and background (mask) if smaller."""
    out_h, out_w = size
    height, width = mask.shape
    pad_h, pad_w = max(0, out_h - height), max(0, out_w - width)
    if pad_h or pad_w:
        value = fill if fill is not None else 0
        canvas = np.empty((height + pad_h, width + pad_w, image.shape[2]), image.dtype)
        canvas[...] = value
        canvas[:height, :width] = image
        padded = np.zeros((height + pad_h, width + pad_w), bool)
        padded[:height, :width] = mask
        image, mask, height, width = canvas, padded, height + pad_h, width + pad_w
    top = int(rng.integers(0, height - out_h + 1))
    left = int(rng.integers(0, width - out_w + 1))
    return image[top:top + out_h, left:left + out_w], mask[top:top + out_h, left:left + out_w]


def turn(image: np.ndarray, mask: np.ndarray, angle: float, fill: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """Rotate image and mask by ``angle`` degrees about the centre, keeping their size; the corners that come in
    are ``fill`` (image) and background (mask)."""
    height, width = mask.shape
    move = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    value = tuple(float(v) for v in fill) if fill is not None else 0.0
    image = cv2.warpAffine(image, move, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=value)
    label = cv2.warpAffine(mask.astype(np.float32), move, (width, height), flags=cv2.INTER_LINEAR) > 0.5
    return image, label


def augment(image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
            scales: tuple[float, ...] = SCALES, fill: np.ndarray | None = None, rotation: float = 0.0,
            jitter: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Random horizontal flip, a scale from ``scales``, a turn of up to ±``rotation``° (none at 0; the corners
    ``fill``) and a random crop of ``size`` = (H, W), then ``colour_jitter`` if ``jitter``."""
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image, mask = rescale(np.ascontiguousarray(image), np.ascontiguousarray(mask), float(rng.choice(scales)))
    if rotation:
        image, mask = turn(image, mask, float(rng.uniform(-rotation, rotation)), fill)
    image, mask = random_crop(image, mask, size, rng, fill)
    return (colour_jitter(image, rng) if jitter else image), mask


STILL_ROTATION = 30.0
"""Stills turn by up to this many degrees either way (the original OSVOS parent's rotation range)."""
STILL_ZOOM = (1.0, 1.6)
"""Stills are scaled to just cover the crop, then zoomed in by a factor drawn from this range."""
STILL_OBJECT_SHARE = (0.01, 0.25)
"""A still's object is resized to cover a share of the crop drawn log-uniformly from this range (mean 7 %,
median 5 %, as the object in DAVIS-2016 train crops). Left as photographed, a salient object covers 28 % of its
photo and half of a crop that covers the photo: a parent trained on that marks too much of every frame."""
STILL_OBJECT_GROWTH = 2.0
"""The most a still's object is enlarged (in the photo, before the photo is scaled to the crop)."""


def cover_transform(shape: tuple[int, int], size: tuple[int, int], angle: float, zoom: float,
                    place: tuple[float, float]) -> np.ndarray:
    """The 2×3 affine map from an image of ``shape`` (H, W) to a crop of ``size`` (H, W) turned by ``angle``
    degrees: the crop, scaled ``zoom`` × the least scale at which the turned crop fits inside the image, sits at
    ``place`` ∈ [0, 1]² of the room left (0: left/top, 1: right/bottom), so no pixel of it lies outside the image."""
    height, width = shape
    out_h, out_w = size
    theta = np.deg2rad(angle)
    cos, sin = abs(np.cos(theta)), abs(np.sin(theta))
    least = max((out_w * cos + out_h * sin) / width, (out_w * sin + out_h * cos) / height)
    scale = least * zoom
    half_x, half_y = (out_w * cos + out_h * sin) / (2 * scale), (out_w * sin + out_h * cos) / (2 * scale)
    centre_x = half_x + place[0] * (width - 2 * half_x)
    centre_y = half_y + place[1] * (height - 2 * half_y)
    turn = cv2.getRotationMatrix2D((centre_x, centre_y), angle, scale)
    turn[:, 2] += (out_w / 2 - centre_x, out_h / 2 - centre_y)
    return turn


def colour_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random saturation (×0.7–1.3), contrast (×0.8–1.2), per-channel gain (×0.9–1.1) and brightness (±25)."""
    x = image.astype(np.float32)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.7, 1.3)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.8, 1.2) + mean
    x = x * rng.uniform(0.9, 1.1, size=3) + rng.uniform(-25.0, 25.0)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def place_object(image: np.ndarray, mask: np.ndarray, area: float, centre: tuple[float, float]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The photo with its object cut out (the hole inpainted, ``dreams.fill_background``) and put back resized to
    about ``area`` pixels (at most ``STILL_OBJECT_GROWTH`` × larger) around ``centre`` (x, y); returns (image,
    mask). The object's edge is blended by its resampled mask, so it leaves no jagged seam."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return image, mask
    factor = min(STILL_OBJECT_GROWTH, float(np.sqrt(area / len(rows))))
    move = cv2.getRotationMatrix2D((float(cols.mean()), float(rows.mean())), 0.0, factor)
    move[:, 2] += (centre[0] - cols.mean(), centre[1] - rows.mean())
    height, width = mask.shape
    alpha = cv2.warpAffine(mask.astype(np.float32), move, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    thing = cv2.warpAffine(np.ascontiguousarray(image), move, (width, height), flags=cv2.INTER_LINEAR)
    scene = fill_background(image, mask).astype(np.float32)
    composite = np.rint(scene * (1.0 - alpha) + thing.astype(np.float32) * alpha).astype(np.uint8)
    return composite, alpha[..., 0] > 0.5


def swap_background(image: np.ndarray, mask: np.ndarray, scene: np.ndarray, scene_mask: np.ndarray
                    ) -> np.ndarray:
    """``image``'s object (``mask``) where it is, on ``scene`` (brought to ``image``'s size) with the scene's own
    object (``scene_mask``) inpainted away (``dreams.fill_background``): the same object against another video's
    background. The object's edge is feathered by a 3×3 blur so the seam does not mark it."""
    height, width = mask.shape
    if scene.shape[:2] != (height, width):
        scene = cv2.resize(scene, (width, height), interpolation=cv2.INTER_AREA)
        scene_mask = resize_mask(scene_mask, (width, height))
    background = fill_background(scene, scene_mask).astype(np.float32)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (3, 3), 0)[..., None]
    return np.rint(background * (1.0 - alpha) + image.astype(np.float32) * alpha).astype(np.uint8)


def augment_still(image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
                  rotation: float = STILL_ROTATION, zoom: tuple[float, float] = STILL_ZOOM,
                  share: tuple[float, float] = STILL_OBJECT_SHARE, jitter: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
    """What a video gives for free, for a still photo: random flip, rotation (±``rotation``°), zoom, shift and
    colour jitter, cropped to ``size`` = (H, W). The photo is scaled up to cover the crop, never padded. Its
    object is first moved and resized (``place_object``) to cover a share of the crop drawn from ``share``,
    centred in the middle 70 % of the crop, so the object looks as large as a video's does."""
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    out_h, out_w = size
    turn = cover_transform(mask.shape, size, float(rng.uniform(-rotation, rotation)), float(rng.uniform(*zoom)),
                           (float(rng.random()), float(rng.random())))
    scale = float(np.sqrt(abs(np.linalg.det(turn[:, :2]))))
    area = float(np.exp(rng.uniform(*np.log(share)))) * out_h * out_w / scale ** 2
    where = cv2.invertAffineTransform(turn) @ np.array([rng.uniform(0.15, 0.85) * out_w,
                                                         rng.uniform(0.15, 0.85) * out_h, 1.0])
    image, mask = place_object(np.ascontiguousarray(image), np.ascontiguousarray(mask), area,
                               (float(where[0]), float(where[1])))
    label = cv2.warpAffine(mask.astype(np.float32), turn, (out_w, out_h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE) > 0.5
    warped = cv2.warpAffine(image, turn, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (colour_jitter(warped, rng) if jitter else warped), label
