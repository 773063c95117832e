"""contour: superpixels that follow the contours, and snapping a mask to them."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from osvos.contour import keep_majority, resize_labels, snap, snap_unsure, superpixels
from osvos.metrics import jaccard

H, W = 64, 96
SQUARE = np.zeros((H, W), bool)
SQUARE[16:48, 24:72] = True


def square_edges() -> np.ndarray:
    """A strong contour: 1 on the last pixel inside and the first pixel outside the square, 0 elsewhere."""
    kernel = np.ones((3, 3), np.uint8)
    inner = SQUARE & ~cv2.erode(SQUARE.astype(np.uint8), kernel).astype(bool)
    outer = cv2.dilate(SQUARE.astype(np.uint8), kernel).astype(bool) & ~SQUARE
    return (inner | outer).astype(np.float32)


def spilled(width: int) -> np.ndarray:
    """The square plus a thin spill of ``width`` pixels along its right and bottom sides."""
    mask = SQUARE.copy()
    mask[16:48, 72:72 + width] = True
    mask[48:48 + width, 24:72] = True
    return mask


def test_superpixels_cover_the_image():
    labels = superpixels(square_edges())
    assert labels.shape == (H, W)
    values = np.unique(labels)
    assert values[0] == 1 and np.array_equal(values, np.arange(1, len(values) + 1))   # every pixel labelled
    assert 300 < len(values) < 1000          # about the 600 asked for
    few = superpixels(square_edges(), count=100)
    assert 50 < len(np.unique(few)) < 200 and few.min() == 1


def test_superpixels_follow_a_strong_contour():
    labels = superpixels(square_edges(), count=100)
    inside = np.bincount(labels.ravel(), weights=SQUARE.ravel().astype(float))
    sizes = np.bincount(labels.ravel())
    share = inside[sizes > 0] / sizes[sizes > 0]
    mixed = ((share > 0.05) & (share < 0.95)).mean()
    assert mixed < 0.05


@pytest.mark.parametrize("width", [1, 2, 3])
def test_snap_removes_thin_spill(width):
    mask = spilled(width)
    before = jaccard(mask, SQUARE)
    after = jaccard(snap(mask, square_edges(), count=100), SQUARE)
    assert after > before
    assert after > 0.98


def test_snap_default_count_one_pixel_spill():
    mask = spilled(1)
    snapped = snap(mask, square_edges())
    assert snapped.dtype == bool and snapped.shape == (H, W)
    assert jaccard(snapped, SQUARE) > jaccard(mask, SQUARE)


def test_snap_majority_rule():
    # A mask that is exactly a union of superpixels is unchanged; an empty mask stays empty.
    edges = square_edges()
    labels = superpixels(edges, count=100)
    union = np.isin(labels, [1, 5, 9])
    assert np.array_equal(snap(union, edges, count=100), union)
    assert not snap(np.zeros((H, W), bool), edges, count=100).any()


def test_hed_contours_peak_on_the_square_boundary():
    from osvos.contour import build_hed
    from osvos.model import preprocess

    frame = np.full((32, 48, 3), 30, np.uint8)
    frame[8:24, 12:36] = 220
    out = np.asarray(build_hed().predict_on_batch(preprocess(frame)[None]))
    assert out.shape == (1, 32, 48, 1)
    strength = out[0, ..., 0]
    assert 0 <= strength.min() and strength.max() <= 1
    ring = np.zeros((32, 48), bool)
    ring[7:25, 11:37] = True
    ring[10:22, 14:34] = False
    flat = np.zeros((32, 48), bool)
    flat[12:20, 18:30] = True
    assert strength[ring].mean() > 2 * strength[flat].mean()


def test_hed_head_on_a_shared_trunk_equals_the_whole_hed():
    from osvos.contour import build_hed, build_hed_head, shares_hed_trunk
    from osvos.model import build_networks, init_from_hed, preprocess

    nets = build_networks()
    assert not shares_hed_trunk(nets.full)            # random init: the contour head must not reuse it
    init_from_hed(nets.full)
    assert shares_hed_trunk(nets.full)
    x = preprocess(np.random.default_rng(3).integers(0, 255, (37, 53, 3)).astype(np.uint8))[None]
    whole = np.asarray(build_hed().predict_on_batch(x))
    shared = np.asarray(build_hed_head().predict_on_batch(nets.features.predict_on_batch(x)))
    assert whole.shape == shared.shape == (1, 37, 53, 1)
    assert np.allclose(whole, shared, atol=1e-5)


def test_snapping_changes_only_unsure_pixels():
    """A spill the network is unsure of (p = 0.6) is snapped away; a spill it is sure of (p = 0.95) stays, and so
    does a confident background pixel inside the object. With a band of 0.5 every pixel is unsure, and the result
    is plain snapping."""
    labels = superpixels(square_edges(), count=100)
    unsure_spill, sure_spill = spilled(2) & ~SQUARE, np.zeros((H, W), bool)
    sure_spill[8:12, 30:40] = True
    probability = np.where(SQUARE, 0.9, 0.05)
    probability[unsure_spill] = 0.6
    probability[sure_spill] = 0.95
    probability[30, 40] = 0.02                      # a confident hole
    snapped = snap_unsure(probability, labels)
    assert not snapped[unsure_spill].any()
    assert snapped[sure_spill].all() and not snapped[30, 40]
    assert snapped[SQUARE & (probability > 0.5)].all()
    everything = snap_unsure(probability, labels, band=0.5)
    assert np.array_equal(everything, keep_majority(probability > 0.5, labels))


def test_labels_resized_by_pixel_centre():
    labels = superpixels(square_edges(), count=100)
    big = resize_labels(labels, (2 * W, 2 * H))
    assert big.shape == (2 * H, 2 * W) and set(np.unique(big)) == set(np.unique(labels))
    assert np.array_equal(big[::2, ::2], labels)
    small = resize_labels(labels, (W // 2, H // 2))
    assert set(np.unique(small)) <= set(np.unique(labels))
