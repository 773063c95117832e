"""A real API process for tests and benchmarks, and the few client calls they make to it."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from api_server import children
from api_server.contract import TERMINAL

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiProcess:
    """``python -m api_server --port 0 ARGS`` as a child process (in the checkout, with this environment plus
    ``env``); ``url`` is read from its log, every line of which is kept in ``log``."""

    def __init__(self, args: tuple[str, ...] = (), env: dict[str, str] | None = None, timeout: float = 180.0):
        self.log: list[str] = []
        self.proc = children.spawn([sys.executable, "-m", "api_server", "--port", "0", *args], cwd=ROOT,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found = threading.Event()
        self.url = ""

        def read():
            for line in self.proc.stdout:
                self.log.append(line)
                match = re.search(r"serving on (http://[\d.]+:\d+)", line)
                if match:
                    self.url = match.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            raise RuntimeError(f"the API did not start in {timeout:g} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "".join(self.log[-lines:])

    def stop(self) -> int:
        """SIGTERM (the API re-queues running jobs and exits), then SIGKILL; the exit status."""
        return children.stop([("API", self.proc)])[0]


def post_job(base: str, clip: dict, *, mask: Path | None = None, video: Path | None = None, headers=None,
             **fields) -> requests.Response:
    """POST /api/v1/jobs with the clip's video and mask (or the ones given) and ``fields`` as form fields."""
    video = video or clip["video"]
    mask = mask or clip["mask"]
    with open(video, "rb") as v, open(mask, "rb") as m:
        return requests.post(f"{base}/api/v1/jobs", files={"video": ("clip.mp4", v, "video/mp4"),
                                                          "mask": ("mask.png", m, "image/png")},
                             data={k: str(v) for k, v in fields.items()}, headers=headers, timeout=60)


def post_correction(base: str, job_id: str, corrections: list[tuple[object, bytes]], *, headers=None,
                    **fields) -> requests.Response:
    """POST /api/v1/jobs/<id>/corrections with (frame, mask PNG bytes) pairs (repeated ``frame`` and ``mask``
    fields, in order) and ``fields`` as further form fields."""
    data = [("frame", str(frame)) for frame, _ in corrections] + [(k, str(v)) for k, v in fields.items()]
    files = [("mask", (f"mask-{frame}.png", png, "image/png")) for frame, png in corrections]
    return requests.post(f"{base}/api/v1/jobs/{job_id}/corrections", data=data, files=files, headers=headers,
                         timeout=60)


def wait_for(base: str, job_id: str, states=TERMINAL, timeout: float = 60.0, headers=None) -> dict:
    """The job's document once it is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=headers, timeout=10).json()
        if body.get("state") in states:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body.get('state')} after {timeout} s: {body}")
        time.sleep(0.1)


def wait_until(predicate, timeout: float = 30.0, every: float = 0.05):
    """``predicate()``'s first true value, asked every ``every`` seconds for at most ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")
