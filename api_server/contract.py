"""The words a job is described in, shared by the API and its clients (the site, the tests, the scripts):
its states, its stages and its outputs. Constants only, so a client imports them without loading the API."""
from __future__ import annotations

STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
TERMINAL = ("done", "failed", "cancelled")
"""A job in one of these states changes no more, unless it is posted again."""
RETRYABLE = ("failed", "cancelled")
"""Terminal states that posting the same job again queues anew."""

STAGES = ("decoding", "finetuning", "segmenting", "rendering")
"""What a running job is doing, in the order it does it."""

OUTPUTS = {
    "overlay.mp4": "video/mp4",
    "side_by_side.mp4": "video/mp4",
    "masks.zip": "application/zip",
    "cutout.webm": "video/webm",
    "trajectory.csv": "text/csv",
    "thumbnail.jpg": "image/jpeg",
}
"""Every output a finished job has, with its media type. Output names come only from this table."""
