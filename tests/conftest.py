"""What every test folder shares: Django configured before anything is collected, and the shared data.

Django is set up here, before any test module imports TensorFlow: its logging set-up closes the handlers that
exist at that moment, and absl's (TensorFlow's) would close pytest's capture stream with it. The site's
settings point at a temporary folder (DEBUG off, plain HTTP for the test client)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import django
import pytest

from devkit import shared_data

_SITE_DATA = tempfile.mkdtemp(prefix="osvos-webapp-tests-")
atexit.register(shutil.rmtree, _SITE_DATA, True)
os.environ["OSVOS_WEB_DATA_DIR"] = _SITE_DATA
os.environ["DJANGO_SETTINGS_MODULE"] = "osvos_site.settings"
os.environ["DJANGO_DEBUG"] = "0"
os.environ["OSVOS_WEB_HTTPS"] = "0"
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-" + "k" * 60)
django.setup()


@pytest.fixture(scope="session")
def davis() -> Path:
    """The DAVIS-2016 folder (skips the test when it is missing)."""
    return shared_data.require(shared_data.DAVIS)


@pytest.fixture(scope="session")
def hevc_sample() -> Path:
    """DAVIS blackswan as an HEVC clip, 854x480, 50 frames (skips the test when it is missing)."""
    return shared_data.require(shared_data.HEVC_SAMPLE)


@pytest.fixture(scope="session")
def photo_mask() -> Path:
    """A JPEG photo of blackswan's first frame, uploaded as if it were a mask (skips when it is missing)."""
    return shared_data.require(shared_data.PHOTO_MASK)


@pytest.fixture(scope="session")
def blackswan_mask() -> Path:
    """DAVIS blackswan's first-frame annotation (skips the test when it is missing)."""
    return shared_data.require(shared_data.BLACKSWAN_MASK)
