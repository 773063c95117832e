"""A real Redis server (Debian's ``redis-server``, which the development set-up installs) on a free loopback port,
without persistence, for tests of the Redis queue; it can be killed and started again on the same port."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from api_server import children
from devkit.live_api import free_port


def redis_server_path() -> str:
    """The ``redis-server`` program; a clear error when the set-up has not installed it."""
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is missing: `bash scripts/setup_env.sh --dev` installs it (Debian's "
                           "redis-server package)")
    return found


class RedisServer:
    """``redis-server`` on 127.0.0.1 at a free port, its files and log in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "RedisServer":
        argv = [redis_server_path(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder), "--daemonize", "no",
                "--logfile", str(self.folder / "redis.log")]
        self.proc = children.spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        """Whether it answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill9(self) -> int:
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        return pid

    def stop(self) -> None:
        if self.proc is not None:
            children.stop([("redis-server", self.proc)])

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.folder / "redis.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
