"""docs/RELIABILITY.md from the checks' results."""
from __future__ import annotations

from pathlib import Path

from .matrix import Result
from .media import CLIP_FRAMES, HEIGHT, MAX_FRAMES, MAX_UPLOAD_MB, WIDTH


def _verdict(rounds: list[dict]) -> str:
    p99s = [r["p99_ms"] if r["p99_ms"] is not None else 1e9 for r in rounds]
    if all(p < 100 for p in p99s):
        return "meets the 100 ms target"
    if all(p >= 100 for p in p99s):
        return "misses the 100 ms target"
    return f"meets the 100 ms target in {sum(p < 100 for p in p99s)} of {len(p99s)} rounds"


def _wrk_verdict(row: dict) -> str:
    met = row["p99_ms"] < 100 and row["rate_per_s"] >= 200
    return "meets" if met else "misses"


def _wrk_section(wrk: dict) -> list[str]:
    lines = ["## Status latency with wrk", "",
             f"`wrk` (C, epoll; `devkit/wrk.py`) with {wrk['connections']} connections for {wrk['seconds']:g} s a "
             "run against the API's `GET /api/v1/jobs/<id>`, product layout, bearer token on every request. "
             "*Paced*: each connection waits 200 ms between its requests (Lua `delay()`; 50 pollers at 5/s, "
             "≈250 requests/s offered), as status pages do; wrk times each request from its send, so the pause "
             "is not in the figures. *Back to back*: each connection sends again as soon as it has its answer: "
             "the server's saturation, where latency is mostly the queue of 50 connections. With If-None-Match, "
             "each wrk thread sends the ETag of its last answer, as a page that keeps it does (304 with no body "
             "until the job changes). *Idle*: a finished job, nothing running. *Fine-tuning*: a job fine-tuning in "
             "the `--worker-only` process for the whole run. Load average (1 min) before each run: the machine "
             "is shared, so it says what else ran. Target: p99 < 100 ms at ≥ 200 requests/s during fine-tuning.",
             "", "| phase | mode | If-None-Match | requests | req/s | p50 | p90 | p99 | max | statuses | "
                 "load before |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in wrk["rows"]:
        mode = f"paced, every {row['pause_ms']} ms" if row["pause_ms"] else "back to back"
        lines.append(f"| {row['phase']} | {mode} | {'on' if row['conditional'] else 'off'} | {row['requests']} | "
                     f"{row['rate_per_s']} | {row['p50_ms']:.1f} ms | {row['p90_ms']:.1f} ms | "
                     f"{row['p99_ms']:.1f} ms | {row['max_ms']:.1f} ms | "
                     f"{', '.join(f'{k}: {v}' for k, v in sorted(row['statuses'].items()))} | "
                     f"{row['load_before']} |")
    lines += ["", f"The job was fine-tuning at the end of every fine-tuning run: {wrk['finetuning_throughout']}. "
                  "A status request reads `job.json` and hashes it for the ETag; it never touches the model and "
                  "writes nothing (the last-read mark moves at most every 30 s). Reproduce: "
                  "`python scripts/reliability_report.py` (this whole page), or `devkit.wrk.run_wrk` against any "
                  "running API.", ""]
    return lines


SCALE_OUT = (("spread", "4 jobs at once"), ("worker_kill", "kill -9 of a worker mid-job"),
             ("redis_outage", "Redis killed mid-run"))


def _scale_out_section(scale: dict) -> list[str]:
    lines = ["## Several workers on Redis", "",
             "A real `redis-server` (no persistence) on a free loopback port, the API serving HTTP only "
             "(`--workers 0`) and two `--worker-only` processes, all on `OSVOS_REDIS_URL` and one "
             "`OSVOS_DATA_DIR`, with devkit's fake model (`python -m devkit.fake_api`: the product's command, "
             "processes, queue and store; a job of n frames takes about n/4 s). The same scenarios run in "
             "`tests/reliability/test_redis_scale_out.py`.", ""]
    for key, label in SCALE_OUT:
        part = scale[key]
        lines += [f"### {label[0].upper()}{label[1:]}", "", "```", *part["transcript"], "```", "",
                  "| check | ok |", "|---|---|"]
        lines += [f"| {_cell(name)} | {'✅' if ok else '❌'} |" for name, ok in part["checks"].items()]
        lines.append("")
    lines += ["Policy: a job whose worker died is failed with its reason, at most once, not re-run (a job that "
              "killed its worker could kill the next one); posting it again queues it again. The store, not "
              "Redis, is the record of what is queued: jobs Redis lost (it keeps nothing here) or never got "
              "(the 503) are queued again by the workers as soon as Redis answers, and a job queued twice runs "
              "once, since only one worker can claim it.", ""]
    return lines


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("\x00", "\\0")


def write_markdown(path: Path, data: dict) -> None:
    results: list[Result] = data["matrix"]
    lines = ["# Reliability and security", "",
             "Generated by `python scripts/reliability_report.py` (the same checks run in `tests/reliability`, "
             "marker `reliability`). Do not edit by hand.", "",
             f"Run: {data['when']} on {data['machine']}; commit `{data['commit']}`; "
             f"{data['duration_s']:.0f} s in all.", "",
             "Set-up: the API (`python -m api_server`, real OSVOS model at `OSVOS_WORK_SIZE=64`, bearer token, "
             f"`OSVOS_MAX_FRAMES={MAX_FRAMES}`, `OSVOS_MAX_UPLOAD_MB={MAX_UPLOAD_MB:g}`) and the site "
             "(`python scripts/serve.py --no-api`, DEBUG off, CSRF on, video/mask caps "
             f"{MAX_UPLOAD_MB:g} MB) as separate processes on free 127.0.0.1 ports, fresh store; inputs are "
             f"synthetic {WIDTH}x{HEIGHT} clips of {CLIP_FRAMES} frames written with `osvos.video.write_video`.", ""]
    passed = sum(r.ok for r in results)
    refused = sum(1 for r in results if r.case.expect >= 400)
    lines += ["## Summary", "",
              "| check | result |", "|---|---|",
              f"| bad-input matrix | {passed}/{len(results)} cases as expected ({refused} refusals with a 4xx, "
              f"{len(results) - refused} accepted safely) |",
              f"| services after the matrix | {'healthy' if data['after']['ok'] else 'NOT healthy'}: "
              f"API {_cell(data['after']['api'])}; site {_cell(data['after']['site'])}; a good upload → "
              f"{data['after']['good_upload']}; tracebacks in logs: {len(data['after']['tracebacks'])} |"]
    dup = data["duplicates"]
    lines.append(f"| 10 concurrent identical posts | {'ok' if dup['ok'] else 'FAILED'}: {dup['distinct_ids']} id, "
                 f"{dup['created']} computation (attempts {dup['attempts']}, worker starts {dup['worker_starts']}), "
                 f"statuses {sorted(set(dup['statuses']))} |")
    emb, sep = data["latency"], data["latency"]["separate"]
    for label, run in (("product layout (worker process at nice 10)", sep), ("embedded worker", emb)):
        rounds = run["api_rounds"]
        lines.append(f"| 50 pollers, API job status, {label} | p50 {run['api']['p50_ms']} ms, p99 "
                     f"{run['api']['p99_ms']} ms (median of {len(rounds)} rounds; p99 per round "
                     f"{', '.join(str(r['p99_ms']) for r in rounds)} ms: {_verdict(rounds)}), errors "
                     f"{sum(r['errors'] for r in rounds)} |")
        lines.append(f"| 50 pollers, site status.json, {label} | p50 {run['site']['p50_ms']} ms, p99 "
                     f"{run['site']['p99_ms']} ms, {run['site']['requests']} requests, "
                     f"{run['site']['errors']} errors |")
    for row in sep["wrk"]["rows"]:
        if row["pause_ms"] and row["phase"] == "fine-tuning":
            lines.append(f"| wrk, 50 connections × every {row['pause_ms']} ms, during fine-tuning, If-None-Match "
                         f"{'on' if row['conditional'] else 'off'} | p50 {row['p50_ms']:.1f} ms, p99 "
                         f"{row['p99_ms']:.1f} ms at {row['rate_per_s']}/s: {_wrk_verdict(row)} |")
    crash, worker_crash = data["crash"], sep["worker_crash"]
    lines.append(f"| kill -9 of API (mid fine-tuning) and site | {'ok' if crash['ok'] else 'FAILED'}: "
                 f"{sum(crash['checks'].values())}/{len(crash['checks'])} checks |")
    lines.append(f"| kill -9 of the worker process (product layout, mid fine-tuning) | "
                 f"{'ok' if worker_crash['ok'] else 'FAILED'}: {sum(worker_crash['checks'].values())}/"
                 f"{len(worker_crash['checks'])} checks |")
    for key, label in SCALE_OUT:
        part = data["scale_out"][key]
        lines.append(f"| Redis, 2 worker processes: {label} | {'ok' if part['ok'] else 'FAILED'}: "
                     f"{sum(part['checks'].values())}/{len(part['checks'])} checks |")
    dep = data["deploy"]
    lines.append(f"| `manage.py check --deploy` (production env) | "
                 f"{'clean' if dep['ok'] else 'NOT clean'} (exit {dep['production']['returncode']}) |")
    tok = data["tokens"]
    lines.append(f"| API token | no token → {tok['no token']}, wrong → {tok['wrong token']}, right → "
                 f"{tok['right token']}; site → API: {tok['site → API with the token']} |")
    wt = data["wrong_token"]
    lines.append(f"| site configured with a wrong token | {'ok' if wt['ok'] else 'FAILED'}: upload kept "
                 f"({wt['upload']} → {wt['location']}), health.json api_ok {wt['health api_ok']} |")
    lines += ["", "## Bad-input matrix", "",
              "Each case is one request to the live service. *Expected* is the status the case requires; the "
              "message must contain the case's key words, and no answer may be a 5xx or show a traceback. "
              "The API answers JSON `{\"error\", \"detail\"}` (the message column shows `detail`); the site "
              "answers its HTML page, whose form errors / flash message / heading are shown. Cases marked "
              "*accepted* are inputs that are valid in substance (a 16-bit or CMYK drawing, odd file names): "
              "they must be taken safely — the name is only a display name, never a path, the mask decoded "
              "exactly — and those jobs are cancelled at once.", "",
              "| # | target | case | expected | got | ok | message |", "|---|---|---|---|---|---|---|"]
    for index, result in enumerate(results, 1):
        mark = "✅" if result.ok else "❌ " + _cell("; ".join(result.problems))
        message = result.message if len(result.message) <= 180 else result.message[:177] + "…"
        lines.append(f"| {index} | {result.case.target} | {_cell(result.case.title)} | {result.case.expect} | "
                     f"{result.got} | {mark} | {_cell(message)} |")
    lines += ["", f"After the matrix: API {data['after']['api']}; site {data['after']['site']}; a valid upload "
                  f"→ {data['after']['good_upload']}; tracebacks in either log: "
                  f"{data['after']['tracebacks'] or 'none'}.", ""]
    lines += ["## Duplicates", "",
              f"The same upload (video, mask, `iterations=2`) posted {dup['posts']} times at once (threads "
              "released by a barrier) by `devkit.load.concurrent_posts`:", "",
              f"- statuses: {dup['statuses']}",
              f"- distinct job ids: {dup['distinct_ids']} (`{dup['id']}`); answers that created the job: "
              f"{dup['created']}, the other {dup['posts'] - dup['created']} say `deduplicated: true`",
              f"- the job ran once: `attempts` = {dup['attempts']}, the worker logged `job … started` "
              f"{dup['worker_starts']} time(s); job folders with this id: {dup['job_folders']}; final state "
              f"`{dup['final_state']}`",
              f"- wall time of the ten posts: {dup['elapsed_s']} s", ""]
    lines += ["## Status latency under 50 concurrent pollers", "",
              f"A job fine-tunes (`budget={emb['budget_s']:g}` s: the CPU is busy with the model) "
              "while 50 clients, each with its own keep-alive session, poll its status "
              "(`devkit.load.poll_latency`): the API every "
              f"{emb['api']['interval_s']:g} s each (four times what a job page does), the site every "
              f"{emb['site']['interval_s']:g} s each (what `job.js` does). Latency is send → whole body read, "
              "measured in the client process on the same 2-core machine. Two layouts: the product's "
              "(`scripts/serve.py`: the API serves HTTP only, the model runs in a `--worker-only` process that "
              "leads its own session and lowers its threads and its session's autogroup by "
              "`OSVOS_WORKER_NICE`=10), and `python -m api_server` alone (worker thread inside the API "
              "process).", "",
              "| endpoint | requests | rate | errors | p50 | p90 | p99 | max | states seen |",
              "|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for label, run in (("product layout", sep), ("embedded worker", emb)):
        rows += [(f"API `GET /api/v1/jobs/<id>`, {label}, round {i}", r) for i, r in enumerate(run["api_rounds"], 1)]
        rows.append((f"site `GET /jobs/<id>/status.json` (asks the API in turn), {label}", run["site"]))
    for label, res in rows:
        lines.append(f"| {label} | {res['requests']} | {res['rate_per_s']}/s (every {res['interval_s']:g} s) | "
                     f"{res['errors']} | {res['p50_ms']} ms | {res['p90_ms']} ms | {res['p99_ms']} ms | "
                     f"{res['max_ms']} ms | {res['states_seen']} |")
    lines += ["", f"p99 of the API in the product layout: **{_verdict(sep['api_rounds'])}**; with the worker "
                  f"embedded in the API process: **{_verdict(emb['api_rounds'])}**. The job was still running "
                  f"at the end of each measurement: {sep['still_running_after']} / {emb['still_running_after']}; "
                  "it was then cancelled. Status requests never touch the model: they read `job.json` (replaced "
                  "atomically by the worker), and write the last-read mark at most every 30 s. With the kernel's "
                  "autogroup scheduling (on here) CPU time is shared between *sessions* first, so thread "
                  "niceness alone did not rank the worker, in a session of its own, below the HTTP process (one "
                  "experiment on 2026-11-26, this layout, 50 pollers as threads and as 5 processes × 10: p99 "
                  "95–181 ms with thread niceness 10 or 19 only, 9–19 ms once the worker also lowered its "
                  "session's autogroup). Embedded, the model shares the API's process, session and GIL, and the "
                  "tail is the model's.",
              "",
              "Reproduce against any running API: `python scripts/benchmark_api.py VIDEO MASK --url URL "
              "--budget 20 --pollers 50` (and `--duplicates 10`).", ""]
    lines += _wrk_section(sep["wrk"])
    lines += ["## Crash recovery (kill -9)", "",
              "The API process (HTTP server and embedded worker) is killed with SIGKILL while a job is "
              "fine-tuning; a site upload is made while it is down; then the site is killed with SIGKILL too; "
              "both are restarted on the same ports and store.", "", "```"] + crash["transcript"] + ["```", "",
              "| check | ok |", "|---|---|"]
    lines += [f"| {_cell(name)} | {'✅' if ok else '❌'} |" for name, ok in crash["checks"].items()]
    lines += ["", "### kill -9 of the worker process alone (product layout)", "",
              "`scripts/serve.py` runs the model in a `--worker-only` child and restarts it when it dies; here "
              "the report kills it with SIGKILL mid fine-tuning and starts it again itself.", "", "```"] + \
        worker_crash["transcript"] + ["```", "", "| check | ok |", "|---|---|"]
    lines += [f"| {_cell(name)} | {'✅' if ok else '❌'} |" for name, ok in worker_crash["checks"].items()]
    lines += ["", "Policy: a job whose worker process died is marked `failed` with the reason (\"the worker running "
                  "this job stopped (process ended) before it finished; post the job again to retry\") as soon "
                  "as a worker starts (or by the maintenance loop of a live one); its half-written render under "
                  "`tmp/` is removed, and `outputs/` only ever appears by one rename of a complete render. Jobs "
                  "still queued are re-run. Posting the failed job again queues it again (same id).", ""]
    lines += _scale_out_section(data["scale_out"])
    lines += ["## Hardening", "",
              "`python webapp/manage.py check --deploy --fail-level WARNING` with production settings (secret "
              "from `DJANGO_SECRET_KEY`, `DJANGO_DEBUG=0`, HTTPS on by default: secure cookies, HSTS, SSL "
              "redirect):", "", "```", dep["production"]["output"], "```", "",
              f"Control with `DJANGO_DEBUG=1`: exit {dep['control: DEBUG on']['returncode']}, flags "
              f"{', '.join(dep['control: DEBUG on']['issues']) or 'nothing'} (the check does bite).", "",
              f"Bearer token between site and API: a request with no token → {tok['no token']}, a wrong one → "
              f"{tok['wrong token']}, the right one → {tok['right token']}; the site, configured with the same "
              f"`OSVOS_API_TOKEN`, reaches the API: {tok['site → API with the token']}. A second site started "
              "with a wrong token (a misconfiguration) is refused by the API; it keeps the user's upload for a "
              f"resubmit and says so: upload → {wt['upload']} {wt['location']}, page {wt['page']}: "
              f"\"{_cell(wt['message'])}\"; its health.json reports api_ok {wt['health api_ok']} "
              f"(\"{_cell(wt['health detail'])}\").", "",
              "Upload caps: the API's waitress refuses a body *declared* larger than its read limit "
              "(`2 × OSVOS_MAX_UPLOAD_MB + 16 MB`) from the headers alone, before reading it (case "
              "\"body declared as 50 GB\": answered in "
              f"{next((round(r.elapsed_ms) for r in results if r.case.key == 'api-declared-50GB'), '?')}"
              " ms, without the body being sent). A body between the cap and that limit is read, then "
              "refused by Flask's `MAX_CONTENT_LENGTH` with a JSON 413. The site's waitress (started by "
              "`scripts/serve.py`) has a 2 GB read limit, so only larger declared bodies are refused unread; "
              "below it the site's form refuses an over-cap video after the upload with a 400 and its message.",
              ""]
    lines += ["## Known limits", ""] + [f"- {note}" for note in data["notes"]] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


NOTES = [
    "Refusals of a body declared too large come from waitress itself, as `text/plain` (\"Request Entity Too "
    "Large … exceeds max_body of N\"), not the API's JSON error shape: the request never reaches Flask.",
    "The site's waitress (in `scripts/serve.py`) reads up to 2 GB before Django sees a request; the video cap "
    "(`OSVOS_WEB_MAX_VIDEO_MB`, default 200) is enforced by the form after the upload. Lowering serve.py's "
    "`max_request_body_size` to the site's caps would refuse larger bodies unread.",
    "16-bit and CMYK masks are accepted (they are valid drawings and are decoded exactly); the matrix checks "
    "that rather than expecting a 4xx. File names with `../`, NUL or non-ASCII are accepted too (the API also "
    "takes a 5000-character one and cuts the display name to 200): they are display names only, never paths "
    "(checked: no file of that name appears anywhere). The site refuses a 5000-character file name with a 400 "
    "page (Django's multipart parser limits a part's headers to 1 KB).",
    "A job whose worker died is failed with a reason, not re-run automatically (re-running a job that killed "
    "its worker could kill the next one); posting it again re-queues it under the same id.",
    "Latency is measured on a 2-core machine that is also fine-tuning the job, with the client on the same "
    "machine: the Python pollers' own scheduling is part of their figures, and wrk's much less so; anything "
    "else running on the machine (see the load averages) is part of both. Where the kernel has no autogroup "
    "scheduling, or forbids changing it, the worker's thread niceness is what remains.",
]
