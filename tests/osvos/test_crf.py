"""The dense CRF: a soft mask edge moves to the frame's colour edge, sure pixels keep their label, the colour
kernel's width follows the object's size, and the output depends only on the inputs."""
import numpy as np
import pytest

from osvos.crf import COLOUR_WIDTH_RANGE, colour_width, dense_crf


def two_colour_frame(height=60, width=80, edge=40):
    """Red left of column ``edge``, blue from it on."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, :edge] = (200, 30, 30)
    frame[:, edge:] = (30, 30, 200)
    return frame


def test_unsure_band_moves_to_the_colour_edge():
    frame = two_colour_frame()
    probability = np.full((60, 80), 0.05, np.float32)
    probability[:, :34] = 0.95
    probability[:, 34:46] = 0.55
    marginal = dense_crf(frame, probability)
    mask = marginal > 0.5
    assert (probability > 0.5).sum(axis=1)[0] == 46
    assert mask[:, :40].all()
    assert not mask[:, 40:].any()


def test_a_read_only_frame_is_refined_as_a_writable_one():
    """Decoded video frames come as read-only arrays; the result is the same as for a writable copy."""
    frame = two_colour_frame()
    probability = np.full((60, 80), 0.05, np.float32)
    probability[:, :46] = 0.7
    frozen = frame.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(dense_crf(frozen, probability), dense_crf(frame, probability))


def test_sure_object_on_plain_background_is_kept():
    frame = np.full((64, 64, 3), 90, np.uint8)
    frame[20:40, 24:44] = (240, 240, 240)
    probability = np.full((64, 64), 0.01, np.float32)
    probability[20:40, 24:44] = 0.99
    marginal = dense_crf(frame, probability)
    assert marginal.dtype == np.float32 and marginal.shape == (64, 64)
    np.testing.assert_array_equal(marginal > 0.5, probability > 0.5)


def test_same_inputs_same_output():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    probability = rng.random((48, 64), dtype=np.float32)
    np.testing.assert_array_equal(dense_crf(frame, probability), dense_crf(frame.copy(), probability.copy()))


@pytest.mark.parametrize(("area", "expected"), [(10_000, 30.0), (200 * 300, 0.3 * np.sqrt(60_000)),
                                                 (100, COLOUR_WIDTH_RANGE[0]), (0, COLOUR_WIDTH_RANGE[0]),
                                                 (300 * 300, COLOUR_WIDTH_RANGE[1])])
def test_colour_width_follows_the_object(area, expected):
    probability = np.zeros((400, 400), np.float32)
    probability.flat[:area] = 0.9
    assert colour_width(probability) == pytest.approx(expected)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="does not match"):
        dense_crf(two_colour_frame(), np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="RGB uint8"):
        dense_crf(np.zeros((60, 80), np.uint8), np.zeros((60, 80), np.float32))


def test_the_product_loop_thresholds_the_crf_marginal_and_names_it_in_the_version():
    from osvos import OSVOS

    frame = two_colour_frame(96, 128, edge=64)
    band = np.full((96, 128), 0.05, np.float32)
    band[:, :56] = 0.95
    band[:, 56:72] = 0.55
    masks, versions = {}, {}
    for crf in (False, True):
        model = OSVOS.load(work_size=64, flow_weight=0.0, crf=crf, min_region=0.0)
        model._batch_probabilities = lambda frames, *args, **kwargs: [band.copy() for _ in frames]
        versions[crf] = model.version
        [masks[crf]] = model.segment([frame], snap=False)
    assert versions[True] == versions[False] + "-crfrgb3"
    assert masks[False].sum(axis=1).tolist() == [72] * 96
    assert masks[True].sum(axis=1).tolist() == [64] * 96, "the CRF moves the edge to the colour edge"


def test_the_crf_mask_is_given_out_and_the_networks_mask_is_carried():
    """Frame 0 is annotated over the colour edge (72 of 128 columns; the edge is at 64). The network says 0.3
    everywhere, so with the prior (weight 0.45) the carried mask's pixels are 0.615 and stay the object; the CRF's
    mask, given out, follows the colour edge, and is not what the next frame's prior carries."""
    from osvos import OSVOS

    frame = two_colour_frame(96, 128, edge=64)
    annotated = np.zeros((96, 128), bool)
    annotated[:, :72] = True
    model = OSVOS.load(work_size=64, flow_weight=0.45, crf=True)
    model._batch_probabilities = lambda frames, *args, **kwargs: [np.full(f.shape[:2], 0.3, np.float32)
                                                                    for f in frames]
    first, second, third = model.segment_probabilities([frame] * 3, snap=False, annotations={0: annotated})
    assert np.array_equal(first.mask, annotated) and first.annotated
    for one in (second, third):
        assert np.median(one.probability[:, 64:72]) == pytest.approx(0.615, abs=0.01)
        assert one.mask.sum(axis=1).tolist() == [64] * 96
