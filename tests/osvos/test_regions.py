"""Small detached regions: hand-counted areas decide which regions stay."""
import numpy as np
import pytest

from osvos.regions import checked_fraction, drop_small_regions


def blobs(*boxes, size=(40, 60)):
    """A mask with one filled rectangle per (top, left, height, width)."""
    mask = np.zeros(size, bool)
    for top, left, height, width in boxes:
        mask[top:top + height, left:left + width] = True
    return mask


def test_a_region_below_the_fraction_of_the_largest_goes():
    main, small = (2, 2, 10, 10), (30, 40, 4, 4)
    kept = drop_small_regions(blobs(main, small), 0.2)
    np.testing.assert_array_equal(kept, blobs(main))
    assert kept.sum() == 100


def test_a_region_at_or_above_the_fraction_stays():
    mask = blobs((2, 2, 10, 10), (30, 40, 4, 5))
    np.testing.assert_array_equal(drop_small_regions(mask, 0.2), mask)
    assert drop_small_regions(mask, 0.21).sum() == 100


def test_every_region_is_weighed_against_the_largest_one():
    main, second, speck = (2, 2, 10, 10), (20, 30, 5, 6), (35, 2, 2, 2)
    np.testing.assert_array_equal(drop_small_regions(blobs(main, second, speck), 0.25), blobs(main, second))


def test_diagonal_neighbours_are_one_region():
    mask = blobs((2, 2, 10, 10))
    mask[12, 12] = mask[13, 13] = True
    np.testing.assert_array_equal(drop_small_regions(mask, 0.5), mask)


@pytest.mark.parametrize("mask", [np.zeros((8, 8), bool), blobs((1, 1, 2, 2))])
def test_an_empty_or_single_region_mask_is_kept(mask):
    np.testing.assert_array_equal(drop_small_regions(mask, 1.0), mask)


def test_fraction_zero_keeps_every_region():
    mask = blobs((2, 2, 10, 10), (30, 40, 1, 1))
    np.testing.assert_array_equal(drop_small_regions(mask, 0.0), mask)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_fraction_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="fraction"):
        checked_fraction(bad)


def test_the_product_gives_out_the_mask_without_the_speck_and_carries_it_with_it():
    """Frame 0 is annotated with a 40×40 square and a 4×4 speck. The network says 0.3 everywhere, so with the
    prior (weight 0.45) both stay 0.615 in the frames after it: the masks given out lose the speck (16 < 0.2 ×
    1600 pixels), while the mask carried keeps it, so the speck's probability stays 0.615 two frames on."""
    from osvos import OSVOS

    frame = np.full((96, 128, 3), 120, np.uint8)
    annotated = blobs((10, 10, 40, 40), (80, 100, 4, 4), size=(96, 128))
    model = OSVOS.load(work_size=64, flow_weight=0.45, crf=False, min_region=0.2)
    model._batch_probabilities = lambda frames, *args, **kwargs: [np.full(f.shape[:2], 0.3, np.float32)
                                                                    for f in frames]
    first, second, third = model.segment_probabilities([frame] * 3, snap=False, annotations={0: annotated})
    assert np.array_equal(first.mask, annotated), "an annotated frame is given out as annotated"
    for one in (second, third):
        assert one.probability[81, 101] == pytest.approx(0.615, abs=0.01)
        np.testing.assert_array_equal(one.mask, blobs((10, 10, 40, 40), size=(96, 128)))


def test_the_fraction_is_named_in_the_version_and_checked():
    from osvos import OSVOS

    plain = OSVOS.load(work_size=64, crf=False, min_region=0.0)
    assert OSVOS.load(work_size=64, crf=False, min_region=0.2).version == plain.version + "-region0.2"
    with pytest.raises(ValueError, match="fraction"):
        OSVOS.load(work_size=64, min_region=2.0)
