"""HTTP as a client sends it: raw multipart bodies, replies, a browser-like site session, readable messages."""
from __future__ import annotations

import html
import json
import re
import socket
import time
import uuid
from dataclasses import dataclass

import requests


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
