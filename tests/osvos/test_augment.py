"""augment: flip, scale and crop applied identically to image and mask."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from osvos.augment import (
    SCALES,
    STILL_OBJECT_SHARE,
    augment,
    augment_still,
    colour_jitter,
    cover_transform,
    place_object,
    random_crop,
    rescale,
    swap_background,
    turn,
)


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


def test_turn_rotates_image_and_mask_together():
    # A horizontal bar turned by 90° is a vertical bar through the same centre; the corners come in as fill.
    mask = np.zeros((41, 41), bool)
    mask[18:23, 5:36] = True
    image = np.where(mask[..., None], 255, 40).astype(np.uint8).repeat(3, axis=2)
    out, out_mask = turn(image, mask, 90.0, fill=np.array([7, 8, 9], np.uint8))
    assert np.array_equal(out_mask, mask.T)
    assert np.array_equal(out[..., 0] > 127, out_mask)
    small, small_mask = turn(image, mask, 45.0, fill=np.array([7, 8, 9], np.uint8))
    assert small[0, 0].tolist() == [7, 8, 9] and not small_mask[0, 0]
    assert abs(int(small_mask.sum()) - int(mask.sum())) < 0.1 * mask.sum()


def test_rotation_and_jitter_keep_image_and_mask_aligned():
    mask = np.zeros((60, 80), bool)
    mask[15:45, 20:60] = True
    image = np.where(mask[..., None], 230, 20).astype(np.uint8).repeat(3, axis=2)
    areas = set()
    for seed in range(10):
        out, out_mask = augment(image, mask, (48, 64), np.random.default_rng(seed), scales=(1.0,),
                                fill=np.zeros(3, np.uint8), rotation=30.0, jitter=True)
        assert out.shape == (48, 64, 3) and out_mask.shape == (48, 64)
        inside, outside = out[out_mask].mean(), out[~out_mask].mean()
        assert inside > outside + 100, "the object stays where its mask says after turn and jitter"
        areas.add(int(out_mask.sum()))
    assert len(areas) > 1, "the turn varies with the seed"


def test_rescale_sizes_and_interpolation():
    image = np.zeros((30, 50, 3), np.uint8)
    mask = np.zeros((30, 50), bool)
    mask[10:20, 10:30] = True
    small_image, small_mask = rescale(image, mask, 0.5)
    assert small_image.shape == (15, 25, 3) and small_mask.shape == (15, 25)
    assert small_mask.dtype == bool and small_mask.sum() == 5 * 10
    same_image, same_mask = rescale(image, mask, 1.0)
    assert same_image is image and same_mask is mask


def test_cover_transform_keeps_the_turned_crop_inside_the_image():
    """Every corner of the crop, mapped back into the image, lies inside it, whatever the angle, zoom and place."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        shape = (int(rng.integers(60, 400)), int(rng.integers(60, 400)))
        size = (int(rng.integers(16, 240)), int(rng.integers(16, 432)))
        turn = cover_transform(shape, size, rng.uniform(-30, 30), rng.uniform(1.0, 1.6), tuple(rng.random(2)))
        back = cv2.invertAffineTransform(turn)
        corners = np.array([[0, 0, 1], [size[1], 0, 1], [0, size[0], 1], [size[1], size[0], 1]], float)
        x, y = (back @ corners.T)
        assert x.min() >= -1e-6 and x.max() <= shape[1] + 1e-6
        assert y.min() >= -1e-6 and y.max() <= shape[0] + 1e-6


def test_cover_transform_by_hand():
    """No turn, zoom 1: a 100×200 image into a 50×50 crop needs scale 0.5 (height binds); place (0, 0) puts the
    crop's top-left at the image's, place (1, 1) its right edge at x = 200 · 0.5 = 100 → shift −50 in x."""
    turn = cover_transform((100, 200), (50, 50), 0.0, 1.0, (0.0, 0.0))
    assert np.allclose(turn, [[0.5, 0, 0], [0, 0.5, 0]])
    assert np.allclose(cover_transform((100, 200), (50, 50), 0.0, 1.0, (1.0, 1.0)), [[0.5, 0, -50], [0, 0.5, 0]])
    assert np.allclose(cover_transform((100, 200), (50, 50), 0.0, 2.0, (0.0, 0.0))[:, :2], [[1, 0], [0, 1]])


