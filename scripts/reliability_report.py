#!/usr/bin/env python
"""Reliability and security checks of osvos studio against live services; regenerates docs/RELIABILITY.md.

    python scripts/reliability_report.py [--out docs/RELIABILITY.md] [--keep DIR] [--pollers 50]

Starts the API (``python -m api_server``, the real model at OSVOS_WORK_SIZE=64, a bearer token, small caps)
and the site (``python scripts/serve.py --no-api``) as separate processes on free loopback ports, with a
fresh store in a temporary folder, then runs:

1. the bad-input matrix against the API and the site: every case expects a specific status and a readable
   message, no 5xx, no traceback; both services healthy afterwards;
2. duplicates: the same upload posted 10 times at once → one job id, one computation;
3. latency: 50 concurrent pollers of a running job's status (API and site) → p50 / p99;
4. crash recovery: ``kill -9`` of the API process while a job is fine-tuning and of the site; restart;
   no job left ``running``, no partial output in the store, no submission lost;
5. hardening: ``manage.py check --deploy`` under production settings, bearer token, upload caps.

tests/reliability runs the same code under pytest (``pytest -m reliability``). Everything listens on
127.0.0.1 only; every wait is bounded.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "scripts", ROOT / "tests" / "api"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from api_helpers import first_mask, synthetic_frames, wait_until  # noqa: E402  (tests/api helpers)
from benchmark_api import concurrent_posts, format_latency, poll_latency  # noqa: E402

WIDTH, HEIGHT, FPS = 96, 64, 10.0
CLIP_FRAMES = 12
MAX_FRAMES = 30          # OSVOS_MAX_FRAMES of the live API
MAX_UPLOAD_MB = 1.0      # OSVOS_MAX_UPLOAD_MB of the API, OSVOS_WEB_MAX_VIDEO_MB / _MASK_MB of the site
TERMINAL = ("done", "failed", "cancelled")


# -- media ------------------------------------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (len(data).to_bytes(4, "big") + kind + data
            + zlib.crc32(kind + data).to_bytes(4, "big"))


def decompression_bomb_png(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side×side pixels (900 megapixels) that compresses to about 100 KB."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    chunks.append(compressor.compress(row * (side % 1000)))
    chunks.append(compressor.flush())
    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(chunks))
            + _png_chunk(b"IEND", b""))


@dataclass
class Media:
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)

    def path(self, key: str) -> Path:
        return self.files[key]

    def bytes(self, key: str) -> bytes:
        return self.files[key].read_bytes()


def make_media(folder: Path) -> Media:
    """Small synthetic inputs (96x64 clips written with osvos.video.write_video) and the bad files."""
    import cv2
    from PIL import Image

    from osvos.masks import mask_png_bytes
    from osvos.video import FFMPEG, write_video

    folder.mkdir(parents=True, exist_ok=True)
    media = Media(folder)
    f = media.files
    size = (WIDTH, HEIGHT)
    frames = synthetic_frames(MAX_FRAMES + 10, size)
    f["clip"] = folder / "clip.mp4"
    write_video(frames[:CLIP_FRAMES], f["clip"], FPS)
    f["one_frame"] = folder / "one-frame.mp4"
    write_video(frames[:1], f["one_frame"], FPS)
    f["long"] = folder / "forty-frames.mp4"
    write_video(frames, f["long"], FPS)
    mask = first_mask(size)
    f["mask"] = folder / "mask.png"
    f["mask"].write_bytes(mask_png_bytes(mask))

    f["empty"] = folder / "empty.mp4"
    f["empty"].write_bytes(b"")
    f["text"] = folder / "notes.mp4"
    f["text"].write_text("these are my notes, not a video\n" * 40)
    f["text_txt"] = folder / "notes.txt"
    f["text_txt"].write_text("these are my notes\n" * 40)
    f["truncated"] = folder / "truncated.mp4"
    f["truncated"].write_bytes(f["clip"].read_bytes()[:600])
    f["audio"] = folder / "tone.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=0.5", "-c:a", "aac", str(f["audio"])], check=True, timeout=60)
    f["big"] = folder / "big.mp4"  # over the 1 MB caps (random bytes: refused on size, before decoding)
    f["big"].write_bytes(np.random.default_rng(1).integers(0, 256, int(1.5 * 1024 * 1024), np.uint8).tobytes())

    f["bomb"] = folder / "bomb.png"
    f["bomb"].write_bytes(decompression_bomb_png())
    small = np.zeros((HEIGHT // 2, WIDTH // 2), bool)
    small[7:15, 2:10] = True
    f["mask_small"] = folder / "mask-48x32.png"
    f["mask_small"].write_bytes(mask_png_bytes(small))
    f["mask_black"] = folder / "all-black.png"
    f["mask_black"].write_bytes(mask_png_bytes(np.zeros((HEIGHT, WIDTH), bool)))
    f["mask_white"] = folder / "all-white.png"
    f["mask_white"].write_bytes(mask_png_bytes(np.ones((HEIGHT, WIDTH), bool)))
    f["mask_garbage"] = folder / "garbage.png"
    f["mask_garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    f["mask16"] = folder / "mask-16bit.png"
    Image.fromarray(np.where(mask, 65535, 0).astype(np.uint16)).save(f["mask16"])
    f["mask_cmyk"] = folder / "mask-cmyk.tif"
    cmyk = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cmyk[..., 3] = 255            # black background
    cmyk[mask] = (0, 0, 0, 0)     # white object
    Image.fromarray(cmyk, "CMYK").save(f["mask_cmyk"])
    f["mask_rgb"] = folder / "mask-rgb.png"  # a drawing: red object on white
    drawing = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    drawing[mask] = (0, 0, 255)
    cv2.imwrite(str(f["mask_rgb"]), drawing)
    return media


# -- processes --------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This environment without any OSVOS_* / DJANGO_* variable (e.g. those a test conftest set)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OSVOS_", "DJANGO_"))}


class Service:
    """One child process (its own session, so signals reach only it), logging to a file."""

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
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    def kill9(self) -> int:
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)
        return pid

    def stop(self, timeout: float = 30.0) -> None:
        if not self.running():
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
            try:
                self.proc.send_signal(sig)
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return
        self.proc.kill()
        self.proc.wait(10)

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
                   "OSVOS_MAX_FRAMES": str(MAX_FRAMES), "OSVOS_DEFAULT_BUDGET": "1", "OSVOS_MAX_BUDGET": "120"}
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
        for service in (self.site, self.api):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - best effort at the end
                pass

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


# -- HTTP helpers -----------------------------------------------------------------------------------------------
def multipart(parts: list) -> tuple[bytes, str]:
    """Encode multipart/form-data byte for byte (file names are sent raw: NUL, '../', UTF-8 and all).

    ``parts``: (name, value) with value a str (a field) or (filename, data, content_type) (a file)."""
    boundary = "osvos-" + uuid.uuid4().hex
    out = bytearray()
    for name, value in parts:
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, tuple):
            filename, data, content_type = value
            raw = filename.encode("utf-8", "surrogateescape") if isinstance(filename, str) else filename
            raw = raw.replace(b'"', b"%22").replace(b"\r", b"").replace(b"\n", b"")
            out += f'Content-Disposition: form-data; name="{name}"; filename="'.encode() + raw + b'"\r\n'
            out += f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@dataclass
class Reply:
    status: int
    headers: dict
    text: str
    location: str = ""
    elapsed_ms: float = 0.0

    @classmethod
    def of(cls, response: requests.Response) -> "Reply":
        return cls(response.status_code, dict(response.headers), response.text,
                   response.headers.get("Location", ""), response.elapsed.total_seconds() * 1000)

    def json(self):
        return json.loads(self.text)


def declared_oversize(url: str, path: str, headers: dict | None = None, declared: int = 50 * 1024 ** 3) -> Reply:
    """Send only the headers of a POST that declares a 50 GB body, and read what comes back (bounded)."""
    host, port = url.split("//", 1)[1].split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {declared}",
             "Content-Type: multipart/form-data; boundary=x", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n--x\r\n").encode())
        data = b""
        try:
            while len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and _complete(data):
                    break
        except socket.timeout:
            pass
    elapsed = (time.monotonic() - started) * 1000
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n") if head else ("HTTP/1.1 0 none",)
    status = int(status_line.split()[1]) if len(status_line.split()) > 1 else 0
    parsed = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        parsed[key.strip()] = value.strip()
    return Reply(status, parsed, body.decode("utf-8", "replace"), parsed.get("Location", ""), elapsed)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return match is None or len(body) >= int(match.group(1))


def _strip(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def readable_message(reply: Reply) -> str:
    """The sentence a user would read: JSON detail, a form's errors, a flash message, or a page's heading."""
    content_type = reply.headers.get("Content-Type", "")
    if "json" in content_type:
        try:
            body = reply.json()
            return str(body.get("detail") or body.get("error") or body)
        except ValueError:
            return reply.text[:300]
    if "html" in content_type:
        text = reply.text
        errors = re.findall(r'<div class="error"[^>]*>(.*?)</div>', text, re.S)
        banner = re.search(r'data-testid="form-errors">(.*?)</div>', text, re.S)
        if banner:
            errors = re.findall(r"<p[^>]*>(.*?)</p>", banner.group(1), re.S)[:1] + errors
        if errors:
            return " | ".join(_strip(e) for e in errors)
        flashes = re.findall(r'<li class="msg[^"]*"[^>]*>(.*?)</li>', text, re.S)
        if flashes:
            return " | ".join(_strip(m) for m in flashes)
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S)
        paragraph = re.search(r"<p[^>]*>(.*?)</p>", text, re.S)
        return _strip(" — ".join(m.group(1) for m in (heading, paragraph) if m))
    return _strip(reply.text)[:300]


class SiteClient:
    """A browser-like session on the site: cookies, the CSRF token of the upload form."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.token = ""

    def csrf(self) -> str:
        page = self.session.get(f"{self.base}/upload/", timeout=30)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, "no CSRF token on the upload page"
        self.token = match.group(1)
        return self.token

    def post(self, path: str, parts: list | None = None, *, token: str | None = None, data=None,
             headers: dict | None = None, follow: bool = False) -> Reply:
        if not self.token:
            self.csrf()
        headers = {"Referer": f"{self.base}/upload/", **(headers or {})}
        if parts is not None:
            body, content_type = multipart([("csrfmiddlewaretoken", self.token if token is None else token)]
                                           + parts)
            headers["Content-Type"] = content_type
            data = body
        response = self.session.post(f"{self.base}{path}", data=data, headers=headers, timeout=120,
                                     allow_redirects=False)
        reply = Reply.of(response)
        if follow and reply.status in (301, 302, 303) and reply.location:
            page = self.session.get(self.base + reply.location if reply.location.startswith("/")
                                    else reply.location, timeout=30)
            reply.text, reply.headers = page.text, {**dict(page.headers), "Location": reply.location}
        return reply

    def upload(self, video: tuple, mask: tuple | None, *, token: str | None = None, **fields) -> Reply:
        parts = [("video", video)]
        if mask is not None:
            parts += [("mask_source", "file"), ("mask", mask)]
        parts += [(k, str(v)) for k, v in fields.items()]
        return self.post("/upload/", parts, token=token)

    def get(self, path: str) -> Reply:
        return Reply.of(self.session.get(f"{self.base}{path}", timeout=30, allow_redirects=False))


