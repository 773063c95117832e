"""Online fine-tuning on the first frame under a time or iteration budget, with progress and cancel.

conv1–conv3 stay frozen, so their features for each augmented copy of the frame (flips × scales) are
computed once and cached; each step cuts a random window out of one copy's features and label and runs
only conv4, conv5 and the heads on it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np

from .augment import rescale
from .budget import FINETUNE_CROP, FINETUNE_PACE, FINETUNE_SCALES, Budget
from .cancel import Cancel, Cancelled
from .losses import balanced_bce
from .model import Networks

Progress = Callable[[float, "float | None"], None]


@dataclass(frozen=True)
class FinetuneRecipe:
    """Optimiser and augmentation of the online fine-tuning."""

    lr: float = 3e-5
    """Adam's learning rate; chosen on val with the shipped parent (1e-4 and 1e-5 scored lower: models/README.md)."""
    scales: tuple[float, ...] = FINETUNE_SCALES
    seed: int = 0
    plateau: int = 0
    """Stop before the budget once the smoothed loss fell by less than ``plateau_tol`` (relative) over the
    last ``plateau`` steps; 0 = always use the whole budget."""
    plateau_tol: float = 0.02
    crop: float = FINETUNE_CROP
    """Train each step on a random window of this fraction of a variant's height and width (0 = the whole
    variant): the object moves in the frame, not only at its first-frame place. Windows step in 4-pixel units,
    so they cut the cached conv2_2 / conv3_3 features exactly."""
    pace: float = FINETUNE_PACE
    """Most steps per second of a budget in seconds (``Budget.at_pace``); 0 = train for the whole budget."""


def _variants(nets: Networks, image: np.ndarray, mask: np.ndarray, scales: tuple[float, ...]):
    """Cached (conv2_2, conv3_3, label) for every flip × scale of the first frame, sizes cut to ×16."""
    out = []
    for scale in scales:
        scaled_image, scaled_mask = rescale(image, mask, scale)
        height, width = (d - d % 16 for d in scaled_mask.shape)
        if height < 16 or width < 16:
            continue
        for flip in (False, True):
            img = scaled_image[:height, :width]
            lab = scaled_mask[:height, :width]
            if flip:
                img, lab = img[:, ::-1], lab[:, ::-1]
            conv2, conv3 = nets.low.predict_on_batch(np.ascontiguousarray(img)[None])
            out.append((conv2, conv3, np.ascontiguousarray(lab)[None, ..., None].astype(np.float32)))
    if not out:
        raise ValueError("the frame is too small to fine-tune on (needs at least 16×16 pixels)")
    return out


def finetune(nets: Networks, image: np.ndarray, mask: np.ndarray, budget: Budget,
             recipe: FinetuneRecipe = FinetuneRecipe(), progress: Progress | None = None,
             cancel: Cancel | None = None) -> dict:
    """Fine-tune ``nets`` in place on one preprocessed image and its mask; returns steps, seconds, last loss."""
    started = time.perf_counter()
    budget = budget.at_pace(recipe.pace)
    variants = _variants(nets, image, mask, recipe.scales)
    nets.head.compile(optimizer=keras.optimizers.Adam(recipe.lr), loss=balanced_bce,
                      jit_compile=keras.backend.backend() == "jax")
    rng = np.random.default_rng(recipe.seed)
    steps, loss = 0, float("nan")
    smoothed: list[float] = []
    while True:
        elapsed = time.perf_counter() - started
        done = 1.0 if _plateaued(smoothed, recipe) else budget.fraction(elapsed, steps)
        if progress is not None:
            eta = elapsed * (1 - done) / done if done > 0 else None
            progress(done, eta)
        if done >= 1.0:
            break
        if cancel is not None and cancel():
            raise Cancelled("fine-tuning was cancelled")
        conv2, conv3, label = _window(variants[int(rng.integers(len(variants)))], recipe.crop, rng)
        loss = float(np.asarray(nets.head.train_on_batch([conv2, conv3], label)).ravel()[0])
        smoothed.append(loss if not smoothed else 0.9 * smoothed[-1] + 0.1 * loss)
        steps += 1
    return {"steps": steps, "seconds": time.perf_counter() - started, "loss": loss,
            "plateaued": _plateaued(smoothed, recipe)}


def _window(variant, crop: float, rng: np.random.Generator):
    """A random window of ``crop`` × the size of a cached (conv2_2, conv3_3, label) variant, cut in conv3_3
    cells (4 px) to a multiple of 16 px; the whole variant when ``crop`` is 0 or the window would be tiny."""
    conv2, conv3, label = variant
    cells_h, cells_w = conv3.shape[1:3]
    height, width = (int(cells * crop) // 4 * 4 for cells in (cells_h, cells_w))
    if not crop or height < 4 or width < 4:
        return variant
    top, left = int(rng.integers(0, cells_h - height + 1)), int(rng.integers(0, cells_w - width + 1))
    return (conv2[:, 2 * top:2 * (top + height), 2 * left:2 * (left + width)],
            conv3[:, top:top + height, left:left + width],
            label[:, 4 * top:4 * (top + height), 4 * left:4 * (left + width)])


def _plateaued(smoothed: list[float], recipe: FinetuneRecipe) -> bool:
    """Whether the exponentially smoothed loss stopped falling (see ``FinetuneRecipe.plateau``)."""
    window = recipe.plateau
    if window <= 0 or len(smoothed) < 2 * window:
        return False
    return smoothed[-1] > (1.0 - recipe.plateau_tol) * smoothed[-1 - window]
