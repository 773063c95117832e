"""`scripts/serve.py` as a supervisor or a script starts it: in the background (SIGINT ignored), stopped with
SIGTERM; refused when a port is taken; killed with SIGKILL. Its API and worker children never outlive it."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from devkit.live_api import free_port, wait_until
from devkit.reliability.processes import ROOT, clean_env

pytestmark = pytest.mark.reliability

SERVE = [sys.executable, str(ROOT / "scripts" / "serve.py")]


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the state on (the name may hold spaces)


def _gone(pid: int) -> bool:
    fields = _stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def _children(pid: int) -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()
            and (_stat(int(entry)) or ["", ""])[1] == str(pid)]


class Launch:
    """serve.py's environment: a fresh store, free ports, the API's log in ``log``."""

    def __init__(self, tmp_path: Path):
        self.web, self.api = free_port(), free_port()
        self.log = tmp_path / "serve.log"
        self.env = {**clean_env(), "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                    "OSVOS_DATA_DIR": str(tmp_path / "store"), "OSVOS_WORK_SIZE": "64",
                    "OSVOS_WEB_PORT": str(self.web), "OSVOS_API_PORT": str(self.api)}

    def ready(self, pid: int) -> list[int]:
        """Wait until the site is open and the worker has registered; serve.py's two children."""
        def up():
            assert not _gone(pid), self.log.read_text()
            if "osvos studio: open" not in self.log.read_text():
                return False
            health = requests.get(f"http://127.0.0.1:{self.api}/api/v1/health", timeout=5).json()
            return len(health["workers"]["processes"]) == 1  # the worker is up (its model may still load)
        wait_until(up, timeout=240, every=0.5)
        kids = _children(pid)
        assert len(kids) == 2, kids
        return kids


def test_a_background_start_stops_on_sigterm_with_its_children(tmp_path):
    """`serve.py &` from a script: the shell starts it with SIGINT ignored, which its children used to inherit."""
    launch = Launch(tmp_path)
    script = f'{" ".join(SERVE)} > "{launch.log}" 2>&1 & echo $!'
    pid = int(subprocess.run(["bash", "-c", script], cwd=ROOT, env=launch.env, capture_output=True, text=True,
                             timeout=30).stdout)
    try:
        kids = launch.ready(pid)
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: all(_gone(p) for p in [pid, *kids]), timeout=60, every=0.2)
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
    log = launch.log.read_text()
    assert "the API stopped (exit status 0)" in log and "the worker stopped (exit status 0)" in log, log
    assert "killing it" not in log, "every child ended on SIGTERM"


@pytest.mark.parametrize("which", ["web", "api"])
def test_it_refuses_to_start_when_a_port_is_taken(tmp_path, which):
    launch = Launch(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", getattr(launch, which)))
        holder.listen()
        result = subprocess.run(SERVE, cwd=ROOT, env=launch.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"127.0.0.1:{getattr(launch, which)} already in use" in result.stderr
    assert "open" not in result.stdout and "API ready" not in result.stderr


def test_its_children_end_when_it_is_killed(tmp_path):
    launch = Launch(tmp_path)
    with launch.log.open("w") as log:
        proc = subprocess.Popen(SERVE, cwd=ROOT, env=launch.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        kids = launch.ready(proc.pid)
        proc.kill()
        proc.wait(10)
        wait_until(lambda: all(_gone(kid) for kid in kids), timeout=60, every=0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", launch.api)) != 0, "nothing listens on the API port any more"
