"""A tiny synthetic clip and its first-frame mask: a red square moving right over a dark textured background."""
from __future__ import annotations

import numpy as np

CLIP_FRAMES = 12
CLIP_FPS = 10.0
CLIP_SIZE = (64, 48)  # width, height


def synthetic_frames(count: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE) -> list[np.ndarray]:
    """The clip's RGB frames; the square moves 2 pixels a frame."""
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
    """The square's place in the first frame."""
    width, height = size
    mask = np.zeros((height, width), bool)
    mask[14:30, 4:20] = True
    return mask
