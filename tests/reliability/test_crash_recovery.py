"""kill -9 of the API process while a job is fine-tuning, and of the site; both restarted on the same store:
no job left running, no partial output, no submission lost."""
from __future__ import annotations

import pytest

import reliability_report as rr

pytestmark = pytest.mark.reliability


def test_kill_9_of_the_api_mid_finetuning_and_of_the_site(live, media):
    report = rr.crash_recovery(rr.Context(live, media), budget=20.0)
    print("\n".join(report["transcript"]))
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert not failed, f"failed checks: {failed}\n" + "\n".join(report["transcript"])
