"""Several workers on Redis, end to end: a real ``redis-server``, the API serving HTTP only and N ``--worker-only``
processes (devkit's fake model: the processes, queue and store are the product's), one shared store.

Three scenarios, each a transcript and named checks: jobs spread over the workers and run exactly once; kill -9
of the worker running a job; Redis killed while jobs run and wait (it keeps no data, so its queue is gone).
"""
from __future__ import annotations

import json
import re
import secrets
import sys
import time
from pathlib import Path

import requests

from api_server import children
from api_server.contract import TERMINAL
from devkit.clips import CLIP_FPS, first_mask, synthetic_frames
from devkit.live_api import free_port, post_job, wait_until
from osvos.masks import mask_png_bytes
from osvos.video import write_video

from .processes import Service, clean_env
from .redis_server import RedisServer

SEGMENT_DELAY_S = 0.25
"""Seconds per segmented frame in the fake model: a job of n frames runs for about n / 4 seconds."""


class ScaleOut:
    """Redis, the API (``--workers 0``) and ``workers`` worker processes on one store, all on loopback."""

    def __init__(self, base: Path, workers: int = 2):
        self.base = Path(base)
        self.redis = RedisServer(self.base / "redis")
        self.data = self.base / "data"
        self.clips = self.base / "clips"
        self.clips.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(16)
        self.auth = {"Authorization": f"Bearer {token}"}
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {**clean_env(), "PYTHONUNBUFFERED": "1", "OSVOS_DATA_DIR": str(self.data), "OSVOS_API_TOKEN": token,
               "OSVOS_REDIS_URL": self.redis.url, "OSVOS_STALE_AFTER": "10", "OSVOS_WORKER_NICE": "0"}
        fake = [sys.executable, "-m", "devkit.fake_api", "--segment-delay", f"{SEGMENT_DELAY_S:g}"]
        self.api = Service("api", [*fake, "--port", self.url.rsplit(":", 1)[1], "--workers", "0"], env,
                           self.base / "api.log")
        self.workers = [Service(f"worker-{i + 1}", [*fake, "--worker-only"], env, self.base / f"worker-{i + 1}.log")
                        for i in range(workers)]

    # -- lifecycle
    def start(self) -> "ScaleOut":
        self.redis.start()
        self.api.start()
        for worker in self.workers:
            worker.start()
        self.wait_live(len(self.workers))
        return self

    def wait_live(self, count: int, timeout: float = 120.0) -> None:
        def live():
            if not self.api.running():
                raise RuntimeError(f"the API exited:\n{self.api.log_text()[-3000:]}")
            try:
                return self.health()["workers"]["live"] == count
            except (requests.RequestException, ValueError, KeyError):
                return False
        wait_until(live, timeout=timeout, every=0.2)

    def close(self) -> None:
        children.stop([(s.name, s.proc) for s in (self.api, *self.workers, self.redis) if s.running()])

    # -- clients
    def clip(self, frames: int) -> dict:
        """A synthetic clip of ``frames`` frames (its length makes its content, and so its job, distinct)."""
        video, mask = self.clips / f"clip-{frames}.mp4", self.clips / "mask.png"
        if not video.exists():
            write_video(synthetic_frames(frames), video, CLIP_FPS)
            mask.write_bytes(mask_png_bytes(first_mask()))
        return {"video": video, "mask": mask}

    def post(self, frames: int) -> requests.Response:
        return post_job(self.url, self.clip(frames), headers=self.auth, iterations=1, name=f"{frames} frames")

    def job(self, job_id: str) -> dict:
        return requests.get(f"{self.url}/api/v1/jobs/{job_id}", headers=self.auth, timeout=10).json()

    def health(self) -> dict:
        return requests.get(f"{self.url}/api/v1/health", headers=self.auth, timeout=10).json()

    def wait_done(self, ids: list[str], timeout: float = 120.0) -> dict[str, dict]:
        wait_until(lambda: all(self.job(i)["state"] in TERMINAL for i in ids), timeout=timeout, every=0.25)
        return {i: self.job(i) for i in ids}

    # -- what the store and the logs say
    def record(self, job_id: str) -> dict:
        return json.loads((self.data / "jobs" / job_id / "job.json").read_text())

    def worker_of(self, job_id: str) -> Service | None:
        """The worker process that the job's record names (None: not one of ours)."""
        pid = str(self.record(job_id).get("worker") or "").rpartition(":")[2]
        return next((w for w in self.workers if str(w.pid) == pid), None)

    def ran_by(self, job_id: str) -> str:
        worker = self.worker_of(job_id)
        return worker.name if worker else f"an unknown process ({self.record(job_id).get('worker')})"

    def starts(self, job_id: str) -> int:
        """How many times any worker logged that it started the job."""
        return sum(w.log_text().count(f"job {job_id} started") for w in self.workers)


