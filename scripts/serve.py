#!/usr/bin/env python
"""Run osvos studio: the API, its worker and the web site, together, on this machine.

    python scripts/serve.py                 # API on 127.0.0.1:5000, site on http://127.0.0.1:8000
    OSVOS_API_PORT=5001 OSVOS_WEB_PORT=8080 OSVOS_DATA_DIR=/srv/osvos python scripts/serve.py

The API runs as a subprocess serving HTTP only (`python -m api_server --workers 0`), and the model in
another one (`python -m api_server --worker-only`) at a lower CPU priority (OSVOS_WORKER_NICE, default 10),
so status requests never queue behind fine-tuning; a worker that dies is restarted. The site is served by
waitress in this process after its database migrations are applied. Ctrl-C (or SIGTERM) stops all three.
Storage: OSVOS_DATA_DIR (default data/store) is the API's job store; the site keeps its database and
uploads in its webapp/ subfolder. With --no-api only the site runs, talking to OSVOS_API_URL.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

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
    """`python -m api_server ARGS` as a child in its own process group (so Ctrl-C reaches it only through us).

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
        return subprocess.Popen(self.argv, cwd=ROOT, env=self.env, start_new_session=True)

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(f"{url}/api/v1/health", timeout=2).status_code < 500:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.5)
        return False

    def stop(self, timeout: float = 40.0) -> None:
        with self._lock:
            self.stopping = True
        if self.proc.poll() is not None:
            return
        # SIGINT first: the API shuts down its server and re-queues running jobs; then SIGTERM, then KILL.
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                log.warning("the %s did not stop after %s; sending the next signal", self.name,
                            signal.Signals(sig).name)
        self.proc.kill()
        self.proc.wait()


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.chdir(ROOT)
    # One storage root for both: the API's job store, and the site's database and uploads in its webapp/.
    os.environ.setdefault("OSVOS_DATA_DIR", str(ROOT / "data" / "store"))
    if not args.no_api:
        os.environ.setdefault("OSVOS_API_URL", f"http://127.0.0.1:{args.api_port}")
    api_url = os.environ.get("OSVOS_API_URL", "http://127.0.0.1:5000")

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

    children: list[Child] = []
    if not args.no_api:
        children = [Child("API", ["--port", str(args.api_port), "--workers", "0"], dict(os.environ)),
                    Child("worker", ["--worker-only", "--workers", "1"], dict(os.environ), restart=True)]

    server = waitress.create_server(application, host=args.host, port=args.web_port, threads=args.threads,
                                    ident="osvos-studio-web", max_request_body_size=2 << 30,
                                    channel_timeout=300)

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _terminate)
    site_url = f"http://{args.host if ':' not in args.host else '[' + args.host + ']'}:{server.effective_port}/"
    try:
        if children:
            threading.Thread(target=lambda: log.info(
                "API %s at %s" % ("ready" if children[0].wait_healthy(api_url, 120) else "not ready yet", api_url)),
                daemon=True).start()
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
        for child in children:
            child.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
