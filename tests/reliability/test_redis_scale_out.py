"""Several workers on a real Redis: the API serving HTTP only and two `--worker-only` processes on one store
(devkit/reliability/scale_out.py; the fake model keeps the jobs short). Jobs spread and run exactly once; kill -9
of a worker mid-job fails that job with a reason while the other goes on; Redis killed mid-run gives 503s, and
everything stored runs once it is back."""
from __future__ import annotations

import pytest

from devkit.reliability.scale_out import ScaleOut, redis_outage, spread, worker_kill

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
    layout = ScaleOut(tmp_path_factory.mktemp("scale-out"))
    try:
        yield layout.start()
    finally:
        layout.close()


def _verdict(report: dict) -> None:
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert not failed, f"failed checks: {failed}\n" + "\n".join(report["transcript"])


def test_four_jobs_spread_over_two_workers_each_run_once(scale):
    _verdict(spread(scale))


def test_kill_9_of_a_worker_mid_job(scale):
    _verdict(worker_kill(scale))


def test_redis_down_mid_run_is_a_503_and_nothing_is_lost(scale):
    _verdict(redis_outage(scale))