def _sayer(log):
    transcript: list[str] = []
    t0 = time.monotonic()

    def say(text: str) -> None:
        line = f"[{time.monotonic() - t0:5.1f} s] {text}"
        transcript.append(line)
        log(line)
    return transcript, say


def _workers_line(health: dict) -> str:
    return ", ".join(f"{w['id'].rpartition(':')[2]} {w['state']} (ran {w['jobs_run']})"
                     for w in health["workers"]["processes"])


def spread(scale: ScaleOut, lengths=(8, 9, 10, 11), log=print) -> dict:
    """Post jobs at once: each runs exactly once, and every worker runs at least one."""
    transcript, say = _sayer(log)
    ids = []
    for frames in lengths:
        reply = scale.post(frames)
        ids.append(reply.json().get("id"))
        say(f"POST {frames}-frame clip → {reply.status_code} {ids[-1]}")
    final = scale.wait_done(ids)
    per_worker = {w.name: [] for w in scale.workers}
    for job_id in ids:
        who = scale.ran_by(job_id)
        per_worker.setdefault(who, []).append(job_id)
        say(f"{job_id[:12]}… → {final[job_id]['state']}, ran by {who} (pid "
            f"{scale.record(job_id)['worker'].rpartition(':')[2]}), attempts {scale.record(job_id)['attempts']}, "
            f"'started' logged {scale.starts(job_id)}×")
    say("jobs per worker: " + ", ".join(f"{name} {len(jobs)}" for name, jobs in per_worker.items()))
    say(f"health: queue {scale.health()['queue']['pending']} pending; workers: {_workers_line(scale.health())}")
    checks = {
        "every post accepted with its own id": len(set(ids)) == len(lengths) and None not in ids,
        "every job done": all(final[i]["state"] == "done" for i in ids),
        "each ran exactly once": all(scale.record(i)["attempts"] == 1 and scale.starts(i) == 1 for i in ids),
        "every worker ran at least one": all(per_worker[w.name] for w in scale.workers),
    }
    return {"transcript": transcript, "checks": checks, "per_worker": per_worker, "ok": all(checks.values())}


def worker_kill(scale: ScaleOut, victim_frames: int = 40, others=(12, 13), log=print) -> dict:
    """kill -9 of the worker running a job while another job waits in the queue; the other worker goes on."""
    transcript, say = _sayer(log)
    victim = scale.post(victim_frames).json()["id"]
    wait_until(lambda: scale.job(victim)["state"] == "running", timeout=60, every=0.1)
    rest = [scale.post(frames).json()["id"] for frames in others]
    target = scale.worker_of(victim)
    survivor = next(w for w in scale.workers if w is not target)
    wait_until(lambda: scale.job(rest[0])["state"] == "running", timeout=60, every=0.1)
    say(f"victim {victim[:12]}… running on {target.name}; {rest[0][:12]}… running on {scale.ran_by(rest[0])}; "
        f"{rest[1][:12]}… {scale.job(rest[1])['state']}, queue depth {scale.health()['queue']['pending']}")
    pid = target.kill9()
    say(f"kill -9 {pid} ({target.name}, mid-job)")
    final = scale.wait_done([victim, *rest], timeout=120)
    say(f"victim → {final[victim]['state']}: {final[victim]['error']!r}")
    for job_id in rest:
        say(f"{job_id[:12]}… → {final[job_id]['state']}, ran by {scale.ran_by(job_id)}")
    renders = [p.name for p in (scale.data / "tmp").iterdir() if p.name.startswith(f"render-{victim[:12]}")]
    health = scale.health()
    say(f"health: queue {health['queue']['pending']} pending; workers: {_workers_line(health)}")
    states = {w["id"].rpartition(":")[2]: w["state"] for w in health["workers"]["processes"]}
    checks = {
        "victim failed with a reason, not left running": final[victim]["state"] == "failed"
        and "stopped" in (final[victim]["error"] or ""),
        "no partial output of the victim": not renders and not (scale.data / "jobs" / victim / "outputs").exists(),
        "the other worker ran the running and the waiting job": all(
            final[i]["state"] == "done" and scale.ran_by(i) == survivor.name for i in rest),
        "nothing left in the queue": health["queue"]["pending"] == 0,
        "health shows the killed worker stopped": states.get(str(pid)) == "stopped",
    }
    target.start()
    scale.wait_live(len(scale.workers))
    say(f"{target.name} started again (pid {target.pid}); workers: {_workers_line(scale.health())}")
    return {"transcript": transcript, "checks": checks, "ok": all(checks.values())}


