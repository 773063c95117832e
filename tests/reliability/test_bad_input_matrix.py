"""The bad-input matrix against the live API and site: a specific status and a readable message for each case,
no 5xx, no traceback, and both services healthy afterwards (cases: devkit/reliability/matrix.py)."""
from __future__ import annotations

import pytest

from devkit.reliability.client import declared_oversize
from devkit.reliability.matrix import CASES, run_case, services_after

pytestmark = pytest.mark.reliability


def test_the_matrix_covers_at_least_twenty_refusals_on_each_side():
    refusals = [case for case in CASES if case.expect >= 400]
    assert len(refusals) >= 20
    assert {case.target for case in refusals} == {"API", "site"}
    assert sum(case.target == "site" for case in refusals) >= 15
    assert len({case.key for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_case(ctx, case):
    result = run_case(ctx, case)
    assert result.ok, (f"{case.target}: {case.title}: expected {case.expect}, got {result.got} "
                       f"{result.message!r}; problems: {result.problems}")


def test_body_declared_too_large_is_refused_before_it_is_read(ctx):
    """Only the headers are sent: an answer at all means the server did not wait for the body."""
    for url, path in ((ctx.stack.api_url, "/api/v1/jobs"), (ctx.stack.site_url, "/upload/")):
        reply = declared_oversize(url, path, ctx.stack.auth)
        assert reply.status == 413, (url, reply.status, reply.elapsed_ms)


def test_services_are_healthy_after_the_matrix(ctx):
    after = services_after(ctx)
    assert after["api_ok"], after["api"]
    assert after["site_ok"], after["site"]
    assert after["good_upload"] == 202
    assert not after["tracebacks"], after["tracebacks"]
