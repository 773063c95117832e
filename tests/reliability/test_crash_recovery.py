"""kill -9 of the API process while a job is fine-tuning, and of the site; both restarted on the same store:
no job left running, no partial output, no submission lost. In the product's layout, kill -9 of the worker
process alone: HTTP keeps answering and the job fails with a reason once a worker runs again."""
from __future__ import annotations

import pytest

from devkit.reliability.crashes import crash_recovery, worker_crash
from devkit.reliability.matrix import Context
from devkit.reliability.processes import product_layout

pytestmark = pytest.mark.reliability


def test_kill_9_of_the_api_mid_finetuning_and_of_the_site(live, media):
    report = crash_recovery(Context(live, media), budget=20.0)
    print("\n".join(report["transcript"]))
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert not failed, f"failed checks: {failed}\n" + "\n".join(report["transcript"])


def test_kill_9_of_the_separate_worker_mid_finetuning(tmp_path, media):
    stack, worker = product_layout(tmp_path)
    try:
        stack.start()
        worker.start()
        report = worker_crash(Context(stack, media), worker, budget=20.0)
    finally:
        worker.stop()
        stack.close()
    print("\n".join(report["transcript"]))
    failed = [name for name, ok in report["checks"].items() if not ok]
    assert not failed, f"failed checks: {failed}\n" + "\n".join(report["transcript"])
