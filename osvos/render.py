"""Turning frames and masks into the things a user looks at: overlay, side-by-side, cut-out, thumbnail, trajectory.

Pure numpy / OpenCV / pandas; no web or model imports. Frames are RGB uint8 (H, W, 3), masks are bool (H, W)
of the same size. Every function works on one frame, so callers can stream a video of any length.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np
import pandas as pd

OVERLAY_COLOR = (255, 32, 96)
"""RGB of the tint laid over the object (a saturated pink-red that stands out on most footage)."""
OVERLAY_ALPHA = 0.5
TRAJECTORY_COLUMNS = ("frame", "time_s", "area_px", "cx", "cy", "x_min", "y_min", "x_max", "y_max")


def _check(frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    frame = np.asarray(frame)
    mask = np.asarray(mask, bool)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
    if mask.shape != frame.shape[:2]:
        raise ValueError(f"mask {mask.shape} and frame {frame.shape[:2]} differ in size")
    return frame, mask


def overlay(frame: np.ndarray, mask: np.ndarray, *, color: tuple[int, int, int] = OVERLAY_COLOR,
            alpha: float = OVERLAY_ALPHA, outline: int = 2) -> np.ndarray:
    """The frame with the object tinted: ``(1 - alpha) * pixel + alpha * color`` inside the mask.

    ``outline`` > 0 also draws the mask's contour in the solid colour, that many pixels wide, so thin or
    small objects stay visible. Pixels outside the mask (and off the outline) are unchanged.
    """
    frame, mask = _check(frame, mask)
    out = frame.copy()
    if mask.any():
        tint = np.asarray(color, np.float32)
        blended = frame[mask].astype(np.float32) * (1.0 - alpha) + tint * alpha
        out[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        if outline > 0:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), thickness=int(outline))
    return out


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two frames of the same size next to each other (original | overlay), as the original app's video."""
    left, right = np.asarray(left), np.asarray(right)
    if left.shape != right.shape:
        raise ValueError(f"side-by-side frames differ in shape: {left.shape} vs {right.shape}")
    return np.concatenate([left, right], axis=1)


def cutout(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGBA frame: the object's pixels opaque, everything else fully transparent (and black)."""
    frame, mask = _check(frame, mask)
    out = np.zeros((*mask.shape, 4), np.uint8)
    out[mask, :3] = frame[mask]
    out[mask, 3] = 255
    return out


def thumbnail(image: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Downscale (never upscale) so that the longest side is at most ``max_side``, keeping the aspect."""
    image = np.asarray(image)
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def jpeg_bytes(image_rgb: np.ndarray, quality: int = 85) -> bytes:
    """Encode an RGB uint8 image as JPEG."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(np.asarray(image_rgb)[..., ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("the image could not be encoded as JPEG")
    return buf.tobytes()


def mask_stats(mask: np.ndarray) -> dict:
    """Area, centroid and inclusive bounding box of one mask (pixel indices; None when the mask is empty).

    The centroid is the mean (x, y) of the object's pixels, pixel centres at integer coordinates;
    ``x_max``/``y_max`` are the last column/row that hold object pixels.
    """
    mask = np.asarray(mask, bool)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return {"area_px": 0, "cx": None, "cy": None, "x_min": None, "y_min": None, "x_max": None, "y_max": None}
    return {"area_px": int(xs.size), "cx": float(xs.mean()), "cy": float(ys.mean()),
            "x_min": int(xs.min()), "y_min": int(ys.min()), "x_max": int(xs.max()), "y_max": int(ys.max())}


class Trajectory:
    """Accumulates one row per frame while masks stream by; ``table()`` gives the pandas DataFrame."""

    def __init__(self, fps: float):
        if not fps or fps <= 0:
            raise ValueError("fps must be positive")
        self.fps = float(fps)
        self._rows: list[dict] = []

    def add(self, mask: np.ndarray) -> dict:
        row = {"frame": len(self._rows), "time_s": len(self._rows) / self.fps, **mask_stats(mask)}
        self._rows.append(row)
        return row

    def __len__(self) -> int:
        return len(self._rows)

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(self._rows, columns=list(TRAJECTORY_COLUMNS))
        types = {"frame": "int64", "time_s": "float64", "area_px": "int64", "cx": "float64", "cy": "float64",
                 "x_min": "Int64", "y_min": "Int64", "x_max": "Int64", "y_max": "Int64"}
        return frame.astype(types)


def trajectory_table(masks: Iterable[np.ndarray], fps: float) -> pd.DataFrame:
    """One row per frame: ``frame, time_s, area_px, cx, cy, x_min, y_min, x_max, y_max``.

    Frames whose mask is empty have area 0 and empty centroid / bounding-box cells (missing values).
    """
    trajectory = Trajectory(fps)
    for mask in masks:
        trajectory.add(mask)
    return trajectory.table()


def trajectory_csv(table: pd.DataFrame) -> str:
    """CSV text of a trajectory table; missing values are empty cells, floats with 3 decimals (time with 6)."""
    out = table.copy()
    out["time_s"] = out["time_s"].round(6)
    out["cx"] = out["cx"].round(3)
    out["cy"] = out["cy"].round(3)
    return out.to_csv(index=False, na_rep="", lineterminator="\n")
