"""What scaling out relies on: cheap status polls (ETag, 304, no write per read), a clear 503 when the queue is
unreachable with the upload kept, and the health endpoint's queue depth and per-worker state."""
from __future__ import annotations

import requests

from api_server.job_queue import JobQueue
from api_server.settings import Settings
from devkit.fake_model import FakeModel
from devkit.live_api import post_job, wait_for, wait_until
from devkit.wrk import run_wrk


def test_status_has_an_etag_and_answers_304_while_unchanged(make_server, clip):
    server = make_server()
    job_id = post_job(server.url, clip, iterations=1).json()["id"]
    wait_for(server.url, job_id)
    url = f"{server.url}/api/v1/jobs/{job_id}"
    first = requests.get(url, timeout=5)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.json()["state"] == "done" and tag.startswith('"')
    assert first.headers["Cache-Control"] == "no-cache"
    record = server.store.job_dir(job_id) / "job.json"
    before = record.stat()
    for _ in range(5):
        again = requests.get(url, headers={"If-None-Match": tag}, timeout=5)
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    assert record.stat().st_mtime_ns == before.st_mtime_ns and record.stat().st_ino == before.st_ino, \
        "a status read writes nothing"
    other = requests.get(url, headers={"If-None-Match": '"something-else"'}, timeout=5)
    assert other.status_code == 200 and other.json()["id"] == job_id


def test_the_etag_changes_with_the_job(make_server, clip):
    server = make_server(model=FakeModel(segment_delay=1.0))  # a job that runs for 12 s unless cancelled
    job_id = post_job(server.url, clip, iterations=1).json()["id"]
    url = f"{server.url}/api/v1/jobs/{job_id}"
    wait_until(lambda: requests.get(url, timeout=5).json()["state"] == "running")
    tag = requests.get(url, timeout=5).headers["ETag"]
    requests.post(f"{url}/cancel", timeout=5)
    wait_for(server.url, job_id)
    changed = requests.get(url, headers={"If-None-Match": tag}, timeout=5)
    assert changed.status_code == 200 and changed.json()["state"] == "cancelled" and changed.headers["ETag"] != tag


def test_an_unreachable_queue_is_a_503_and_the_upload_is_kept(make_server, clip, tmp_path):
    server = make_server(workers=0)
    server.app.extensions["osvos"].queue = JobQueue(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    reply = post_job(server.url, clip, iterations=1)
    body = reply.json()
    assert reply.status_code == 503 and body["error"] == "queue_unavailable", body
    assert "queue" in body["detail"] and reply.headers["Retry-After"] == "5"
    stored = [record for record in server.store.records()]
    assert len(stored) == 1 and stored[0]["state"] == "queued" and stored[0]["id"] in body["detail"]
    assert "127.0.0.1:1" not in body["detail"], "no internal address in what a client reads"


def test_health_shows_each_worker_process_and_what_it_runs(make_server, clip):
    server = make_server(model=FakeModel(segment_delay=1.0))

    def health():
        return requests.get(f"{server.url}/api/v1/health", timeout=5).json()

    wait_until(lambda: health()["workers"]["live"] == 1)  # "starting" until its model is loaded
    (worker,) = health()["workers"]["processes"]
    assert worker["state"] == "idle" and worker["id"] == server.pool.presence.identity and worker["threads"] == 1
    assert worker["model"] == "ready" and health()["instance"] == worker["id"], "this process runs the worker"
    job_id = post_job(server.url, clip, iterations=1).json()["id"]

    def busy():
        (seen,) = health()["workers"]["processes"]
        return seen if seen["state"] == "busy" else None

    assert wait_until(busy)["running"] == [job_id]
    requests.post(f"{server.url}/api/v1/jobs/{job_id}/cancel", timeout=5)
    wait_for(server.url, job_id)

    def idle():  # the job's record ends before its thread marks the worker idle again
        (seen,) = health()["workers"]["processes"]
        return seen if seen["state"] == "idle" else None

    assert wait_until(idle)["jobs_run"] == 1
    server.close(timeout=10)
    assert not list((server.store.root / "workers").iterdir()), "a worker that stops removes its file"


def test_wrk_polls_with_the_token_and_if_none_match(make_server, clip):
    """The benchmark's load generator (docs/RELIABILITY.md's table): conditional polls get 304s, plain ones 200s."""
    server = make_server(api_token="s3cret")
    job_id = post_job(server.url, clip, iterations=1, headers={"Authorization": "Bearer s3cret"}).json()["id"]
    wait_for(server.url, job_id, headers={"Authorization": "Bearer s3cret"})
    url = f"{server.url}/api/v1/jobs/{job_id}"
    plain = run_wrk(url, connections=4, seconds=1, threads=1, token="s3cret", pause_ms=50)
    assert set(plain["statuses"]) == {200} and plain["requests"] > 0 and plain["socket_errors"] == 0
    conditional = run_wrk(url, connections=4, seconds=1, threads=1, token="s3cret", pause_ms=50, conditional=True)
    assert conditional["statuses"][304] > conditional["statuses"].get(200, 0), conditional["statuses"]
