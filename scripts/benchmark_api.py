#!/usr/bin/env python
"""Time one job through the HTTP API end to end: post, poll to done, list the outputs, probe overlay.mp4.

    python scripts/benchmark_api.py VIDEO MASK [--url http://127.0.0.1:5000 | --start-server]
                                    [--budget SECONDS | --iterations N] [--snap] [--out DIR] [--token T]
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
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from api_server.contract import TERMINAL

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


# -- load checks (also used by scripts/reliability_report.py and tests/reliability) -----------------------------
def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def concurrent_posts(base: str, video: Path, mask: Path, fields: dict[str, str], count: int = 10,
                     headers: dict | None = None, timeout: float = 120.0) -> dict:
    """POST the same upload ``count`` times at once (a barrier releases all threads together).

    Returns ``{"statuses", "ids", "created", "identical", "elapsed_s", "bodies"}`` where ``created`` is how
    many answers said they created the job (``deduplicated: false``): 1 means one computation.
    """
    video_bytes, mask_bytes = Path(video).read_bytes(), Path(mask).read_bytes()
    barrier = threading.Barrier(count)

    def post(_index: int) -> tuple[int, dict]:
        files = {"video": (Path(video).name, video_bytes, "video/mp4"),
                 "mask": (Path(mask).name, mask_bytes, "image/png")}
        barrier.wait(timeout=timeout)
        response = requests.post(f"{base}/api/v1/jobs", headers=headers, data=fields, files=files,
                                 timeout=timeout)
        try:
            body = response.json()
        except ValueError:
            body = {"error": "not_json", "detail": response.text[:200]}
        return response.status_code, body

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(post, range(count)))
    elapsed = time.monotonic() - started
    ids = [body.get("id") for _, body in answers]
    return {"statuses": [status for status, _ in answers], "ids": ids,
            "created": sum(1 for _, body in answers if body.get("deduplicated") is False),
            "identical": len(set(ids)) == 1 and ids[0] is not None, "elapsed_s": elapsed,
            "bodies": [body for _, body in answers]}


def poll_latency(url: str, pollers: int = 50, *, seconds: float = 10.0, interval: float = 0.25,
                 headers: dict | None = None, until=None, timeout: float = 10.0) -> dict:
    """``pollers`` concurrent clients GET ``url`` every ``interval`` s for ``seconds`` (or until ``until()``
    is true); each has its own keep-alive session, as a browser tab would. Latency is measured per request
    from send to the whole body read. Returns counts, error statuses and percentiles in milliseconds."""
    latencies: list[float] = []
    errors: list[str] = []
    states: dict[str, int] = {}
    lock = threading.Lock()
    start_gate = threading.Barrier(pollers + 1)
    stop = threading.Event()

    def poller(index: int) -> None:
        session = requests.Session()
        mine: list[float] = []
        start_gate.wait(timeout=60)
        time.sleep(interval * index / pollers)  # spread the first requests over one interval
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                response = session.get(url, headers=headers, timeout=timeout)
                body = response.content
                took = (time.perf_counter() - sent) * 1000.0
                if response.status_code != 200:
                    with lock:
                        errors.append(f"HTTP {response.status_code}")
                else:
                    mine.append(took)
                    state = re.search(rb'"state":\s*"(\w+)"', body)
                    if state:
                        with lock:
                            key = state.group(1).decode()
                            states[key] = states.get(key, 0) + 1
            except requests.RequestException as exc:
                with lock:
                    errors.append(type(exc).__name__)
            stop.wait(max(0.0, interval - (time.perf_counter() - sent)))
        session.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=poller, args=(i,), daemon=True) for i in range(pollers)]
    for thread in threads:
        thread.start()
    start_gate.wait(timeout=60)
    started = time.monotonic()
    next_look = started + 0.5
    while time.monotonic() - started < seconds:
        if until is not None and time.monotonic() >= next_look:
            next_look = time.monotonic() + 0.5
            if until():
                break
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout + interval + 5)
    elapsed = time.monotonic() - started
    result = {"pollers": pollers, "interval_s": interval, "seconds": round(elapsed, 2), "requests": len(latencies),
              "errors": len(errors), "error_kinds": sorted(set(errors)), "states_seen": states,
              "rate_per_s": round(len(latencies) / elapsed, 1) if elapsed else None}
    for q in (50, 90, 99):
        value = percentile(latencies, q)
        result[f"p{q}_ms"] = None if value is None else round(value, 1)
    result["max_ms"] = round(max(latencies), 1) if latencies else None
    result["mean_ms"] = round(sum(latencies) / len(latencies), 1) if latencies else None
    return result


def format_latency(result: dict) -> str:
    return (f"{result['pollers']} pollers every {result['interval_s']:g} s for {result['seconds']:g} s: "
            f"{result['requests']} requests ({result['rate_per_s']}/s), {result['errors']} errors; "
            f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, "
            f"max {result['max_ms']} ms; states seen {result['states_seen']}")


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
    parser.add_argument("--duplicates", type=int, default=0, metavar="N",
                        help="post the same upload N times concurrently (expect one id, one computation)")
    parser.add_argument("--pollers", type=int, default=0, metavar="N",
                        help="while the job runs, N concurrent clients poll its status; prints p50/p99")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="seconds between one poller's requests")
    parser.add_argument("--poll-seconds", type=float, default=30.0,
                        help="longest measuring window (it also ends when the job leaves 'running')")
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
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
