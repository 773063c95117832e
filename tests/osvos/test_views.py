"""Test-time views: frames are segmented at ``segment_scale`` × the working size, optionally averaged with their
mirror image; the probabilities are exactly those of the single views, mapped back onto the frame."""
from __future__ import annotations

import numpy as np
import pytest

from osvos.budget import DEFAULT_VIEWS, SEGMENT_SCALE, VIEW_COUNTS
from osvos.views import ScaleTracker, View, segment_scales, view_plan


def test_view_plan():
    assert view_plan(1) == (View(SEGMENT_SCALE, False),)
    assert view_plan(2, 1.0) == (View(1.0, False), View(1.0, True))
    assert DEFAULT_VIEWS in VIEW_COUNTS and SEGMENT_SCALE == 1.5
    for bad in (0, 3, 4, -1):
        with pytest.raises(ValueError, match="views must be one of 1, 2"):
            view_plan(bad)
    for bad in (0.1, 5, True, "2", float("nan")):
        with pytest.raises(ValueError, match="segment scale must be a number from 0.25 to 4"):
            view_plan(1, bad)


@pytest.fixture(scope="module")
def frame():
    """A 96×128 frame with an off-centre bright disc: not mirror-symmetric."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 80, (96, 128, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:96, :128]
    image[(yy - 40) ** 2 + (xx - 40) ** 2 < 20 ** 2] = (230, 200, 60)
    return image


def _load(**options):
    from osvos import OSVOS

    return OSVOS.load(**options)


def _mirrored(model, frame):
    return model.probabilities(np.ascontiguousarray(frame[:, ::-1]))[:, ::-1]


@pytest.fixture(scope="module")
def one_view():
    """The frame alone (``views=1``) at the default segment scale, work size 64."""
    return _load(work_size=64, views=1)


def test_frames_are_segmented_at_the_segment_scale(one_view, frame):
    """Work size 64, scale 1.5: the 96×128 frame is segmented at 72×96, what work size 96 at scale 1 gives; the
    fine-tuning size (48×64) gives something else."""
    assert (one_view.view_count, one_view.segment_scale) == (1, 1.5)
    at_96 = _load(work_size=96, segment_scale=1.0, views=1).probabilities(frame)
    at_64 = _load(work_size=64, segment_scale=1.0, views=1).probabilities(frame)
    probability = one_view.probabilities(frame)
    assert probability.shape == frame.shape[:2]
    assert np.allclose(probability, at_96, atol=1e-5)
    assert not np.allclose(probability, at_64, atol=1e-3)
    assert np.allclose(next(one_view.segment_probabilities([frame])).probability, probability, atol=1e-6)


def test_the_default_averages_the_mirror_image_and_is_mirror_symmetric(model, one_view, frame):
    model.reset()
    assert (model.view_count, model.segment_scale) == (DEFAULT_VIEWS, 1.5) == (2, 1.5)
    alone, alone_mirrored = one_view.probabilities(frame), _mirrored(one_view, frame)
    assert not np.allclose(alone_mirrored, alone, atol=1e-3)  # the network is not symmetric
    assert np.allclose(model.probabilities(frame), (alone + alone_mirrored) / 2, atol=1e-5)
    assert np.allclose(_mirrored(model, frame), model.probabilities(frame), atol=1e-5)


def test_views_scale_flow_weight_crf_region_and_conv3_training_are_part_of_the_version(model):
    plain = _load(work_size=64, segment_scale=1.0, views=1, flow_weight=0.0, crf=False, min_region=0.0)
    assert "seg" not in plain.version and "views" not in plain.version and "flow" not in plain.version
    assert model.version == plain.version + "-seg1.5-views2-flow0.4-snapcarried-crfrgb3w5-7-10-15-20-region0.2"
    assert (_load(work_size=64, views=1, flow_weight=0.0, crf=False, min_region=0.0).version
            == plain.version + "-seg1.5-snapcarried")
    from osvos.finetune import FinetuneRecipe

    conv3 = _load(work_size=64, views=1, flow_weight=0.0, crf=False, min_region=0.0,
                  recipe=FinetuneRecipe(train_conv3=True, adapt_steps=0))
    assert "ftconv3" not in plain.version and plain.version.endswith("-adapt6far0.02grow3")   # the default adapts
    assert conv3.version == plain.version.replace("-adapt6far0.02grow3", "") + "-ftconv3-seg1.5-snapcarried"
    with pytest.raises(ValueError, match="views must be one of"):
        _load(views=3)
    with pytest.raises(ValueError, match="segment scale"):
        _load(segment_scale=8.0)


def test_segment_scales():
    assert segment_scales(1.5) == (1.0, 1.25, 1.5)
    assert segment_scales(1.6) == (1.0, 1.25, 1.5, 1.6)
    assert segment_scales(1.0) == (1.0,) and segment_scales(0.5) == (0.5,)


def test_scale_tracker_shrinks_the_scale_as_the_object_grows():
    """First area 4 %: the object at 4 % keeps 1.5; at 6.25 % (1.25× as wide) 1.5 / 1.25 = 1.2 → 1.25; at 9 % (1.5×)
    1.0; at 16 % (2×) 0.75, clipped to 1.0; smaller than at first: 1.5 (the most); 4.5 % → 1.41 → 1.5 and
    5 % → 1.34 → 1.25 (the nearest)."""
    tracker = ScaleTracker(1.5, 0.04)
    expected = {0.04: 1.5, 0.0625: 1.25, 0.09: 1.0, 0.16: 1.0, 0.01: 1.5, 0.045: 1.5, 0.05: 1.25, 0.0: 1.5}
    assert tracker.scale() == 1.5
    for area, scale in expected.items():
        mask = np.zeros((100, 100), bool)
        mask.flat[: round(area * 10_000)] = True
        tracker.update(mask)
        assert tracker.scale() == scale, area
    assert ScaleTracker(1.5, None).scale() == 1.5 and ScaleTracker(1.0, 0.04).scales == (1.0,)


def test_segment_follows_the_growing_object_batch_by_batch(model, monkeypatch):
    """A fine-tuned object of 4 % that grows to 9 % of the frame: the first batch runs at 1.5, the next at the
    scale its last mask asks for (1.0); annotated frames count as they are given."""
    model.reset()
    model.last_finetune = {"object_area": 0.04}
    asked = []

    def fake(frames, segmenter=None, scale=None):
        asked.append(scale)
        side = 30 if scale == 1.5 else 20  # 9 % then 4 % of a 100×100 frame
        out = []
        for _ in frames:
            probability = np.zeros((100, 100), np.float32)
            probability[:side, :side] = 0.9
            out.append(probability)
        return out

    monkeypatch.setattr(model, "_batch_probabilities", fake)
    monkeypatch.setattr(model, "crf", False)  # the network's own masks, which the tracker reads
    frames = [np.zeros((100, 100, 3), np.uint8)] * 6
    masks = list(model.segment(frames, snap=False, batch=2))
    assert asked == [1.5, 1.0, 1.5] and [int(m.sum()) for m in masks] == [900, 900, 400, 400, 900, 900]
    asked.clear()
    given = np.zeros((100, 100), bool)
    given[:20, :20] = True  # 4 %: the next batch goes back to 1.5
    list(model.segment(frames[:4], snap=False, batch=2, annotations={1: given}))
    assert asked == [1.5, 1.5]
