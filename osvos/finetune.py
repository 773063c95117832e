"""Online fine-tuning on the annotated frames under a step (or time) budget, with progress and cancel.

conv1–conv3 stay frozen, so their features for each training view of an annotated frame (flips × scales, and
optionally synthetic "dreamed" later frames, ``osvos.dreams``) are computed once and cached; each step cuts a
random window out of one view's features and label and runs only conv4, conv5 and the heads on it (conv3 too,
from cached conv2_2 features, with ``FinetuneRecipe.train_conv3``). With several
annotated frames the steps take turns between them, so each gets the same share of the budget.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import keras
import numpy as np
from keras import ops

from .augment import rescale
from .budget import (
    ADAPT_FAR,
    ADAPT_GROWTH,
    ADAPT_LR,
    ADAPT_STEPS,
    ADAPT_SURE,
    DEFAULT_DREAMS,
    FINETUNE_CONV3,
    FINETUNE_CROP,
    FINETUNE_SCALES,
    Budget,
    check_adaptation,
)
from .cancel import Cancel, Cancelled
from .dreams import dream, fill_background
from .losses import balanced_bce
from .model import Networks, preprocess

Progress = Callable[[float, "float | None"], None]


@dataclass(frozen=True)
class FinetuneRecipe:
    """Optimiser, views and regularisation of the online fine-tuning."""

    lr: float = 3e-5
    """The optimiser's learning rate (for the mean loss over pixels)."""
    optimizer: str = "adam"
    """``adam``, or ``sgd`` (momentum 0.9) as the original OSVOS, with ``bias_lr`` and ``fuse_lr`` multipliers."""
    bias_lr: float = 1.0
    """Learning-rate multiplier of every bias (the original: 2)."""
    fuse_lr: float = 1.0
    """Learning-rate multiplier of the fuse layer (the original: 0.01)."""
    l2sp: float = 0.0
    """Pull towards the parent weights (L2-SP): each step's gradient gets ``l2sp × (w − w_parent)``."""
    dreams: int = DEFAULT_DREAMS
    """Synthetic later frames per annotated frame (``osvos.dreams``), cached with the real views."""
    dream_share: float = 0.5
    """Share of the steps that train on a dream (when there are dreams)."""
    scales: tuple[float, ...] = FINETUNE_SCALES
    seed: int = 0
    plateau: int = 0
    """Stop before the budget once the smoothed loss fell by less than ``plateau_tol`` (relative) over the
    last ``plateau`` steps; 0 = always use the whole budget."""
    plateau_tol: float = 0.02
    crop: float = FINETUNE_CROP
    """Train each step on a random window of this fraction of a view's height and width (0 = the whole view):
    the object moves in the frame, not only at its first-frame place. Windows step in 4-pixel units, so they cut
    the cached conv2_2 / conv3_3 features exactly."""
    train_conv3: bool = FINETUNE_CONV3
    """Train conv3 too, on cached conv2_2 features (default: conv4 and up, on cached conv3_3 features)."""
    adapt_steps: int = ADAPT_STEPS
    """Online adaptation while segmenting (``osvos.online``): training steps after each batch of frames; 0 = none."""
    adapt_lr: float = ADAPT_LR
    """The learning rate of the online adaptation."""
    adapt_sure: float = ADAPT_SURE
    """Online adaptation: the probability above which a pixel of the mask is an object label."""
    adapt_far: float = ADAPT_FAR
    """Online adaptation: the distance from the mask, × the frame's longest side, beyond which a pixel is a
    background label."""
    adapt_growth: float = ADAPT_GROWTH
    """Online adaptation: past this × the annotated mask's area, no background label where the parent network marks
    the object; 0 = never."""

    def __post_init__(self):
        check_adaptation(self.adapt_steps, self.adapt_far, self.adapt_growth)


class ScaledUpdates:
    """Optimiser mix-in: a learning-rate multiplier per variable and an L2-SP pull towards anchor values."""

    def configure(self, variables: list, multipliers: list[float], anchors: list[np.ndarray | None], l2sp: float):
        self.build(variables)
        self._multipliers = multipliers
        self._l2sp = l2sp
        self._anchors = [None if a is None or not l2sp else keras.Variable(a, trainable=False) for a in anchors]
        return self

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        anchor = self._anchors[index]
        if anchor is not None:
            gradient = ops.add(gradient, ops.multiply(ops.subtract(variable, anchor), self._l2sp))
        super().update_step(gradient, variable, ops.multiply(learning_rate, self._multipliers[index]))


class ScaledAdam(ScaledUpdates, keras.optimizers.Adam):
    """Adam with ``ScaledUpdates``."""


class ScaledSGD(ScaledUpdates, keras.optimizers.SGD):
    """SGD with ``ScaledUpdates``."""


def make_optimizer(recipe: FinetuneRecipe, model: keras.Model) -> keras.optimizers.Optimizer:
    """The recipe's optimiser for ``model``'s trainable variables, its anchors their current (parent) values."""
    if recipe.optimizer == "adam":
        optimizer = ScaledAdam(recipe.lr)
    elif recipe.optimizer == "sgd":
        optimizer = ScaledSGD(recipe.lr, momentum=0.9)
    else:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r} (adam or sgd)")
    variables = model.trainable_variables
    multipliers = [(recipe.fuse_lr if variable.path.startswith("fuse/") else 1.0)
                   * (recipe.bias_lr if variable.path.endswith("bias") else 1.0) for variable in variables]
    return optimizer.configure(variables, multipliers, [np.asarray(v) for v in variables], recipe.l2sp)


