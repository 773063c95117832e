"""Dense CRF refinement of a foreground probability (Krähenbühl & Koltun, NIPS 2011, via ``pydensecrf2``): nearby
pixels of like colour are pulled towards the same label, so a soft mask edge moves to the frame's colour edge.
The colour kernel's width follows the object's size, so that a small object is not smoothed into its background.
How strongly colour counts is chosen per video, on its annotated frames (``choose_colour_weight``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .metrics import f_measure
from .regions import drop_small_regions

CRF_ITERATIONS = 5
"""Mean-field iterations of the CRF's inference."""
SMOOTHNESS_WIDTH, SMOOTHNESS_WEIGHT = 3.0, 3.0
"""The position-only kernel: width in pixels and weight (removes isolated pixels)."""
COLOUR_WIDTH = 0.3
"""The position-and-colour kernel's width as a fraction of the square root of the object's area in pixels
(a 100×100 object: 30 px), within ``COLOUR_WIDTH_RANGE``."""
COLOUR_WIDTH_RANGE = (5.0, 80.0)
"""The least and the most width of the position-and-colour kernel, in pixels."""
COLOUR_SPREAD, COLOUR_WEIGHT = 3.0, 5.0
"""The position-and-colour kernel's colour width (RGB levels) and its weight where none was chosen (no annotated
frame). Widths 10 → 5 → 3 gained J and F on DAVIS val (models/README.md, "The CRF's colour width"); the width is part
of the model version (``-crfrgb3``, followed by the weights tried: ``w5-7-10-15-20``)."""
COLOUR_WEIGHTS = (5.0, 7.0, 10.0, 15.0, 20.0)
"""The colour weights ``choose_colour_weight`` tries, lightest first. A heavier weight lets the frame's colours open
holes the network fills (the gaps of a bicycle or a cart) and also cuts textured or shaded objects (a dog's fur, a
sunlit car): which one a video needs is read from its annotated frames (models/README.md, "The CRF's colour weight
chosen per video")."""
CLIP = 1e-4
"""Probabilities are kept within [CLIP, 1 − CLIP]: a pixel the network is sure of keeps a finite unary cost."""


def colour_width(probability: np.ndarray, threshold: float = 0.5) -> float:
    """The position-and-colour kernel's width for this frame: ``COLOUR_WIDTH`` × √(pixels above ``threshold``),
    within ``COLOUR_WIDTH_RANGE``."""
    area = int(np.count_nonzero(probability > threshold))
    low, high = COLOUR_WIDTH_RANGE
    return float(np.clip(COLOUR_WIDTH * np.sqrt(area), low, high))


def dense_crf(frame: np.ndarray, probability: np.ndarray, threshold: float = 0.5,
              colour_weight: float = COLOUR_WEIGHT) -> np.ndarray:
    """The CRF's foreground marginal (float32, the frame's size) for an RGB uint8 ``frame`` and the network's
    foreground ``probability`` of the same height and width; ``threshold`` reads the object's area for the kernel
    width; ``colour_weight`` is the position-and-colour kernel's. Deterministic: the same inputs give the same
    output."""
    import pydensecrf.densecrf as dcrf

    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    height, width = frame.shape[:2]
    if probability.shape != (height, width):
        raise ValueError(f"probability {probability.shape} does not match the frame's {(height, width)}")
    foreground = np.clip(np.asarray(probability, dtype=np.float32), CLIP, 1.0 - CLIP)
    crf = dcrf.DenseCRF2D(width, height, 2)
    crf.setUnaryEnergy(np.ascontiguousarray(-np.log(np.stack([1.0 - foreground, foreground]).reshape(2, -1))))
    crf.addPairwiseGaussian(sxy=SMOOTHNESS_WIDTH, compat=SMOOTHNESS_WEIGHT)
    # a writable copy: the library takes only writable buffers, and decoded video frames are read-only
    crf.addPairwiseBilateral(sxy=colour_width(probability, threshold), srgb=COLOUR_SPREAD,
                             rgbim=np.array(frame, order="C"), compat=colour_weight)
    marginals = np.asarray(crf.inference(CRF_ITERATIONS), dtype=np.float32).reshape(2, height, width)
    return marginals[1]


def crf_mask(frame: np.ndarray, probability: np.ndarray, threshold: float = 0.5,
             colour_weight: float = COLOUR_WEIGHT, min_region: float = 0.0) -> np.ndarray:
    """The mask given out: ``dense_crf``'s marginal above ``threshold``, without its detached regions smaller than
    ``min_region`` × the largest (``osvos.regions``)."""
    return drop_small_regions(dense_crf(frame, probability, threshold, colour_weight) > threshold, min_region)


def choose_colour_weight(annotated: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], threshold: float = 0.5,
                         min_region: float = 0.0) -> float:
    """The weight of ``COLOUR_WEIGHTS`` whose masks best match the annotated frames: for each (RGB frame, the
    network's probability on it, its annotated mask), the ``crf_mask`` at that weight, scored by the boundary
    F-measure (DAVIS) against the annotation; the best mean F wins, and a tie goes to the lighter weight."""
    if not annotated:
        raise ValueError("choosing the CRF's colour weight needs at least one annotated frame")
    scores = [np.mean([f_measure(crf_mask(frame, probability, threshold, weight, min_region), np.asarray(given, bool))
                       for frame, probability, given in annotated])
              for weight in COLOUR_WEIGHTS]
    return COLOUR_WEIGHTS[int(np.argmax(scores))]
