"""The application factory."""
from __future__ import annotations

import hmac
from typing import Callable

from flask import Flask, request

from .errors import ApiError, register_error_handlers
from .job_queue import JobQueue
from .model_pool import ModelHolder, default_model_factory
from .routes import compat, frames, health, jobs, openapi, outputs
from .services import Services
from .settings import Settings
from .store import JobStore
from .worker_pool import WorkerPool


def create_app(settings: Settings | None = None, *, store: JobStore | None = None, queue: JobQueue | None = None,
               holder: ModelHolder | None = None, pool: WorkerPool | None = None,
               model_factory: Callable[[], object] | None = None) -> Flask:
    """Build the Flask app. Anything not given is made from ``settings`` (default: the environment).

    ``model_factory`` (a no-argument callable returning an object with ``version``, ``finetune`` and
    ``segment``) replaces ``OSVOS.load`` — tests inject a small fake this way.
    """
    settings = settings or Settings.from_env()
    store = store or JobStore(settings.data_dir)
    queue = queue or JobQueue(settings)
    holder = holder or ModelHolder(model_factory or default_model_factory(settings))

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.json.sort_keys = False
    app.extensions["osvos"] = Services(settings, store, queue, holder, pool)
    register_error_handlers(app)

    @app.before_request
    def _authenticate():
        token = settings.api_token
        if not token:
            return None
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "this API needs the header 'Authorization: Bearer <token>'",
                           {"WWW-Authenticate": 'Bearer realm="osvos-studio"'})
        return None

    for blueprint in (jobs.bp, outputs.bp, frames.bp, health.bp, openapi.bp, compat.bp):
        app.register_blueprint(blueprint)
    return app
