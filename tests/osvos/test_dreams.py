"""dreams: synthetic later frames from one annotated frame (cut out, inpaint, move, bend, relight, paste)."""
from __future__ import annotations

import numpy as np

from osvos.dreams import DreamRanges, dream, fill_background

from osvos_helpers import square_case


def test_fill_background_paints_the_object_out():
    frame, mask = square_case(96, 128)
    filled = fill_background(frame, mask)
    assert filled.shape == frame.shape and filled.dtype == np.uint8
    assert frame[mask].mean() == 230 and filled[mask].mean() < 60          # the bright square is gone
    far = ~np.pad(mask, 8)[8:-8, 8:-8] & ~mask
    assert np.array_equal(filled[0:4], frame[0:4]) and far.any()            # away from the hole: untouched


def test_dream_moves_the_object_with_its_label():
    """Without relighting and bending the pasted square keeps its brightness: the label covers bright pixels,
    its area is the square's × a scale² in the range, and the object moved for most seeds."""
    frame, mask = square_case(96, 128)
    background = fill_background(frame, mask)
    ranges = DreamRanges(bend=0.0, light=0.0, camera=0.0)
    moved = 0
    for seed in range(12):
        image, label = dream(frame, mask, background, np.random.default_rng(seed), ranges)
        assert image.shape == frame.shape and label.shape == mask.shape and label.dtype == bool
        core = label & np.roll(label, 2, 0) & np.roll(label, -2, 0) & np.roll(label, 2, 1) & np.roll(label, -2, 1)
        assert image[core].mean() > 200 and image[~label].mean() < 80
        assert 0.8 ** 2 * 0.9 <= label.sum() / mask.sum() <= 1.25 ** 2 * 1.1
        moved += not np.array_equal(label, mask) and not np.array_equal(label, mask[:, ::-1])
    assert moved >= 10


def test_dreams_are_a_function_of_the_generator():
    frame, mask = square_case(96, 128)
    background = fill_background(frame, mask)
    a = dream(frame, mask, background, np.random.default_rng(4))
    b = dream(frame, mask, background, np.random.default_rng(4))
    c = dream(frame, mask, background, np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_dream_of_an_empty_mask_is_background_only():
    frame, mask = square_case(96, 128)
    image, label = dream(frame, np.zeros_like(mask), frame, np.random.default_rng(0))
    assert not label.any() and image.shape == frame.shape