def features(nets: Networks, image: np.ndarray, label: np.ndarray):
    """Cached (conv2_2, conv3_3, label) of one RGB view, cut to a multiple of 16 pixels; None when too small.
    ``label``: (H, W), or (H, W, C) for a loss that reads C channels."""
    height, width = (d - d % 16 for d in label.shape[:2])
    if height < 16 or width < 16:
        return None
    conv2, conv3 = nets.low.predict_on_batch(preprocess(np.ascontiguousarray(image[:height, :width]))[None])
    label = np.ascontiguousarray(label[:height, :width]).astype(np.float32)
    return conv2, conv3, label[None] if label.ndim == 3 else label[None, ..., None]


def cached_views(nets: Networks, image: np.ndarray, mask: np.ndarray, recipe: FinetuneRecipe,
                 rng: np.random.Generator) -> tuple[list, list]:
    """Cached features of every flip × scale of one annotated frame (RGB), and of its dreams."""
    real = []
    for scale in recipe.scales:
        scaled_image, scaled_mask = rescale(image, mask, scale)
        for flip in (False, True):
            view = (scaled_image[:, ::-1], scaled_mask[:, ::-1]) if flip else (scaled_image, scaled_mask)
            cached = features(nets, *view)
            if cached is not None:
                real.append(cached)
    if not real:
        raise ValueError("the frame is too small to fine-tune on (needs at least 16×16 pixels)")
    dreamed = []
    if recipe.dreams:
        background = fill_background(image, mask)
        dreamed = [features(nets, *dream(image, mask, background, rng)) for _ in range(recipe.dreams)]
    return real, [d for d in dreamed if d is not None]


def finetune(nets: Networks, examples: Sequence[tuple[np.ndarray, np.ndarray]], budget: Budget,
             recipe: FinetuneRecipe = FinetuneRecipe(), progress: Progress | None = None,
             cancel: Cancel | None = None) -> dict:
    """Fine-tune ``nets`` in place on annotated frames: (RGB uint8 image, boolean mask) pairs at the working size.

    Step k trains on annotation k mod n. The budget's clock starts after the views are cached and the first step
    (which compiles) is done; the ETA comes from the measured time per step. Returns steps, seconds (in all),
    prepare_seconds (caching and the first step), the last loss and whether the loss plateaued.
    """
    if not examples:
        raise ValueError("fine-tuning needs at least one annotated frame")
    started = time.perf_counter()
    rng = np.random.default_rng(recipe.seed)
    views = [cached_views(nets, image, mask, recipe, rng) for image, mask in examples]
    head = nets.head_conv3 if recipe.train_conv3 else nets.head
    head.compile(optimizer=make_optimizer(recipe, head), loss=balanced_bce,
                 jit_compile=keras.backend.backend() == "jax")
    steps, loss, clock, prepared = 0, float("nan"), None, 0.0
    smoothed: list[float] = []
    while True:
        elapsed = time.perf_counter() - clock if clock is not None else 0.0
        done = 1.0 if _plateaued(smoothed, recipe) else budget.fraction(elapsed, steps)
        if progress is not None:
            progress(done, _eta(budget, elapsed, steps, done))
        if done >= 1.0:
            break
        if cancel is not None and cancel():
            raise Cancelled("fine-tuning was cancelled")
        real, dreamed = views[steps % len(views)]
        pool = dreamed if dreamed and rng.random() < recipe.dream_share else real
        conv2, conv3, label = window(pool[int(rng.integers(len(pool)))], recipe.crop, rng)
        inputs = conv2 if recipe.train_conv3 else [conv2, conv3]
        loss = float(np.asarray(head.train_on_batch(inputs, label)).ravel()[0])
        smoothed.append(loss if not smoothed else 0.9 * smoothed[-1] + 0.1 * loss)
        steps += 1
        if clock is None:
            clock = time.perf_counter()
            prepared = clock - started
    return {"steps": steps, "seconds": time.perf_counter() - started, "prepare_seconds": prepared, "loss": loss,
            "plateaued": _plateaued(smoothed, recipe)}


def _eta(budget: Budget, elapsed: float, steps: int, done: float) -> float | None:
    """Seconds left: the steps left at the mean time of the steps after the first, within the seconds left;
    None until that time is known."""
    if done >= 1.0:
        return 0.0
    if steps < 2:
        return None
    left = []
    if budget.iterations is not None:
        left.append((budget.iterations - steps) * elapsed / (steps - 1))
    if budget.seconds is not None:
        left.append(budget.seconds - elapsed)
    return max(0.0, min(left))


def window(view, crop: float, rng: np.random.Generator):
    """A random window of ``crop`` × the size of a cached (conv2_2, conv3_3, label) view, cut in conv3_3
    cells (4 px) to a multiple of 16 px; the whole view when ``crop`` is 0 or the window would be tiny."""
    conv2, conv3, label = view
    cells_h, cells_w = conv3.shape[1:3]
    height, width = (int(cells * crop) // 4 * 4 for cells in (cells_h, cells_w))
    if not crop or height < 4 or width < 4:
        return view
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
