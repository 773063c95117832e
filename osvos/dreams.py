"""Synthetic later frames from one annotated frame ("Lucid Data Dreaming", Khoreva et al., IJCV 2019).

The object is cut out, the hole it leaves is filled (``cv2.inpaint``), and the object is pasted back moved,
scaled, turned, bent by a smooth random warp and recoloured, onto a slightly moved and relit background: pairs
that show the network the object as it may look later in the video, not only where and how it first stood.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masks import resize_mask


@dataclass(frozen=True)
class DreamRanges:
    """How far a dream may move away from the annotated frame."""

    shift: float = 0.15
    """Object shift, as a fraction of the frame's height and width."""
    scale: tuple[float, float] = (0.8, 1.25)
    rotation: float = 20.0
    """Object rotation, degrees either way."""
    bend: float = 0.05
    """Amplitude of the smooth non-rigid warp, as a fraction of the object's size."""
    camera: float = 0.04
    """Background shift and zoom (camera motion), as a fraction of the frame."""
    light: float = 0.15
    """Brightness and contrast change, relative."""


def fill_background(image: np.ndarray, mask: np.ndarray, work: int = 256) -> np.ndarray:
    """``image`` with the object (``mask``, grown by a few pixels) inpainted away.

    Inpainting runs at most ``work`` pixels on the longest side (it is slow on large holes) and only the hole
    is replaced by the upscaled fill."""
    height, width = mask.shape
    grow = max(3, round(0.01 * max(height, width)))
    hole = cv2.dilate(mask.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
    if not hole.any():
        return image.copy()
    factor = min(1.0, work / max(height, width))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_hole = resize_mask(hole, size).astype(np.uint8)
    filled = cv2.inpaint(small, cv2.dilate(small_hole, np.ones((3, 3), np.uint8)), 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole] = filled[hole]
    return out


def _object_affine(mask: np.ndarray, ranges: DreamRanges, rng: np.random.Generator) -> np.ndarray:
    """A 2×3 map that scales and turns the object about its centre, then shifts it."""
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    centre = (float(cols.mean()), float(rows.mean())) if len(rows) else (width / 2, height / 2)
    turn = cv2.getRotationMatrix2D(centre, float(rng.uniform(-ranges.rotation, ranges.rotation)),
                                   float(np.exp(rng.uniform(*np.log(ranges.scale)))))
    turn[:, 2] += (rng.uniform(-ranges.shift, ranges.shift) * width, rng.uniform(-ranges.shift, ranges.shift) * height)
    return turn


def _camera_affine(shape: tuple[int, int], ranges: DreamRanges, rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    zoom = 1.0 + rng.uniform(0.0, ranges.camera)
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, zoom)
    shift = ranges.camera
    turn[:, 2] += (rng.uniform(-shift, shift) * width, rng.uniform(-shift, shift) * height)
    return turn


def _bend_field(mask: np.ndarray, ranges: DreamRanges, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps for ``cv2.remap``: identity plus a smooth random displacement (a 4×4 grid of random offsets,
    upsampled bicubically) of up to ``ranges.bend`` × the object's size."""
    height, width = mask.shape
    rows, cols = np.nonzero(mask)
    size = max(np.ptp(rows) if len(rows) else height, np.ptp(cols) if len(cols) else width, 1)
    amplitude = ranges.bend * size
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    offsets = [cv2.resize(rng.uniform(-amplitude, amplitude, (4, 4)).astype(np.float32), (width, height),
                          interpolation=cv2.INTER_CUBIC) for _ in range(2)]
    return grid_x + offsets[0], grid_y + offsets[1]


def _relight(image: np.ndarray, light: float, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float32)
    mean = x.mean()
    x = (x - mean) * rng.uniform(1 - light, 1 + light) + mean * rng.uniform(1 - light, 1 + light)
    x *= rng.uniform(1 - light / 3, 1 + light / 3, size=3)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def dream(image: np.ndarray, mask: np.ndarray, background: np.ndarray, rng: np.random.Generator,
          ranges: DreamRanges = DreamRanges()) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic frame and its mask from ``image`` (RGB uint8), its boolean ``mask`` and ``background``
    (``fill_background(image, mask)``): the object moved, scaled, turned, bent and relit over a moved, relit
    background. A mask without an object gives the relit background and an empty mask."""
    height, width = mask.shape
    size = (width, height)
    if rng.random() < 0.5:
        image, mask, background = image[:, ::-1], mask[:, ::-1], background[:, ::-1]
    scene = cv2.warpAffine(np.ascontiguousarray(background), _camera_affine(mask.shape, ranges, rng), size,
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    scene = _relight(scene, ranges.light, rng)
    if not mask.any():
        return scene, np.zeros_like(mask, dtype=bool)
    alpha = np.ascontiguousarray(mask).astype(np.float32)
    map_x, map_y = _bend_field(mask, ranges, rng)
    thing = cv2.remap(np.ascontiguousarray(image), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    alpha = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    place = _object_affine(alpha > 0.5, ranges, rng)
    thing = cv2.warpAffine(thing, place, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    alpha = cv2.warpAffine(alpha, place, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    thing = _relight(thing, ranges.light, rng)
    label = alpha > 0.5
    soft = cv2.GaussianBlur(alpha, (3, 3), 0)[..., None]
    out = np.clip(np.rint(soft * thing + (1 - soft) * scene), 0, 255).astype(np.uint8)
    return out, label
