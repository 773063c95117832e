#!/usr/bin/env python
"""Reliability and security checks of osvos studio against live services; regenerates docs/RELIABILITY.md.

    python scripts/reliability_report.py [--out docs/RELIABILITY.md] [--keep DIR] [--pollers 50]

Starts the API (``python -m api_server``, the real model at OSVOS_WORK_SIZE=64, a bearer token, small caps)
and the site (``python scripts/serve.py --no-api``) as separate processes on free loopback ports, with a
fresh store in a temporary folder, then runs:

1. the bad-input matrix against the API and the site: every case expects a specific status and a readable
   message, no 5xx, no traceback; both services healthy afterwards;
2. duplicates: the same upload posted 10 times at once → one job id, one computation;
3. latency: 50 concurrent pollers of a running job's status (API and site) → p50 / p99, and wrk at 50
   connections (idle and during fine-tuning, with and without If-None-Match);
4. crash recovery: ``kill -9`` of the API process while a job is fine-tuning and of the site; restart;
   no job left ``running``, no partial output in the store, no submission lost;
5. hardening: ``manage.py check --deploy`` under production settings, bearer token, upload caps;
6. several workers on a real Redis (fake model): jobs spread and run once, kill -9 of a worker, Redis down.

The checks live in devkit/reliability/; tests/reliability runs the same code under pytest
(``pytest -m reliability``). Everything listens on 127.0.0.1 only; every wait is bounded.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from devkit.reliability.crashes import crash_recovery
from devkit.reliability.hardening import check_deploy, site_with_wrong_token, token_checks
from devkit.reliability.load import duplicates, latency, separate_worker
from devkit.reliability.matrix import Context, run_matrix
from devkit.reliability.media import make_media
from devkit.reliability.processes import Stack
from devkit.reliability.report import NOTES, write_markdown
from devkit.reliability.scale_out import scale_out

ROOT = Path(__file__).resolve().parents[1]


def run_all(base: Path, *, pollers: int = 50, log=print) -> dict:
    started = time.monotonic()
    media = make_media(base / "media")
    stack = Stack(base / "run")
    try:
        log(f"starting the API on {stack.api_url} and the site on {stack.site_url} …")
        stack.start()
        ctx = Context(stack, media)
        log("bad-input matrix:")
        results, after = run_matrix(ctx, log)
        dup = duplicates(ctx, log=log)
        lat = latency(ctx, pollers=pollers, budget=45.0, rounds=3, log=log)
        crash = crash_recovery(ctx, log=log)
        deploy = check_deploy(base)
        tokens = token_checks(stack)
        wrong_token = site_with_wrong_token(stack, media)
    finally:
        stack.close()
    log("latency in the product layout (worker in its own, lower-priority process):")
    lat["separate"] = separate_worker(base / "separate", media, pollers, log=log)
    log("several workers on Redis:")
    scale = scale_out(base / "scale-out", log=log)
    return {"matrix": results, "after": after, "duplicates": dup, "latency": lat, "crash": crash,
            "deploy": deploy, "tokens": tokens, "wrong_token": wrong_token, "scale_out": scale,
            "duration_s": time.monotonic() - started}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() + (" + uncommitted changes" if subprocess.run(
                                  ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    parser.add_argument("--keep", type=Path, help="keep the run's folder (store, logs) here instead of a temp dir")
    parser.add_argument("--pollers", type=int, default=50)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="osvos-reliability-")) if args.keep is None else args.keep
    base.mkdir(parents=True, exist_ok=True)
    try:
        data = run_all(base, pollers=args.pollers)
        load = os.getloadavg()
        data.update(when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, load average "
                            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}",
                    commit=_commit(), notes=NOTES)
        write_markdown(args.out, data)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    ok = (all(r.ok for r in data["matrix"]) and data["after"]["ok"] and data["duplicates"]["ok"]
          and data["crash"]["ok"] and data["latency"]["separate"]["worker_crash"]["ok"] and data["deploy"]["ok"]
          and data["tokens"]["ok"] and data["wrong_token"]["ok"]
          and all(part["ok"] for part in data["scale_out"].values()))
    print(f"wrote {args.out}; {'all checks passed' if ok else 'SOME CHECKS FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
