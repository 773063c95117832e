"""The API and the site as child processes on free loopback ports, sharing one fresh store."""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from api_server import children
from api_server.contract import TERMINAL
from devkit.live_api import free_port

from .client import multipart
from .media import MAX_FRAMES, MAX_UPLOAD_MB

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """This environment without any OSVOS_* / DJANGO_* variable (e.g. those a test conftest set)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OSVOS_", "DJANGO_"))}


class Service:
    """One child process (``api_server.children``: its own session, ends with this process), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "Service":
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"\n===== start #{self.starts} of {self.name}: {' '.join(self.argv)}\n")
        log = self.log_path.open("a")
        self.proc = children.spawn(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        log.close()
        return self

    def kill9(self) -> int:
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)
        return pid

    def stop(self) -> None:
        if self.running():
            children.stop([(self.name, self.proc)])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def wait_site(site: Service, url: str, timeout: float = 120.0) -> float:
    """Wait until the site process answers ``/health.json``; returns the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if not site.running():
            raise RuntimeError(f"the site exited ({site.proc.returncode}):\n{site.log_text()[-3000:]}")
        try:
            if requests.get(f"{url}/health.json", timeout=5).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the site was not up in {timeout} s:\n{site.log_text()[-3000:]}")
        time.sleep(0.25)


class Stack:
    """The API and the site as two processes on free loopback ports, sharing one fresh storage folder."""

    def __init__(self, base: Path, *, token: str | None = None, work_size: int = 64):
        self.base = Path(base)
        self.data = self.base / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self.api_port, self.web_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.site_url = f"http://127.0.0.1:{self.web_port}"
        self.auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        common = {**clean_env(), "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                  "OSVOS_DATA_DIR": str(self.data), "OSVOS_API_TOKEN": self.token}
        api_env = {**common, "OSVOS_WORK_SIZE": str(work_size), "OSVOS_MAX_UPLOAD_MB": f"{MAX_UPLOAD_MB:g}",
                   "OSVOS_MAX_FRAMES": str(MAX_FRAMES), "OSVOS_DEFAULT_STEPS": "2", "OSVOS_MAX_BUDGET": "120"}
        site_env = {**common, "OSVOS_API_URL": self.api_url, "DJANGO_DEBUG": "0", "OSVOS_WEB_HTTPS": "0",
                    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "OSVOS_WEB_MAX_VIDEO_MB": f"{MAX_UPLOAD_MB:g}",
                    "OSVOS_WEB_MAX_MASK_MB": f"{MAX_UPLOAD_MB:g}", "OSVOS_API_RETRIES": "1",
                    "OSVOS_API_CONNECT_TIMEOUT": "2", "OSVOS_WEB_LOG_LEVEL": "WARNING"}
        self.api = Service("api", [sys.executable, "-m", "api_server", "--host", "127.0.0.1", "--port",
                                   str(self.api_port), "--workers", "1", "--threads", "8"], api_env,
                           self.base / "api.log")
        self.site = Service("site", [sys.executable, str(ROOT / "scripts" / "serve.py"), "--no-api", "--host",
                                     "127.0.0.1", "--web-port", str(self.web_port), "--log-level", "WARNING"],
                            site_env, self.base / "site.log")

    # -- lifecycle
    def start(self, timeout: float = 180.0) -> "Stack":
        self.api.start()
        self.site.start()
        self.wait_api(timeout)
        self.wait_site(timeout)
        return self

    def wait_api(self, timeout: float = 180.0, *, model_ready: bool = True) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.api.running():
                raise RuntimeError(f"the API exited ({self.api.proc.returncode}):\n{self.api.log_text()[-3000:]}")
            try:
                health = requests.get(f"{self.api_url}/api/v1/health", headers=self.auth, timeout=5).json()
                if not model_ready or health["model"]["state"] in ("ready", "error"):
                    return time.monotonic() - started
            except (requests.RequestException, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API was not ready in {timeout} s:\n{self.api.log_text()[-3000:]}")
            time.sleep(0.25)

    def wait_site(self, timeout: float = 120.0) -> float:
        return wait_site(self.site, self.site_url, timeout)

    def close(self) -> None:
        children.stop([(service.name, service.proc) for service in (self.site, self.api) if service.running()])

    # -- API helpers
    def job(self, job_id: str) -> dict:
        return requests.get(f"{self.api_url}/api/v1/jobs/{job_id}", headers=self.auth, timeout=10).json()

    def cancel(self, job_id: str) -> None:
        try:
            requests.post(f"{self.api_url}/api/v1/jobs/{job_id}/cancel", headers=self.auth, timeout=10)
        except requests.RequestException:
            pass

    def wait_job(self, job_id: str, states=TERMINAL, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = self.job(job_id)
            if body.get("state") in states:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {body.get('state')} after {timeout} s")
            time.sleep(0.2)

    def record(self, job_id: str) -> dict | None:
        try:
            return json.loads((self.data / "jobs" / job_id / "job.json").read_text())
        except (OSError, ValueError):
            return None

    def api_post(self, parts: list, headers: dict | None = None, timeout: float = 60.0) -> requests.Response:
        body, content_type = multipart(parts)
        return requests.post(f"{self.api_url}/api/v1/jobs", data=body, timeout=timeout,
                             headers={**(self.auth if headers is None else headers), "Content-Type": content_type})

    def health(self) -> dict:
        out = {}
        try:
            api = requests.get(f"{self.api_url}/api/v1/health", headers=self.auth, timeout=10)
            body = api.json()
            out["api"] = f"{api.status_code} {body.get('status')} (workers alive {body['workers']['alive']}/" \
                         f"{body['workers']['embedded']}, model {body['model']['state']})"
            out["api_ok"] = api.status_code == 200 and body.get("status") == "ok"
        except (requests.RequestException, ValueError, KeyError) as exc:
            out["api"], out["api_ok"] = f"unreachable: {type(exc).__name__}", False
        try:
            site = requests.get(f"{self.site_url}/health.json", timeout=10)
            body = site.json()
            out["site"] = f"{site.status_code} site {body.get('site')}, api_ok {body.get('api_ok')}"
            out["site_ok"] = site.status_code == 200 and body.get("api_ok") is True
        except (requests.RequestException, ValueError) as exc:
            out["site"], out["site_ok"] = f"unreachable: {type(exc).__name__}", False
        return out

    def tracebacks(self) -> list[str]:
        """Log lines of either service that report an error (an ERROR record, an unhandled exception, a 500).

        (Django logs a 400 for an unparsable body as a WARNING with its traceback: that is not counted.)"""
        found = []
        for service in (self.api, self.site):
            for line in service.log_text().splitlines():
                if re.search(r",\d{3} (ERROR|CRITICAL) |unhandled error|Internal Server Error", line):
                    found.append(f"{service.name}: {line.strip()[:200]}")
        return found


def product_layout(base: Path) -> tuple[Stack, Service]:
    """A stack whose API serves HTTP only (``--workers 0``), and its ``--worker-only`` process (not started)."""
    stack = Stack(base)
    stack.api.argv[stack.api.argv.index("--workers") + 1] = "0"
    worker = Service("worker", [sys.executable, "-m", "api_server", "--worker-only", "--workers", "1"],
                     stack.api.env, base / "worker.log")
    return stack, worker
