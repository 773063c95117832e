"""The dense CRF: a soft mask edge moves to the frame's colour edge, sure pixels keep their label, the colour
kernel's width follows the object's size, its weight is chosen per video on the annotated frames, and the output
depends only on the inputs."""
import numpy as np
import pytest

from osvos.crf import COLOUR_WEIGHT, COLOUR_WEIGHTS, COLOUR_WIDTH_RANGE, choose_colour_weight, colour_width, dense_crf


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


BLUE, RED = (30, 30, 200), (200, 30, 30)


def ring_case():
    """A red 48×48 square with a 16×16 hole of the background's blue (a wheel, a cart's frame), and a network
    that fills the hole: 0.8 over the whole square, 0.1 outside. Returns (frame, probability, the true mask)."""
    frame = np.zeros((96, 96, 3), np.uint8)
    frame[:] = BLUE
    frame[24:72, 24:72] = RED
    frame[40:56, 40:56] = BLUE
    truth = np.zeros((96, 96), bool)
    truth[24:72, 24:72] = True
    truth[40:56, 40:56] = False
    probability = np.full((96, 96), 0.1, np.float32)
    probability[24:72, 24:72] = 0.8
    return frame, probability, truth


def striped_case():
    """The same square without a hole but with 1-pixel stripes of the background's colour every 4 columns (fur,
    a shaded side), all of it the object. Returns (frame, probability, the true mask)."""
    frame, probability, _ = ring_case()
    frame[24:72, 24:72] = RED
    frame[24:72, 24:72:4] = BLUE
    truth = np.zeros((96, 96), bool)
    truth[24:72, 24:72] = True
    return frame, probability, truth


def test_a_heavier_colour_weight_opens_a_hole_the_network_fills():
    frame, probability, truth = ring_case()
    assert COLOUR_WEIGHTS[0] == COLOUR_WEIGHT == 5.0
    assert (dense_crf(frame, probability) > 0.5)[40:56, 40:56].all(), "the default weight keeps the hole filled"
    np.testing.assert_array_equal(dense_crf(frame, probability, colour_weight=15.0) > 0.5, truth)


def test_the_colour_weight_is_chosen_on_the_annotated_frame():
    """The ring needs weight 15 (the lightest that opens its hole: F 1.0); the stripes are cut more by every weight
    above 5, so they keep 5; a frame every weight gets right keeps the lightest (a tie)."""
    assert choose_colour_weight([ring_case()]) == 15.0
    assert choose_colour_weight([striped_case()]) == 5.0
    frame, _, truth = ring_case()
    assert choose_colour_weight([(frame, np.where(truth, 0.99, 0.01).astype(np.float32), truth)]) == 5.0
    assert choose_colour_weight([ring_case(), striped_case(), striped_case()]) == 5.0, "the mean F over the frames"
    with pytest.raises(ValueError, match="at least one annotated frame"):
        choose_colour_weight([])


def test_finetune_chooses_the_videos_colour_weight_and_segment_gives_it_out():
    """Fine-tuning on the ring frame (the network's probability stubbed as ``ring_case``'s) picks weight 15, and
    the masks given out of the next frames have the hole open; without the CRF nothing is chosen."""
    from osvos import OSVOS

    frame, probability, truth = ring_case()
    for crf in (True, False):
        model = OSVOS.load(work_size=64, flow_weight=0.0, crf=crf, min_region=0.0)
        model._batch_probabilities = lambda frames, *args, **kwargs: [probability.copy() for _ in frames]
        model.finetune(frame, truth, 1, dreams=0)
        first, second = model.segment_probabilities([frame] * 2, snap=False, annotations={0: truth})
        if crf:
            assert model.last_finetune["crf_colour_weight"] == 15.0
            np.testing.assert_array_equal(second.mask, truth)
            model.reset()
            assert "crf_colour_weight" not in model.last_finetune, "back to the parent: no video's weight"
        else:
            assert "crf_colour_weight" not in model.last_finetune
            assert second.mask[40:56, 40:56].all()


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
    assert versions[True] == versions[False] + "-crfrgb3w5-7-10-15-20"
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
