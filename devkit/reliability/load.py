"""Duplicate uploads at once, and the status latency under concurrent pollers (Python threads, and wrk) while a
job fine-tunes."""
from __future__ import annotations

import os
from pathlib import Path

from devkit.live_api import wait_until
from devkit.load import concurrent_posts, format_latency, poll_latency
from devkit.wrk import format_wrk, run_wrk

from .crashes import worker_crash
from .matrix import Context
from .media import Media
from .processes import product_layout


def duplicates(ctx: Context, count: int = 10, log=print) -> dict:
    stack = ctx.stack
    res = concurrent_posts(stack.api_url, ctx.media.path("clip"), ctx.media.path("mask"),
                           {"iterations": "2", "name": "duplicate"}, count, headers=stack.auth)
    job_id = res["ids"][0]
    final = stack.wait_job(job_id, timeout=180) if res["identical"] else {}
    record = stack.record(job_id) or {}
    started_lines = stack.api.log_text().count(f"job {job_id} started")
    folders = [p.name for p in (stack.data / "jobs").iterdir() if p.name == job_id]
    out = {"posts": count, "statuses": res["statuses"], "distinct_ids": len(set(res["ids"])), "id": job_id,
           "created": res["created"], "elapsed_s": round(res["elapsed_s"], 2), "final_state": final.get("state"),
           "attempts": record.get("attempts"), "worker_starts": started_lines, "job_folders": len(folders)}
    out["ok"] = (set(res["statuses"]) == {202} and out["distinct_ids"] == 1 and out["created"] == 1
                 and out["final_state"] == "done" and out["attempts"] == 1 and started_lines == 1)
    log(f"duplicates: {out}")
    return out


def latency(ctx: Context, pollers: int = 50, interval: float = 0.25, window: float = 6.0, budget: float = 20.0,
            site_interval: float | None = 1.0, rounds: int = 1, log=print) -> dict:
    """Start a fine-tuning job (``budget`` s) and measure, while it runs, ``pollers`` concurrent clients of the
    API's job status (each every ``interval`` s; ``rounds`` windows of ``window`` s, ``api`` is the round with
    the median p99), then of the site's status.json (which asks the API in turn; every ``site_interval`` s, as
    the job page does; None: skip)."""
    stack = ctx.stack
    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="latency")
    assert reply.status == 202, reply.text
    job_id = reply.json()["id"]
    wait_until(lambda: stack.job(job_id).get("stage") == "finetuning", timeout=120, every=0.1)

    def running() -> bool:
        return stack.job(job_id).get("state") == "running"

    out = {"job": job_id, "budget_s": budget}
    out["api_rounds"] = []
    for _round in range(rounds):
        result = poll_latency(f"{stack.api_url}/api/v1/jobs/{job_id}", pollers, seconds=window,
                              interval=interval, headers=stack.auth, until=lambda: not running())
        out["api_rounds"].append(result)
        log("API status latency: " + format_latency(result))
    by_p99 = sorted(out["api_rounds"], key=lambda r: r["p99_ms"] if r["p99_ms"] is not None else 1e9)
    out["api"] = by_p99[(len(by_p99) - 1) // 2]
    if site_interval:
        out["site"] = poll_latency(f"{stack.site_url}/jobs/{job_id}/status.json", pollers, seconds=window,
                                   interval=site_interval, until=lambda: not running())
        log("site status.json latency: " + format_latency(out["site"]))
    out["still_running_after"] = running()
    stack.cancel(job_id)
    out["final_state"] = stack.wait_job(job_id, timeout=60)["state"]
    return out


WRK_MODES = ((200, False), (200, True), (0, False), (0, True))
"""(pause between a connection's requests in ms, If-None-Match): paced at 50 × 5/s, then back to back."""


def wrk_status(ctx: Context, connections: int = 50, seconds: float = 10.0, budget: float = 110.0,
               log=print) -> dict:
    """wrk against ``GET /api/v1/jobs/<id>`` in every ``WRK_MODES`` mode: idle (a finished job, nothing running)
    as the baseline, then while a job fine-tunes; each run notes the load average before it."""
    stack = ctx.stack
    url = f"{stack.api_url}/api/v1/jobs/"
    idle = ctx.api_upload(ctx.video(), ctx.mask(), iterations="2", name="wrk idle baseline").json()["id"]
    stack.wait_job(idle, timeout=180)

    def measure(phase: str, job_id: str) -> list[dict]:
        rows = []
        for pause_ms, conditional in WRK_MODES:
            load = os.getloadavg()[0]
            row = run_wrk(url + job_id, connections=connections, seconds=seconds, token=stack.token,
                          conditional=conditional, pause_ms=pause_ms)
            row.update(phase=phase, load_before=round(load, 2), stage_after=stack.job(job_id).get("stage"))
            log(f"wrk, {phase}: {format_wrk(row)}; load {load:.2f} before")
            rows.append(row)
        return rows

    rows = measure("idle", idle)
    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="wrk during fine-tuning")
    assert reply.status == 202, reply.text
    busy = reply.json()["id"]
    wait_until(lambda: stack.job(busy).get("stage") == "finetuning", timeout=120, every=0.1)
    rows += measure("fine-tuning", busy)
    stack.cancel(busy)
    stack.wait_job(busy, timeout=60)
    return {"rows": rows, "seconds": seconds, "connections": connections,
            "finetuning_throughout": all(r["stage_after"] == "finetuning" for r in rows if r["phase"] != "idle")}


def separate_worker(base: Path, media: Media, pollers: int = 50, interval: float = 0.25, window: float = 6.0,
                    rounds: int = 3, budget: float = 40.0, log=print) -> dict:
    """The product's layout (what ``scripts/serve.py`` runs): ``--workers 0`` for HTTP plus
    ``python -m api_server --worker-only`` in a session of its own, which lowers its priority
    (``OSVOS_WORKER_NICE``). Measures the status latency (Python pollers, then wrk), then kills the worker with
    SIGKILL mid fine-tuning."""
    stack, worker = product_layout(base)
    try:
        stack.start()
        worker.start()
        ctx = Context(stack, media)
        out = latency(ctx, pollers, interval, window, budget=budget, rounds=rounds, log=log)
        out["wrk"] = wrk_status(ctx, connections=pollers, log=log)
        out["worker_crash"] = worker_crash(ctx, worker, log=log)
    finally:
        worker.stop()
        stack.close()
    return out
