"""Flip, scale and crop augmentation, applied identically to an image and its mask."""
from __future__ import annotations

import cv2
import numpy as np

SCALES = (0.5, 0.8, 1.0)


def rescale(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize image (bilinear) and mask (nearest) by ``scale``."""
    if scale == 1.0:
        return image, mask
    height, width = mask.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return small, cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


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


def augment(image: np.ndarray, mask: np.ndarray, size: tuple[int, int], rng: np.random.Generator,
            scales: tuple[float, ...] = SCALES, fill: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random horizontal flip, a scale from ``scales`` and a random crop of ``size`` = (H, W)."""
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image, mask = rescale(np.ascontiguousarray(image), np.ascontiguousarray(mask), float(rng.choice(scales)))
    return random_crop(image, mask, size, rng, fill)
