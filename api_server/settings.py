"""One settings object, read from ``OSVOS_*`` environment variables (or given directly, e.g. in tests)."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Mapping

from osvos.budget import (
    DEFAULT_CRF,
    DEFAULT_DREAMS,
    DEFAULT_STEPS,
    DEFAULT_VIEWS,
    DEFAULT_WORK_SIZE,
    FLOW_WEIGHT,
    MIN_REGION,
    SEGMENT_SCALE,
    check_dreams,
)
from osvos.regions import checked_fraction
from osvos.temporal import checked_weight
from osvos.views import view_plan

MAX_ITERATIONS = 100_000
"""The most fine-tuning steps a job may ask for (``iterations``, ``OSVOS_DEFAULT_STEPS``)."""


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used (the message names it)."""


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_boolean(raw: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off, any case) as a bool; ValueError otherwise. The one reading of
    a boolean for the API: its environment variables and its form fields."""
    try:
        return _BOOLEANS[raw.lower()]
    except KeyError:
        raise ValueError(raw) from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data/store")
    """``OSVOS_DATA_DIR``: storage root: job folders, the SQLite queue, temporary files."""
    api_token: str | None = None
    """``OSVOS_API_TOKEN``: when set, every request needs ``Authorization: Bearer <token>``."""
    max_upload_mb: float = 200.0
    """``OSVOS_MAX_UPLOAD_MB``: cap on one request's body; larger uploads get 413."""
    max_frames: int = 900
    """``OSVOS_MAX_FRAMES``: videos with more frames are refused before queueing."""
    redis_url: str | None = None
    """``OSVOS_REDIS_URL``: use Redis for the queue (several worker machines sharing the store)."""
    cache_gb: float = 20.0
    """``OSVOS_CACHE_GB``: size budget of the job store; least recently used finished jobs are evicted."""
    weights: str | None = None
    """``OSVOS_WEIGHTS``: parent network weights; unset = the weights shipped with osvos."""
    work_size: int = DEFAULT_WORK_SIZE
    """``OSVOS_WORK_SIZE``: longest side at which the network runs (default: osvos's); 0 = full resolution."""
    segment_scale: float = SEGMENT_SCALE
    """``OSVOS_SEGMENT_SCALE``: frames are segmented at this × the work size (default: osvos's)."""
    views: int = DEFAULT_VIEWS
    """``OSVOS_VIEWS``: 1, or 2 to average each frame's segmentation with its mirror image's (default: osvos's).
    Both are part of the model's version, so of every job id."""
    flow_weight: float = FLOW_WEIGHT
    """``OSVOS_FLOW_WEIGHT``: weight of the previous mask, carried by optical flow, in each frame's probability
    (default: osvos's; 0 = each frame on its own). Part of the model's version."""
    crf: bool = DEFAULT_CRF
    """``OSVOS_CRF``: true or false, whether the masks given out come from a dense CRF on each frame (the network's
    mask is still the one carried to the next frame; default: osvos's). Part of the model's version."""
    min_region: float = MIN_REGION
    """``OSVOS_MIN_REGION``: the masks given out lose their detached regions smaller than this × the largest one's
    area, 0 to 1 (default: osvos's; 0 keeps them all). Part of the model's version."""
    default_steps: int = DEFAULT_STEPS
    """``OSVOS_DEFAULT_STEPS``: fine-tuning steps when a request gives neither ``iterations`` nor ``budget``
    (default: osvos's); a count, so a job's masks do not depend on the machine or its load."""
    default_dreams: int = DEFAULT_DREAMS
    """``OSVOS_DEFAULT_DREAMS``: synthetic later frames fine-tuning trains on as well when a request gives no
    ``dreams`` (default: osvos's)."""
    max_budget: float = 1800.0
    """``OSVOS_MAX_BUDGET``: the largest ``budget`` (seconds) a request may ask for."""
    infer_timeout: float = 3600.0
    """``OSVOS_INFER_TIMEOUT``: how long the synchronous ``POST /api/infer`` waits for its job."""
    stale_after: float = 300.0
    """``OSVOS_STALE_AFTER``: a running job whose worker has not beaten its heart for this long is failed."""
    worker_nice: int = 10
    """``OSVOS_WORKER_NICE``: niceness a worker-only process (``--worker-only``) gives itself, so the model
    takes only the CPU time that HTTP requests leave (0 = same priority)."""
    poll_interval: float = 1.0
    """Longest pause of an idle worker between two looks at the queue (seconds)."""

    _ENV = {
        "data_dir": "OSVOS_DATA_DIR", "api_token": "OSVOS_API_TOKEN", "max_upload_mb": "OSVOS_MAX_UPLOAD_MB",
        "max_frames": "OSVOS_MAX_FRAMES", "redis_url": "OSVOS_REDIS_URL", "cache_gb": "OSVOS_CACHE_GB",
        "weights": "OSVOS_WEIGHTS", "work_size": "OSVOS_WORK_SIZE", "views": "OSVOS_VIEWS",
        "segment_scale": "OSVOS_SEGMENT_SCALE", "flow_weight": "OSVOS_FLOW_WEIGHT",
        "crf": "OSVOS_CRF", "min_region": "OSVOS_MIN_REGION",
        "default_steps": "OSVOS_DEFAULT_STEPS", "default_dreams": "OSVOS_DEFAULT_DREAMS",
        "max_budget": "OSVOS_MAX_BUDGET",
        "infer_timeout": "OSVOS_INFER_TIMEOUT", "stale_after": "OSVOS_STALE_AFTER", "worker_nice": "OSVOS_WORKER_NICE",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Read every ``OSVOS_*`` variable that is set (empty counts as unset); ``overrides`` win."""
        environ = os.environ if environ is None else environ
        values = {}
        kinds = {f.name: f.type for f in fields(cls)}
        for name, var in cls._ENV.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            kind = kinds[name]
            try:
                if "Path" in kind:
                    values[name] = Path(raw)
                elif kind.startswith("int"):
                    values[name] = int(raw)
                elif kind.startswith("float"):
                    values[name] = float(raw)
                elif kind.startswith("bool"):
                    values[name] = parse_boolean(raw)
                else:
                    values[name] = raw
            except ValueError:
                raise SettingsError(f"{var}={raw!r} is not a valid {kind.split()[0]}") from None
        settings = cls(**{**values, **overrides})
        settings.validate()
        return settings

    def validate(self) -> None:
        checks = [
            (self.max_upload_mb > 0, "OSVOS_MAX_UPLOAD_MB must be positive"),
            (self.max_frames > 0, "OSVOS_MAX_FRAMES must be positive"),
            (self.cache_gb > 0, "OSVOS_CACHE_GB must be positive"),
            (self.work_size == 0 or self.work_size >= 16, "OSVOS_WORK_SIZE must be 0 (full size) or at least 16"),
            (1 <= self.default_steps <= MAX_ITERATIONS,
             f"OSVOS_DEFAULT_STEPS must be a whole number from 1 to {MAX_ITERATIONS}"),
            (self.max_budget > 0, "OSVOS_MAX_BUDGET must be positive"),
            (self.infer_timeout > 0, "OSVOS_INFER_TIMEOUT must be positive"),
            (self.stale_after > 0, "OSVOS_STALE_AFTER must be positive"),
            (0 <= self.worker_nice <= 19, "OSVOS_WORKER_NICE must be between 0 and 19"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(message)
        osvos_checks = (("OSVOS_VIEWS", view_plan, (self.views, SEGMENT_SCALE)),
                        ("OSVOS_SEGMENT_SCALE", view_plan, (1, self.segment_scale)),
                        ("OSVOS_FLOW_WEIGHT", checked_weight, (self.flow_weight,)),
                        ("OSVOS_MIN_REGION", checked_fraction, (self.min_region,)),
                        ("OSVOS_DEFAULT_DREAMS", check_dreams, (self.default_dreams,)))
        for var, check, arguments in osvos_checks:
            try:
                check(*arguments)
            except ValueError as error:
                raise SettingsError(f"{var}: {error}") from None

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def cache_bytes(self) -> int:
        return int(self.cache_gb * 1024 ** 3)

    @property
    def queue_backend(self) -> str:
        return "redis" if self.redis_url else "sqlite"