# -- the bad-input matrix ---------------------------------------------------------------------------------------
@dataclass
class Case:
    key: str
    target: str                 # "API" or "site"
    title: str
    expect: int
    words: tuple[str, ...]      # the message must contain each (case-insensitive)
    send: Callable[["Context"], Reply]
    verify: Callable[["Context", Reply], str | None] | None = None  # extra check: a problem, or None


@dataclass
class Result:
    case: Case
    got: int
    message: str
    problems: list[str]
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


class Context:
    """What the cases share: the live stack, the media, a site session, a finished job."""

    def __init__(self, stack: Stack, media: Media):
        self.stack, self.media = stack, media
        self.site = SiteClient(stack.site_url)
        self._done: str | None = None
        self._budget = 1.0
        self.accepted: list[str] = []

    def file(self, key: str, name: str | None = None, content_type: str = "application/octet-stream") -> tuple:
        path = self.media.path(key)
        return (name or path.name, path.read_bytes(), content_type)

    def video(self, key: str = "clip", name: str | None = None) -> tuple:
        return self.file(key, name, "video/mp4")

    def mask(self, key: str = "mask", name: str | None = None) -> tuple:
        return self.file(key, name, "image/png")

    def unique_budget(self) -> str:
        """Accepted uploads get distinct budgets, so that each is its own job (not deduplicated)."""
        self._budget = round(self._budget + 0.01, 2)
        return f"{self._budget:.2f}"

    def done_job(self) -> str:
        """A job that finished (for 'cancel a finished job')."""
        if self._done is None:
            reply = self.stack.api_post([("video", self.video()), ("mask", self.mask()), ("iterations", "1"),
                                         ("name", "finished job")])
            assert reply.status_code == 202, reply.text
            job_id = reply.json()["id"]
            body = self.stack.wait_job(job_id, timeout=180)
            assert body["state"] == "done", body
            self._done = job_id
        return self._done

    def api_upload(self, video: tuple | None = None, mask: tuple | None = None, headers: dict | None = None,
                   **fields) -> Reply:
        parts = []
        if video is not None:
            parts.append(("video", video))
        if mask is not None:
            parts.append(("mask", mask))
        parts += [(k, str(v)) for k, v in fields.items()]
        return Reply.of(self.stack.api_post(parts, headers=headers))

    def settle(self, job_id: str) -> None:
        """Accepted-on-purpose jobs are cancelled at once (the matrix is not about computing them)."""
        self.accepted.append(job_id)
        self.stack.cancel(job_id)

    def stray_files(self, *needles: str) -> list[str]:
        """Files anywhere under the run's folder whose name contains a client-chosen name fragment."""
        found = []
        for root, dirs, files in os.walk(self.stack.base):
            for name in dirs + files:
                if any(n in name for n in needles):
                    found.append(os.path.join(root, name))
        return found


def _get(ctx: Context, path: str, headers: dict | None = None) -> Reply:
    return Reply.of(requests.get(f"{ctx.stack.api_url}{path}", headers=ctx.stack.auth if headers is None
                                 else headers, timeout=10))


def _api_accepted(expected_name: Callable[[str], bool], needles: tuple[str, ...] = ()):
    def verify(ctx: Context, reply: Reply) -> str | None:
        job_id = reply.json().get("id", "")
        job = ctx.stack.job(job_id)
        ctx.settle(job_id)
        stored = sorted(p.name for p in (ctx.stack.data / "jobs" / job_id).iterdir()
                        if not re.fullmatch(r"\.job\.json\.\w+\.tmp", p.name))  # an atomic write in flight
        if not set(stored) <= {"video", "mask.png", "job.json", ".lock", ".access", ".cancel", "outputs"}:
            return f"unexpected files in the job folder: {stored}"
        if not expected_name(job.get("name") or ""):
            return f"display name not as expected: {job.get('name')!r}"
        stray = ctx.stray_files(*needles) if needles else []
        return f"client file name became a path: {stray}" if stray else None
    return verify


def _api_mask_decoded(ctx: Context, reply: Reply) -> str | None:
    from osvos.masks import load_mask

    job_id = reply.json().get("id", "")
    ctx.settle(job_id)
    stored = load_mask((ctx.stack.data / "jobs" / job_id / "mask.png").read_bytes())
    expected = first_mask((WIDTH, HEIGHT))
    return None if np.array_equal(stored, expected) else f"mask decoded wrongly ({stored.sum()} px vs {expected.sum()})"


def _site_accepted(needles: tuple[str, ...] = ()):
    def verify(ctx: Context, reply: Reply) -> str | None:
        match = re.match(r"^/jobs/([0-9a-f]{32})/$", reply.location)
        if not match:
            return f"redirected to {reply.location!r}, not to a job page"
        ctx.settle(match.group(1))
        uploads = ctx.stack.data / "webapp" / "uploads"
        bad = [str(p) for p in uploads.rglob("*") if p.is_file() and not re.fullmatch(
            r"submissions/[0-9a-f-]{36}/(video|mask)\.[a-z0-9]{1,7}", p.relative_to(uploads).as_posix())]
        stray = ctx.stray_files(*needles) if needles else []
        if bad or stray:
            return f"unexpected stored files: {bad + stray}"
        return None
    return verify


