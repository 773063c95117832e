"""Shared fixtures for the osvos library tests: tiny synthetic frames and masks, a small OSVOS model."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from osvos_helpers import square_case  # noqa: E402


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
