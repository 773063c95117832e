"""The bad-input matrix: each case one request to a live service, with the status and words it requires."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import requests

from devkit.clips import first_mask

from .client import Reply, SiteClient, declared_oversize, readable_message
from .media import HEIGHT, MAX_FRAMES, MAX_UPLOAD_MB, WIDTH, Media
from .processes import Stack


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
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed case, reported with its error
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