def redis_outage(scale: ScaleOut, running=(24, 25), waiting: int = 26, during: int = 14, after: int = 15,
                 log=print) -> dict:
    """Redis killed (no persistence: its queue is lost) while jobs run and one waits; posted meanwhile → 503;
    Redis started again: everything stored runs, once."""
    transcript, say = _sayer(log)
    ids = [scale.post(frames).json()["id"] for frames in running]
    wait_until(lambda: all(scale.job(i)["state"] == "running" for i in ids), timeout=60, every=0.1)
    queued = scale.post(waiting).json()["id"]
    say(f"two jobs running, {queued[:12]}… waiting; queue depth {scale.health()['queue']['pending']}")
    scale.redis.kill9()
    say("kill -9 redis-server (it saves nothing: its queue is gone)")
    sent = time.monotonic()
    refused = scale.post(during)
    took = time.monotonic() - sent
    body = refused.json()
    say(f"POST during the outage → {refused.status_code} {body.get('error')} in {took:.1f} s: {body.get('detail')}")
    kept = re.search(r"job ([0-9a-f]{32})", body.get("detail") or "")
    kept_id = kept.group(1) if kept else None
    status = requests.get(f"{scale.url}/api/v1/jobs/{ids[0]}", headers=scale.auth, timeout=10)
    health = scale.health()
    say(f"GET a running job → {status.status_code} {status.json().get('state')}; health → queue reachable "
        f"{health['queue']['reachable']}, status {health['status']}")
    wait_until(lambda: scale.job(ids[0])["state"] in TERMINAL, timeout=60, every=0.2)
    finished = scale.job(ids[0])["state"]
    say(f"{ids[0][:12]}… → {finished} while Redis is down")
    scale.redis.start()
    say(f"redis-server started again on port {scale.redis.port}")
    accepted = scale.post(after)
    say(f"POST after it is back → {accepted.status_code} {accepted.json().get('state')}")
    every = [*ids, queued] + ([kept_id] if kept_id else []) + [accepted.json().get("id")]
    final = scale.wait_done(every, timeout=120)
    for job_id in every:
        say(f"{job_id[:12]}… → {final[job_id]['state']}, ran by {scale.ran_by(job_id)}, attempts "
            f"{scale.record(job_id)['attempts']}")
    checks = {
        "a post while Redis is down is a 503 queue_unavailable, not a hang": refused.status_code == 503
        and body.get("error") == "queue_unavailable" and took < 30,
        "the refused upload is kept in the store": kept_id is not None and scale.record(kept_id)["state"] in
        ("queued", "running", "done"),
        "status reads answer during the outage": status.status_code == 200,
        "health says the queue is unreachable": health["queue"]["reachable"] is False,
        "a running job finishes while Redis is down": finished == "done",
        "a post after Redis is back is accepted": accepted.status_code == 202,
        "running, waiting, refused and later jobs all done": all(final[i]["state"] == "done" for i in every),
        "each ran exactly once": all(scale.record(i)["attempts"] == 1 and scale.starts(i) == 1 for i in every),
    }
    return {"transcript": transcript, "checks": checks, "ok": all(checks.values())}


def scale_out(base: Path, log=print) -> dict:
    """The three scenarios, in order, on one fresh layout of Redis, the API and two workers."""
    layout = ScaleOut(base)
    try:
        layout.start()
        return {"spread": spread(layout, log=log), "worker_kill": worker_kill(layout, log=log),
                "redis_outage": redis_outage(layout, log=log)}
    finally:
        layout.close()