def _api_error_shape(ctx: Context, reply: Reply) -> str | None:
    try:
        body = reply.json()
    except ValueError:
        return "not JSON"
    return None if set(body) == {"error", "detail"} else f"error body is {body}"


LONG_NAME = "v" * 5000 + ".mp4"
UNICODE_NAME = "vidéo 视频 🦢.mp4"


def build_cases() -> list[Case]:
    """At least 20 cases against the API and the site (the issue's list, plus a few more)."""
    A, S = "API", "site"
    cases = [
        # --- videos
        Case("api-zero-byte", A, "zero-byte video file", 422, ("empty",),
             lambda c: c.api_upload(c.video("empty"), c.mask())),
        Case("site-zero-byte", S, "zero-byte video file", 400, ("empty",),
             lambda c: c.site.upload(c.video("empty"), c.mask())),
        Case("api-text-as-mp4", A, "text file named .mp4", 422, ("no video stream",),
             lambda c: c.api_upload(c.video("text"), c.mask())),
        Case("site-text-as-mp4", S, "text file named .mp4", 400, ("not a video",),
             lambda c: c.site.upload(c.video("text"), c.mask())),
        Case("site-wrong-extension", S, "text file named .txt as the video", 400, ("not a video file we accept",),
             lambda c: c.site.upload(c.file("text_txt", content_type="text/plain"), c.mask())),
        Case("api-truncated", A, "truncated MP4 (first 600 bytes)", 422, ("no video stream",),
             lambda c: c.api_upload(c.video("truncated"), c.mask())),
        Case("site-truncated", S, "truncated MP4 (first 600 bytes)", 400, ("not a video",),
             lambda c: c.site.upload(c.video("truncated"), c.mask())),
        Case("api-audio-only", A, "audio-only file (AAC in .mp4)", 422, ("audio only",),
             lambda c: c.api_upload(c.video("audio"), c.mask())),
        Case("site-audio-only", S, "audio-only file (AAC in .mp4)", 400, ("no readable video stream",),
             lambda c: c.site.upload(c.video("audio"), c.mask())),
        Case("api-one-frame", A, "1-frame video", 422, ("only 1 frame", "at least 2"),
             lambda c: c.api_upload(c.video("one_frame"), c.mask())),
        Case("site-one-frame", S, "1-frame video", 422, ("only 1 frame",),
             lambda c: c.site.upload(c.video("one_frame"), c.mask())),
        Case("api-frame-cap", A, f"video over the frame cap ({MAX_FRAMES + 10} frames, cap {MAX_FRAMES})", 422,
             (f"{MAX_FRAMES + 10} frames", f"at most {MAX_FRAMES}"),
             lambda c: c.api_upload(c.video("long"), c.mask())),
        Case("site-frame-cap", S, f"video over the frame cap ({MAX_FRAMES + 10} frames, cap {MAX_FRAMES})", 422,
             (f"at most {MAX_FRAMES}",), lambda c: c.site.upload(c.video("long"), c.mask())),
        Case("api-size-cap", A, f"upload over the size cap (1.5 MB, cap {MAX_UPLOAD_MB:g} MB)", 413, ("limit",),
             lambda c: c.api_upload(c.video("big"), c.mask())),
        Case("site-size-cap", S, f"upload over the size cap (1.5 MB, cap {MAX_UPLOAD_MB:g} MB)", 400,
             ("the limit is",), lambda c: c.site.upload(c.video("big"), c.mask())),
        Case("api-declared-50GB", A, "body declared as 50 GB (refused before it is read)", 413,
             ("too large",), lambda c: declared_oversize(c.stack.api_url, "/api/v1/jobs", c.stack.auth)),
        Case("site-declared-50GB", S, "body declared as 50 GB (refused before it is read)", 413,
             ("too large",), lambda c: declared_oversize(c.stack.site_url, "/upload/")),
        # --- masks
        Case("api-bomb-mask", A, "decompression-bomb mask (30000x30000 PNG, 110 KB)", 422, ("too large",),
             lambda c: c.api_upload(c.video(), c.mask("bomb"))),
        Case("site-bomb-mask", S, "decompression-bomb mask (30000x30000 PNG, 110 KB)", 400, ("too large",),
             lambda c: c.site.upload(c.video(), c.mask("bomb"))),
        Case("api-mask-size", A, "mask of the wrong size (48x32 for 96x64)", 422, ("48x32", "96x64"),
             lambda c: c.api_upload(c.video(), c.mask("mask_small"))),
        Case("site-mask-size", S, "mask of the wrong size (48x32 for 96x64)", 400, ("48×32", "96×64"),
             lambda c: c.site.upload(c.video(), c.mask("mask_small"))),
        Case("api-mask-black", A, "all-black mask", 422, ("empty",),
             lambda c: c.api_upload(c.video(), c.mask("mask_black"))),
        Case("site-mask-black", S, "all-black mask", 422, ("empty",),
             lambda c: c.site.upload(c.video(), c.mask("mask_black"))),
        Case("api-mask-white", A, "all-white mask", 422, ("whole frame",),
             lambda c: c.api_upload(c.video(), c.mask("mask_white"))),
        Case("site-mask-white", S, "all-white mask", 422, ("whole frame",),
             lambda c: c.site.upload(c.video(), c.mask("mask_white"))),
        Case("api-mask-garbage", A, "mask that is not an image (PNG signature, then zeros)", 422,
             ("not a readable image",), lambda c: c.api_upload(c.video(), c.mask("mask_garbage"))),
        Case("site-mask-garbage", S, "mask that is not an image (PNG signature, then zeros)", 400,
             ("not a readable image",), lambda c: c.site.upload(c.video(), c.mask("mask_garbage"))),
        Case("api-mask-16bit", A, "16-bit grayscale mask (valid drawing): accepted, decoded exactly", 202, (),
             lambda c: c.api_upload(c.video(), c.mask("mask16"), budget=c.unique_budget()), _api_mask_decoded),
        Case("api-mask-cmyk", A, "CMYK TIFF mask (valid drawing): accepted, decoded exactly", 202, (),
             lambda c: c.api_upload(c.video(), c.file("mask_cmyk", content_type="image/tiff"),
                                    budget=c.unique_budget()), _api_mask_decoded),
        Case("site-mask-16bit", S, "16-bit grayscale mask (valid drawing): accepted", 302, (),
             lambda c: c.site.upload(c.video(), c.mask("mask16"), budget=c.unique_budget()), _site_accepted()),
        Case("site-mask-cmyk", S, "CMYK TIFF mask (valid drawing): accepted", 302, (),
             lambda c: c.site.upload(c.video(), c.file("mask_cmyk", content_type="image/tiff"),
                                     budget=c.unique_budget()), _site_accepted()),
        # --- file names (accepted: a client's name is a display name, never a path)
        Case("api-name-dotdot", A, "file names with ../ (accepted; never a path)", 202, (),
             lambda c: c.api_upload(c.video(name="../../../../escape-v.mp4"), c.mask(name="../../escape-m.png"),
                                    budget=c.unique_budget()),
             _api_accepted(lambda n: n == "../../../../escape-v.mp4", ("escape-",))),
        Case("site-name-dotdot", S, "file names with ../ (accepted; never a path)", 302, (),
             lambda c: c.site.upload(c.video(name="../../../../escape-sv.mp4"),
                                     c.mask(name="../../escape-sm.png"), budget=c.unique_budget()),
             _site_accepted(("escape-",))),
        Case("api-name-nul", A, "file name with a NUL byte (accepted; NUL dropped)", 202, (),
             lambda c: c.api_upload(c.video(name="nul\x00byte.mp4"), c.mask(), budget=c.unique_budget()),
             _api_accepted(lambda n: "\x00" not in n and n.startswith("nul"))),
        Case("site-name-nul", S, "file name with a NUL byte (accepted; NUL dropped)", 302, (),
             lambda c: c.site.upload(c.video(name="nul\x00byte.mp4"), c.mask(name="m\x00.png"),
                                     budget=c.unique_budget()), _site_accepted()),
        Case("api-name-long", A, "5000-character file name (accepted; name cut to 200)", 202, (),
             lambda c: c.api_upload(c.video(name=LONG_NAME), c.mask(name="m" * 5000 + ".png"),
                                    budget=c.unique_budget()),
             _api_accepted(lambda n: 0 < len(n) <= 200)),
        Case("site-name-long", S, "5000-character file name (over Django's 1 KB part-header limit)", 400,
             ("could not be read", "file name"),
             lambda c: c.site.upload(c.video(name=LONG_NAME), c.mask(name="m" * 5000 + ".png"),
                                     budget=c.unique_budget())),
        Case("site-name-200", S, "200-character file name (accepted; stored as video.mp4)", 302, (),
             lambda c: c.site.upload(c.video(name="v" * 196 + ".mp4"), c.mask(name="m" * 196 + ".png"),
                                     budget=c.unique_budget()), _site_accepted()),
        Case("api-name-unicode", A, "non-ASCII file name (accepted; kept as the display name)", 202, (),
             lambda c: c.api_upload(c.video(name=UNICODE_NAME), c.mask(name="masque é.png"),
                                    budget=c.unique_budget()),
             _api_accepted(lambda n: n == UNICODE_NAME)),
        Case("site-name-unicode", S, "non-ASCII file name (accepted)", 302, (),
             lambda c: c.site.upload(c.video(name=UNICODE_NAME), c.mask(name="masque é.png"),
                                     budget=c.unique_budget()), _site_accepted()),
        # --- request shape
        Case("api-json-body", A, "wrong content type (application/json instead of multipart)", 400,
             ("multipart/form-data",),
             lambda c: Reply.of(requests.post(f"{c.stack.api_url}/api/v1/jobs", json={"video": "clip.mp4"},
                                              headers=c.stack.auth, timeout=10)), _api_error_shape),
        Case("site-json-body", S, "wrong content type (application/json instead of multipart)", 400,
             ("required",),
             lambda c: c.site.post("/upload/", data=json.dumps({"video": "x"}),
                                   headers={"Content-Type": "application/json", "X-CSRFToken": c.site.token
                                            or c.site.csrf()})),
        Case("api-missing-mask", A, "missing field (no mask)", 400, ("'mask'", "missing"),
             lambda c: c.api_upload(c.video()), _api_error_shape),
        Case("api-missing-video", A, "missing field (no video)", 400, ("'video'", "missing"),
             lambda c: c.api_upload(None, c.mask()), _api_error_shape),
        Case("site-missing-mask", S, "missing field (no mask)", 400, ("choose a mask image",),
             lambda c: c.site.upload(c.video(), None)),
        Case("api-bad-budget", A, "non-numeric budget", 400, ("number of seconds",),
             lambda c: c.api_upload(c.video(), c.mask(), budget="soon")),
        Case("site-bad-budget", S, "budget below the minimum (0)", 400, ("greater than or equal to 1",),
             lambda c: c.site.upload(c.video(), c.mask(), budget="0")),
        # --- authentication and CSRF
        Case("api-no-token", A, "missing API token", 401, ("bearer",),
             lambda c: _get(c, "/api/v1/jobs", headers={})),
        Case("api-wrong-token", A, "wrong API token", 401, ("bearer",),
             lambda c: c.api_upload(c.video(), c.mask(), headers={"Authorization": "Bearer not-the-token"})),
        Case("api-token-no-scheme", A, "token without the Bearer scheme", 401, ("bearer",),
             lambda c: _get(c, "/api/v1/health", headers={"Authorization": c.stack.token})),
        Case("site-forged-csrf", S, "forged CSRF token", 403, ("csrf verification failed",),
             lambda c: c.site.upload(c.video(), c.mask(), token="x" * 64)),
        Case("site-no-csrf-cookie", S, "POST without the CSRF cookie", 403, ("csrf",),
             lambda c: Reply.of(requests.post(f"{c.stack.site_url}/upload/", data={"name": "x"}, timeout=10))),
        # --- jobs
        Case("api-unknown-job", A, "unknown job id", 404, ("no job with this id",),
             lambda c: _get(c, f"/api/v1/jobs/{'0' * 32}"), _api_error_shape),
        Case("api-malformed-job", A, "malformed job id (../../etc/passwd)", 404, ("not found",),
             lambda c: _get(c, "/api/v1/jobs/..%2F..%2Fetc%2Fpasswd")),
        Case("site-unknown-job", S, "unknown job id (page)", 404, ("job not found", "does not know job"),
             lambda c: c.site.get(f"/jobs/{'0' * 32}/")),
        Case("site-unknown-job-status", S, "unknown job id (status.json)", 404, ("no job with this id",),
             lambda c: c.site.get(f"/jobs/{'0' * 32}/status.json")),
        Case("api-cancel-finished", A, "cancel of a finished job", 409, ("already done",),
             lambda c: Reply.of(requests.post(f"{c.stack.api_url}/api/v1/jobs/{c.done_job()}/cancel",
                                              headers=c.stack.auth, timeout=10)), _api_error_shape),
        Case("site-cancel-finished", S, "cancel of a finished job (form: redirect + message)", 302,
             ("could not cancel", "already done"),
             lambda c: c.site.post(f"/jobs/{c.done_job()}/cancel", [], follow=True)),
        Case("api-unknown-output", A, "unknown output name (job.json) of a finished job", 404, ("no output called",),
             lambda c: _get(c, f"/api/v1/jobs/{c.done_job()}/outputs/job.json")),
        Case("api-wrong-method", A, "wrong method (PUT /api/v1/jobs)", 405, ("not allowed",),
             lambda c: Reply.of(requests.put(f"{c.stack.api_url}/api/v1/jobs", headers=c.stack.auth,
                                             timeout=10))),
    ]
    return cases


