"""api_client (errors, token, retries) and the production configuration (check --deploy)."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devkit.live_api import free_port
from studio.api_client import ApiClient, ApiError, ApiUnavailable, Upload, get_client

ROOT = Path(__file__).resolve().parents[2]


def test_errors_carry_the_apis_detail(fake_api):
    fake_api.reset()
    client = ApiClient(fake_api.url, retries=0)
    with pytest.raises(ApiError) as info:
        client.job("nope")
    assert (info.value.status, info.value.code) == (404, "not_found")
    assert info.value.detail == "no job with this id" and not info.value.unavailable
    fake_api.reject = (413, "too_large", "the upload is larger than the limit of 200 MB")
    with pytest.raises(ApiError) as info:
        client.submit(Upload("v.mp4", io.BytesIO(b"v")), Upload("m.png", io.BytesIO(b"m")))
    assert info.value.status == 413 and "200 MB" in str(info.value)


def test_bearer_token_is_sent(fake_api):
    fake_api.reset()
    fake_api.token = "s3cret"
    try:
        with pytest.raises(ApiError) as info:
            ApiClient(fake_api.url, retries=0).health()
        assert info.value.status == 401
        assert ApiClient(fake_api.url, token="s3cret", retries=0).health()["status"] == "ok"
        assert fake_api.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"
    finally:
        fake_api.token = None


def test_job_polls_send_the_etag_and_reuse_the_answer_on_304(fake_api):
    fake_api.reset()
    job = fake_api.add_job("running", progress=0.2)
    client = ApiClient(fake_api.url, retries=0)
    first = client.job(job["id"])
    assert "If-None-Match" not in fake_api.requests[-1]["headers"]
    again = client.job(job["id"])
    assert fake_api.requests[-1]["headers"].get("If-None-Match"), "the poll asks: changed since this ETag?"
    assert again == first and again["progress"] == 0.2
    again["state"] = "changed by a caller"
    assert client.job(job["id"])["state"] == "running", "callers get copies of the kept answer"
    with fake_api.lock:
        job["progress"] = 0.6
    assert client.job(job["id"])["progress"] == 0.6, "a changed job is fetched again"


def test_jobs_listing_is_normalised(fake_api):
    fake_api.reset()
    fake_api.add_job("done")
    fake_api.add_job("running")
    client = ApiClient(fake_api.url, retries=0)
    assert len(client.jobs(state="all")["jobs"]) == 2
    listing = client.jobs()
    assert listing["total"] == 1 and listing["jobs"][0]["state"] == "done"


def test_unreachable_api_raises_api_unavailable():
    client = ApiClient(f"http://127.0.0.1:{free_port()}", retries=0, connect_timeout=1)
    with pytest.raises(ApiUnavailable) as info:
        client.health()
    assert info.value.unavailable and info.value.status is None
    assert "not reachable" in info.value.detail


def test_connection_errors_are_retried():
    """The API comes up while the client is retrying: the request succeeds."""
    from webapp_fakes import FakeApi

    port = free_port()
    started = {}

    def late_start():
        time.sleep(0.5)
        started["api"] = FakeApi(port=port).start()

    thread = threading.Thread(target=late_start, daemon=True)
    thread.start()
    try:
        client = ApiClient(f"http://127.0.0.1:{port}", retries=6, backoff=0.2)
        assert client.health()["status"] == "ok"
    finally:
        thread.join(10)
        started["api"].stop()


def test_get_client_follows_settings(fake_api, settings_override):
    settings_override(OSVOS_API_URL=fake_api.url, OSVOS_API_TOKEN="abc")
    client = get_client()
    assert client.base_url == fake_api.url and client.session.headers["Authorization"] == "Bearer abc"
    assert get_client() is client


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OSVOS_WEB_"))}
    clean.update(env)
    return subprocess.run([sys.executable, str(ROOT / "webapp" / "manage.py"), *args], env=clean,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     DJANGO_SECRET_KEY="prod-" + "x7Qz" * 15, OSVOS_WEB_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_production_settings_without_a_secret_key_make_and_keep_one(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", OSVOS_WEB_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    key = (tmp_path / "secret-key").read_text()
    assert len(key) >= 50 and oct((tmp_path / "secret-key").stat().st_mode & 0o777) == "0o600"


def test_a_bad_setting_stops_manage_py_with_its_name(tmp_path):
    result = _manage("check", OSVOS_API_TIMEOUT="soon", OSVOS_WEB_DATA_DIR=str(tmp_path))
    assert result.returncode != 0 and "configuration error: OSVOS_API_TIMEOUT='soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_is_off_by_default():
    show = "from django.conf import settings; print(settings.DEBUG, settings.HTTPS)"
    result = _manage("shell", "-v", "0", "-c", show, DJANGO_SECRET_KEY="k" * 60,
                     OSVOS_WEB_DATA_DIR=str(ROOT / "webapp"))
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_migrations_are_up_to_date(tmp_path):
    result = _manage("makemigrations", "--check", "--dry-run", DJANGO_DEBUG="1", OSVOS_WEB_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_serve_py_help():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "serve.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--web-port" in result.stdout and "--api-port" in result.stdout


def test_serve_py_runs_the_site_and_stops_on_ctrl_c(tmp_path, fake_api):
    """--no-api: the site alone (pointed at the fake API); SIGINT stops it cleanly."""
    import signal

    import requests

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "OSVOS_WEB_"))}
    env.update(OSVOS_WEB_DATA_DIR=str(tmp_path), OSVOS_API_URL=fake_api.url, OSVOS_WEB_PORT=str(port))
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--no-api"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.3)
        assert response.status_code == 200 and "osvos" in response.text
        assert (tmp_path / "db.sqlite3").exists()  # migrations applied on start
        static = requests.get(f"http://127.0.0.1:{port}/static/vendor/d3/d3.min.js", timeout=5)
        assert static.status_code == 200 and len(static.content) > 100_000
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the port is closed again


def test_serve_py_restarts_a_worker_that_dies_and_stops_it():
    """serve.py's worker child is started again when it exits; stop() ends it for good."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_script", ROOT / "scripts" / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    # `--workers -1` makes `python -m api_server` exit at once with a usage error: a worker that keeps dying.
    child = serve.Child("worker", ["--worker-only", "--workers", "-1"], dict(os.environ), restart=True)
    pids = {child.proc.pid}
    deadline = time.monotonic() + 60
    while len(pids) < 3 and time.monotonic() < deadline:
        pids.add(child.proc.pid)
        time.sleep(0.1)
    serve.stop_children([child])
    assert len(pids) >= 3  # started, restarted, restarted again
    settled = child.proc.pid
    time.sleep(2.5)
    assert child.proc.pid == settled and child.proc.poll() is not None  # no restart after stop()
