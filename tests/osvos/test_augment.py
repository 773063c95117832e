"""augment: flip, scale and crop applied identically to image and mask."""
from __future__ import annotations

import numpy as np
import pytest

from osvos.augment import SCALES, augment, random_crop, rescale


def block_mask(rng, height=60, width=80, block=10) -> np.ndarray:
    """Random mask made of block×block tiles: at scales 0.5 and 0.8 area (image) and nearest (mask)
    resampling agree exactly on such tiles, so any difference is a misalignment."""
    tiles = rng.random((height // block, width // block)) < 0.5
    return np.kron(tiles, np.ones((block, block), bool))


def marked_image(mask, rng) -> np.ndarray:
    """Channel 0 encodes the mask (0/255); channels 1, 2 are noise."""
    image = rng.integers(0, 256, (*mask.shape, 3), dtype=np.uint8)
    image[..., 0] = np.where(mask, 255, 0)
    return image


def test_default_scales():
    assert tuple(SCALES) == (0.5, 0.8, 1.0)


@pytest.mark.parametrize("seed", range(12))
def test_image_and_mask_transformed_identically(seed):
    rng = np.random.default_rng(100 + seed)
    mask = block_mask(rng)
    image = marked_image(mask, rng)
    out_image, out_mask = augment(image, mask, (40, 48), np.random.default_rng(seed),
                                  fill=np.array([0, 0, 0], np.uint8))
    assert out_image.shape == (40, 48, 3) and out_mask.shape == (40, 48)
    assert out_mask.dtype == bool and out_image.dtype == np.uint8
    assert np.array_equal(out_image[..., 0] > 127, out_mask)


@pytest.mark.parametrize("size", [(16, 16), (32, 48), (60, 80), (64, 96), (70, 30)])
def test_crop_size_honoured(size):
    rng = np.random.default_rng(7)
    mask = block_mask(rng)
    image = marked_image(mask, rng)
    for seed in range(6):
        out_image, out_mask = augment(image, mask, size, np.random.default_rng(seed), fill=np.zeros(3, np.uint8))
        assert out_image.shape == (*size, 3)
        assert out_mask.shape == size
        assert np.array_equal(out_image[..., 0] > 127, out_mask)


def test_padding_with_fill_when_smaller():
    image = np.full((20, 30, 3), 200, np.uint8)
    mask = np.ones((20, 30), bool)
    fill = np.array([1, 2, 3], np.uint8)
    out_image, out_mask = random_crop(image, mask, (32, 48), np.random.default_rng(0), fill)
    assert out_image.shape == (32, 48, 3) and out_mask.shape == (32, 48)
    # Padding goes below and to the right; the only possible crop offset is (0, 0).
    assert np.all(out_image[:20, :30] == 200) and out_mask[:20, :30].all()
    assert np.all(out_image[20:] == fill) and np.all(out_image[:, 30:] == fill)
    assert not out_mask[20:].any() and not out_mask[:, 30:].any()
    assert out_mask.sum() == 20 * 30
    # Padding without a fill colour pads with 0.
    zero_image, _ = random_crop(image, mask, (24, 30), np.random.default_rng(0))
    assert np.all(zero_image[20:] == 0)


def test_crop_is_a_window_of_the_input():
    image = np.arange(60 * 80 * 3, dtype=np.int64).reshape(60, 80, 3)
    mask = np.zeros((60, 80), bool)
    crop, _ = random_crop(image, mask, (20, 30), np.random.default_rng(1))
    top, left = np.argwhere(image[..., 0] == crop[0, 0, 0])[0]
    assert np.array_equal(crop, image[top:top + 20, left:left + 30])


def test_flip_happens_for_some_seeds_only():
    rng = np.random.default_rng(5)
    mask = block_mask(rng)
    image = marked_image(mask, rng)
    flipped = []
    for seed in range(20):
        out, out_mask = augment(image, mask, mask.shape, np.random.default_rng(seed), scales=(1.0,))
        if np.array_equal(out, image):
            flipped.append(False)
            assert np.array_equal(out_mask, mask)
        else:
            assert np.array_equal(out, image[:, ::-1]) and np.array_equal(out_mask, mask[:, ::-1])
            flipped.append(True)
    assert 0 < sum(flipped) < len(flipped)


def test_scales_only_from_the_given_set():
    # A 20×40 image smaller than the 64×96 crop: the unpadded area reveals the scale that was drawn.
    image = np.full((20, 40, 3), 200, np.uint8)
    mask = np.ones((20, 40), bool)
    seen = set()
    for seed in range(60):
        out, out_mask = augment(image, mask, (64, 96), np.random.default_rng(seed), fill=np.zeros(3, np.uint8))
        rows, cols = np.nonzero(out_mask)
        height, width = rows.max() + 1, cols.max() + 1
        assert (height, width) in {(10, 20): 0.5, (16, 32): 0.8, (20, 40): 1.0}
        scale = {10: 0.5, 16: 0.8, 20: 1.0}[height]
        assert np.array_equal(out[..., 0] > 0, out_mask)
        seen.add(scale)
    assert seen == {0.5, 0.8, 1.0}


def test_rescale_sizes_and_interpolation():
    image = np.zeros((30, 50, 3), np.uint8)
    mask = np.zeros((30, 50), bool)
    mask[10:20, 10:30] = True
    small_image, small_mask = rescale(image, mask, 0.5)
    assert small_image.shape == (15, 25, 3) and small_mask.shape == (15, 25)
    assert small_mask.dtype == bool and small_mask.sum() == 5 * 10
    same_image, same_mask = rescale(image, mask, 1.0)
    assert same_image is image and same_mask is mask
