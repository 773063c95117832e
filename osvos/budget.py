"""Defaults of the online stage and how long fine-tuning may run (no Keras import: the CLI and services
read them cheaply). The defaults are the configuration ``scripts/benchmark.py`` chose (docs/BENCHMARK.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_BUDGET = 60.0
"""Seconds of online fine-tuning by default."""
DEFAULT_WORK_SIZE = 512
"""Longest side the network runs at by default (480×854 video → 288×512); 0 or None = full resolution.
Smaller frames buy more fine-tuning steps in a budget and a cheaper segmentation, with a higher J on the
benchmark's sequences (docs/BENCHMARK.md, configuration ``work512``)."""

SEGMENT_BATCH = 4
"""Frames per forward pass when segmenting: on CPU a batch costs less per frame than frames one at a time
(docs/BENCHMARK.md, forward variants ``batch4_512`` / ``fp32_512``)."""

DEFAULT_THRESHOLD = 0.5
"""A pixel is the object where the network's probability exceeds this."""

FINETUNE_SCALES = (1.5, 1.25, 1.0, 0.75, 0.5)
"""Sizes of the first frame that fine-tuning trains on (each also mirrored): the object as it may grow or
shrink later in the video."""
FINETUNE_CROP = 0.75
"""Each fine-tuning step trains on a random window of this fraction of a scaled frame's height and width."""
FINETUNE_PACE = 125 / 60
"""Most fine-tuning steps per second of a budget given in seconds: the default 60 s buys at most 125 steps,
the count the recipe was tuned at (on a machine that fits more in 60 s, more steps at the same learning rate
overfit the first frame: models/README.md). A faster machine finishes early instead."""


@dataclass(frozen=True)
class Budget:
    """Stop after ``seconds`` of training or after ``iterations`` steps, whichever is set (both: first hit)."""

    seconds: float | None = None
    iterations: int | None = None

    @classmethod
    def of(cls, value: "Budget | float | int") -> "Budget":
        """A float is seconds, an int iterations."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"budget must be a positive number of seconds (float) or iterations (int): {value!r}")
        return cls(iterations=value) if isinstance(value, int) else cls(seconds=float(value))

    def at_pace(self, steps_per_second: float) -> "Budget":
        """A seconds-only budget also capped at ``steps_per_second`` × its seconds steps, rounded up (after
        rounding to 1e-6, so that 125/60 a second for 60 s is 125, not 126) and at least one; a budget that
        sets iterations, or a pace of 0, is returned unchanged."""
        if not steps_per_second or self.iterations is not None or self.seconds is None:
            return self
        return Budget(seconds=self.seconds, iterations=max(1, math.ceil(round(steps_per_second * self.seconds, 6))))

    def fraction(self, elapsed: float, steps: int) -> float:
        """How much of the budget is used, in [0, 1]."""
        parts = []
        if self.seconds is not None:
            parts.append(elapsed / self.seconds)
        if self.iterations is not None:
            parts.append(steps / self.iterations)
        return min(1.0, max(parts))