CASES = build_cases()


def run_case(ctx: Context, case: Case) -> Result:
    problems = []
    try:
        reply = case.send(ctx)
    except Exception as exc:  # noqa: BLE001 - a connection reset etc. is a failed case, not a crash
        return Result(case, 0, f"{type(exc).__name__}: {exc}", [f"request failed: {type(exc).__name__}: {exc}"])
    message = readable_message(reply) if reply.status >= 400 else ""
    if 300 <= reply.status < 400:
        message = " ".join(filter(None, [readable_message(reply), f"(→ {reply.location})"]))
    elif reply.status < 300:
        message = f"→ {reply.location}" if reply.location else readable_message(reply)[:200]
    if reply.status != case.expect:
        problems.append(f"expected {case.expect}, got {reply.status}")
    if reply.status >= 500:
        problems.append("server error")
    if "Traceback" in reply.text:
        problems.append("traceback in the response")
    if reply.status >= 400 and not message.strip():
        problems.append("no readable message")
    lowered = message.lower()
    for word in case.words:
        if word.lower() not in lowered:
            problems.append(f"message lacks {word!r}")
    if not problems and case.verify is not None:
        try:
            problem = case.verify(ctx, reply)
        except Exception as exc:  # noqa: BLE001
            problem = f"check failed: {type(exc).__name__}: {exc}"
        if problem:
            problems.append(problem)
    return Result(case, reply.status, message, problems, reply.elapsed_ms)


def run_matrix(ctx: Context, log=print) -> tuple[list[Result], dict]:
    results = []
    for case in CASES:
        result = run_case(ctx, case)
        results.append(result)
        log(f"  {'ok ' if result.ok else 'FAIL'} {case.target:<4} {case.title:<62} {case.expect} → {result.got}  "
            f"{result.message[:90]}" + ("" if result.ok else f"   {result.problems}"))
    after = services_after(ctx)
    return results, after


def services_after(ctx: Context) -> dict:
    """Both services healthy after the matrix, and a good upload still accepted."""
    after = ctx.stack.health()
    good = ctx.api_upload(ctx.video(), ctx.mask("mask_rgb"), budget=ctx.unique_budget(), name="control")
    after["good_upload"] = good.status
    if good.status == 202:
        ctx.settle(good.json()["id"])
    after["tracebacks"] = ctx.stack.tracebacks()
    after["ok"] = bool(after["api_ok"] and after["site_ok"] and good.status == 202 and not after["tracebacks"])
    return after


