"""Load on a live API: the same upload posted many times at once, and the status latency under many pollers
(scripts/benchmark_api.py, the reliability report and tests/reliability)."""
from __future__ import annotations

import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests


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
