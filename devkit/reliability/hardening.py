"""Deployment check, the bearer token between site and API, and a site configured with a wrong token."""
from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import requests

from .client import SiteClient, readable_message
from .media import Media
from .processes import ROOT, Service, Stack, clean_env, free_port, wait_site


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
