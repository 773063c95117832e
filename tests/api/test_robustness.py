"""Crash recovery, shutdown, eviction, settings and the queue backends."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from api_server.__main__ import session_group_nice
from api_server.job_queue import JobQueue
from api_server.settings import Settings, SettingsError
from api_server.store import JobStore
from devkit.live_api import post_job, wait_for, wait_until
from osvos.budget import (
    DEFAULT_CRF,
    DEFAULT_DREAMS,
    DEFAULT_STEPS,
    DEFAULT_VIEWS,
    FLOW_WEIGHT,
    MIN_REGION,
    SEGMENT_SCALE,
)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _force(store: JobStore, job_id: str, **fields) -> None:
    path = store.job_dir(job_id) / "job.json"
    record = json.loads(path.read_text())
    record.update(fields)
    path.write_text(json.dumps(record))


def test_jobs_of_a_dead_worker_are_failed_on_start(make_server, clip, tmp_path):
    data = tmp_path / "shared-store"
    first = make_server(workers=0, data_dir=data)
    dead = post_job(first.url, clip, iterations=1).json()["id"]
    silent = post_job(first.url, clip, iterations=2).json()["id"]
    alive = post_job(first.url, clip, iterations=3).json()["id"]
    first.queue.huey.flush()  # these three are "running" elsewhere, not waiting in the queue
    first.close()
    now = time.time()
    _force(first.store, dead, state="running", stage="finetuning", worker=f"{socket.gethostname()}:{_dead_pid()}",
           heartbeat=now, started=now)
    _force(first.store, silent, state="running", stage="segmenting", worker="other-machine:42",
           heartbeat=now - 3600, started=now - 3600)
    _force(first.store, alive, state="running", stage="segmenting", worker="other-machine:43",
           heartbeat=now, started=now)

    second = make_server(workers=1, data_dir=data)
    failed = requests.get(f"{second.url}/api/v1/jobs/{dead}", timeout=5).json()
    assert failed["state"] == "failed" and "stopped" in failed["error"] and "again" in failed["error"]
    quiet = requests.get(f"{second.url}/api/v1/jobs/{silent}", timeout=5).json()
    assert quiet["state"] == "failed" and "answering" in quiet["error"]
    busy = requests.get(f"{second.url}/api/v1/jobs/{alive}", timeout=5).json()
    assert busy["state"] == "running", "a job with a fresh heartbeat on another machine is left alone"

    # Posting the failed one again runs it.
    again = post_job(second.url, clip, iterations=1).json()
    assert again["id"] == dead
    assert wait_for(second.url, dead)["state"] == "done"


def test_queued_jobs_lost_by_the_queue_are_requeued(make_server, clip, tmp_path):
    data = tmp_path / "store"
    first = make_server(workers=0, data_dir=data)
    job_id = post_job(first.url, clip, iterations=1).json()["id"]
    first.queue.huey.flush()
    first.close()
    second = make_server(workers=1, data_dir=data)
    assert wait_for(second.url, job_id)["state"] == "done"


def test_shutdown_requeues_the_running_job(make_server, clip, tmp_path):
    data = tmp_path / "store"
    first = make_server(workers=1, data_dir=data)
    job_id = post_job(first.url, clip, budget=30).json()["id"]
    wait_until(lambda: requests.get(f"{first.url}/api/v1/jobs/{job_id}", timeout=5).json()["state"] == "running")
    first.close(timeout=10)
    record = first.store.get(job_id)  # re-queued: the running job stopped within the close's wait
    assert record["state"] == "queued" and record["attempts"] == 1
    assert first.queue.pending_ids() == {job_id}

    second = make_server(workers=1, data_dir=data)
    wait_until(lambda: requests.get(f"{second.url}/api/v1/jobs/{job_id}", timeout=5).json()["state"] == "running")
    assert second.store.get(job_id)["attempts"] == 2
    requests.post(f"{second.url}/api/v1/jobs/{job_id}/cancel", timeout=5)
    assert wait_for(second.url, job_id, timeout=10)["state"] == "cancelled"


def test_least_recently_used_jobs_are_evicted(tmp_path):
    store = JobStore(tmp_path / "store")
    ids = []
    for index, state in enumerate(["done", "done", "running", "done"]):
        job_id = f"{index:032x}"
        staging = store.staging("t")
        (staging / "video").write_bytes(b"x" * 1000)
        store.create(job_id, staging, {"state": state, "created": time.time()})
        os.utime(store.job_dir(job_id) / ".access", (1000 + index, 1000 + index))
        ids.append(job_id)
    store.touch(ids[0])  # read just now: the most recently used
    per_job = sum(f.stat().st_size for f in store.job_dir(ids[0]).rglob("*") if f.is_file())
    evicted = store.evict(budget_bytes=per_job * 2 + 10)
    assert evicted == [ids[1], ids[3]], "least recently used first; never the running job"
    assert sorted(store.ids()) == sorted([ids[0], ids[2]])
    assert store.evict(budget_bytes=1, protect=(ids[0],)) == []


def test_reading_a_job_writes_its_access_mark_at_most_every_30_s(tmp_path):
    """A status poll is a pure read: the last-read mark moves only when it is TOUCH_EVERY_S old."""
    from api_server.store import TOUCH_EVERY_S
    store = JobStore(tmp_path / "store")
    store.create("a" * 32, store.staging("t"), {"state": "running", "created": time.time()})
    mark = store.job_dir("a" * 32) / ".access"
    recent = time.time() - TOUCH_EVERY_S / 2
    os.utime(mark, (recent, recent))
    store.touch("a" * 32)
    assert mark.stat().st_mtime == pytest.approx(recent, abs=1e-3)
    stale = time.time() - TOUCH_EVERY_S - 1
    os.utime(mark, (stale, stale))
    store.touch("a" * 32)
    assert mark.stat().st_mtime == pytest.approx(time.time(), abs=5)
    assert TOUCH_EVERY_S == 30.0


def test_store_over_budget_evicts_after_a_job(make_server, clip):
    server = make_server(cache_gb=45_000 / 1024 ** 3)  # room for about one finished clip job
    first = post_job(server.url, clip, iterations=1).json()["id"]
    wait_for(server.url, first)
    second = post_job(server.url, clip, iterations=2).json()["id"]
    wait_for(server.url, second)
    assert requests.get(f"{server.url}/api/v1/jobs/{second}", timeout=5).json()["state"] == "done"
    wait_until(lambda: requests.get(f"{server.url}/api/v1/jobs/{first}", timeout=5).status_code == 404)
    assert server.store.usage() <= server.settings.cache_bytes


def test_settings_from_environment():
    settings = Settings.from_env({"OSVOS_DATA_DIR": "/tmp/x", "OSVOS_API_TOKEN": "t", "OSVOS_MAX_UPLOAD_MB": "5",
                                  "OSVOS_MAX_FRAMES": "10", "OSVOS_CACHE_GB": "0.5", "OSVOS_WORK_SIZE": "96",
                                  "OSVOS_DEFAULT_STEPS": "40", "OSVOS_REDIS_URL": "", "OSVOS_WEIGHTS": " "})
    assert settings.data_dir.as_posix() == "/tmp/x" and settings.api_token == "t"
    assert settings.max_upload_bytes == 5 * 1024 * 1024 and settings.max_frames == 10
    assert settings.work_size == 96 and settings.default_steps == 40
    assert settings.redis_url is None and settings.weights is None and settings.queue_backend == "sqlite"
    defaults = Settings.from_env({})
    assert (defaults.max_upload_mb, defaults.max_frames, defaults.default_steps, defaults.api_token) == (
        200, 900, DEFAULT_STEPS, None)
    assert defaults.data_dir.as_posix() == "data/store"
    with pytest.raises(SettingsError, match="OSVOS_MAX_FRAMES"):
        Settings.from_env({"OSVOS_MAX_FRAMES": "many"})
    with pytest.raises(SettingsError, match="OSVOS_CACHE_GB"):
        Settings.from_env({"OSVOS_CACHE_GB": "-1"})
    assert defaults.work_size == 512 and Settings.from_env({"OSVOS_WORK_SIZE": "0"}).work_size == 0
    with pytest.raises(SettingsError, match="OSVOS_WORK_SIZE"):
        Settings.from_env({"OSVOS_WORK_SIZE": "8"})
    assert DEFAULT_STEPS == 400 and not hasattr(defaults, "finetune_pace")
    assert defaults.default_dreams == DEFAULT_DREAMS == 20
    assert Settings.from_env({"OSVOS_DEFAULT_DREAMS": "0"}).default_dreams == 0
    for bad in ("-1", "101", "2.5"):
        with pytest.raises(SettingsError, match="OSVOS_DEFAULT_DREAMS"):
            Settings.from_env({"OSVOS_DEFAULT_DREAMS": bad})
    for bad in ("0", "-3", "2.5", "many", "100001"):
        with pytest.raises(SettingsError, match="OSVOS_DEFAULT_STEPS"):
            Settings.from_env({"OSVOS_DEFAULT_STEPS": bad})
    with pytest.raises(SettingsError, match="OSVOS_MAX_BUDGET"):
        Settings.from_env({"OSVOS_MAX_BUDGET": "0"})
    assert defaults.worker_nice == 10 and Settings.from_env({"OSVOS_WORKER_NICE": "0"}).worker_nice == 0
    with pytest.raises(SettingsError, match="OSVOS_WORKER_NICE"):
        Settings.from_env({"OSVOS_WORKER_NICE": "25"})
    assert defaults.views == DEFAULT_VIEWS and Settings.from_env({"OSVOS_VIEWS": "2"}).views == 2
    for bad in ("3", "0", "two"):
        with pytest.raises(SettingsError, match="OSVOS_VIEWS"):
            Settings.from_env({"OSVOS_VIEWS": bad})
    assert defaults.segment_scale == SEGMENT_SCALE
    assert Settings.from_env({"OSVOS_SEGMENT_SCALE": "1"}).segment_scale == 1
    for bad in ("0", "5", "big"):
        with pytest.raises(SettingsError, match="OSVOS_SEGMENT_SCALE"):
            Settings.from_env({"OSVOS_SEGMENT_SCALE": bad})
    assert defaults.flow_weight == FLOW_WEIGHT and Settings.from_env({"OSVOS_FLOW_WEIGHT": "0"}).flow_weight == 0
    for bad in ("0.5", "-0.1", "much"):
        with pytest.raises(SettingsError, match="OSVOS_FLOW_WEIGHT"):
            Settings.from_env({"OSVOS_FLOW_WEIGHT": bad})
    assert defaults.crf is DEFAULT_CRF
    for text, value in (("false", False), ("0", False), ("Off", False), ("true", True), ("YES", True), ("1", True)):
        assert Settings.from_env({"OSVOS_CRF": text}).crf is value
    for bad in ("2", "maybe"):
        with pytest.raises(SettingsError, match="OSVOS_CRF"):
            Settings.from_env({"OSVOS_CRF": bad})
    assert defaults.min_region == MIN_REGION and Settings.from_env({"OSVOS_MIN_REGION": "0"}).min_region == 0
    for bad in ("1.5", "-0.1", "small"):
        with pytest.raises(SettingsError, match="OSVOS_MIN_REGION"):
            Settings.from_env({"OSVOS_MIN_REGION": bad})


@pytest.mark.parametrize("text,nice", [("/autogroup-346 nice 0\n", 0), ("/autogroup-7 nice -5\n", -5),
                                       ("", None), ("/autogroup-7\n", None)])
def test_session_group_nice_reads_the_autogroup_file_or_says_none(tmp_path, text, nice):
    group = tmp_path / "autogroup"
    group.write_text(text)
    assert session_group_nice(group) == nice
    assert session_group_nice(tmp_path / "missing") is None


@pytest.mark.parametrize("nice,own_session", [(7, True), (7, False), (0, True)])
def test_worker_only_process_lowers_its_priority(tmp_path, nice, own_session):
    """``--worker-only`` renices every thread by OSVOS_WORKER_NICE before it loads the model; leading its own
    session (as scripts/serve.py starts it), it also lowers its session's autogroup, which is what ranks it
    against the HTTP process in another session. It never renices a session it does not lead."""
    env = {**os.environ, "OSVOS_DATA_DIR": str(tmp_path / "store"), "OSVOS_WORKER_NICE": str(nice),
           "OSVOS_WEIGHTS": str(tmp_path / "missing.weights.h5")}
    log = tmp_path / "worker.log"
    ours = session_group_nice()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api_server", "--worker-only"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=own_session)
    try:
        wait_until(lambda: proc.poll() is not None or "worker-only:" in log.read_text(), timeout=60)
        assert proc.poll() is None, log.read_text()
        threads = [int(tid) for tid in os.listdir(f"/proc/{proc.pid}/task")]
        assert len(threads) > 1  # the worker and maintenance threads: all inherit the niceness
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == {os.getpriority(os.PRIO_PROCESS, 0) + nice}
        if ours is not None:
            assert session_group_nice() == ours
            worker_group = session_group_nice(Path(f"/proc/{proc.pid}/autogroup"))
            assert worker_group == (min(19, ours + nice) if own_session else ours)
    finally:
        proc.terminate()
        proc.wait(30)


def test_redis_url_selects_the_redis_queue(tmp_path):
    from huey import RedisHuey, SqliteHuey
    queue = JobQueue(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(queue.huey, RedisHuey) and queue.backend == "redis"
    local = JobQueue(Settings(data_dir=tmp_path))
    assert isinstance(local.huey, SqliteHuey) and (tmp_path / "queue.sqlite3").exists()


def test_health_reports_an_unreachable_queue(make_server, tmp_path):
    server = make_server(workers=0)
    server.app.extensions["osvos"].queue = JobQueue(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    body = requests.get(f"{server.url}/api/v1/health", timeout=10).json()
    assert body["status"] == "degraded" and body["queue"]["reachable"] is False


def test_separate_worker_process_on_the_same_store(make_server, clip, tmp_path):
    """An HTTP-only server and a worker-only one sharing OSVOS_DATA_DIR (the SQLite queue) run jobs."""
    from api_server.server import ApiServer
    from devkit.fake_model import FakeModel

    data = tmp_path / "store"
    api = make_server(workers=0, data_dir=data)
    worker = ApiServer(Settings(data_dir=data, poll_interval=0.2), serve_http=False, workers=1,
                       model_factory=FakeModel).start()
    try:
        job_id = post_job(api.url, clip, iterations=1).json()["id"]
        assert wait_for(api.url, job_id)["state"] == "done"
        workers = requests.get(f"{api.url}/api/v1/health", timeout=5).json()["workers"]
        assert (workers["embedded"], workers["alive"], workers["live"]) == (0, 0, 1)
        assert workers["processes"][0]["id"] == worker.pool.presence.identity
    finally:
        worker.close(timeout=10)
