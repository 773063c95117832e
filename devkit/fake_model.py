"""A stand-in for ``osvos.system.OSVOS`` that the API can load in no time: it fine-tunes by waiting and segments
by thresholding redness (the synthetic clip's square)."""
from __future__ import annotations

import time

import numpy as np

from osvos.budget import Budget
from osvos.cancel import Cancelled

SECONDS_PER_STEP = 0.05
"""How long one fake step takes when the budget has seconds (a seconds budget is spent, so a test can cancel)."""


class FakeTuned:
    def __init__(self, delay: float):
        self.delay = delay

    def segment(self, frames, *, snap=False, threshold=0.5, progress=None, cancel=None, annotations=None):
        annotations = annotations or {}
        for index, frame in enumerate(frames):
            if cancel is not None and cancel():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay)
            given = annotations.get(index)
            yield frame[..., 0].astype(np.int32) - frame[..., 1] > 100 if given is None else np.asarray(given, bool)


class FakeModel:
    """Steps without seconds are instant; a budget with seconds spends them, ``SECONDS_PER_STEP`` a step (at most
    its iterations, when it has both); ``segment_delay`` seconds pass per segmented frame. Every call's annotated
    frames are kept in ``finetuned_on`` (a list of (frames, masks) lists), its ``Budget`` in ``budgets``."""

    version = "fake-v1"

    def __init__(self, segment_delay: float = 0.0):
        self.segment_delay = segment_delay
        self.finetune_calls = 0
        self.finetuned_on: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
        self.budgets: list[Budget] = []
        self.dreams: list[int | None] = []

    def finetune(self, frame, mask, budget, *, dreams=None, progress=None, cancel=None):
        self.finetune_calls += 1
        frames = [frame] if isinstance(frame, np.ndarray) else list(frame)
        masks = [mask] if isinstance(mask, np.ndarray) else list(mask)
        assert len(frames) == len(masks) >= 1
        for one, label in zip(frames, masks):
            assert one.ndim == 3 and label.shape == one.shape[:2] and label.dtype == bool
        self.finetuned_on.append((frames, masks))
        budget = Budget.of(budget)
        self.budgets.append(budget)
        self.dreams.append(dreams)
        if budget.seconds is None:
            steps, pause = budget.iterations, 0.0
        else:
            steps = max(1, int(budget.seconds / SECONDS_PER_STEP))
            steps, pause = min(steps, budget.iterations or steps), SECONDS_PER_STEP
        for step in range(steps):
            if cancel is not None and cancel():
                raise Cancelled()
            time.sleep(pause)
            if progress is not None:
                progress((step + 1) / steps, (steps - step - 1) * pause)
        return FakeTuned(self.segment_delay)
