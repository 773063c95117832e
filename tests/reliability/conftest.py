"""Fixtures for the reliability tests: the API and the site as real processes on free loopback ports.

The machinery (process control, the bad-input cases, the crash and load scenarios) lives in devkit/reliability/,
which scripts/reliability_report.py also uses to regenerate docs/RELIABILITY.md. One stack serves the whole
session (one model load); the crash test kills and restarts its processes on the same ports and store.
"""
from __future__ import annotations

import pytest

from devkit.reliability.matrix import Context
from devkit.reliability.media import Media, make_media
from devkit.reliability.processes import Stack


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Media:
    return make_media(tmp_path_factory.mktemp("reliability-media"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """`python -m api_server` (real model, OSVOS_WORK_SIZE=64, a bearer token, small caps) and
    `python scripts/serve.py --no-api` pointed at it, sharing a fresh store."""
    live = Stack(tmp_path_factory.mktemp("reliability-run"))
    try:
        live.start()
    except Exception:
        live.close()
        raise
    yield live
    live.close()


@pytest.fixture(scope="session")
def ctx(stack, media) -> Context:
    return Context(stack, media)


@pytest.fixture
def live(stack):
    """The stack, guaranteed running again after the test (a failed crash test must not take the rest down)."""
    yield stack
    for service, wait in ((stack.api, stack.wait_api), (stack.site, stack.wait_site)):
        if not service.running():
            service.start()
            wait()
