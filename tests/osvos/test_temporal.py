"""The temporal prior: the last mask carried to the next frame by optical flow and blended with its probability."""
from __future__ import annotations

import numpy as np
import pytest

from osvos.budget import FLOW_WEIGHT
from osvos.temporal import FlowPrior, checked_weight


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (RGB): something for optical flow to follow."""
    import cv2

    noise = np.random.default_rng(seed).random((height // 8, width // 8)).astype(np.float32)
    grey = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.repeat((np.clip(grey, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=2)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(np.roll(image, dy, axis=0), dx, axis=1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("size", [(120, 160), (600, 1000)])
def test_the_carried_mask_follows_the_motion(size):
    """At 120×160 the flow runs on the frame; at 600×1000 on it shrunk to ``FLOW_SIDE`` and scaled back."""
    # The whole scene moves 6 px right and 4 px down (scaled with the frame); the mask should move with it.
    height, width = size
    dx, dy = round(6 * width / 160), round(4 * height / 120)
    first = textured(height, width)
    mask = np.zeros(size, bool)
    mask[height // 4: height // 2, width // 4: width // 2] = True
    prior = FlowPrior(0.4)
    assert prior.carried(first) is None, "nothing to carry before a mask was remembered"
    prior.remember(mask)
    carried = prior.carried(shifted(first, dx, dy))
    assert carried.shape == size and carried.dtype == np.float32
    assert iou(carried > 0.5, shifted(mask, dx, dy)) > 0.85
    assert iou(carried > 0.5, shifted(mask, dx, dy)) > iou(mask, shifted(mask, dx, dy)) + 0.2


def test_blend_keeps_a_label_unless_the_network_is_sure():
    # Weight 0.4: where the carried mask is object, p > 1/6 stays object; where it is background, p must pass 5/6.
    frame = textured(64, 64)
    prior = FlowPrior(0.4)
    probability = np.full((64, 64), 0.3, np.float32)
    assert prior.blend(frame, probability) is probability, "the first frame is the network's alone"
    mask = np.zeros((64, 64), bool)
    mask[:, :32] = True
    prior.remember(mask)
    probability[:, 32:] = 0.7
    fused = prior.blend(frame, probability)  # the same frame again: no motion
    assert np.allclose(fused[8:56, 4:28], 0.6 * 0.3 + 0.4, atol=1e-3)
    assert np.allclose(fused[8:56, 36:60], 0.6 * 0.7, atol=1e-3)
    assert (fused[8:56, 4:28] > 0.5).all() and (fused[8:56, 36:60] < 0.5).all()


def test_weight_zero_is_each_frame_alone_and_a_new_size_starts_over():
    frame = textured(64, 64)
    off = FlowPrior(0.0)
    off.remember(np.ones((64, 64), bool))
    probability = np.zeros((64, 64), np.float32)
    assert off.blend(frame, probability) is probability
    on = FlowPrior(0.4)
    on.blend(frame, probability)
    on.remember(np.ones((64, 64), bool))
    other = np.zeros((48, 64), np.float32)
    assert on.blend(textured(48, 64), other) is other


def test_weights_outside_the_range_are_refused():
    assert checked_weight(0) == 0.0 and checked_weight(FLOW_WEIGHT) == FLOW_WEIGHT
    for bad in (0.5, 0.9, -0.1):
        with pytest.raises(ValueError, match=r"flow weight must be in \[0, 0.5\)"):
            FlowPrior(bad)


def test_the_annotated_first_frame_seeds_the_prior():
    """``segment`` with frame 0 annotated and frame 1 the same image: frame 1's probability (the network's,
    here a flat 0.3) is blended with the annotation, (1 − w)·p + w·mask, and the version says so."""
    from osvos import OSVOS

    frame = textured(96, 128, seed=4)
    mask = np.zeros((96, 128), bool)
    mask[30:70, 40:90] = True
    masks = {}
    for weight in (0.0, 0.45):
        loaded = OSVOS.load(work_size=64, flow_weight=weight, crf=False, min_region=0.0)
        loaded._batch_probabilities = lambda frames, *args, **kwargs: [np.full(f.shape[:2], 0.3, np.float32)
                                                                         for f in frames]
        assert loaded.version.endswith("-flow0.45-snapcarried") == bool(weight)
        first, masks[weight] = loaded.segment([frame, frame], snap=False, annotations={0: mask})
        assert np.array_equal(first, mask)
    assert not masks[0.0].any(), "on its own frame 1 is background (p = 0.3)"
    assert np.array_equal(masks[0.45], mask), "0.55 · 0.3 + 0.45 = 0.615 inside the carried mask, 0.165 outside"


def test_the_mask_carried_to_the_next_frame_is_the_snapped_one():
    """Snapping inside the loop: frame 1's output (here a stand-in snap that keeps the right half of the mask) is
    what the prior carries, so frame 2's probability is 0.615 on that half only; unsnapped, on the whole mask."""
    from osvos import OSVOS

    frame = textured(96, 128, seed=4)
    mask = np.zeros((96, 128), bool)
    mask[30:70, 40:90] = True
    right = np.zeros_like(mask)
    right[:, 65:] = True
    model = OSVOS.load(work_size=64, flow_weight=0.45, crf=False)
    model._batch_probabilities = lambda frames, *args, **kwargs: [np.full(f.shape[:2], 0.3, np.float32)
                                                                    for f in frames]
    model.snapper = lambda frame: lambda probability, threshold: (probability > threshold) & right
    inner = np.s_[35:65, 45:60], np.s_[35:65, 70:85]      # left and right of the mask, away from its edges
    for snap, carried in ((True, mask & right), (False, mask)):
        first, second, third = model.segment_probabilities([frame] * 3, snap=snap, annotations={0: mask})
        assert np.array_equal(first.mask, mask) and first.annotated
        assert np.array_equal(second.mask, carried) and np.array_equal(third.mask, carried)
        left_p, right_p = (np.median(third.probability[part]) for part in inner)
        assert right_p == pytest.approx(0.615, abs=0.01)
        assert left_p == pytest.approx(0.615 if not snap else 0.165, abs=0.01)
