"""A running job's progress bar and time left, from the pipeline's reports and past jobs' speeds."""
from __future__ import annotations

import json
import time

from .contract import STAGES
from .store import JobStore, atomic_write_json

STAGE_WINDOWS = dict(zip(STAGES, ((0.0, 0.02), (0.02, 0.60), (0.60, 0.85), (0.85, 1.0))))
"""Where each stage sits on the job's 0..1 progress bar."""
DEFAULT_RATES = {"segmenting": 0.02, "rendering": 0.05}
"""Seconds per frame and megapixel assumed for the ETA until this store has timed a job of its own."""


class Perf:
    """Seconds per frame and megapixel of segmenting and rendering, averaged over past jobs (for ETAs)."""

    def __init__(self, store: JobStore):
        self._path = store.root / "perf.json"

    def rates(self) -> dict:
        try:
            return {**DEFAULT_RATES, **json.loads(self._path.read_text())}
        except (OSError, ValueError):
            return dict(DEFAULT_RATES)

    def record(self, timings: dict, frames: int, megapixels: float) -> None:
        rates = self.rates()
        for stage in DEFAULT_RATES:
            if stage in timings and frames:
                measured = timings[stage] / (frames * max(megapixels, 1e-3))
                rates[stage] = 0.7 * rates[stage] + 0.3 * measured
        try:
            atomic_write_json(self._path, rates)
        except OSError:
            pass


class Progress:
    """Turns the pipeline's (stage, fraction, eta) into the record's progress / eta_s, written at most
    every ``interval`` seconds (and at every stage change)."""

    def __init__(self, store: JobStore, job_id: str, record: dict, rates: dict, interval: float = 0.5,
                 budget_s: float | None = None):
        self.store, self.job_id, self.interval, self.budget_s = store, job_id, interval, budget_s
        self.frames = int(record.get("frames") or 1)
        self.megapixels = int(record.get("width") or 1) * int(record.get("height") or 1) / 1e6
        self.rates = rates
        self.stage = None
        self.stage_started = time.monotonic()
        self.last_write = 0.0

    def later(self, stage: str) -> float:
        rest = STAGES[STAGES.index(stage) + 1:]
        return sum(self.rates.get(s, 0.0) * self.frames * self.megapixels for s in rest)

    def __call__(self, stage: str, fraction: float, eta: float | None) -> None:
        now = time.monotonic()
        changed = stage != self.stage
        if changed:
            self.stage, self.stage_started = stage, now
        fraction = min(max(float(fraction), 0.0), 1.0)
        if not changed and now - self.last_write < self.interval and fraction < 1.0:
            return
        low, high = STAGE_WINDOWS[stage]
        if eta is None and fraction > 0.02:
            elapsed = now - self.stage_started
            eta = elapsed / fraction * (1.0 - fraction)
        elif eta is None and stage == "finetuning" and self.budget_s:
            eta = self.budget_s * (1.0 - fraction)
        elif eta is None and stage in self.rates:
            eta = self.rates[stage] * self.frames * self.megapixels * (1.0 - fraction)
        eta_s = None if eta is None else round(float(eta) + self.later(stage), 1)
        self.last_write = now
        self.store.update(self.job_id, only_if_state=("running",), stage=stage,
                          progress=round(low + (high - low) * fraction, 4), eta_s=eta_s, heartbeat=time.time())
