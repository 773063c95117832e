#!/usr/bin/env python
"""Run osvos studio: the API, its worker and the web site, together, on this machine.

    python scripts/serve.py                 # API on 127.0.0.1:5000, site on http://127.0.0.1:8000
    OSVOS_API_PORT=5001 OSVOS_WEB_PORT=8080 OSVOS_DATA_DIR=/srv/osvos python scripts/serve.py

The API runs as a subprocess serving HTTP only (`python -m api_server --workers 0`), and the model in
another one (`python -m api_server --worker-only`) at a lower CPU priority (OSVOS_WORKER_NICE, default 10),
so status requests never queue behind fine-tuning; a worker that dies is restarted. The site is served by
waitress in this process after its database migrations are applied, once its own API answers. Ctrl-C, SIGTERM
or SIGHUP stops all three within seconds; the children end with this process even when it is killed.
Storage: OSVOS_DATA_DIR (default data/store) is the API's job store; the site keeps its database and
uploads in its webapp/ subfolder. With --no-api only the site runs, talking to OSVOS_API_URL.

Exit status: 0 after a stop, 2 for a configuration error, 3 when a port is taken, 4 when the API failed to start.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from api_server import children

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("serve")


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("a port is 1..65535")
    return port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python scripts/serve.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("OSVOS_WEB_HOST", "127.0.0.1"),
                        help="address of the site (default 127.0.0.1; OSVOS_WEB_HOST)")
    parser.add_argument("--web-port", type=_port, default=int(os.environ.get("OSVOS_WEB_PORT", "8000")),
                        help="port of the site (default 8000; OSVOS_WEB_PORT)")
    parser.add_argument("--api-port", type=_port, default=int(os.environ.get("OSVOS_API_PORT", "5000")),
                        help="port of the API (default 5000; OSVOS_API_PORT); it listens on 127.0.0.1")
    parser.add_argument("--no-api", action="store_true", help="run only the site (the API runs elsewhere)")
    parser.add_argument("--threads", type=int, default=12, help="site request threads (default 12)")
    parser.add_argument("--log-level", default=os.environ.get("OSVOS_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


class Child:
    """`python -m api_server ARGS` as a child that ends with this process (``api_server.children``).

    ``restart``: start it again when it dies (after a pause that grows while it keeps dying at once).
    """

    def __init__(self, name: str, args: list[str], env: dict[str, str], *, restart: bool = False):
        self.name, self.argv, self.env, self.restart = name, [sys.executable, "-m", "api_server", *args], env, restart
        self.stopping = False
        self._lock = threading.Lock()  # stop() and a restart never interleave: no child outlives stop()
        self.proc = self._spawn()
        self._watch = threading.Thread(target=self._watcher, name=f"{name}-watch", daemon=True)
        self._watch.start()

    def _spawn(self) -> subprocess.Popen:
        # Restarts happen on the watcher thread, which lives as long as the child: the parent-death signal
        # follows the thread that started the child.
        return children.spawn(self.argv, cwd=ROOT, env=self.env)

    def _watcher(self) -> None:
        pause = 1.0
        while True:
            started = time.monotonic()
            code = self.proc.wait()
            if self.stopping:
                return
            if not self.restart:
                log.error("the %s process exited with status %s; the site stays up and reports the API as "
                          "unavailable (uploads are kept)", self.name, code)
                return
            pause = 1.0 if time.monotonic() - started > 60 else min(60.0, pause * 2)
            log.error("the %s process exited with status %s; restarting it in %.0f s", self.name, code, pause)
            time.sleep(pause)
            with self._lock:
                if self.stopping:
                    return
                self.proc = self._spawn()

    def wait_healthy(self, url: str, timeout: float) -> bool:
        """True once the API at ``url`` answers its health check *as this child* (the answer names the process:
        another one on the port does not count); False when the child exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                health = requests.get(f"{url}/api/v1/health", timeout=2)
                instance = str(health.json().get("instance", "")) if health.status_code < 500 else ""
                if instance.rpartition(":")[2] == str(self.proc.pid):
                    return True
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        return False

    def stopped(self) -> subprocess.Popen:
        """Mark it stopping (no restart from now on); the process, for ``stop_children``."""
        with self._lock:
            self.stopping = True
        return self.proc


