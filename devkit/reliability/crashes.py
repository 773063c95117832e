"""kill -9 of the API, the site or the worker mid fine-tuning, and what the store and services show after."""
from __future__ import annotations

import time

import requests

from devkit.live_api import wait_until

from .client import SiteClient
from .matrix import Context
from .processes import Service, Stack


def wait_mid_finetuning(stack: Stack, job_id: str) -> None:
    """Return once the job has been fine-tuning for about two seconds (the moment the crash tests kill)."""
    wait_until(lambda: stack.job(job_id).get("stage") == "finetuning", timeout=120, every=0.1)
    time.sleep(2.0)


def has_partial_output(stack: Stack, job_id: str) -> bool:
    """Whether the store shows any output of the job: its ``outputs/`` or a render left under ``tmp/``."""
    renders = [p.name for p in (stack.data / "tmp").iterdir() if p.name.startswith(f"render-{job_id[:12]}")]
    return (stack.data / "jobs" / job_id / "outputs").exists() or bool(renders)


def worker_crash(ctx: Context, worker: Service, budget: float = 20.0, log=print) -> dict:
    """kill -9 of the worker process mid fine-tuning: the HTTP process keeps answering; once a worker runs
    again (``scripts/serve.py`` restarts it) the job is failed with a reason and new jobs run."""
    stack = ctx.stack
    transcript: list[str] = []
    checks: dict[str, bool] = {}

    def say(text: str) -> None:
        transcript.append(text)
        log("  " + text)

    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="worker crash victim")
    victim = reply.json()["id"]
    say(f"POST /api/v1/jobs (budget {budget:g} s) → {reply.status} id={victim}")
    wait_mid_finetuning(stack, victim)
    pid = worker.kill9()
    say(f"kill -9 {pid}   (the --worker-only process, mid fine-tuning)")
    health = requests.get(f"{stack.api_url}/api/v1/health", headers=stack.auth, timeout=5)
    job = stack.job(victim)
    say(f"GET /api/v1/health → {health.status_code}; GET victim → state={job['state']} stage={job['stage']}")
    checks["HTTP keeps answering while the worker is dead"] = health.status_code == 200
    queued = ctx.api_upload(ctx.video(), ctx.mask(), budget="1.5", name="posted while the worker is dead")
    queued_id = queued.json()["id"]
    say(f"POST a job while the worker is dead → {queued.status} state={queued.json().get('state')}")
    checks["jobs accepted while the worker is dead"] = queued.status == 202
    worker.start()
    say(f"worker restarted (pid {worker.pid})")
    job = stack.wait_job(victim, states=("failed", "done", "queued"), timeout=120)
    say(f"GET victim → state={job['state']} error={job['error']!r}")
    checks["victim failed with a reason, not left running"] = job["state"] == "failed" and bool(job["error"])
    checks["no partial output in the store"] = not has_partial_output(stack, victim)
    final = stack.wait_job(queued_id, timeout=180)
    say(f"job posted while the worker was dead → {final['state']}")
    checks["job posted meanwhile runs to completion"] = final["state"] == "done"
    return {"transcript": transcript, "checks": checks, "ok": all(checks.values())}