# -- duplicates, latency ----------------------------------------------------------------------------------------
def duplicates(ctx: Context, count: int = 10, log=print) -> dict:
    stack = ctx.stack
    res = concurrent_posts(stack.api_url, ctx.media.path("clip"), ctx.media.path("mask"),
                           {"iterations": "2", "name": "duplicate"}, count, headers=stack.auth)
    job_id = res["ids"][0]
    final = stack.wait_job(job_id, timeout=180) if res["identical"] else {}
    record = stack.record(job_id) or {}
    started_lines = stack.api.log_text().count(f"job {job_id} started")
    folders = [p.name for p in (stack.data / "jobs").iterdir() if p.name == job_id]
    out = {"posts": count, "statuses": res["statuses"], "distinct_ids": len(set(res["ids"])), "id": job_id,
           "created": res["created"], "elapsed_s": round(res["elapsed_s"], 2), "final_state": final.get("state"),
           "attempts": record.get("attempts"), "worker_starts": started_lines, "job_folders": len(folders)}
    out["ok"] = (set(res["statuses"]) == {202} and out["distinct_ids"] == 1 and out["created"] == 1
                 and out["final_state"] == "done" and out["attempts"] == 1 and started_lines == 1)
    log(f"duplicates: {out}")
    return out


def latency(ctx: Context, pollers: int = 50, interval: float = 0.25, window: float = 6.0, budget: float = 20.0,
            site_interval: float | None = 1.0, rounds: int = 1, log=print) -> dict:
    """Start a fine-tuning job (``budget`` s) and measure, while it runs, ``pollers`` concurrent clients of the
    API's job status (each every ``interval`` s; ``rounds`` windows of ``window`` s, ``api`` is the round with
    the median p99), then of the site's status.json (which asks the API in turn; every ``site_interval`` s, as
    the job page does; None: skip)."""
    stack = ctx.stack
    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="latency")
    assert reply.status == 202, reply.text
    job_id = reply.json()["id"]
    wait_until(lambda: stack.job(job_id).get("stage") == "finetuning", timeout=120, every=0.1)

    def running() -> bool:
        return stack.job(job_id).get("state") == "running"

    out = {"job": job_id, "budget_s": budget}
    out["api_rounds"] = []
    for _round in range(rounds):
        result = poll_latency(f"{stack.api_url}/api/v1/jobs/{job_id}", pollers, seconds=window,
                              interval=interval, headers=stack.auth, until=lambda: not running())
        out["api_rounds"].append(result)
        log("API status latency: " + format_latency(result))
    by_p99 = sorted(out["api_rounds"], key=lambda r: r["p99_ms"] if r["p99_ms"] is not None else 1e9)
    out["api"] = by_p99[(len(by_p99) - 1) // 2]
    if site_interval:
        out["site"] = poll_latency(f"{stack.site_url}/jobs/{job_id}/status.json", pollers, seconds=window,
                                   interval=site_interval, until=lambda: not running())
        log("site status.json latency: " + format_latency(out["site"]))
    out["still_running_after"] = running()
    stack.cancel(job_id)
    out["final_state"] = stack.wait_job(job_id, timeout=60)["state"]
    return out


def wait_mid_finetuning(stack: Stack, job_id: str) -> None:
    """Return once the job has been fine-tuning for about two seconds (the moment the crash tests kill)."""
    wait_until(lambda: stack.job(job_id).get("stage") == "finetuning", timeout=120, every=0.1)
    time.sleep(2.0)


def has_partial_output(stack: Stack, job_id: str) -> bool:
    """Whether the store shows any output of the job: its ``outputs/`` or a render left under ``tmp/``."""
    renders = [p.name for p in (stack.data / "tmp").iterdir() if p.name.startswith(f"render-{job_id[:12]}")]
    return (stack.data / "jobs" / job_id / "outputs").exists() or bool(renders)


def product_layout(base: Path) -> tuple[Stack, Service]:
    """A stack whose API serves HTTP only (``--workers 0``), and its ``--worker-only`` process (not started)."""
    stack = Stack(base)
    stack.api.argv[stack.api.argv.index("--workers") + 1] = "0"
    worker = Service("worker", [sys.executable, "-m", "api_server", "--worker-only", "--workers", "1"],
                     stack.api.env, base / "worker.log")
    return stack, worker


def separate_worker(base: Path, media: Media, pollers: int = 50, interval: float = 0.25, window: float = 6.0,
                    rounds: int = 3, budget: float = 40.0, log=print) -> dict:
    """The product's layout (what ``scripts/serve.py`` runs): ``--workers 0`` for HTTP plus
    ``python -m api_server --worker-only`` in a session of its own, which lowers its priority
    (``OSVOS_WORKER_NICE``). Measures the status latency, then kills the worker with SIGKILL mid fine-tuning."""
    stack, worker = product_layout(base)
    try:
        stack.start()
        worker.start()
        ctx = Context(stack, media)
        out = latency(ctx, pollers, interval, window, budget=budget, rounds=rounds, log=log)
        out["worker_crash"] = worker_crash(ctx, worker, log=log)
    finally:
        worker.stop()
        stack.close()
    return out


def worker_crash(ctx: Context, worker: Service, budget: float = 20.0, log=print) -> dict:
    """kill -9 of the worker process mid fine-tuning: the HTTP process keeps answering; once a worker runs
    again (``scripts/serve.py`` restarts it) the job is failed with a reason and new jobs run."""
    stack = ctx.stack
    transcript: list[str] = []
    checks: dict[str, bool] = {}

    def say(text: str) -> None:
        transcript.append(text)
        log("  " + text)

    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="worker crash victim")
    victim = reply.json()["id"]
    say(f"POST /api/v1/jobs (budget {budget:g} s) → {reply.status} id={victim}")
    wait_mid_finetuning(stack, victim)
    pid = worker.kill9()
    say(f"kill -9 {pid}   (the --worker-only process, mid fine-tuning)")
    health = requests.get(f"{stack.api_url}/api/v1/health", headers=stack.auth, timeout=5)
    job = stack.job(victim)
    say(f"GET /api/v1/health → {health.status_code}; GET victim → state={job['state']} stage={job['stage']}")
    checks["HTTP keeps answering while the worker is dead"] = health.status_code == 200
    queued = ctx.api_upload(ctx.video(), ctx.mask(), budget="1.5", name="posted while the worker is dead")
    queued_id = queued.json()["id"]
    say(f"POST a job while the worker is dead → {queued.status} state={queued.json().get('state')}")
    checks["jobs accepted while the worker is dead"] = queued.status == 202
    worker.start()
    say(f"worker restarted (pid {worker.pid})")
    job = stack.wait_job(victim, states=("failed", "done", "queued"), timeout=120)
    say(f"GET victim → state={job['state']} error={job['error']!r}")
    checks["victim failed with a reason, not left running"] = job["state"] == "failed" and bool(job["error"])
    checks["no partial output in the store"] = not has_partial_output(stack, victim)
    final = stack.wait_job(queued_id, timeout=180)
    say(f"job posted while the worker was dead → {final['state']}")
    checks["job posted meanwhile runs to completion"] = final["state"] == "done"
    return {"transcript": transcript, "checks": checks, "ok": all(checks.values())}


