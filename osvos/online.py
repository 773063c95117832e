"""Online adaptation while segmenting (after OnAVOS, Voigtlaender & Leibe, BMVC 2017): between batches of frames,
a few more training steps on the last segmented frame, with its own confident pixels as labels, taking turns with
steps on the annotated frames.

The last frame's labels: object where its mask says object and the probability is above
``FinetuneRecipe.adapt_sure``; background farther than ``adapt_far`` × the frame's longest side from the mask
(distractors that look like the object); every other pixel is not counted (``losses.weighted_balanced_bce``). So
the network may follow the object's changing look and unlearn what is far from it, while the annotated frames keep
what they taught. Once the mask has grown past ``adapt_growth`` × the annotated mask's area, pixels the parent
network (before fine-tuning) marks as object get no background label: the parts of a grown object its mask misses
stay unlabelled instead of being taught as background (``budget.ADAPT_GROWTH``: DAVIS val J 74.32 → 74.98 over three
fine-tuning seeds).

On by default (6 steps, ``adapt_far`` 0.02): under the dense CRF that gives the masks out, on DAVIS val over three
fine-tuning seeds J +1.9, F −0.04 (models/README.md, "Online adaptation under the CRF"). Before the CRF it lost F:
with 0.15, J +0.5, F −3.1 (the frames' own mistakes get taught too); with 0.02, J +1.5 and F −0.7 over three seeds.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import cv2
import keras
import numpy as np

from .budget import ADAPT_FAR, ADAPT_SURE, PARENT_OBJECT
from .finetune import FinetuneRecipe, cached_views, features, make_optimizer, window
from .losses import weighted_balanced_bce
from .model import Networks


def pseudo_label(mask: np.ndarray, probability: np.ndarray, sure: float = ADAPT_SURE, far: float = ADAPT_FAR
                 ) -> np.ndarray | None:
    """(H, W, 2) float32 labels of a segmented frame: channel 0 the target, 1 (object) where ``mask`` is and
    ``probability`` is above ``sure``, 0 (background) farther than ``far`` × the longest side from ``mask``; channel
    1 whether the pixel counts (one of the two). None when no pixel is a sure object (nothing to follow)."""
    mask = np.asarray(mask, dtype=bool)
    positive = mask & (probability > sure)
    if not positive.any():
        return None
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    negative = distance > far * max(mask.shape)
    return np.stack([positive, positive | negative], axis=-1).astype(np.float32)


def _counted(view):
    """A cached (conv2_2, conv3_3, label) view with every pixel counted."""
    conv2, conv3, label = view
    return conv2, conv3, np.concatenate([label, np.ones_like(label)], axis=-1)


class OnlineAdapter:
    """Adapts fine-tuned ``nets`` in place to the frames being segmented (see the module's docstring)."""

    def __init__(self, nets: Networks, examples: Sequence[tuple[np.ndarray, np.ndarray]], recipe: FinetuneRecipe,
                 parent: Callable[[], Networks] | None = None):
        """``examples``: the annotated (RGB, mask) pairs at the working size, as fine-tuning got them; ``parent``
        gives the parent networks (asked for only once the mask has grown; None: background labels stay)."""
        self.nets, self.recipe, self.parent = nets, recipe, parent
        self.annotated_area = max(int(np.count_nonzero(mask)) for _, mask in examples)
        self.rng = np.random.default_rng(recipe.seed)
        real = replace(recipe, dreams=0)
        self.annotated = [_counted(view) for image, mask in examples
                          for view in cached_views(nets, image, mask, real, self.rng)[0]]
        self.head = nets.head_conv3 if recipe.train_conv3 else nets.head
        self.head.compile(optimizer=make_optimizer(replace(recipe, lr=recipe.adapt_lr), self.head),
                          loss=weighted_balanced_bce, jit_compile=keras.backend.backend() == "jax")

    def adapt(self, image: np.ndarray, mask: np.ndarray, probability: np.ndarray) -> bool:
        """``recipe.adapt_steps`` steps, the even ones on ``image`` (RGB at the working size) labelled from its
        ``mask`` and ``probability`` (spared where the parent marks the object once the mask has ``grown``), the odd
        ones on a random window of an annotated view. False (and no step) when the frame has no sure object pixel or
        is too small."""
        label = pseudo_label(mask, probability, self.recipe.adapt_sure, self.recipe.adapt_far)
        frame = None if label is None else features(self.nets, image, label)
        if frame is None:
            return False
        if self.grown(mask):
            frame = self._spare_parent_object(frame)
        for step in range(self.recipe.adapt_steps):
            if step % 2 == 0:
                conv2, conv3, target = frame
            else:
                view = self.annotated[int(self.rng.integers(len(self.annotated)))]
                conv2, conv3, target = window(view, self.recipe.crop, self.rng)
            self.head.train_on_batch(conv2 if self.recipe.train_conv3 else [conv2, conv3], target)
        return True

    def grown(self, mask: np.ndarray) -> bool:
        """Whether ``mask`` (working size) has grown past ``recipe.adapt_growth`` × the annotated mask's area."""
        growth = self.recipe.adapt_growth
        return bool(self.parent is not None and growth and np.count_nonzero(mask) > growth * self.annotated_area)

    def _spare_parent_object(self, frame):
        """A cached (conv2_2, conv3_3, labels) frame without background labels where the parent network's
        probability is above ``PARENT_OBJECT`` (conv2_2 is frozen, so the parent's conv3 and up run on it)."""
        conv2, conv3, target = frame
        logit = np.asarray(self.parent().head_conv3.predict_on_batch(conv2), dtype=np.float32)[..., 0]
        marked = logit > np.log(PARENT_OBJECT / (1.0 - PARENT_OBJECT))
        counted = np.where(marked & (target[..., 0] == 0), 0.0, target[..., 1]).astype(np.float32)
        return conv2, conv3, np.stack([target[..., 0], counted], axis=-1)
