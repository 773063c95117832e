"""Defaults of the online stage and how long fine-tuning may run (no Keras import: the CLI and services
read them cheaply). The defaults are the configuration ``scripts/benchmark.py`` chose (docs/BENCHMARK.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_STEPS = 400
"""Fine-tuning steps by default: a count, not seconds, so the same video and mask give the same masks on any
machine and under any load. With ``DEFAULT_DREAMS``, the setting that kept gaining up to 400 steps
(docs/BENCHMARK.md, "J and F against fine-tuning time"; models/README.md, "Fine-tuning 400 steps with 20 dreamed
frames")."""
DEFAULT_WORK_SIZE = 512
"""Longest side the network runs at by default (480×854 video → 288×512); 0 or None = full resolution.
Smaller frames buy more fine-tuning steps in a budget and a cheaper segmentation, with a higher J on the
benchmark's sequences (docs/BENCHMARK.md, configuration ``work512``)."""

SEGMENT_BATCH = 4
"""Frames per forward pass when segmenting: on CPU a batch costs less per frame than frames one at a time
(docs/BENCHMARK.md, forward variants ``batch4_512`` / ``fp32_512``)."""

DEFAULT_THRESHOLD = 0.5
"""A pixel is the object where the network's probability exceeds this."""
DEFAULT_SNAP = True
"""Snap masks to contour superpixels where the network is unsure: on the 12 DAVIS val sequences J 66.5 → 67.5 and
F 63.5 → 64.9 (T 57.4 → 60.2), for about 0.7 s more per frame at 288×512; with the temporal prior (``FLOW_WEIGHT``)
J 69.5 → 69.8, F 66.7 → 67.0, T 40.3 → 49.3. The snapped mask is the one carried to the next frame: with the
mirror view J 70.2 → 70.5, F 67.2 → 67.7, T 50.2 → 45.9 against carrying the unsnapped one (models/README.md)."""
DEFAULT_CRF = True
"""The masks given out come from a dense CRF on each frame and its probability (``osvos.crf``: nearby pixels of like
colour take one label, over a width that follows the object's size); the mask carried to the next frame stays the
network's (snapped) one. On the 12 DAVIS val sequences, every frame, over three fine-tuning seeds, J 70.1 → 71.5,
F 67.4 → 67.8, T 44.3 → 42.4, for 0.28 s (0.5 units) more per 480p frame; carried, its mistakes grew frame to frame
(models/README.md, "The dense CRF gives the masks out")."""
MIN_REGION = 0.2
"""The masks given out lose their detached regions smaller than this × the largest region's area
(``osvos.regions``); the mask carried to the next frame keeps them. On the 12 DAVIS val sequences, every frame,
over three fine-tuning seeds, J 71.5 → 71.9, F 67.8 → 68.1 (models/README.md, "Small detached regions")."""

SEGMENT_SCALE = 1.5
"""Frames are segmented at up to this × the working size that fine-tuning runs at (480×854 video: fine-tuning at
288×512, segmentation at 432×768), the largest of ``FINETUNE_SCALES``: finer score maps where thin and small
objects need them. Less as the object grows (``osvos.views.ScaleTracker``). On the 12 DAVIS val sequences (every
4th frame) J 67.6 → 68.7, F 65.3 → 66.8, for up to 2.25× the network's time per frame (models/README.md)."""
FLOW_WEIGHT = 0.4
"""Weight of the previous frame's mask, carried by optical flow, in each frame's probability
(``osvos.temporal.FlowPrior``; 0 = every frame on its own, as OSVOS). On the 12 DAVIS val sequences, every frame,
J 69.1 → 69.8, F 66.8 → 67.0, T 61.2 → 49.3 with snapping (models/README.md, "The temporal prior")."""
SEGMENT_SCALES = (0.25, 4.0)
"""The smallest and largest ``segment_scale`` allowed."""
VIEW_COUNTS = (1, 2)
"""Test-time views a frame may be segmented from (``osvos.views.view_plan``): 1, the frame; 2, and its mirror
image, the probabilities averaged."""
DEFAULT_VIEWS = 2
"""Test-time views by default: the frame and its mirror image. On the 12 DAVIS val sequences, every frame, J 69.8 →
70.2, F 67.0 → 67.2 (T 49.3 → 50.3) with snapping, and J +0.4 to +0.75 over three fine-tuning seeds without it,
for a second forward pass per frame: +25 % segmentation time in bfloat16, ×1.4–2.4 in float32 on an AVX2-only
CPU (models/README.md, "The mirror view")."""

FINETUNE_SCALES = (1.5, 1.25, 1.0, 0.75, 0.5)
"""Sizes of the first frame that fine-tuning trains on (each also mirrored): the object as it may grow or
shrink later in the video."""
MAX_DREAMS = 100
"""The most synthetic later frames (``dreams``) one fine-tuning may ask for per annotated frame."""
DEFAULT_DREAMS = 20
"""Synthetic later frames (``osvos.dreams``) fine-tuning trains on by default, with ``DEFAULT_STEPS``. On the 12
DAVIS val sequences, every frame, over three fine-tuning seeds, 400 steps with 20 dreams against 125 steps without:
J 74.98 → 76.85, F 69.20 → 72.24, T 38.3 → 38.6, for about 3× the fine-tuning time (a median of 60–62 s per
sequence against about 20 s on an AMD EPYC, Zen 5, bfloat16; models/README.md, "Fine-tuning 400 steps with 20
dreamed frames")."""
QUICK_STEPS, QUICK_DREAMS = 125, 0
"""The quick setting, the default before ``DEFAULT_DREAMS``: a third of the fine-tuning time, J 1.9 and F 3.0 lower
on DAVIS val."""
FINETUNE_CONV3 = False
"""Whether fine-tuning trains conv3 as well as conv4, conv5 and the heads (then conv2_2 is cached instead of
conv3_3). Off: on the 12 DAVIS val sequences, every frame, three fine-tuning seeds, its gain is within the spread
between seeds, for about 1.4× the fine-tuning time (models/README.md, "conv3 in the fine-tuning")."""
ADAPT_STEPS = 6
"""Online adaptation steps after each batch of segmented frames (``osvos.online``); 0 = none. On, with the dense
CRF giving the masks out: on the 12 DAVIS val sequences, every frame, three fine-tuning seeds, J 72.4 → 74.3, F 69.1
→ 69.0, T 43.7 → 38.0, for 1.35–1.4× the segmentation time (models/README.md, "Online adaptation under the
CRF"); with ``ADAPT_GROWTH`` J 74.98, F 69.20, T 38.3. Before the CRF it lost F on every seed (J 70.1 → 71.6,
F 67.4 → 66.7)."""
ADAPT_LR = 1e-5
"""The online adaptation's learning rate (Adam, mean loss over the counted pixels)."""
ADAPT_SURE = 0.97
"""Online adaptation: a pixel of a segmented frame's mask is an object label where its probability is above this."""
ADAPT_FAR = 0.02
"""Online adaptation: a pixel is a background label where it lies farther than this × the frame's longest side
from the mask (about 10 px at 288×512, so background labels push back on the mask soon after it spreads; 0.15 lost
3.1 F on DAVIS val)."""
ADAPT_GROWTH = 3.0
"""Online adaptation: once the mask has grown past this × the annotated mask's area, no background label where the
parent network marks the object (probability above ``PARENT_OBJECT``). A grown object's mask misses the parts the
first frame never showed at that size, and background labels there taught the network to drop them (DAVIS
drift-straight, whose car grows 27×); a mask that has not grown keeps the labels that unlearn distractors the parent
also marks (breakdance's crowd). On DAVIS val, every frame, three fine-tuning seeds: J 74.32 → 74.98, F 69.04 →
69.20, T 38.0 → 38.3 (drift-straight +10.9 J, scooter-black −2.9; models/README.md, "A grown object's parent-marked
pixels"). 0 = never."""
PARENT_OBJECT = 0.5
"""Online adaptation: where the parent network's probability is above this, a grown object's frame gets no
background label (``ADAPT_GROWTH``)."""
FINETUNE_CROP = 0.75
"""Each fine-tuning step trains on a random window of this fraction of a scaled frame's height and width."""


def check_dreams(count: int, name: str = "dreams") -> None:
    """ValueError unless ``count`` dreams per annotated frame is from 0 to ``MAX_DREAMS``; ``name`` is what the
    message calls it (the argument, or a command line's flag)."""
    if not 0 <= count <= MAX_DREAMS:
        raise ValueError(f"{name} must be between 0 and {MAX_DREAMS}: {count!r}")


def check_adaptation(steps: int, far: float, growth: float = ADAPT_GROWTH,
                     names: tuple[str, str, str] = ("adapt_steps", "adapt_far", "adapt_growth")) -> None:
    """ValueError unless ``steps`` is 0 or more, ``far`` is from 0 to less than 1 and ``growth`` is 0 or more;
    ``names`` are what the message calls the three (the recipe's fields, or a command line's flags)."""
    if steps < 0:
        raise ValueError(f"{names[0]} must be 0 or more: {steps!r}")
    if not 0 <= far < 1:
        raise ValueError(f"{names[1]} must be from 0 to less than 1: {far!r}")
    if not growth >= 0:
        raise ValueError(f"{names[2]} must be 0 or more: {growth!r}")


@dataclass(frozen=True)
class Budget:
    """Stop after ``iterations`` steps or after ``seconds`` of training, whichever is set (both: first hit).

    Seconds depend on the machine and its load; steps do not. The clock starts once the training views are
    cached and the first step (which compiles) is done."""

    seconds: float | None = None
    iterations: int | None = None

    def __post_init__(self):
        if self.seconds is None and self.iterations is None:
            raise ValueError("a budget needs seconds, iterations or both")
        if self.iterations is not None and (isinstance(self.iterations, bool) or not isinstance(self.iterations, int)
                                            or self.iterations < 1):
            raise ValueError(f"iterations must be a positive whole number: {self.iterations!r}")
        if self.seconds is not None and (isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float))
                                         or not self.seconds > 0 or not math.isfinite(self.seconds)):
            raise ValueError(f"seconds must be a positive number: {self.seconds!r}")

    @classmethod
    def of(cls, value: "Budget | float | int") -> "Budget":
        """A float is seconds, an int iterations."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"budget must be a positive number of seconds (float) or iterations (int): {value!r}")
        return cls(iterations=value) if isinstance(value, int) else cls(seconds=float(value))

    def fraction(self, elapsed: float, steps: int) -> float:
        """How much of the budget is used, in [0, 1]."""
        parts = []
        if self.seconds is not None:
            parts.append(elapsed / self.seconds)
        if self.iterations is not None:
            parts.append(steps / self.iterations)
        return min(1.0, max(parts))


DEFAULT_BUDGET = Budget(iterations=DEFAULT_STEPS)
"""The default budget: ``DEFAULT_STEPS`` steps, no time cap."""