@pytest.mark.parametrize("seed", range(8))
def test_still_augmentation_moves_image_and_mask_together(seed):
    """Channel 0 marks the mask: after the turn, zoom and shift (no jitter) they still agree away from edges,
    and the crop is filled from the image (never padded): a small still comes out at the full crop size."""
    rng = np.random.default_rng(50 + seed)
    mask = block_mask(rng, 60, 80, 20)
    image = marked_image(mask, rng)
    out_image, out_mask = augment_still(image, mask, (64, 96), np.random.default_rng(seed), jitter=False)
    assert out_image.shape == (64, 96, 3) and out_mask.shape == (64, 96) and out_mask.dtype == bool
    edges = cv2.dilate(cv2.Canny(out_mask.astype(np.uint8) * 255, 1, 1), np.ones((5, 5), np.uint8)) > 0
    agree = (out_image[..., 0] > 127) == out_mask
    assert agree[~edges].mean() > 0.99


def test_still_augmentation_turns_within_the_range():
    """A horizontal bar turned by up to ±30°: its slope in the crop stays within ±30°, and both signs occur."""
    image = np.zeros((200, 200, 3), np.uint8)
    mask = np.zeros((200, 200), bool)
    mask[95:105, 20:180] = True
    angles = []
    for seed in range(40):
        _, out = augment_still(image, mask, (200, 200), np.random.default_rng(seed), zoom=(1.0, 1.0), jitter=False)
        ys, xs = np.nonzero(out)
        if len(xs) < 50:
            continue
        slope = np.polyfit(xs, ys, 1)[0]
        angles.append(np.degrees(np.arctan(slope)))
    assert len(angles) > 20
    assert max(abs(a) for a in angles) <= 31 and min(angles) < -5 < 5 < max(angles)


def test_still_objects_come_out_as_large_as_a_videos():
    """A photo whose object covers half of it (as salient-object photos do): in the crops the object covers a
    share drawn from STILL_OBJECT_SHARE (1–25 %, mean 7 %), give or take the clipping at the crop's border, and
    every crop shows it, even when the object sits in a corner of the photo."""
    image = np.zeros((300, 400, 3), np.uint8)
    half, corner = np.zeros((300, 400), bool), np.zeros((300, 400), bool)
    half[:, :200] = True
    corner[10:60, 10:60] = True
    for mask in (half, corner):
        shares = [augment_still(image, mask, (64, 112), np.random.default_rng(s), jitter=False)[1].mean()
                  for s in range(60)]
        assert min(shares) > 0.003 and max(shares) < STILL_OBJECT_SHARE[1] * 1.1
        assert 0.04 < np.mean(shares) < 0.11


def test_place_object_moves_and_resizes_the_object_and_fills_its_hole():
    """A white square on a grey photo, put back at a quarter of its area elsewhere: the mask is the moved square,
    the image is white there, and where the square stood the photo is grey again (inpainted)."""
    image = np.full((120, 160, 3), 90, np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[20:60, 20:60] = True
    image[mask] = 255
    out_image, out_mask = place_object(image, mask, area=400.0, centre=(120.0, 90.0))
    rows, cols = np.nonzero(out_mask)
    assert abs(len(rows) - 400) <= 45
    assert abs(rows.mean() - 90) < 1 and abs(cols.mean() - 120) < 1
    assert (out_image[out_mask] > 200).all()
    assert np.abs(out_image[25:55, 25:55].astype(int) - 90).max() < 5
    assert np.array_equal(place_object(image, np.zeros_like(mask), 400.0, (10.0, 10.0))[0], image)


def test_swap_background_keeps_the_object_and_removes_the_scenes():
    """A white square on grey, moved onto a dark scene (twice the size) whose own black disc is inpainted away: the
    square is white where it was, the scene is dark and no longer black where its disc stood, and elsewhere it
    is the scene brought to the image's size."""
    image = np.full((60, 80, 3), 90, np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:30, 10:30] = True
    image[mask] = 255
    scene = np.full((120, 160, 3), 40, np.uint8)
    scene_mask = np.zeros((120, 160), bool)
    cv2.circle(scene_mask.view(np.uint8), (120, 80), 20, 1, -1)
    scene[scene_mask] = 0
    out = swap_background(image, mask, scene, scene_mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out[12:28, 12:28] == 255).all()
    assert np.abs(out[36:44, 56:64].astype(int) - 40).max() <= 5
    assert np.abs(out[45:60, 0:40].astype(int) - 40).max() == 0
    assert 0 < out[10, 20:25].astype(int).min() - 40 < 255 - 40


def test_colour_jitter_changes_colours_within_bounds():
    image = np.full((8, 8, 3), 128, np.uint8)
    outs = [colour_jitter(image, np.random.default_rng(s)).astype(int) for s in range(20)]
    assert all(o.dtype == np.int64 and o.min() >= 0 and o.max() <= 255 for o in outs)
    means = [o.mean() for o in outs]
    assert max(means) - min(means) > 10                       # brightness and gain vary
    assert all(abs(m - 128) <= 128 * 0.1 + 26 for m in means)  # gain ≤ 10 %, brightness ≤ 25
