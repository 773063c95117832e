"""Online adaptation while segmenting (osvos.online): the labels a segmented frame gives, and what adapting does to
the model and its masks."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from osvos.finetune import features
from osvos.online import pseudo_label


def test_pseudo_label_sure_object_far_background_and_nothing_between():
    """A 4×4 object in a 20×40 frame (longest side 40: far = 0.15 × 40 = 6 px): object labels where the mask is
    and the probability is above 0.97; background labels more than 6 px from the mask; the rest not counted."""
    mask = np.zeros((20, 40), bool)
    mask[8:12, 8:12] = True
    probability = np.where(mask, 0.99, 0.3).astype(np.float32)
    probability[8, 8] = 0.9
    label = pseudo_label(mask, probability, far=0.15)
    target, counted = label[..., 0], label[..., 1]
    assert label.shape == (20, 40, 2) and label.dtype == np.float32
    assert target.sum() == 15 and target[8, 8] == 0 and counted[8, 8] == 0
    assert counted[mask].sum() == 15
    assert counted[10, 17] == 0 and counted[10, 19] == 1 and target[10, 19] == 0  # 6 px away, then 8
    assert counted[10, 39] == 1 and counted[0, 0] == 1 and counted[3, 5] == 0  # 8√2 ≈ 11.3 px away; 5.8 px
    assert pseudo_label(mask, np.full((20, 40), 0.5, np.float32)) is None
    assert pseudo_label(mask, probability)[..., 1].sum() > label[..., 1].sum()   # the default: beyond 0.02 × 40
    assert pseudo_label(np.zeros((20, 40), bool), probability) is None


@pytest.fixture(scope="module")
def adapting():
    """A small model whose segmentation adapts 2 steps after each batch, fine-tuned on whole views at one scale."""
    import keras

    from osvos import OSVOS
    from osvos.finetune import FinetuneRecipe

    keras.utils.set_random_seed(0)
    return OSVOS.load(work_size=64, recipe=FinetuneRecipe(scales=(1.0,), crop=0.0, adapt_steps=2,
                                                          adapt_sure=0.5))


def _moving_square(count: int = 6):
    frames, masks = [], []
    for k in range(count):
        frame = np.full((48, 64, 3), 20, np.uint8)
        mask = np.zeros((48, 64), bool)
        mask[12:36, 10 + 2 * k:34 + 2 * k] = True
        frame[mask] = 230
        frames.append(frame)
        masks.append(mask)
    return frames, masks


def test_segmenting_adapts_a_copy_after_each_batch_and_leaves_the_model_as_fine_tuned(adapting, monkeypatch):
    """Batches [0, 1], [2, 3], [4, 5]: one adaptation round after each (frame 0 is annotated, frame 1 is not), each
    changing the copy that segments; the model keeps its fine-tuned weights throughout, so a second run (or one
    left unfinished before it) gives the same masks. The version says so."""
    import osvos.online

    frames, masks = _moving_square()
    adapting.finetune(frames[0], masks[0], 3)
    tuned = adapting.nets.full.get_weights()
    changed = []
    adapt = osvos.online.OnlineAdapter.adapt

    def counting(self, image, mask, probability):
        before = self.nets.full.get_weights()
        done = adapt(self, image, mask, probability)
        changed.append(done and any(not np.array_equal(a, b) for a, b in zip(before, self.nets.full.get_weights())))
        assert self.nets is not adapting.nets
        return done

    monkeypatch.setattr(osvos.online.OnlineAdapter, "adapt", counting)
    unfinished = adapting.segment(frames, snap=False, batch=2, annotations={0: masks[0]})
    next(unfinished), next(unfinished), next(unfinished)
    first = list(adapting.segment(frames, snap=False, batch=2, annotations={0: masks[0]}))
    assert changed == [True, True, True, True]
    assert all(np.array_equal(a, b) for a, b in zip(tuned, adapting.nets.full.get_weights()))
    del unfinished
    second = list(adapting.segment(frames, snap=False, batch=2, annotations={0: masks[0]}))
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert "-adapt2far0.02grow3-" in adapting.version


def test_no_adaptation_without_fine_tuning_or_steps(adapting, monkeypatch):
    """The parent network alone (after ``reset``) and a recipe with 0 steps segment without adapting."""
    import osvos.online
    from osvos import OSVOS
    from osvos.finetune import FinetuneRecipe

    model = OSVOS.load(work_size=64, recipe=FinetuneRecipe(adapt_steps=0))

    rounds = []
    monkeypatch.setattr(osvos.online.OnlineAdapter, "adapt", lambda *args: rounds.append(1))
    frames, masks = _moving_square(4)
    list(adapting.reset().segment(frames, snap=False, batch=2))
    model.finetune(frames[0], masks[0], 2)
    list(model.segment(frames, snap=False, batch=2))
    assert rounds == [] and "adapt" not in model.version
    assert "grow" not in OSVOS.load(work_size=64, recipe=FinetuneRecipe(adapt_growth=0)).version


def test_adapting_steps_train_on_the_frame_and_the_annotated_views_in_turn(adapting, monkeypatch):
    """4 steps: the even ones on the segmented frame's labels (2 channels, pixels not counted among them), the odd
    ones on the annotated frame's views (every pixel counted)."""
    from osvos.online import OnlineAdapter

    frames, masks = _moving_square(2)
    adapting.finetune(frames[0], masks[0], 2)
    adapter = OnlineAdapter(adapting.nets, adapting._examples, adapting.recipe)
    seen = []
    monkeypatch.setattr(adapter.head, "train_on_batch", lambda inputs, target: seen.append(target))
    adapter.recipe = replace(adapter.recipe, adapt_steps=4)
    probability = np.where(masks[1], 0.99, 0.01).astype(np.float32)
    assert adapter.adapt(frames[1], masks[1], probability)
    assert len(seen) == 4 and all(t.shape[-1] == 2 for t in seen)
    assert seen[0][..., 1].min() == 0 and seen[2][..., 1].min() == 0
    assert seen[1][..., 1].min() == 1 and seen[3][..., 1].min() == 1
    assert not adapter.adapt(frames[1], masks[1], np.full((48, 64), 0.5, np.float32))
    assert len(seen) == 4


