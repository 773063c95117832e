"""A real Redis server (Debian's ``redis-server``, which the development set-up installs) on a free loopback port,
without persistence, for tests of the Redis queue; it can be killed and started again on the same port."""
from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from devkit.live_api import free_port

from .processes import Service


def redis_server_path() -> str:
    """The ``redis-server`` program; a clear error when the set-up has not installed it."""
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is missing: `bash scripts/setup_env.sh --dev` installs it (Debian's "
                           "redis-server package)")
    return found


class RedisServer(Service):
    """``redis-server`` on 127.0.0.1 at a free port, its log in ``folder``."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__("redis-server", [redis_server_path(), "--port", str(self.port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no", "--dir", str(folder)],
                         {}, folder / "redis.log")

    def start(self, timeout: float = 30.0) -> "RedisServer":
        super().start()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if not self.running() or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log_text()[-2000:]}")
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
