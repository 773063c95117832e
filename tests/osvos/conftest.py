"""Shared fixtures for the osvos library tests: tiny synthetic frames and masks, a small OSVOS model, a tiny DAVIS."""
from __future__ import annotations

import os

import cv2
import pytest

from osvos_helpers import TINY_SEQUENCES, square_case

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def square():
    return square_case()


@pytest.fixture(scope="module")
def model():
    """OSVOS.load(work_size=64), with Keras' RNG seeded so the randomly initialised heads are reproducible."""
    import keras

    from osvos import OSVOS

    keras.utils.set_random_seed(0)
    return OSVOS.load(work_size=64)


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory, davis):
    """2 DAVIS sequences × 3 frames, downscaled to 48×80, with ImageSets/train.txt."""
    root = tmp_path_factory.mktemp("davis")
    for name in TINY_SEQUENCES:
        for sub, ext, flag, interpolation in (("JPEGImages", "jpg", cv2.IMREAD_COLOR, cv2.INTER_AREA),
                                               ("Annotations", "png", cv2.IMREAD_GRAYSCALE, cv2.INTER_NEAREST)):
            folder = root / sub / "480p" / name
            folder.mkdir(parents=True)
            for k in range(3):
                image = cv2.imread(str(davis / sub / "480p" / name / f"{k:05d}.{ext}"), flag)
                assert image is not None
                cv2.imwrite(str(folder / f"{k:05d}.{ext}"), cv2.resize(image, (80, 48), interpolation=interpolation))
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "train.txt").write_text("\n".join(TINY_SEQUENCES) + "\n")
    return root
