"""The only place where the site speaks HTTP to the osvos API (requests, timeouts, retries, bearer token).

Every failure becomes an :class:`ApiError` whose ``detail`` is a sentence for the user: the API's own
``{"error", "detail"}`` for 4xx/5xx answers, or :class:`ApiUnavailable` when the API cannot be reached.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .etag_cache import EtagCache

log = logging.getLogger(__name__)


class ApiError(Exception):
    """The API answered with an error (``status`` is its HTTP status) or could not be reached (status None)."""

    def __init__(self, status: int | None, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail

    @property
    def unavailable(self) -> bool:
        """True when retrying later may help (API down, timed out, a 5xx, or the API refusing the site's own
        credentials, 401/403: a configuration fault of the site, not of the user's files)."""
        return self.status is None or self.status >= 500 or self.status in (401, 403)

    def __str__(self) -> str:
        return self.detail


class ApiUnavailable(ApiError):
    """Connection refused, DNS failure or timeout, after the retries."""

    def __init__(self, base_url: str, reason: str):
        super().__init__(None, "api_unavailable",
                         f"The processing service ({base_url}) is not reachable right now: {reason}.")


FRAME_FILES = ("frames", "masks", "annotations/thumbnail")
"""The images of one frame that the site shows: the frame, its predicted mask, an annotation's thumbnail."""


@dataclass(frozen=True)
class Upload:
    """One file of a multipart upload."""

    filename: str
    stream: IO[bytes]
    content_type: str = "application/octet-stream"


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "it did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "the connection was refused or dropped"
    return type(exc).__name__


class ApiClient:
    """A small synchronous client of ``/api/v1``; one instance per thread (sessions are not thread-safe)."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                 connect_timeout: float = 3.05, retries: int = 2, backoff: float = 0.3):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, timeout)
        self.session = requests.Session()
        # Retry only failures to connect (nothing reached the API, so even a POST is safe to repeat).
        retry = Retry(total=retries, connect=retries, read=0, redirect=0, status=0, other=0,
                      allowed_methods=None, backoff_factor=backoff, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "osvos-studio-webapp"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # -- plumbing -------------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def _send(self, method: str, path: str, *, stream: bool = False, ok_statuses: tuple[int, ...] = (),
              timeout: tuple[float, float] | None = None, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, self.url(path), timeout=timeout or self.timeout,
                                            stream=stream, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            log.warning("API %s %s failed: %s", method, path, exc)
            raise ApiUnavailable(self.base_url, _reason(exc)) from exc
        if response.status_code >= 400 and response.status_code not in ok_statuses:
            try:
                raise self._error(response)
            finally:
                response.close()
        return response

    @staticmethod
    def _error(response: requests.Response) -> ApiError:
        code, detail = f"http_{response.status_code}", ""
        try:
            body = response.json()
            if isinstance(body, dict):
                code = str(body.get("error") or code)
                detail = str(body.get("detail") or body.get("message") or "")
        except ValueError:
            pass
        if not detail:
            detail = f"The processing service answered {response.status_code} {response.reason or ''}".strip()
        return ApiError(response.status_code, code, detail)

    def _json(self, method: str, path: str, **kwargs) -> Any:
        return self._parse(self._send(method, path, **kwargs))

    @staticmethod
    def _parse(response: requests.Response) -> Any:
        try:
            if response.status_code == 204 or not response.content:
                return {}
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "bad_response",
                           "The processing service sent an answer the site cannot read.") from exc
        finally:
            response.close()

    @staticmethod
    def _job_path(job_id: str, *rest: str) -> str:
        return "/".join(["jobs", quote(str(job_id), safe="")] + [quote(part, safe="") for part in rest])

    # -- endpoints ------------------------------------------------------------------------------------------
    def health(self, timeout: float = 3.0) -> dict:
        return self._json("GET", "health", timeout=(min(timeout, self.timeout[0]), timeout))

    def submit(self, video: Upload, mask: Upload, *, name: str | None = None, budget: float | None = None,
               snap: bool | None = None, iterations: int | None = None, dreams: int | None = None) -> dict:
        """POST /jobs; returns ``{"id", "status_url", …}``. A field left None is the API's default."""
        data: dict[str, str] = {}
        if name:
            data["name"] = name
        if budget is not None:
            data["budget"] = f"{budget:g}"
        if iterations is not None:
            data["iterations"] = str(int(iterations))
        if dreams is not None:
            data["dreams"] = str(int(dreams))
        if snap is not None:
            data["snap"] = "true" if snap else "false"
        files = {
            "video": (video.filename, video.stream, video.content_type),
            "mask": (mask.filename, mask.stream, mask.content_type),
        }
        # Uploads get a longer read timeout: the API checks the video before it answers.
        return self._json("POST", "jobs", data=data, files=files,
                          timeout=(self.timeout[0], max(self.timeout[1], 120.0)))

    def correct(self, job_id: str, corrections: list[tuple[int, Upload]], *, name: str | None = None) -> dict:
        """POST /jobs/<id>/corrections with one (frame index, mask) pair per corrected frame; returns the new job's
        ``{"id", "status_url", "parent", "annotated_frames", …}``."""
        data = [("frame", str(int(frame))) for frame, _ in corrections]
        if name:
            data.append(("name", name))
        files = [("mask", (mask.filename, mask.stream, mask.content_type)) for _, mask in corrections]
        return self._json("POST", self._job_path(job_id, "corrections"), data=data, files=files,
                          timeout=(self.timeout[0], max(self.timeout[1], 120.0)))

    def job(self, job_id: str) -> dict:
        """The job's document. Polls send the ETag of the last answer (``If-None-Match``); on ``304 Not
        Modified`` that answer is reused, so an unchanged job costs the API no body to build or send."""
        key = (self.base_url, str(job_id))
        known = _job_etags.etag(key)
        response = self._send("GET", self._job_path(job_id), headers={"If-None-Match": known} if known else None)
        if response.status_code == 304 and known:
            response.close()
            body = _job_etags.body(key, known)
            if body is not None:
                return body
            response = self._send("GET", self._job_path(job_id))  # the kept answer was dropped meanwhile
        tag = response.headers.get("ETag")
        body = self._parse(response)
        if tag and isinstance(body, dict):
            _job_etags.put(key, tag, body)
        return body

    def cancel(self, job_id: str) -> dict:
        return self._json("POST", self._job_path(job_id, "cancel"))

    def delete(self, job_id: str) -> dict:
        return self._json("DELETE", self._job_path(job_id))

    def jobs(self, limit: int = 20, offset: int = 0, state: str | None = None) -> dict:
        """GET /jobs (newest first; the API lists only finished jobs unless ``state`` is given, e.g. "all"),
        normalised to ``{"jobs": [...], "total": int | None}``."""
        params: dict[str, object] = {"limit": int(limit), "offset": int(offset)}
        if state:
            params["state"] = state
        body = self._json("GET", "jobs", params=params)
        if isinstance(body, list):
            return {"jobs": body, "total": None}
        jobs = body.get("jobs", body.get("items", body.get("results", [])))
        return {"jobs": jobs if isinstance(jobs, list) else [], "total": body.get("total", body.get("count"))}

    def output(self, job_id: str, name: str, *, headers: dict[str, str] | None = None) -> requests.Response:
        """GET one output as a *streamed* response (the caller closes it). 206 and 416 pass through."""
        return self._stream(self._job_path(job_id, "outputs", name), headers)

    def frame_file(self, job_id: str, kind: str, index: int, *, headers: dict[str, str] | None = None
                   ) -> requests.Response:
        """GET one image of frame ``index`` as a streamed response: ``kind`` is ``frames`` (the video's frame),
        ``masks`` (the predicted mask) or ``annotations/thumbnail`` (an annotated frame's thumbnail)."""
        if kind not in FRAME_FILES:
            raise ValueError(f"unknown frame file {kind!r}")
        first, *rest = kind.split("/")
        return self._stream(self._job_path(job_id, first, str(int(index)), *rest), headers)

    def _stream(self, path: str, headers: dict[str, str] | None) -> requests.Response:
        return self._send("GET", path, stream=True, headers={"Accept": "*/*", **(headers or {})},
                          ok_statuses=(416,))


_local = threading.local()
_job_etags = EtagCache()


def get_client() -> ApiClient:
    """This thread's client, built from Django settings (rebuilt when the settings change, e.g. in tests)."""
    from django.conf import settings

    key = (settings.OSVOS_API_URL, settings.OSVOS_API_TOKEN, settings.OSVOS_API_TIMEOUT,
           settings.OSVOS_API_CONNECT_TIMEOUT, settings.OSVOS_API_RETRIES)
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "key", None) != key:
        client = ApiClient(settings.OSVOS_API_URL, settings.OSVOS_API_TOKEN, timeout=settings.OSVOS_API_TIMEOUT,
                           connect_timeout=settings.OSVOS_API_CONNECT_TIMEOUT, retries=settings.OSVOS_API_RETRIES)
        _local.client, _local.key = client, key
    return client