def stop_children(started: list[Child]) -> None:
    """SIGTERM to all at once (the API shuts its server down, the worker re-queues its job), then SIGKILL."""
    named = [(child.name, child.stopped()) for child in started]
    for (name, _proc), code in zip(named, children.stop(named)):
        log.info("the %s stopped (exit status %s)", name, code)


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (what a server there would fail to bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does: TIME_WAIT is no clash
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def prepare_site(env_https_default: bool) -> object:
    """Configure Django, apply migrations, and return the WSGI application."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osvos_site.settings")
    if not env_https_default:
        os.environ.setdefault("OSVOS_WEB_HTTPS", "0")
    import django
    from django.core.management import call_command

    from osvos_site.config import SiteConfig

    SiteConfig.from_env().prepare()
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)  # SIGINT too: a background start inherits it ignored
    os.chdir(ROOT)
    # One storage root for both: the API's job store, and the site's database and uploads in its webapp/.
    os.environ.setdefault("OSVOS_DATA_DIR", str(ROOT / "data" / "store"))
    if not args.no_api:
        os.environ.setdefault("OSVOS_API_URL", f"http://127.0.0.1:{args.api_port}")
    api_url = os.environ.get("OSVOS_API_URL", "http://127.0.0.1:5000")

    taken = [f"{host}:{port}" for host, port, ours in ((args.host, args.web_port, True),
                                                        ("127.0.0.1", args.api_port, not args.no_api))
             if ours and port_taken(host, port)]
    if taken:
        log.error("not started: %s already in use (another osvos studio, or another server?); stop it, or choose "
                  "other ports with --web-port / --api-port", " and ".join(taken))
        return 3

    loopback = _is_loopback(args.host)
    if loopback and os.environ.get("OSVOS_WEB_HTTPS") is None:
        log.info("site on loopback over plain HTTP (OSVOS_WEB_HTTPS=0); put it behind HTTPS to expose it")
    elif not loopback:
        log.warning("the site listens on %s: serve it through an HTTPS reverse proxy (OSVOS_WEB_BEHIND_PROXY=1) "
                    "and add its name to DJANGO_ALLOWED_HOSTS", args.host)
    try:
        application = prepare_site(env_https_default=not loopback)
    except Exception as exc:  # noqa: BLE001 - configuration or migration error: say so, start no API for nothing
        log.error("the site could not start: %s", exc)
        return 2

    import waitress
    from waitress import wasyncore

    try:
        server = waitress.create_server(application, host=args.host, port=args.web_port, threads=args.threads,
                                        ident="osvos-studio-web", max_request_body_size=2 << 30,
                                        channel_timeout=300)
    except OSError as exc:
        log.error("not started: the site cannot listen on %s:%s (%s)", args.host, args.web_port, exc)
        return 3
    site_url = f"http://{args.host if ':' not in args.host else '[' + args.host + ']'}:{server.effective_port}/"
    started: list[Child] = []
    try:
        if not args.no_api:
            started.append(Child("API", ["--port", str(args.api_port), "--workers", "0"], dict(os.environ)))
            started.append(Child("worker", ["--worker-only", "--workers", "1"], dict(os.environ), restart=True))
            if started[0].wait_healthy(api_url, 120):
                log.info("API ready at %s", api_url)
            elif started[0].proc.poll() is not None:
                log.error("the API process exited at start (status %s): see its messages above",
                          started[0].proc.returncode)
                return 4
            else:
                log.warning("API not ready yet at %s; the site reports it as unavailable until it is", api_url)
        log.info("site: %s  (API: %s)  — Ctrl-C stops both", site_url, api_url)
        print(f"osvos studio: open {site_url}", flush=True)
        server.run()
    except KeyboardInterrupt:
        log.info("stopping…")
    finally:
        try:
            server.task_dispatcher.shutdown(timeout=5)
            wasyncore.close_all(server._map)
        except Exception:  # noqa: BLE001 - best effort while shutting down
            pass
        stop_children(started)
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
