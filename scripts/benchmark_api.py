#!/usr/bin/env python
"""Time one job through the HTTP API end to end: post, poll to done, list the outputs, probe overlay.mp4.

    python scripts/benchmark_api.py VIDEO MASK [--url http://127.0.0.1:5000 | --start-server]
                                    [--iterations N] [--budget SECONDS] [--[no-]snap] [--out DIR] [--token T]
                                    [--duplicates 10] [--pollers 50 [--poll-interval 0.25] [--poll-seconds S]]

``--start-server`` runs ``python -m api_server --port 0`` for the duration (with the current OSVOS_*
environment, e.g. OSVOS_WORK_SIZE) so the timing includes nothing but this one job; model loading happens
before the clock starts. Prints the equivalent curl commands too.

Load checks (docs/RELIABILITY.md):
  ``--duplicates N``  posts the same upload N times at once: every answer must carry the same job id, and
                      exactly one of them may have created it (``deduplicated: false``): one computation.
  ``--pollers N``     while the job runs, N concurrent clients poll ``GET /api/v1/jobs/<id>`` (each every
                      ``--poll-interval`` seconds, for ``--poll-seconds`` or until the job leaves ``running``);
                      prints the latency percentiles p50 / p90 / p99 / max. Target: p99 < 100 ms (the request
                      path never waits on the model).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from api_server.contract import TERMINAL
from devkit.live_api import ApiProcess
from devkit.load import concurrent_posts, format_latency, poll_latency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("mask", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--start-server", action="store_true")
    parser.add_argument("--token", default=os.environ.get("OSVOS_API_TOKEN"))
    parser.add_argument("--iterations", type=int, help="fine-tuning steps (server default if neither is given)")
    parser.add_argument("--budget", type=float, help="fine-tuning seconds: a cap on the steps, or alone the budget")
    parser.add_argument("--snap", action=argparse.BooleanOptionalAction,
                        help="ask for snapping on or off (default: the API's default)")
    parser.add_argument("--out", type=Path, help="download the outputs here")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--duplicates", type=int, default=0, metavar="N",
                        help="post the same upload N times concurrently (expect one id, one computation)")
    parser.add_argument("--pollers", type=int, default=0, metavar="N",
                        help="while the job runs, N concurrent clients poll its status; prints p50/p99")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="seconds between one poller's requests")
    parser.add_argument("--poll-seconds", type=float, default=30.0,
                        help="longest measuring window (it also ends when the job leaves 'running')")
    args = parser.parse_args()

    server = None
    base = args.url.rstrip("/")
    if args.start_server:
        try:
            server = ApiProcess()
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        base = server.url
        print(f"started {base}")
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        while True:  # wait for the model to be loaded so that the timing is the job's alone
            health = requests.get(f"{base}/api/v1/health", headers=headers, timeout=10).json()
            if health["model"]["state"] in ("ready", "error") or not health["workers"]["embedded"]:
                break
            time.sleep(0.5)
        print(f"model: {health['model']}")
        fields = {"name": args.video.name}
        if args.budget is not None:
            fields["budget"] = str(args.budget)
        if args.iterations is not None:
            fields["iterations"] = str(args.iterations)
        if args.snap is not None:
            fields["snap"] = "true" if args.snap else "false"
        curl_fields = " ".join(f"-F {k}={v}" for k, v in fields.items())
        auth = ' -H "Authorization: Bearer $OSVOS_API_TOKEN"' if args.token else ""
        print(f"$ curl -sS{auth} -F video=@{args.video} -F mask=@{args.mask} {curl_fields} {base}/api/v1/jobs")

        started = time.monotonic()
        if args.duplicates > 1:
            dup = concurrent_posts(base, args.video, args.mask, fields, args.duplicates, headers=headers,
                                   timeout=600)
            print(f"{args.duplicates} concurrent posts in {dup['elapsed_s']:.2f} s: statuses {dup['statuses']}, "
                  f"{len(set(dup['ids']))} distinct id(s), {dup['created']} created the job "
                  f"(the others were deduplicated)")
            if not dup["identical"] or dup["created"] != 1 or set(dup["statuses"]) != {202}:
                print("FAILED: expected ten identical ids and one computation")
                return 1
            body = next(b for b in dup["bodies"] if b.get("deduplicated") is False)
            print(202, body)
        else:
            with open(args.video, "rb") as video, open(args.mask, "rb") as mask:
                response = requests.post(f"{base}/api/v1/jobs", headers=headers, data=fields, timeout=600,
                                         files={"video": (args.video.name, video), "mask": (args.mask.name, mask)})
            print(response.status_code, response.text.strip())
            if response.status_code != 202:
                return 1
            body = response.json()
        status_url = base + body["status_url"]
        if args.pollers > 0:
            def _state() -> str:
                return requests.get(status_url, headers=headers, timeout=30).json()["state"]
            deadline = time.monotonic() + 120
            while _state() == "queued" and time.monotonic() < deadline:
                time.sleep(0.1)
            result = poll_latency(status_url, args.pollers, seconds=args.poll_seconds, interval=args.poll_interval,
                                  headers=headers, until=lambda: _state() != "running")
            print("status latency while the job runs: " + format_latency(result))
            print(f"target p99 < 100 ms: {'met' if (result['p99_ms'] or 1e9) < 100 else 'NOT met'}")
        print(f"$ curl -sS{auth} {status_url}   # polled")
        last = None
        while True:
            job = requests.get(status_url, headers=headers, timeout=30).json()
            line = f"  {time.monotonic() - started:7.1f} s  {job['state']:<9} {job['stage'] or '':<11} " \
                   f"{job['progress']:6.1%}  eta {job['eta_s']} s"
            if line.split("s ", 1)[1] != last:
                print(line)
                last = line.split("s ", 1)[1]
            if job["state"] in TERMINAL:
                break
            if time.monotonic() - started > args.timeout:
                print("timed out")
                return 1
            time.sleep(1.0)
        wall = time.monotonic() - started
        print(f"end-to-end wall time: {wall:.1f} s (job {job['id']}: {job['state']}, "
              f"{job['frames']} frames {job['width']}x{job['height']} @ {job['fps']} fps)")
        if job["state"] != "done":
            print(f"error: {job['error']}")
            return 1
        print("outputs:")
        for name, url in job["outputs"].items():
            print(f"  {job['output_bytes'][name]:>10,d} B  {name}  {base}{url}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            for name, url in job["outputs"].items():
                (args.out / name).write_bytes(requests.get(base + url, headers=headers, timeout=600).content)
            from osvos.video import FFMPEG
            overlay = args.out / "overlay.mp4"
            print(f"$ ffmpeg -i {overlay}   # stream info")
            probe = subprocess.run([FFMPEG, "-hide_banner", "-i", str(overlay)], capture_output=True, text=True)
            print("\n".join(line for line in probe.stderr.splitlines() if "Stream" in line or "Duration" in line))
            from osvos.video import probe_video
            print(f"decoded: {probe_video(overlay)}")
        print("timings (s):", {k: round(v, 1) for k, v in (job.get("timings") or {}).items()})
        return 0
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
