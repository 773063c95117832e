"""Duplicates and concurrency: the same upload posted 10 times at once is one computation with one id; 50
concurrent pollers of a running job's status are all answered while it fine-tunes. These check behaviour: the
latency figures are measured by scripts/reliability_report.py (Python pollers and wrk) into docs/RELIABILITY.md,
since on a shared 2-core machine they say as much about the neighbours as about the code."""
from __future__ import annotations

import pytest

from devkit.load import format_latency
from devkit.reliability.load import duplicates, latency

pytestmark = pytest.mark.reliability


def test_ten_concurrent_identical_posts_are_one_computation(ctx):
    out = duplicates(ctx, count=10)
    assert out["statuses"] == [202] * 10
    assert out["distinct_ids"] == 1, "ten identical answers"
    assert out["created"] == 1, "exactly one post created the job; nine were deduplicated"
    assert out["final_state"] == "done"
    assert out["attempts"] == 1 and out["worker_starts"] == 1, "computed once"
    assert out["job_folders"] == 1


def test_fifty_pollers_while_a_job_finetunes(ctx):
    out = latency(ctx, pollers=50, interval=0.25, window=5.0, budget=21.0, site_interval=1.0)
    api, site = out["api"], out["site"]
    print(f"\nAPI: {format_latency(api)}\nsite: {format_latency(site)}")
    assert api["errors"] == 0 and site["errors"] == 0, "every poll answered with 200"
    assert api["requests"] > 0 and site["requests"] > 0
    assert api["states_seen"].get("running", 0) >= 0.9 * api["requests"], "polled while the job ran"
