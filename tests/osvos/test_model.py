"""model: output shapes, HED initialisation, float16 weights, the bilinear resize of the side outputs."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from osvos.model import (
    CAFFE_BGR_MEAN,
    build_networks,
    freeze_low_blocks,
    hed_weights_path,
    init_from_hed,
    preprocess,
    resize_bilinear,
    save_float16,
)


@pytest.fixture(scope="module")
def nets():
    import keras

    keras.utils.set_random_seed(0)
    networks = build_networks()
    init_from_hed(networks.full)
    return networks


def image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return preprocess(rng.integers(0, 256, (1, height, width, 3), dtype=np.uint8))


def test_preprocess_is_bgr_minus_caffe_mean():
    rgb = np.array([[[10, 20, 30]]], np.uint8)
    out = preprocess(rgb)
    assert out.dtype == np.float32
    assert np.allclose(out[0, 0], np.array([30, 20, 10], np.float32) - CAFFE_BGR_MEAN)


def test_full_outputs_for_odd_size(nets):
    outputs = nets.full.predict_on_batch(image(37, 53))
    assert len(outputs) == 5
    for output in outputs:
        assert np.asarray(output).shape == (1, 37, 53, 1)
    fused = np.asarray(nets.segmenter.predict_on_batch(image(37, 53)))
    assert fused.shape == (1, 37, 53, 1)
    assert np.allclose(fused, np.asarray(outputs[0]), atol=1e-5)


def test_low_and_head_shapes(nets):
    conv2, conv3 = nets.low.predict_on_batch(image(32, 48))
    assert np.asarray(conv2).shape == (1, 16, 24, 128)
    assert np.asarray(conv3).shape == (1, 8, 12, 256)
    head = np.asarray(nets.head.predict_on_batch([conv2, conv3]))
    assert head.shape == (1, 32, 48, 1)


def test_heads_on_cached_features_equal_segmenter(nets):
    # For sizes divisible by 16, both fine-tuning heads compute the same function as the full segmenter.
    x = image(32, 48, seed=1)
    conv2, conv3 = nets.low.predict_on_batch(x)
    fused = np.asarray(nets.segmenter.predict_on_batch(x))
    for head in (nets.head.predict_on_batch([conv2, conv3]), nets.head_conv3.predict_on_batch(conv2)):
        assert np.allclose(np.asarray(head), fused, rtol=1e-4, atol=1e-4 * np.abs(fused).max())


def test_head_conv3_trains_conv3_and_up(nets):
    trained = {v.path.split("/")[0] for v in nets.head_conv3.trainable_variables}
    assert {"block3_conv1", "block3_conv3", "block5_conv3", "side2_conv", "fuse"} <= trained
    assert not {name for name in trained if name.startswith(("block1", "block2", "side2_score"))}
    assert trained - {v.path.split("/")[0] for v in nets.head.trainable_variables} == {
        "block3_conv1", "block3_conv2", "block3_conv3"}


def test_init_from_hed_copies_vgg_trunk(nets):
    with h5py.File(hed_weights_path(), "r") as weights:
        kernel = weights["block1/layers/conv2d/vars/0"][()]
        bias = weights["block1/layers/conv2d/vars/1"][()]
        last = weights["block5/layers/conv2d_2/vars/0"][()]
    got_kernel, got_bias = nets.full.get_layer("block1_conv1").get_weights()
    assert got_kernel.shape == kernel.shape == (3, 3, 3, 64)
    assert np.array_equal(got_kernel, kernel) and np.array_equal(got_bias, bias)
    assert np.array_equal(nets.full.get_layer("block5_conv3").get_weights()[0], last)
    # Shared layers: the head model sees the same weights.
    assert np.array_equal(nets.head.get_layer("block5_conv3").get_weights()[0], last)


def test_freeze_low_blocks():
    networks = build_networks()
    freeze_low_blocks(networks.full)
    frozen = {layer.name for layer in networks.full.layers if layer.weights and not layer.trainable}
    assert frozen == {"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
                      "block3_conv1", "block3_conv2", "block3_conv3"}


def test_save_float16_round_trip(nets, tmp_path):
    path = tmp_path / "parent.weights.h5"
    save_float16(nets.full, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parent.weights.h5"]   # temporaries removed
    dtypes = []
    with h5py.File(path, "r") as stored:
        stored.visititems(lambda name, item: dtypes.append(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert len(dtypes) >= 2 * 13 + 2 * 8 + 2    # 13 trunk convs, 8 side convs, fuse: kernel + bias each
    assert set(dtypes) == {np.dtype("float16")}

    reloaded = build_networks()
    reloaded.full.load_weights(path)
    assert reloaded.full.get_layer("block1_conv1").get_weights()[0].dtype == np.float32
    x = image(32, 48, seed=2)
    original = np.asarray(nets.segmenter.predict_on_batch(x))
    again = np.asarray(reloaded.segmenter.predict_on_batch(x))
    assert np.abs(again - original).max() <= 1e-2 * np.abs(original).max()
    assert not np.array_equal(again, original)   # really float16-rounded, not the float32 weights


@pytest.mark.parametrize("size, target", [((7, 13), (53, 100)), ((18, 32), (288, 512)), ((30, 54), (480, 854)),
                                          ((5, 5), (5, 5))])
def test_resize_bilinear_matches_tensorflow_exactly(size, target):
    import tensorflow as tf

    x = np.random.default_rng(0).normal(size=(2, *size, 16)).astype(np.float32)
    expected = tf.image.resize(x, target, method="bilinear").numpy()
    assert np.array_equal(np.asarray(resize_bilinear(x, *target)), expected)


def test_resize_bilinear_takes_symbolic_sizes_in_graph_mode():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 4]), tf.TensorSpec([None, None, None, 3])])
    def like(x, reference):
        return resize_bilinear(x, tf.shape(reference)[1], tf.shape(reference)[2])

    x = np.random.default_rng(1).normal(size=(1, 9, 11, 4)).astype(np.float32)
    out = like(x, np.zeros((1, 37, 53, 3), np.float32)).numpy()
    assert np.array_equal(out, tf.image.resize(x, (37, 53), method="bilinear").numpy())
