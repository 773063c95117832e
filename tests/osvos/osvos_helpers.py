"""Paths and synthetic cases shared by the osvos library tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

TINY_SEQUENCES = ("bear", "boat")
"""The DAVIS sequences of the `tiny_davis` fixture."""


def square_case(height: int = 48, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A bright square on a dark background (RGB uint8) and its boolean mask."""
    frame = np.full((height, width, 3), 20, np.uint8)
    mask = np.zeros((height, width), bool)
    mask[height // 4:3 * height // 4, width // 4:width * 11 // 16] = True
    frame[mask] = 230
    return frame, mask