# -- crash recovery ---------------------------------------------------------------------------------------------
def crash_recovery(ctx: Context, budget: float = 20.0, log=print) -> dict:
    """kill -9 the API while a job fine-tunes and the site right after; restart both; check what is left."""
    stack = ctx.stack
    t0 = time.monotonic()
    transcript: list[str] = []
    checks: dict[str, bool] = {}

    def say(text: str) -> None:
        line = f"[{time.monotonic() - t0:6.1f} s] {text}"
        transcript.append(line)
        log(line)

    reply = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="crash victim")
    victim = reply.json()["id"]
    say(f"POST /api/v1/jobs (budget {budget:g} s) → {reply.status} id={victim}")
    site = SiteClient(stack.site_url)
    queued = site.upload(ctx.video(), ctx.mask(), budget="1.5", name="queued behind the victim")
    queued_id = queued.location.strip("/").split("/")[-1]
    say(f"site: POST /upload/ → {queued.status} {queued.location} (queued behind the victim)")

    wait_mid_finetuning(stack, victim)
    job = stack.job(victim)
    say(f"GET job → state={job['state']} stage={job['stage']} progress={job['progress']:.0%} eta={job['eta_s']} s")
    checks["killed mid fine-tuning"] = job["state"] == "running" and job["stage"] == "finetuning"

    pid = stack.api.kill9()
    say(f"kill -9 {pid}   (the API process with its embedded worker)")
    try:
        requests.get(f"{stack.api_url}/api/v1/health", headers=stack.auth, timeout=3)
        say("API still answers?!")
        checks["API down after kill"] = False
    except requests.ConnectionError:
        say("GET /api/v1/health → connection refused")
        checks["API down after kill"] = True
    rec = stack.record(victim) or {}
    tmp = sorted(p.name for p in (stack.data / "tmp").iterdir())
    say(f"store while down: job.json state={rec.get('state')} stage={rec.get('stage')}; tmp/ = {tmp}")

    down = site.upload(ctx.video(), ctx.mask(), budget="2.5", name="sent while the API is down")
    say(f"site: POST /upload/ while the API is down → {down.status} {down.location}")
    checks["site keeps an upload while the API is down"] = down.status == 302 and "/submissions/" in down.location
    spid = stack.site.kill9()
    say(f"kill -9 {spid}   (the site)")

    stack.api.start()
    up = stack.wait_api(180, model_ready=False)
    say(f"API restarted (pid {stack.api.pid}); answering after {up:.1f} s")
    stack.site.start()
    up = stack.wait_site(120)
    say(f"site restarted (pid {stack.site.pid}); answering after {up:.1f} s")

    for line in stack.api.log_text().splitlines()[-400:]:
        if victim in line and "marked failed" in line:
            say("API log: " + line.split(" WARNING ", 1)[-1].strip())
    job = stack.job(victim)
    say(f"GET victim → state={job['state']} error={job['error']!r}")
    checks["victim not left running"] = job["state"] != "running"
    checks["victim failed with a reason (or re-run)"] = (job["state"] == "failed" and bool(job["error"])) or \
        job["state"] in ("queued", "done")
    folder = stack.data / "jobs" / victim
    leftovers = sorted(p.name for p in (stack.data / "tmp").iterdir())
    say(f"store: jobs/{victim[:12]}…/ = {sorted(p.name for p in folder.iterdir() if not p.name.startswith('.'))}; "
        f"tmp/ = {leftovers}")
    checks["no partial output in the store"] = not has_partial_output(stack, victim)

    final = stack.wait_job(queued_id, timeout=180)
    say(f"job queued before the crash ({queued_id[:12]}…) → {final['state']} after the restart")
    checks["queued job re-run to completion"] = final["state"] == "done"

    again = ctx.api_upload(ctx.video(), ctx.mask(), budget=f"{budget:g}", name="crash victim")
    say(f"POST the victim again → {again.status} id={again.json().get('id')} state={again.json().get('state')}")
    checks["victim can be posted again"] = again.status == 202 and again.json().get("id") == victim and \
        again.json().get("state") in ("queued", "running")
    stack.cancel(victim)

    site2 = SiteClient(stack.site_url)
    page = site2.get(down.location)
    say(f"site after restart: GET {down.location} → {page.status}, "
        f"{'shows the saved upload' if 'sent while the API is down' in page.text else 'upload missing'}")
    checks["submission survives kill -9 of the site"] = page.status == 200 and "sent while the API is down" in page.text
    pk = down.location.strip("/").split("/")[-1]
    resent = site2.post(f"/submissions/{pk}/resubmit", [])
    say(f"site: resubmit → {resent.status} {resent.location}")
    checks["saved upload resubmitted"] = resent.status == 302 and resent.location.startswith("/jobs/")
    if resent.location.startswith("/jobs/"):
        resent_id = resent.location.strip("/").split("/")[-1]
        say(f"GET {resent_id[:12]}… → {stack.job(resent_id).get('state')}")
        stack.cancel(resent_id)
    queued_page = site2.get(f"/jobs/{queued_id}/")
    say(f"site: GET /jobs/{queued_id[:12]}…/ → {queued_page.status}")
    checks["job page of the accepted submission still there"] = queued_page.status == 200
    health = stack.health()
    say(f"health: API {health['api']}; site {health['site']}")
    checks["services healthy after restart"] = health["api_ok"] and health["site_ok"]
    return {"transcript": transcript, "checks": checks, "victim": victim,
            "ok": all(checks.values())}


