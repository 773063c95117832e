"""Dropping a mask's small detached regions. A blob far smaller than the mask's largest region was, on DAVIS val,
more often a distractor (a second camel, a puff of smoke) than a part of the object (models/README.md, "Small
detached regions")."""
from __future__ import annotations

import cv2
import numpy as np


def checked_fraction(fraction: float) -> float:
    """``fraction`` as a float; ValueError outside [0, 1] (0 keeps every region, 1 only the largest ones)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"the smallest region kept must be a fraction of the largest in [0, 1]: {fraction}")
    return float(fraction)


def drop_small_regions(mask: np.ndarray, fraction: float) -> np.ndarray:
    """``mask`` (boolean) without its 8-connected regions whose area is below ``fraction`` × the area of its
    largest region; ``mask`` itself when ``fraction`` is 0 or it has at most one region."""
    mask = np.asarray(mask, dtype=bool)
    if not fraction:
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = areas >= fraction * areas[1:].max()
    keep[0] = False
    return keep[labels]
