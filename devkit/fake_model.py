"""A stand-in for ``osvos.system.OSVOS`` that the API can load in no time: it fine-tunes by waiting and segments
by thresholding redness (the synthetic clip's square)."""
from __future__ import annotations

import time

import numpy as np

from osvos.cancel import Cancelled


class FakeTuned:
    def __init__(self, delay: float):
        self.delay = delay

    def segment(self, frames, *, snap=False, threshold=0.5, progress=None, cancel=None):
        for frame in frames:
            if cancel is not None and cancel():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay)
            yield frame[..., 0].astype(np.int32) - frame[..., 1] > 100


class FakeModel:
    """An int budget is iterations (instant), a float budget is seconds actually spent (so a test can cancel a
    running job); ``segment_delay`` seconds pass per segmented frame."""

    version = "fake-v1"

    def __init__(self, segment_delay: float = 0.0):
        self.segment_delay = segment_delay
        self.finetune_calls = 0

    def finetune(self, frame, mask, budget, *, progress=None, cancel=None):
        self.finetune_calls += 1
        assert frame.ndim == 3 and mask.shape == frame.shape[:2] and mask.dtype == bool
        if isinstance(budget, int):
            steps, pause = budget, 0.0
        else:
            steps, pause = max(1, int(budget / 0.05)), 0.05
        for step in range(steps):
            if cancel is not None and cancel():
                raise Cancelled()
            time.sleep(pause)
            if progress is not None:
                progress((step + 1) / steps, (steps - step - 1) * pause)
        return FakeTuned(self.segment_delay)
