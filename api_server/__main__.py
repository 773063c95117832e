"""``python -m api_server [--host 127.0.0.1] [--port 5000] [--workers 1]``

Serves the API with waitress and runs the worker(s) in the same process: one command, no other service.
Configuration comes from ``OSVOS_*`` environment variables (see api_server/settings.py).

More workers: start more processes on the same store, e.g. on this machine (SQLite queue)
``python -m api_server --worker-only --workers 1``, or on other machines that share ``OSVOS_DATA_DIR``
(e.g. over NFS) with ``OSVOS_REDIS_URL=redis://host:6379/0`` set for all of them.
``--workers 0`` serves HTTP only (jobs wait for worker processes).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Callable

from .server import ApiServer
from .settings import Settings, SettingsError


def lower_priority(increment: int) -> None:
    """Renice every thread of this process by ``increment``; threads started later (the model's pools) inherit
    it. Linux keeps niceness per thread, so ``os.nice`` alone would miss threads that imports already started."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        os.nice(increment)
        return
    for tid in (int(name) for name in os.listdir(tasks)):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
        except ProcessLookupError:
            pass  # a thread that ended meanwhile
    lower_session_group(increment)


SELF_AUTOGROUP = Path("/proc/self/autogroup")


def session_group_nice(group: Path = SELF_AUTOGROUP) -> int | None:
    """The niceness in an autogroup file (``/proc/<pid>/autogroup``: its session's share of the CPU), or None
    where the kernel shows none: no such file, or one without a ``nice N`` field (some sandboxes leave it empty)."""
    try:
        found = re.search(r"nice\s+(-?\d+)", group.read_text())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def lower_session_group(increment: int) -> None:
    """With the kernel's autogroup scheduling, CPU time is first shared between sessions and niceness only
    ranks threads inside one; so a worker that leads its own session (``scripts/serve.py`` starts it so)
    also lowers its session's group. Other sessions (a user's shell) are left alone."""
    if os.getsid(0) != os.getpid():
        return
    current = session_group_nice()
    if current is None:
        return
    try:
        SELF_AUTOGROUP.write_text(str(min(19, current + increment)))
    except OSError:
        pass  # autogroup scheduling not permitted here: thread niceness still applies


def main(argv: list[str] | None = None, model_factory: Callable[[], object] | None = None) -> int:
    """The command; ``model_factory`` replaces ``OSVOS.load`` (devkit's fake API runs this with a fake model)."""
    parser = argparse.ArgumentParser(prog="python -m api_server", description=__doc__.split("\n\n")[1])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000, help="port (default 5000; 0 = any free port)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker threads in this process, each with its own warm model (default 1; 0 = none)")
    parser.add_argument("--threads", type=int, default=8, help="HTTP request threads (default 8)")
    parser.add_argument("--worker-only", action="store_true", help="run workers only, no HTTP server")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.workers < 0 or (args.worker_only and args.workers < 1):
        parser.error("--workers must be at least 0 (at least 1 with --worker-only)")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    if args.worker_only and settings.worker_nice:
        lower_priority(settings.worker_nice)
    server = ApiServer(settings, host=args.host, port=args.port, workers=args.workers, threads=args.threads,
                       serve_http=not args.worker_only, model_factory=model_factory)

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        logging.getLogger(__name__).info("shutting down (running jobs are re-queued)")
        server.close()
    return 0


def exit_now(code: int) -> None:
    """End the process once the server has closed: flush the logs, then ``os._exit``. A worker stopped while it
    still loads the model leaves a daemon thread inside TensorFlow's native start-up, and the interpreter's
    normal shutdown can wait on it past ``scripts/serve.py``'s grace period."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
