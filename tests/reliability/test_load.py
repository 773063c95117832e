"""Duplicates and concurrency: the same upload posted 10 times at once is one computation with one id; 50
concurrent pollers of a running job's status get fast answers (the request path never waits on the model)."""
from __future__ import annotations

import os

import pytest

from devkit.load import format_latency
from devkit.reliability.load import duplicates, latency

pytestmark = pytest.mark.reliability

# The target is p99 < 100 ms (docs/RELIABILITY.md reports the measured figure). On a shared 2-core machine
# the tail is set by whatever else runs, so the test's bar is a request path that never blocks on the model:
# a status request that waited for fine-tuning would take seconds.
P99_LIMIT_MS = float(os.environ.get("OSVOS_RELIABILITY_P99_MS", "1000"))


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
    assert api["errors"] == 0 and site["errors"] == 0
    assert api["states_seen"].get("running", 0) >= 0.9 * api["requests"], "measured while the job ran"
    assert api["requests"] >= 50 * 5 / 0.25 * 0.5, "the pollers were served at about their rate"
    assert api["p50_ms"] < 100
    assert api["p99_ms"] < P99_LIMIT_MS
    assert site["p99_ms"] < 5 * P99_LIMIT_MS
