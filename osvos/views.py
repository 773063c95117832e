"""Test-time views: a frame is segmented at a scale of the working size (``ScaleTracker``: smaller as the object
grows), and optionally its mirror image too, the foreground probabilities mapped back onto the frame and
averaged. No Keras import."""
from __future__ import annotations

from dataclasses import dataclass

from .budget import SEGMENT_SCALE, SEGMENT_SCALES, VIEW_COUNTS


@dataclass(frozen=True)
class View:
    """One way of showing a frame to the network: at ``scale`` × the working size, ``mirrored`` left to right."""

    scale: float = 1.0
    mirrored: bool = False


def view_plan(count: int, scale: float = SEGMENT_SCALE) -> tuple[View, ...]:
    """The views of ``count`` (one of ``VIEW_COUNTS``) at ``scale`` × the working size: 1, the frame; 2, the frame
    and its mirror image."""
    if count not in VIEW_COUNTS:
        raise ValueError(f"views must be one of {', '.join(map(str, VIEW_COUNTS))}: {count!r}")
    low, high = SEGMENT_SCALES
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not low <= scale <= high:
        raise ValueError(f"segment scale must be a number from {low:g} to {high:g}: {scale!r}")
    return tuple(View(float(scale), mirrored) for mirrored in (False, True)[:count])


def segment_scales(largest: float) -> tuple[float, ...]:
    """The scales frames may be segmented at when ``largest`` is the most: quarter steps from 1 up to it (and
    ``largest`` itself); only ``largest`` when it is 1 or less."""
    if largest <= 1.0:
        return (float(largest),)
    steps = [1.0 + 0.25 * k for k in range(int((largest - 1.0) / 0.25 + 1e-9) + 1)]
    return tuple(steps) if abs(steps[-1] - largest) < 1e-9 else (*steps, float(largest))


class ScaleTracker:
    """Picks the scale each frame is segmented at from how much the object has grown since the annotated frame:
    ``largest`` while it is as big as there, less as it grows (the scale that keeps it at the size it had at
    ``largest``, the nearest of ``segment_scales``), so that it stays within the sizes fine-tuning trained on.
    ``first_area``: the annotated object's share of its frame; None keeps ``largest``."""

    def __init__(self, largest: float, first_area: float | None):
        self.scales = segment_scales(largest)
        self.first_area = first_area
        self.area = first_area

    def scale(self) -> float:
        """The scale for the next frames."""
        largest = self.scales[-1]
        if not self.first_area:
            return largest
        growth = (max(self.area, 1e-9) / self.first_area) ** 0.5
        wanted = min(largest, max(self.scales[0], largest / growth))
        return min(self.scales, key=lambda scale: abs(scale - wanted))

    def update(self, mask) -> None:
        """Record the latest mask (boolean array) of the object."""
        self.area = float(mask.mean())