class _Parent:
    """Stands in for the parent networks: its conv3-and-up head gives ``logit`` and counts its calls."""

    def __init__(self, logit: np.ndarray):
        self.logit, self.calls = logit, 0
        self.head_conv3 = self

    def predict_on_batch(self, conv2):
        self.calls += 1
        assert conv2.shape[1:3] == (self.logit.shape[0] // 2, self.logit.shape[1] // 2)
        return self.logit[None, ..., None]

    def __call__(self):
        return self


def test_a_grown_mask_gets_no_background_label_where_the_parent_marks_the_object(adapting, monkeypatch):
    """Annotated square 24×24 = 576 px; growth 3 → grown past 1,728 px. On a grown frame, background labels where
    the parent's logit is above 0 (p > 0.5: here the 10 columns right of the mask, 10 px away, 48 × 10 = 480 px)
    are no longer counted; object labels and background elsewhere stay. A mask that has not grown never asks the
    parent, and no parent (or growth 0) means no sparing."""
    from osvos.online import OnlineAdapter

    frames, masks = _moving_square(2)
    adapting.finetune(frames[0], masks[0], 2)
    logit = np.full((48, 64), -3.0, np.float32)
    logit[:, 54:] = 3.0
    parent = _Parent(logit)
    adapter = OnlineAdapter(adapting.nets, adapting._examples, replace(adapting.recipe, adapt_steps=2), parent)
    seen = []
    monkeypatch.setattr(adapter.head, "train_on_batch", lambda inputs, target: seen.append(target))
    assert adapter.annotated_area == 576
    big = np.zeros((48, 64), bool)
    big[4:44, 4:48] = True                                            # 1,760 px > 3 × 576
    small = np.zeros((48, 64), bool)
    small[4:44, 4:47] = True                                          # 1,720 px
    assert adapter.grown(big) and not adapter.grown(small)
    for mask in (small, big):
        probability = np.where(mask, 0.99, 0.01).astype(np.float32)
        assert adapter.adapt(frames[1], mask, probability)
    plain = pseudo_label(big, np.where(big, 0.99, 0.01).astype(np.float32))
    assert parent.calls == 1 and len(seen) == 4
    before, after = seen[0][0], seen[2][0]
    assert int(before[..., 1].sum()) == int(pseudo_label(small, np.where(small, 0.99, 0.01))[..., 1].sum())
    assert np.array_equal(after[..., 0], plain[..., 0])
    assert int(plain[..., 1].sum() - after[..., 1].sum()) == 480
    assert after[:, 54:, 1].sum() == 0 and np.array_equal(after[:, :54, 1], plain[:, :54, 1])
    for other in (OnlineAdapter(adapting.nets, adapting._examples, adapting.recipe),
                  OnlineAdapter(adapting.nets, adapting._examples, replace(adapting.recipe, adapt_growth=0), parent)):
        assert not other.grown(big)


def test_the_real_parent_spares_a_grown_frame_and_segmenting_hands_it_over(adapting, monkeypatch):
    """With the model's parent networks (``OSVOS._parent_nets``, as ``segment_probabilities`` hands them over), a
    grown frame's labels come back with the same targets and a subset of the counted pixels; the parent is built
    from the weights the model loaded, not the fine-tuned ones."""
    from osvos.online import OnlineAdapter

    frames, masks = _moving_square(2)
    adapting.finetune(frames[0], masks[0], 2)
    handed = []
    init = OnlineAdapter.__init__

    def recording(self, nets, examples, recipe, parent=None):
        handed.append(parent)
        init(self, nets, examples, recipe, parent)

    monkeypatch.setattr(OnlineAdapter, "__init__", recording)
    list(adapting.segment(frames, snap=False, batch=2, annotations={0: masks[0]}))
    assert handed == [adapting._parent_nets]
    adapter = OnlineAdapter(adapting.nets, adapting._examples, adapting.recipe, adapting._parent_nets)
    parent = adapting._parent_nets()
    assert all(np.array_equal(a, b) for a, b in zip(parent.full.get_weights(), adapting._parent))
    grown = np.zeros((48, 64), bool)
    grown[4:44, 4:48] = True
    frame = features(adapting.nets, frames[1], pseudo_label(grown, np.where(grown, 0.99, 0.01).astype(np.float32)))
    conv2, conv3, spared = adapter._spare_parent_object(frame)
    assert conv2 is frame[0] and spared.shape == frame[2].shape
    assert np.array_equal(spared[..., 0], frame[2][..., 0]) and np.all(spared[..., 1] <= frame[2][..., 1])


def test_recipe_refuses_negative_steps_and_a_band_outside_the_frame():
    """The recipe itself checks the adaptation fields, so every caller (the CLI, ``scripts/evaluate_parent.py``,
    the library) gets the same refusal; the ends of the allowed ranges pass."""
    from osvos.finetune import FinetuneRecipe

    with pytest.raises(ValueError, match="adapt_steps must be 0 or more"):
        FinetuneRecipe(adapt_steps=-1)
    for far in (-0.01, 1.0, 1.5):
        with pytest.raises(ValueError, match="adapt_far must be from 0 to less than 1"):
            FinetuneRecipe(adapt_far=far)
    with pytest.raises(ValueError, match="adapt_growth must be 0 or more"):
        FinetuneRecipe(adapt_growth=-0.5)
    assert FinetuneRecipe(adapt_steps=0, adapt_far=0.0, adapt_growth=0.0).adapt_far == 0.0
    assert FinetuneRecipe(adapt_steps=6, adapt_far=0.99).adapt_steps == 6
