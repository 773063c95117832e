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


@pytest.fixture(scope="module")
def tiny_stills(tmp_path_factory):
    """3 synthetic stills in the DUTS-TR layout (list.txt, Images/*.jpg, Masks/*.png): a bright ellipse on noise,
    sizes smaller than the training crops of the tests, as DUTS photos are smaller than DAVIS frames."""
    import numpy as np

    root = tmp_path_factory.mktemp("stills")
    (root / "Images").mkdir()
    (root / "Masks").mkdir()
    rng = np.random.default_rng(0)
    names = []
    for k, (height, width) in enumerate([(30, 40), (40, 30), (36, 36)]):
        mask = np.zeros((height, width), np.uint8)
        cv2.ellipse(mask, (width // 2, height // 2), (width // 4, height // 3), 15 * k, 0, 360, 255, -1)
        image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        image[mask > 0] = 220
        names.append(f"still{k}")
        cv2.imwrite(str(root / "Images" / f"still{k}.jpg"), image)
        cv2.imwrite(str(root / "Masks" / f"still{k}.png"), mask)
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return root