# -- crash recovery ---------------------------------------------------------------------------------------------
def crash_recovery(ctx: Context, budget: float = 20.0, log=print) -> dict:
    """kill -9 the API while a job fine-tunes and the site right after; restart both; check what is left."""
    stack = ctx.stack
    t0 = time.monotonic()
    transcript: list[str] = []
    checks: dict[str, bool] = {}

    def say(text: str) -> None:
        line = f"[{time.monotonic() - t0:6.1f} s] {text}"
        transcript.append(line)
        log(line)

    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="crash victim")
    victim = reply.json()["id"]
    say(f"POST /api/v1/jobs (budget {budget:g} s) → {reply.status} id={victim}")
    site = SiteClient(stack.site_url)
    queued = site.upload(ctx.video(), ctx.mask(), budget="1.5", name="queued behind the victim")
    queued_id = queued.location.strip("/").split("/")[-1]
    say(f"site: POST /upload/ → {queued.status} {queued.location} (queued behind the victim)")

    wait_mid_finetuning(stack, victim)
    job = stack.job(victim)
    say(f"GET job → state={job['state']} stage={job['stage']} progress={job['progress']:.0%} eta={job['eta_s']} s")
    checks["killed mid fine-tuning"] = job["state"] == "running" and job["stage"] == "finetuning"

    pid = stack.api.kill9()
    say(f"kill -9 {pid}   (the API process with its embedded worker)")
    try:
        requests.get(f"{stack.api_url}/api/v1/health", headers=stack.auth, timeout=3)
        say("API still answers?!")
        checks["API down after kill"] = False
    except requests.ConnectionError:
        say("GET /api/v1/health → connection refused")
        checks["API down after kill"] = True
    rec = stack.record(victim) or {}
    tmp = sorted(p.name for p in (stack.data / "tmp").iterdir())
    say(f"store while down: job.json state={rec.get('state')} stage={rec.get('stage')}; tmp/ = {tmp}")

    down = site.upload(ctx.video(), ctx.mask(), budget="2.5", name="sent while the API is down")
    say(f"site: POST /upload/ while the API is down → {down.status} {down.location}")
    checks["site keeps an upload while the API is down"] = down.status == 302 and "/submissions/" in down.location
    spid = stack.site.kill9()
    say(f"kill -9 {spid}   (the site)")

    stack.api.start()
    up = stack.wait_api(180, model_ready=False)
    say(f"API restarted (pid {stack.api.pid}); answering after {up:.1f} s")
    stack.site.start()
    up = stack.wait_site(120)
    say(f"site restarted (pid {stack.site.pid}); answering after {up:.1f} s")

    for line in stack.api.log_text().splitlines()[-400:]:
        if victim in line and "marked failed" in line:
            say("API log: " + line.split(" WARNING ", 1)[-1].strip())
    job = stack.job(victim)
    say(f"GET victim → state={job['state']} error={job['error']!r}")
    checks["victim not left running"] = job["state"] != "running"
    checks["victim failed with a reason (or re-run)"] = (job["state"] == "failed" and bool(job["error"])) or \
        job["state"] in ("queued", "done")
    folder = stack.data / "jobs" / victim
    leftovers = sorted(p.name for p in (stack.data / "tmp").iterdir())
    say(f"store: jobs/{victim[:12]}…/ = {sorted(p.name for p in folder.iterdir() if not p.name.startswith('.'))}; "
        f"tmp/ = {leftovers}")
    checks["no partial output in the store"] = not has_partial_output(stack, victim)

    final = stack.wait_job(queued_id, timeout=180)
    say(f"job queued before the crash ({queued_id[:12]}…) → {final['state']} after the restart")
    checks["queued job re-run to completion"] = final["state"] == "done"

    again = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="crash victim")
    say(f"POST the victim again → {again.status} id={again.json().get('id')} state={again.json().get('state')}")
    checks["victim can be posted again"] = again.status == 202 and again.json().get("id") == victim and \
        again.json().get("state") in ("queued", "running")
    stack.cancel(victim)

    site2 = SiteClient(stack.site_url)
    page = site2.get(down.location)
    say(f"site after restart: GET {down.location} → {page.status}, "
        f"{'shows the saved upload' if 'sent while the API is down' in page.text else 'upload missing'}")
    checks["submission survives kill -9 of the site"] = page.status == 200 and "sent while the API is down" in page.text
    pk = down.location.strip("/").split("/")[-1]
    resent = site2.post(f"/submissions/{pk}/resubmit", [])
    say(f"site: resubmit → {resent.status} {resent.location}")
    checks["saved upload resubmitted"] = resent.status == 302 and resent.location.startswith("/jobs/")
    if resent.location.startswith("/jobs/"):
        resent_id = resent.location.strip("/").split("/")[-1]
        say(f"GET {resent_id[:12]}… → {stack.job(resent_id).get('state')}")
        stack.cancel(resent_id)
    queued_page = site2.get(f"/jobs/{queued_id}/")
    say(f"site: GET /jobs/{queued_id[:12]}…/ → {queued_page.status}")
    checks["job page of the accepted submission still there"] = queued_page.status == 200
    health = stack.health()
    say(f"health: API {health['api']}; site {health['site']}")
    checks["services healthy after restart"] = health["api_ok"] and health["site_ok"]
    return {"transcript": transcript, "checks": checks, "victim": victim,
            "ok": all(checks.values())}
