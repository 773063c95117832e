"""Every error is JSON ``{"error": code, "detail": text}``; no traceback ever reaches a client."""
from __future__ import annotations

import logging
import re

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .job_queue import QueueUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a stable machine-readable code and a sentence for the user."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def error_response(status: int, code: str, detail: str, headers: dict | None = None):
    response = jsonify({"error": code, "detail": detail})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _code(exc: HTTPException) -> str:
    return re.sub(r"[^a-z0-9]+", "_", (exc.name or "error").lower()).strip("_")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.errorhandler(QueueUnavailable)
    def _queue_down(exc: QueueUnavailable):
        log.warning("%s", exc)
        kept = (f" (the upload is stored as job {exc.job_id}, and queued as soon as the queue is back)"
                if exc.job_id else "")
        return error_response(503, "queue_unavailable", f"the job queue cannot be reached right now{kept}; "
                                                        "try again in a moment", {"Retry-After": "5"})

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        return error_response(413, "too_large", f"the upload is larger than the limit of {limit:g} MB")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = {}
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_response(exc.code or 500, _code(exc), exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server met an unexpected error; it has been logged")