# -- hardening --------------------------------------------------------------------------------------------------
def check_deploy(base: Path) -> dict:
    """``manage.py check --deploy`` under production settings (secret from env, DEBUG off, HTTPS on), and as a
    control with DEBUG on (which must be flagged)."""
    out = {}
    for label, extra in (("production", {"DJANGO_DEBUG": "0"}), ("control: DEBUG on", {"DJANGO_DEBUG": "1"})):
        env = {**clean_env(), "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "OSVOS_WEB_DATA_DIR":
               str(base / "deploy-check"), **extra}
        proc = subprocess.run([sys.executable, str(ROOT / "webapp" / "manage.py"), "check", "--deploy",
                               "--fail-level", "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        text = (proc.stdout + proc.stderr).strip()
        out[label] = {"returncode": proc.returncode, "output": text,
                      "issues": re.findall(r"\((security\.\w+)\)", text)}
    out["ok"] = out["production"]["returncode"] == 0 and "no issues" in out["production"]["output"] and \
        out["control: DEBUG on"]["returncode"] != 0
    return out


def token_checks(stack: Stack) -> dict:
    url = f"{stack.api_url}/api/v1/jobs?limit=1"
    out = {
        "no token": requests.get(url, timeout=10).status_code,
        "wrong token": requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code,
        "right token": requests.get(url, headers=stack.auth, timeout=10).status_code,
    }
    site = requests.get(f"{stack.site_url}/health.json", timeout=10).json()
    out["site → API with the token"] = "ok" if site.get("api_ok") else site.get("api")
    out["ok"] = (out["no token"], out["wrong token"], out["right token"]) == (401, 401, 200) and site.get("api_ok")
    return out


def site_with_wrong_token(stack: Stack, media: Media) -> dict:
    """A second site whose OSVOS_API_TOKEN is wrong (a misconfiguration): the API must refuse it, and the site
    must keep the user's upload (for a resubmit once fixed) and say why, not throw it away or crash."""
    env = {**stack.site.env, "OSVOS_API_TOKEN": "not-the-token", "OSVOS_WEB_DATA_DIR": str(stack.base / "web-b")}
    port = free_port()
    argv = list(stack.site.argv)
    argv[argv.index("--web-port") + 1] = str(port)
    site = Service("site-wrong-token", argv, env, stack.base / "site-wrong-token.log")
    url = f"http://127.0.0.1:{port}"
    try:
        site.start()
        wait_site(site, url, 120)
        client = SiteClient(url)
        reply = client.upload(("clip.mp4", media.bytes("clip"), "video/mp4"),
                              ("mask.png", media.bytes("mask"), "image/png"), budget="1.7", name="wrong token")
        page = client.get(reply.location) if reply.location.startswith("/") else reply
        health = requests.get(f"{url}/health.json", timeout=10).json()
        out = {"upload": reply.status, "location": reply.location, "page": page.status,
               "message": readable_message(page) if page.status < 300 else readable_message(reply),
               "kept": page.status == 200 and "wrong token" in page.text and "/submissions/" in reply.location,
               "health api_ok": health.get("api_ok"), "health detail": (health.get("api") or {}).get("detail")}
    finally:
        site.stop()
    out["ok"] = bool(out["kept"] and out["health api_ok"] is False)
    return out


# -- the report -------------------------------------------------------------------------------------------------
def _verdict(rounds: list[dict]) -> str:
    p99s = [r["p99_ms"] if r["p99_ms"] is not None else 1e9 for r in rounds]
    if all(p < 100 for p in p99s):
        return "meets the 100 ms target"
    if all(p >= 100 for p in p99s):
        return "misses the 100 ms target"
    return f"meets the 100 ms target in {sum(p < 100 for p in p99s)} of {len(p99s)} rounds"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("\x00", "\\0")


def write_markdown(path: Path, data: dict) -> None:
    results: list[Result] = data["matrix"]
    lines = ["# Reliability and security", "",
             "Generated by `python scripts/reliability_report.py` (the same checks run in `tests/reliability`, "
             "marker `reliability`). Do not edit by hand.", "",
             f"Run: {data['when']} on {data['machine']}; commit `{data['commit']}`; "
             f"{data['duration_s']:.0f} s in all.", "",
             "Set-up: the API (`python -m api_server`, real OSVOS model at `OSVOS_WORK_SIZE=64`, bearer token, "
             f"`OSVOS_MAX_FRAMES={MAX_FRAMES}`, `OSVOS_MAX_UPLOAD_MB={MAX_UPLOAD_MB:g}`) and the site "
             "(`python scripts/serve.py --no-api`, DEBUG off, CSRF on, video/mask caps "
             f"{MAX_UPLOAD_MB:g} MB) as separate processes on free 127.0.0.1 ports, fresh store; inputs are "
             f"synthetic {WIDTH}x{HEIGHT} clips of {CLIP_FRAMES} frames written with `osvos.video.write_video`.", ""]
    passed = sum(r.ok for r in results)
    refused = sum(1 for r in results if r.case.expect >= 400)
    lines += ["## Summary", "",
              "| check | result |", "|---|---|",
              f"| bad-input matrix | {passed}/{len(results)} cases as expected ({refused} refusals with a 4xx, "
              f"{len(results) - refused} accepted safely) |",
              f"| services after the matrix | {'healthy' if data['after']['ok'] else 'NOT healthy'}: "
              f"API {_cell(data['after']['api'])}; site {_cell(data['after']['site'])}; a good upload → "
              f"{data['after']['good_upload']}; tracebacks in logs: {len(data['after']['tracebacks'])} |"]
    dup = data["duplicates"]
    lines.append(f"| 10 concurrent identical posts | {'ok' if dup['ok'] else 'FAILED'}: {dup['distinct_ids']} id, "
                 f"{dup['created']} computation (attempts {dup['attempts']}, worker starts {dup['worker_starts']}), "
                 f"statuses {sorted(set(dup['statuses']))} |")
    emb, sep = data["latency"], data["latency"]["separate"]
    for label, run in (("product layout (worker process at nice 10)", sep), ("embedded worker", emb)):
        rounds = run["api_rounds"]
        lines.append(f"| 50 pollers, API job status, {label} | p50 {run['api']['p50_ms']} ms, p99 "
                     f"{run['api']['p99_ms']} ms (median of {len(rounds)} rounds; p99 per round "
                     f"{', '.join(str(r['p99_ms']) for r in rounds)} ms: {_verdict(rounds)}), errors "
                     f"{sum(r['errors'] for r in rounds)} |")
        lines.append(f"| 50 pollers, site status.json, {label} | p50 {run['site']['p50_ms']} ms, p99 "
                     f"{run['site']['p99_ms']} ms, {run['site']['requests']} requests, {run['site']['errors']} errors |")
    crash, worker_crash = data["crash"], sep["worker_crash"]
    lines.append(f"| kill -9 of API (mid fine-tuning) and site | {'ok' if crash['ok'] else 'FAILED'}: "
                 f"{sum(crash['checks'].values())}/{len(crash['checks'])} checks |")
    lines.append(f"| kill -9 of the worker process (product layout, mid fine-tuning) | "
                 f"{'ok' if worker_crash['ok'] else 'FAILED'}: {sum(worker_crash['checks'].values())}/"
                 f"{len(worker_crash['checks'])} checks |")
    dep = data["deploy"]
    lines.append(f"| `manage.py check --deploy` (production env) | "
                 f"{'clean' if dep['ok'] else 'NOT clean'} (exit {dep['production']['returncode']}) |")
    tok = data["tokens"]
    lines.append(f"| API token | no token → {tok['no token']}, wrong → {tok['wrong token']}, right → "
                 f"{tok['right token']}; site → API: {tok['site → API with the token']} |")
    wt = data["wrong_token"]
    lines.append(f"| site configured with a wrong token | {'ok' if wt['ok'] else 'FAILED'}: upload kept "
                 f"({wt['upload']} → {wt['location']}), health.json api_ok {wt['health api_ok']} |")
    lines += ["", "## Bad-input matrix", "",
              "Each case is one request to the live service. *Expected* is the status the case requires; the "
              "message must contain the case's key words, and no answer may be a 5xx or show a traceback. "
              "The API answers JSON `{\"error\", \"detail\"}` (the message column shows `detail`); the site "
              "answers its HTML page, whose form errors / flash message / heading are shown. Cases marked "
              "*accepted* are inputs that are valid in substance (a 16-bit or CMYK drawing, odd file names): "
              "they must be taken safely — the name is only a display name, never a path, the mask decoded "
              "exactly — and those jobs are cancelled at once.", "",
              "| # | target | case | expected | got | ok | message |", "|---|---|---|---|---|---|---|"]
    for index, result in enumerate(results, 1):
        mark = "✅" if result.ok else "❌ " + _cell("; ".join(result.problems))
        message = result.message if len(result.message) <= 180 else result.message[:177] + "…"
        lines.append(f"| {index} | {result.case.target} | {_cell(result.case.title)} | {result.case.expect} | "
                     f"{result.got} | {mark} | {_cell(message)} |")
    lines += ["", f"After the matrix: API {data['after']['api']}; site {data['after']['site']}; a valid upload "
                  f"→ {data['after']['good_upload']}; tracebacks in either log: "
                  f"{data['after']['tracebacks'] or 'none'}.", ""]
    lines += ["## Duplicates", "",
              f"The same upload (video, mask, `iterations=2`) posted {dup['posts']} times at once (threads "
              "released by a barrier) by `benchmark_api.concurrent_posts`:", "",
              f"- statuses: {dup['statuses']}",
              f"- distinct job ids: {dup['distinct_ids']} (`{dup['id']}`); answers that created the job: "
              f"{dup['created']}, the other {dup['posts'] - dup['created']} say `deduplicated: true`",
              f"- the job ran once: `attempts` = {dup['attempts']}, the worker logged `job … started` "
              f"{dup['worker_starts']} time(s); job folders with this id: {dup['job_folders']}; final state "
              f"`{dup['final_state']}`",
              f"- wall time of the ten posts: {dup['elapsed_s']} s", ""]
    lines += ["## Status latency under 50 concurrent pollers", "",
              f"A job fine-tunes (`budget={emb['budget_s']:g}` s: the CPU is busy with the model) "
              "while 50 clients, each with its own keep-alive session, poll its status "
              "(`benchmark_api.poll_latency`): the API every "
              f"{emb['api']['interval_s']:g} s each (four times what a job page does), the site every "
              f"{emb['site']['interval_s']:g} s each (what `job.js` does). Latency is send → whole body read, "
              "measured in the client process on the same 2-core machine. Two layouts: the product's "
              "(`scripts/serve.py`: the API serves HTTP only, the model runs in a `--worker-only` process that "
              "leads its own session and lowers its threads and its session's autogroup by "
              "`OSVOS_WORKER_NICE`=10), and `python -m api_server` alone (worker thread inside the API "
              "process).", "",
              "| endpoint | requests | rate | errors | p50 | p90 | p99 | max | states seen |",
              "|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for label, run in (("product layout", sep), ("embedded worker", emb)):
        rows += [(f"API `GET /api/v1/jobs/<id>`, {label}, round {i}", r) for i, r in enumerate(run["api_rounds"], 1)]
        rows.append((f"site `GET /jobs/<id>/status.json` (asks the API in turn), {label}", run["site"]))
    for label, res in rows:
        lines.append(f"| {label} | {res['requests']} | {res['rate_per_s']}/s (every {res['interval_s']:g} s) | "
                     f"{res['errors']} | {res['p50_ms']} ms | {res['p90_ms']} ms | {res['p99_ms']} ms | "
                     f"{res['max_ms']} ms | {res['states_seen']} |")
    lines += ["", f"p99 of the API in the product layout: **{_verdict(sep['api_rounds'])}**; with the worker "
                  f"embedded in the API process: **{_verdict(emb['api_rounds'])}**. The job was still running "
                  f"at the end of each measurement: {sep['still_running_after']} / {emb['still_running_after']}; "
                  "it was then cancelled. Status requests never touch the model: they read `job.json` (replaced "
                  "atomically by the worker), and write the last-read mark at most every 30 s. With the kernel's "
                  "autogroup scheduling (on here) CPU time is shared between *sessions* first, so thread "
                  "niceness alone did not rank the worker, in a session of its own, below the HTTP process (one "
                  "experiment on 2026-11-26, this layout, 50 pollers as threads and as 5 processes × 10: p99 "
                  "95–181 ms with thread niceness 10 or 19 only, 9–19 ms once the worker also lowered its "
                  "session's autogroup). Embedded, the model shares the API's process, session and GIL, and the "
                  "tail is the model's.",
              "",
              "Reproduce against any running API: `python scripts/benchmark_api.py VIDEO MASK --url URL "
              "--budget 20 --pollers 50` (and `--duplicates 10`).", ""]
    lines += ["## Crash recovery (kill -9)", "",
              "The API process (HTTP server and embedded worker) is killed with SIGKILL while a job is "
              "fine-tuning; a site upload is made while it is down; then the site is killed with SIGKILL too; "
              "both are restarted on the same ports and store.", "", "```"] + crash["transcript"] + ["```", "",
              "| check | ok |", "|---|---|"]
    lines += [f"| {_cell(name)} | {'✅' if ok else '❌'} |" for name, ok in crash["checks"].items()]
    lines += ["", "### kill -9 of the worker process alone (product layout)", "",
              "`scripts/serve.py` runs the model in a `--worker-only` child and restarts it when it dies; here "
              "the report kills it with SIGKILL mid fine-tuning and starts it again itself.", "", "```"] + \
        worker_crash["transcript"] + ["```", "", "| check | ok |", "|---|---|"]
    lines += [f"| {_cell(name)} | {'✅' if ok else '❌'} |" for name, ok in worker_crash["checks"].items()]
    lines += ["", "Policy: a job whose worker process died is marked `failed` with the reason (\"the worker running "
                  "this job stopped (process ended) before it finished; post the job again to retry\") as soon "
                  "as a worker starts (or by the maintenance loop of a live one); its half-written render under "
                  "`tmp/` is removed, and `outputs/` only ever appears by one rename of a complete render. Jobs "
                  "still queued are re-run. Posting the failed job again queues it again (same id).", ""]
    lines += ["## Hardening", "",
              "`python webapp/manage.py check --deploy --fail-level WARNING` with production settings (secret "
              "from `DJANGO_SECRET_KEY`, `DJANGO_DEBUG=0`, HTTPS on by default: secure cookies, HSTS, SSL "
              "redirect):", "", "```", dep["production"]["output"], "```", "",
              f"Control with `DJANGO_DEBUG=1`: exit {dep['control: DEBUG on']['returncode']}, flags "
              f"{', '.join(dep['control: DEBUG on']['issues']) or 'nothing'} (the check does bite).", "",
              f"Bearer token between site and API: a request with no token → {tok['no token']}, a wrong one → "
              f"{tok['wrong token']}, the right one → {tok['right token']}; the site, configured with the same "
              f"`OSVOS_API_TOKEN`, reaches the API: {tok['site → API with the token']}. A second site started "
              "with a wrong token (a misconfiguration) is refused by the API; it keeps the user's upload for a "
              f"resubmit and says so: upload → {wt['upload']} {wt['location']}, page {wt['page']}: "
              f"\"{_cell(wt['message'])}\"; its health.json reports api_ok {wt['health api_ok']} "
              f"(\"{_cell(wt['health detail'])}\").", "",
              "Upload caps: the API's waitress refuses a body *declared* larger than its read limit "
              "(`2 × OSVOS_MAX_UPLOAD_MB + 16 MB`) from the headers alone, before reading it (case "
              "\"body declared as 50 GB\": answered in "
              f"{next((round(r.elapsed_ms) for r in results if r.case.key == 'api-declared-50GB'), '?')}"
              " ms, without the body being sent). A body between the cap and that limit is read, then "
              "refused by Flask's `MAX_CONTENT_LENGTH` with a JSON 413. The site's waitress (started by "
              "`scripts/serve.py`) has a 2 GB read limit, so only larger declared bodies are refused unread; "
              "below it the site's form refuses an over-cap video after the upload with a 400 and its message.",
              ""]
    lines += ["## Known limits", ""] + [f"- {note}" for note in data["notes"]] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


NOTES = [
    "Refusals of a body declared too large come from waitress itself, as `text/plain` (\"Request Entity Too "
    "Large … exceeds max_body of N\"), not the API's JSON error shape: the request never reaches Flask.",
    "The site's waitress (in `scripts/serve.py`) reads up to 2 GB before Django sees a request; the video cap "
    "(`OSVOS_WEB_MAX_VIDEO_MB`, default 200) is enforced by the form after the upload. Lowering serve.py's "
    "`max_request_body_size` to the site's caps would refuse larger bodies unread.",
    "16-bit and CMYK masks are accepted (they are valid drawings and are decoded exactly); the matrix checks "
    "that rather than expecting a 4xx. File names with `../`, NUL or non-ASCII are accepted too (the API also "
    "takes a 5000-character one and cuts the display name to 200): they are display names only, never paths "
    "(checked: no file of that name appears anywhere). The site refuses a 5000-character file name with a 400 "
    "page (Django's multipart parser limits a part's headers to 1 KB).",
    "A job whose worker died is failed with a reason, not re-run automatically (re-running a job that killed "
    "its worker could kill the next one); posting it again re-queues it under the same id.",
    "Latency is measured on a 2-core machine that is also fine-tuning the job, with the 50 client threads in "
    "the same machine: client-side scheduling is part of every figure. Where the kernel has no autogroup "
    "scheduling, or forbids changing it, the worker's thread niceness is what remains.",
]


def run_all(base: Path, *, pollers: int = 50, log=print) -> dict:
    started = time.monotonic()
    media = make_media(base / "media")
    stack = Stack(base / "run")
    try:
        log(f"starting the API on {stack.api_url} and the site on {stack.site_url} …")
        stack.start()
        ctx = Context(stack, media)
        log("bad-input matrix:")
        results, after = run_matrix(ctx, log)
        dup = duplicates(ctx, log=log)
        lat = latency(ctx, pollers=pollers, budget=45.0, rounds=3, log=log)
        crash = crash_recovery(ctx, log=log)
        deploy = check_deploy(base)
        tokens = token_checks(stack)
        wrong_token = site_with_wrong_token(stack, media)
    finally:
        stack.close()
    log("latency in the product layout (worker in its own, lower-priority process):")
    lat["separate"] = separate_worker(base / "separate", media, pollers, log=log)
    return {"matrix": results, "after": after, "duplicates": dup, "latency": lat, "crash": crash,
            "deploy": deploy, "tokens": tokens, "wrong_token": wrong_token,
            "duration_s": time.monotonic() - started}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() + (" + uncommitted changes" if subprocess.run(
                                  ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    parser.add_argument("--keep", type=Path, help="keep the run's folder (store, logs) here instead of a temp dir")
    parser.add_argument("--pollers", type=int, default=50)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="osvos-reliability-")) if args.keep is None else args.keep
    base.mkdir(parents=True, exist_ok=True)
    try:
        data = run_all(base, pollers=args.pollers)
        load = os.getloadavg()
        data.update(when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    machine=f"{platform.machine()}, {os.cpu_count()} CPU cores, load average "
                            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}",
                    commit=_commit(), notes=NOTES)
        write_markdown(args.out, data)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    ok = (all(r.ok for r in data["matrix"]) and data["after"]["ok"] and data["duplicates"]["ok"]
          and data["crash"]["ok"] and data["latency"]["separate"]["worker_crash"]["ok"] and data["deploy"]["ok"] and data["tokens"]["ok"] and data["wrong_token"]["ok"])
    print(f"wrote {args.out}; {'all checks passed' if ok else 'SOME CHECKS FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
