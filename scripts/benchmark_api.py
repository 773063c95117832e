#!/usr/bin/env python
"""Time one job through the HTTP API end to end: post, poll to done, list the outputs, probe overlay.mp4.

    python scripts/benchmark_api.py VIDEO MASK [--url http://127.0.0.1:5000 | --start-server]
                                    [--budget SECONDS | --iterations N] [--snap] [--out DIR] [--token T]

``--start-server`` runs ``python -m api_server --port 0`` for the duration (with the current OSVOS_*
environment, e.g. OSVOS_WORK_SIZE) so the timing includes nothing but this one job; model loading happens
before the clock starts. Prints the equivalent curl commands too.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_server(log_lines: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "api_server", "--port", "0"], cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found = threading.Event()
    url = {}

    def read():
        for line in proc.stdout:
            log_lines.append(line)
            match = re.search(r"serving on (http://[\d.]+:\d+)", line)
            if match:
                url["base"] = match.group(1)
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(180):
        proc.kill()
        raise SystemExit("the API did not start:\n" + "".join(log_lines[-20:]))
    return proc, url["base"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("mask", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--start-server", action="store_true")
    parser.add_argument("--token", default=os.environ.get("OSVOS_API_TOKEN"))
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--budget", type=float, help="fine-tuning seconds (server default if neither is given)")
    group.add_argument("--iterations", type=int)
    parser.add_argument("--snap", action="store_true")
    parser.add_argument("--out", type=Path, help="download the outputs here")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    proc, log_lines = None, []
    base = args.url.rstrip("/")
    if args.start_server:
        proc, base = start_server(log_lines)
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
        if args.snap:
            fields["snap"] = "true"
        curl_fields = " ".join(f"-F {k}={v}" for k, v in fields.items())
        auth = ' -H "Authorization: Bearer $OSVOS_API_TOKEN"' if args.token else ""
        print(f"$ curl -sS{auth} -F video=@{args.video} -F mask=@{args.mask} {curl_fields} {base}/api/v1/jobs")

        started = time.monotonic()
        with open(args.video, "rb") as video, open(args.mask, "rb") as mask:
            response = requests.post(f"{base}/api/v1/jobs", headers=headers, data=fields, timeout=600,
                                     files={"video": (args.video.name, video), "mask": (args.mask.name, mask)})
        print(response.status_code, response.text.strip())
        if response.status_code != 202:
            return 1
        status_url = base + response.json()["status_url"]
        print(f"$ curl -sS{auth} {status_url}   # polled")
        last = None
        while True:
            job = requests.get(status_url, headers=headers, timeout=30).json()
            line = f"  {time.monotonic() - started:7.1f} s  {job['state']:<9} {job['stage'] or '':<11} " \
                   f"{job['progress']:6.1%}  eta {job['eta_s']} s"
            if line.split("s ", 1)[1] != last:
                print(line)
                last = line.split("s ", 1)[1]
            if job["state"] in ("done", "failed", "cancelled"):
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
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
