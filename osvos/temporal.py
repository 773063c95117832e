"""A temporal prior: the last mask, carried to the next frame by optical flow and blended with the network's
probability. OSVOS segments each frame on its own; this lets a pixel keep its label unless the network is sure
of the other one (with weight w on the carried mask, the threshold 0.5 becomes (0.5 − w) / (1 − w) where the
carried mask says object and 0.5 / (1 − w) where it says background)."""
from __future__ import annotations

import cv2
import numpy as np

FLOW_SIDE = 854
"""Flow is computed with the frame's longest side at most this (DAVIS 480p as it is); larger frames are shrunk
for it and the flow scaled back up."""


def checked_weight(weight: float) -> float:
    """``weight`` as a float; ValueError outside [0, 0.5) (at 0.5 and above the carried mask alone decides)."""
    if not 0.0 <= weight < 0.5:
        raise ValueError(f"flow weight must be in [0, 0.5): {weight}")
    return float(weight)


class FlowPrior:
    """Blend each frame's probability with the previous frame's mask, warped by DIS optical flow."""

    def __init__(self, weight: float):
        self.weight = checked_weight(weight)
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._gray: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._current: np.ndarray | None = None

    def _small_gray(self, frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        ratio = FLOW_SIDE / max(gray.shape)
        if ratio >= 1.0:
            return gray
        size = (max(1, round(gray.shape[1] * ratio)), max(1, round(gray.shape[0] * ratio)))
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)

    def carried(self, frame: np.ndarray) -> np.ndarray | None:
        """The last remembered mask warped onto ``frame`` (float, frame size), or None when there is none or the
        frame size changed."""
        gray = self._small_gray(frame)
        previous, self._current = self._gray, gray
        if self._mask is None or previous is None or previous.shape != gray.shape:
            return None
        flow = self._flow.calc(gray, previous, None)
        height, width = frame.shape[:2]
        if gray.shape != (height, width):
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= width / gray.shape[1]
            flow[..., 1] *= height / gray.shape[0]
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        return cv2.remap(self._mask, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)

    def blend(self, frame: np.ndarray, probability: np.ndarray) -> np.ndarray:
        """``probability`` (frame size) blended with the carried mask: (1 − w)·p + w·carried; ``probability``
        itself for the first frame, after a size change, or at weight 0."""
        if not self.weight:
            return probability
        carried = self.carried(frame)
        if carried is None:
            return probability
        return (1.0 - self.weight) * probability + self.weight * carried

    def remember(self, mask: np.ndarray) -> None:
        """The mask the frame last given to ``blend`` or ``carried`` ended with (the output, or an annotation)."""
        self._mask, self._gray = np.asarray(mask, dtype=np.float32), self._current
