"""metrics: J, boundary map, F, T and the DAVIS statistics against hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from osvos.metrics import (
    boundary_map,
    boundary_precision_recall,
    decay,
    f_measure,
    jaccard,
    score_sequence,
    statistics,
    temporal_instability,
)


def rect(shape, top, left, height, width) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top:top + height, left:left + width] = True
    return mask


# --- J -------------------------------------------------------------------------------------------------

def test_jaccard_of_known_rectangles():
    a = rect((40, 60), 0, 0, 10, 10)         # 100 px
    b = rect((40, 60), 5, 0, 10, 10)         # 100 px, 50 shared
    assert jaccard(a, b) == pytest.approx(50 / 150)
    c = rect((40, 60), 0, 0, 10, 20)         # 200 px containing a
    assert jaccard(a, c) == pytest.approx(100 / 200)
    d = rect((40, 60), 2, 3, 4, 5)           # 20 px inside a
    e = rect((40, 60), 4, 5, 10, 10)         # overlaps d in rows 4..5, cols 5..7 = 2×3 = 6 px
    assert jaccard(d, e) == pytest.approx(6 / (20 + 100 - 6))
    assert jaccard(a, rect((40, 60), 20, 30, 5, 5)) == 0.0
    assert jaccard(a, a) == 1.0


def test_jaccard_both_empty_is_one_and_one_empty_is_zero():
    empty = np.zeros((8, 8), bool)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, rect((8, 8), 1, 1, 2, 2)) == 0.0
    assert jaccard(rect((8, 8), 1, 1, 2, 2).astype(np.uint8) * 255, rect((8, 8), 1, 1, 2, 2)) == 1.0


# --- boundary map ----------------------------------------------------------------------------------------

def test_boundary_map_of_small_square():
    mask = rect((6, 6), 2, 2, 2, 2)
    expected = np.array([
        [0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 1, 0, 1, 0, 0],
        [0, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ], bool)
    assert np.array_equal(boundary_map(mask), expected)


def test_boundary_map_at_the_image_corner():
    # Last row and last column only compare with their east / south neighbour; the corner is never boundary.
    mask = rect((4, 4), 2, 2, 2, 2)
    expected = np.array([
        [0, 0, 0, 0],
        [0, 1, 1, 1],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
    ], bool)
    assert np.array_equal(boundary_map(mask), expected)
    assert not boundary_map(np.ones((5, 5), bool)).any()
    assert not boundary_map(np.zeros((5, 5), bool)).any()


def test_boundary_of_square_is_4n_pixels():
    assert boundary_map(rect((200, 200), 50, 50, 100, 100)).sum() == 400


# --- F -----------------------------------------------------------------------------------------------------

def test_tolerance_radius_of_200x200_is_3():
    assert math.ceil(0.008 * math.hypot(200, 200)) == 3


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_f_measure_shift_within_tolerance_is_perfect(shift):
    gt = rect((200, 200), 50, 50, 100, 100)
    assert f_measure(np.roll(gt, shift, axis=1), gt) == pytest.approx(1.0)


def test_f_measure_shift_beyond_tolerance_hand_computed():
    # Both boundaries are 400-pixel rings (rows/cols 49..149 for the truth). Shifted right by 5 (> radius 3):
    # top and bottom rows: 96 on the truth's ring + 3 within 3 px of its corner = 99 of 101 each;
    # left column (99 px without corners): only 3 near the top and 3 near the bottom row; right column: none.
    # precision = (99 + 99 + 6 + 0) / 400 = 0.51, and recall = 0.51 by symmetry → F = 0.51.
    gt = rect((200, 200), 50, 50, 100, 100)
    pred = rect((200, 200), 50, 55, 100, 100)
    assert f_measure(pred, gt) == pytest.approx(0.51, abs=1e-12)


def test_f_measure_shift_of_4_is_imperfect():
    gt = rect((200, 200), 50, 50, 100, 100)
    assert f_measure(rect((200, 200), 50, 54, 100, 100), gt) < 0.6


def test_f_measure_precision_recall_asymmetry_hand_computed():
    # A prediction with an extra far-away square: the truth's ring (400 px) is fully recalled; precision is
    # 400 / (400 + 40) since the 10×10 extra square adds a 40-pixel ring far from the truth.
    gt = rect((200, 200), 50, 50, 100, 100)
    pred = gt | rect((200, 200), 170, 170, 10, 10)
    precision, recall = 400 / 440, 1.0
    assert f_measure(pred, gt) == pytest.approx(2 * precision * recall / (precision + recall))


def test_boundary_precision_recall_hand_computed():
    # The extra far-away 10×10 square of the asymmetry case: all 400 truth pixels found, 400 of 440 predicted right.
    gt = rect((200, 200), 50, 50, 100, 100)
    assert boundary_precision_recall(gt | rect((200, 200), 170, 170, 10, 10), gt) == pytest.approx((400 / 440, 1.0))
    # The truth with that square predicted alone inside it misses every truth pixel (recall 0), and the square's
    # ring lies far from the truth's (precision 0).
    assert boundary_precision_recall(rect((200, 200), 90, 90, 10, 10), gt) == (0.0, 0.0)
    # Shifted right by 5 (beyond the 3 px tolerance): 204 of 400 either way (see the F test above).
    assert boundary_precision_recall(rect((200, 200), 50, 55, 100, 100), gt) == pytest.approx((0.51, 0.51))


def test_boundary_precision_recall_empty_conventions():
    empty = np.zeros((50, 50), bool)
    square = rect((50, 50), 10, 10, 20, 20)
    assert boundary_precision_recall(empty, empty) == (1.0, 1.0)
    assert boundary_precision_recall(empty, square) == (1.0, 0.0)
    assert boundary_precision_recall(square, empty) == (0.0, 1.0)


def test_f_measure_empty_conventions():
    empty = np.zeros((50, 50), bool)
    square = rect((50, 50), 10, 10, 20, 20)
    assert f_measure(empty, empty) == 1.0
    assert f_measure(empty, square) == 0.0   # nothing predicted: precision 1, recall 0
    assert f_measure(square, empty) == 0.0   # nothing to find: precision 0, recall 1


def test_f_measure_integer_tolerance():
    gt = rect((200, 200), 50, 50, 100, 100)
    pred = rect((200, 200), 50, 55, 100, 100)
    assert f_measure(pred, gt, bound_th=5) == pytest.approx(1.0)
    assert f_measure(pred, gt, bound_th=4) < 1.0


# --- T -----------------------------------------------------------------------------------------------------

YY, XX = np.mgrid[:128, :192]


def bumpy_disk(amplitude: float, seed: int, dx: int = 0, dy: int = 0) -> np.ndarray:
    """A radius-40 disk whose boundary carries random bumps (angular frequencies 3..8) of the given amplitude."""
    rng = np.random.default_rng(seed)
    theta = np.arctan2(YY - 64 - dy, XX - 96 - dx)
    radius = np.hypot(YY - 64 - dy, XX - 96 - dx)
    bumps = sum(rng.normal() * np.cos(f * theta + rng.uniform(0, 2 * np.pi)) for f in range(3, 9)) / np.sqrt(6)
    return radius <= 40 + amplitude * bumps


def test_temporal_instability_of_identical_masks_is_zero():
    disk = bumpy_disk(0, 0)
    assert temporal_instability(disk, disk) == pytest.approx(0.0, abs=1e-9)
    square = rect((60, 80), 10, 20, 30, 25)
    assert temporal_instability(square, square) == pytest.approx(0.0, abs=1e-9)


def test_temporal_instability_is_translation_invariant():
    # ~0: far below the ≈0.2 that a 1-pixel contour jitter gives (see the next test).
    disk = bumpy_disk(3, 1)
    assert temporal_instability(disk, bumpy_disk(3, 1, dx=7, dy=-4)) == pytest.approx(0.0, abs=1e-3)
    square = rect((60, 80), 10, 20, 30, 25)
    assert temporal_instability(square, np.roll(square, (5, 9), axis=(0, 1))) == pytest.approx(0.0, abs=1e-3)


def test_temporal_instability_grows_with_contour_jitter():
    disk = bumpy_disk(0, 0)
    means = [np.mean([temporal_instability(disk, bumpy_disk(amplitude, seed)) for seed in range(4)])
             for amplitude in (1, 3, 8)]
    assert 0.05 < means[0] < means[1] < means[2]
    assert means[2] > 2 * means[0]


@pytest.mark.parametrize("side", [8, 10])
def test_temporal_instability_is_finite_when_the_object_changes_size(side):
    """The docstring promises NaN only for empty masks. Two non-empty squares whose contours differ in length
    by about 2× or more give NaN (the DP path with steps (1,1), (1,2), (2,1) cannot reach the corner), so the
    most unstable pairs silently drop out of T_mean."""
    small = rect((64, 96), 5, 5, side, side)
    medium = rect((64, 96), 20, 30, 20, 20)
    forward, backward = temporal_instability(small, medium), temporal_instability(medium, small)
    assert np.isfinite(forward) and np.isfinite(backward), f"T = {forward}, {backward}"


def test_temporal_instability_of_empty_mask_is_nan():
    disk = bumpy_disk(0, 0)
    assert math.isnan(temporal_instability(disk, np.zeros_like(disk)))
    assert math.isnan(temporal_instability(np.zeros_like(disk), disk))


# --- statistics --------------------------------------------------------------------------------------------

def test_statistics_on_hand_list():
    values = [1.0, 0.8, 0.5, 0.6, 0.4, 0.2, 0.3, 0.0]
    stats = statistics(values)
    assert stats["mean"] == pytest.approx(3.8 / 8)
    assert stats["recall"] == pytest.approx(3 / 8)        # strictly above 0.5: 1.0, 0.8, 0.6
    assert stats["decay"] == pytest.approx(0.9 - 0.15)    # quarters [1.0, 0.8] … [0.3, 0.0]


def test_decay_uneven_quarters_and_nan():
    # np.array_split of 5 values into 4 parts: [a, b], [c], [d], [e]
    assert decay([0.9, 0.7, 0.5, 0.5, 0.2]) == pytest.approx(0.8 - 0.2)
    assert decay([0.5, 0.5, 0.5, 0.5]) == 0.0
    assert math.isnan(decay([]))
    assert decay([0.8, float("nan"), 0.1, 0.2, 0.3, 0.4, 0.2, 0.6]) == pytest.approx(0.8 - 0.4)
    assert statistics([0.2, float("nan"), 0.8])["mean"] == pytest.approx(0.5)


# --- sequences ---------------------------------------------------------------------------------------------

def test_score_sequence_excludes_first_and_last_frames():
    gts = [rect((48, 64), 10, 10 + 2 * k, 20, 24) for k in range(5)]
    preds = [g.copy() for g in gts]
    preds[0] = rect((48, 64), 0, 0, 5, 5)                       # wrong first frame
    preds[-1] = rect((48, 64), 40, 50, 5, 5)                    # wrong last frame
    scores = score_sequence(preds, gts)
    assert scores["J_mean"] == 1.0 and scores["J_recall"] == 1.0 and scores["J_decay"] == 0.0
    assert scores["F_mean"] == pytest.approx(1.0)
    # T uses every consecutive pair of predictions: the wrong first and last ones change the contour shape.
    assert scores["T_mean"] > 0


def test_score_sequence_middle_frames_hand_computed():
    gts = [rect((48, 64), 10, 10, 20, 20) for _ in range(6)]
    half = rect((48, 64), 10, 10, 20, 10)
    preds = [gts[0], gts[1], half, gts[3], half, gts[5]]       # scored frames 1..4: J = 1, 0.5, 1, 0.5
    scores = score_sequence(preds, gts)
    assert scores["J_mean"] == pytest.approx(0.75)
    assert scores["J_recall"] == pytest.approx(0.5)            # 0.5 is not > 0.5
    assert scores["J_decay"] == pytest.approx(1.0 - 0.5)
    assert set(scores) == {"J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "T_mean",
                           "boundary_precision", "boundary_recall"}
    half_precision, half_recall = boundary_precision_recall(half, gts[0])
    assert half_precision < 1.0 and half_recall < 1.0
    assert scores["boundary_precision"] == pytest.approx((2 + 2 * half_precision) / 4)
    assert scores["boundary_recall"] == pytest.approx((2 + 2 * half_recall) / 4)


def test_score_sequence_without_temporal_keeps_j_and_f():
    gts = [rect((48, 64), 10, 10 + 2 * k, 20, 24) for k in range(5)]
    preds = [rect((48, 64), 0, 0, 5, 5)] + [g.copy() for g in gts[1:]]
    full, quick = score_sequence(preds, gts), score_sequence(preds, gts, temporal=False)
    assert full["T_mean"] > 0 and np.isnan(quick["T_mean"])
    assert {k: v for k, v in quick.items() if k != "T_mean"} == {k: v for k, v in full.items() if k != "T_mean"}


def test_score_sequence_length_mismatch():
    with pytest.raises(ValueError):
        score_sequence([np.zeros((4, 4), bool)] * 3, [np.zeros((4, 4), bool)] * 4)
