"""losses.balanced_bce against the OSVOS formula computed naively with NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from osvos.losses import balanced_bce


def loss_value(labels, logits) -> float:
    return float(ops.convert_to_numpy(balanced_bce(labels.astype(np.float32), logits.astype(np.float32))))


def naive(labels: np.ndarray, logits: np.ndarray) -> float:
    """β = |Y−|/|Y|; per image (β Σ_{Y+} −log σ + (1−β) Σ_{Y−} −log(1−σ)) / |Y|; mean over the batch."""
    labels, logits = labels.astype(np.float64), logits.astype(np.float64)
    sigma = 1.0 / (1.0 + np.exp(-logits))
    out = []
    for y, s in zip(labels, sigma):
        pos, neg = y > 0.5, y <= 0.5
        beta = neg.sum() / y.size
        value = beta * -np.log(s[pos]).sum() + (1 - beta) * -np.log(1 - s[neg]).sum()
        out.append(value / y.size)
    return float(np.mean(out))


def stable(labels: np.ndarray, logits: np.ndarray) -> float:
    """The same formula with −log σ(x) = log(1 + e^−x) and −log(1−σ(x)) = log(1 + e^x), in float64."""
    labels, logits = labels.astype(np.float64), logits.astype(np.float64)
    out = []
    for y, x in zip(labels, logits):
        pos = y > 0.5
        beta = (~pos).sum() / y.size
        value = beta * np.logaddexp(0, -x[pos]).sum() + (1 - beta) * np.logaddexp(0, x[~pos]).sum()
        out.append(value / y.size)
    return float(np.mean(out))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_naive_formula_on_random_batches(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((3, 12, 10, 1)) < rng.uniform(0.1, 0.6)).astype(np.float32)
    logits = rng.normal(0, 3, (3, 12, 10, 1)).astype(np.float32)
    expected = naive(labels, logits)
    assert expected > 0
    assert loss_value(labels, logits) == pytest.approx(expected, rel=1e-5)


def test_hand_computed_single_image():
    # 4 pixels, one foreground with logit 0 (−log σ = log 2), three background with logit 0 (log 2 each):
    # β = 3/4 → (3/4 · log 2 + 1/4 · 3 log 2) / 4 = 1.5 log 2 / 4
    labels = np.array([1, 0, 0, 0], np.float32).reshape(1, 2, 2, 1)
    logits = np.zeros((1, 2, 2, 1), np.float32)
    assert loss_value(labels, logits) == pytest.approx(1.5 * np.log(2) / 4, rel=1e-6)


def test_balancing_weights_the_rare_class_up():
    # Same per-pixel error on one foreground pixel vs one background pixel among 100: the rare
    # foreground pixel gets weight β = 0.99, the background one 1 − β = 0.01.
    labels = np.zeros((1, 10, 10, 1), np.float32)
    labels[0, 0, 0, 0] = 1
    wrong_fg = np.full((1, 10, 10, 1), -20, np.float32)  # all background right, the fg pixel wrong
    wrong_bg = np.full((1, 10, 10, 1), -20, np.float32)
    wrong_fg[0, 0, 0, 0] = -5
    wrong_bg[0, 0, 0, 0] = 20
    wrong_bg[0, 0, 1, 0] = 5  # one background pixel wrong by the same margin
    assert loss_value(labels, wrong_fg) == pytest.approx(naive(labels, wrong_fg), rel=1e-5)
    assert loss_value(labels, wrong_fg) > 50 * loss_value(labels, wrong_bg)


def test_all_background_and_all_foreground_images():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (2, 8, 8, 1)).astype(np.float32)
    background = np.zeros((2, 8, 8, 1), np.float32)
    foreground = np.ones((2, 8, 8, 1), np.float32)
    # β = 1 (no foreground): the background gets weight 1 − β = 0, as in the original OSVOS loss; β = 0
    # (all foreground) gives the foreground weight 0 as well.
    assert naive(background, logits) == 0.0 and naive(foreground, logits) == 0.0
    assert loss_value(background, logits) == pytest.approx(0.0, abs=1e-7)
    assert loss_value(foreground, logits) == pytest.approx(0.0, abs=1e-7)
    # Mixed batch: an empty image contributes 0 to the batch mean.
    mixed = np.concatenate([background[:1], (rng.random((1, 8, 8, 1)) < 0.3).astype(np.float32)])
    expected = naive(mixed, logits)
    assert expected == pytest.approx(naive(mixed[1:], logits[1:]) / 2, rel=1e-12)
    assert loss_value(mixed, logits) == pytest.approx(expected, rel=1e-5)


def test_extreme_logits_are_finite_and_correct():
    rng = np.random.default_rng(4)
    labels = (rng.random((2, 6, 7, 1)) < 0.4).astype(np.float32)
    logits = np.where(rng.random((2, 6, 7, 1)) < 0.5, 100.0, -100.0).astype(np.float32)
    with np.errstate(divide="ignore"):
        assert not np.isfinite(naive(labels, logits))  # the naive σ formula overflows to inf here
    value = loss_value(labels, logits)
    assert np.isfinite(value)
    expected = stable(labels, logits)
    assert expected > 10  # about half the pixels are wrong by 100
    assert value == pytest.approx(expected, rel=1e-5)
    # All right with margin 100: the loss is e^−100-small, not NaN.
    right = np.where(labels > 0.5, 100.0, -100.0).astype(np.float32)
    assert 0 <= loss_value(labels, right) < 1e-30


def weighted_value(labels, counted, logits) -> float:
    from osvos.losses import weighted_balanced_bce

    stacked = np.stack([labels, counted], axis=-1).astype(np.float32)
    return float(ops.convert_to_numpy(weighted_balanced_bce(stacked, logits[..., None].astype(np.float32))))


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_with_every_pixel_counted_is_balanced_bce(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random((2, 9, 7)) < 0.3).astype(np.float32)
    logits = rng.normal(0, 3, (2, 9, 7)).astype(np.float32)
    assert weighted_value(labels, np.ones_like(labels), logits) == pytest.approx(
        loss_value(labels[..., None], logits[..., None]), rel=1e-6)


def test_weighted_hand_computed_and_blind_to_pixels_not_counted():
    # 6 pixels, 4 counted: one foreground (logit 0: log 2), three background (logit 0: log 2 each); β = 3/4 over
    # the counted ones → (3/4 · log 2 + 1/4 · 3 log 2) / 4, whatever the 2 uncounted pixels say.
    labels = np.array([[1, 0, 0, 0, 1, 0]], np.float32).reshape(1, 2, 3)
    counted = np.array([[1, 1, 1, 1, 0, 0]], np.float32).reshape(1, 2, 3)
    logits = np.zeros((1, 2, 3), np.float32)
    assert weighted_value(labels, counted, logits) == pytest.approx(1.5 * np.log(2) / 4, rel=1e-6)
    logits.reshape(-1)[4:] = [-50.0, 50.0]
    assert weighted_value(labels, counted, logits) == pytest.approx(1.5 * np.log(2) / 4, rel=1e-6)
    assert weighted_value(labels, np.ones_like(counted), logits) > 5.0
