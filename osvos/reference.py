"""The original OSVOS fine-tuning recipe, the benchmark's point of reference: every layer trained on the full
frame and its mirror image with Adam at 1e-4 for a number of iterations (no cached features, no time budget)."""
from __future__ import annotations

import time

import keras
import numpy as np

from .losses import balanced_bce
from .model import preprocess
from .system import OSVOS


def reference_finetune(model: OSVOS, frame: np.ndarray, mask: np.ndarray, iterations: int) -> dict:
    """Fine-tune ``model`` from its parent weights on ``frame`` (RGB uint8, full size) and its boolean ``mask``;
    returns the steps and seconds, as ``OSVOS.last_finetune`` does."""
    started = time.perf_counter()
    model.reset()
    for layer in model.nets.full.layers:
        layer.trainable = True
    model.nets.segmenter.compile(optimizer=keras.optimizers.Adam(1e-4), loss=balanced_bce, jit_compile=False)
    image = preprocess(frame)[None]
    label = mask[None, ..., None].astype(np.float32)
    pairs = [(image, label), (np.ascontiguousarray(image[:, :, ::-1]), np.ascontiguousarray(label[:, :, ::-1]))]
    for step in range(iterations):
        model.nets.segmenter.train_on_batch(*pairs[step % 2])
    return {"steps": iterations, "seconds": time.perf_counter() - started}
