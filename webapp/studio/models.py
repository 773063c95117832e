"""A submission is one upload (video + first-frame mask), kept so that nothing is lost when the API is down."""
from __future__ import annotations

import uuid
from pathlib import Path

from django.db import models
from django.urls import reverse
from django.utils import timezone

from api_server.contract import STATES


def _stored_name(instance: "Submission", kind: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:8]
    return f"submissions/{instance.token}/{kind}{suffix}"


def video_upload_to(instance: "Submission", filename: str) -> str:
    return _stored_name(instance, "video", filename)


def mask_upload_to(instance: "Submission", filename: str) -> str:
    return _stored_name(instance, "mask", filename)


class Submission(models.Model):
    UNSENT = "unsent"  # stored here, not (yet) accepted by the API
    STATE_CHOICES = [(UNSENT, "not sent yet")] + [(state, state) for state in STATES]

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, blank=True)
    video = models.FileField(upload_to=video_upload_to, max_length=255)
    mask = models.FileField(upload_to=mask_upload_to, max_length=255)
    mask_drawn = models.BooleanField(default=False, help_text="the mask was drawn on the site's canvas")
    budget = models.FloatField(null=True, blank=True, help_text="fine-tuning seconds; empty = API default")
    snap = models.BooleanField(default=True, help_text="snap mask boundaries to image contours")
    quick = models.BooleanField(default=False, help_text="quick fine-tuning (views.QUICK_FINETUNING)")
    video_width = models.PositiveIntegerField(null=True, blank=True)
    video_height = models.PositiveIntegerField(null=True, blank=True)

    api_job_id = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default=UNSENT)
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True, help_text="the API's message for a failed job")
    submit_error = models.TextField(blank=True, help_text="why the last hand-over to the API failed")
    frames = models.PositiveIntegerField(null=True, blank=True)

    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.name or f"submission {self.pk}"

    @property
    def display_name(self) -> str:
        return self.name or Path(self.video.name).name or f"submission {self.pk}"

    def get_absolute_url(self) -> str:
        if self.api_job_id:
            return reverse("studio:job", args=[self.api_job_id])
        return reverse("studio:submission", args=[self.pk])

    def update_from_api(self, job: dict) -> None:
        """Copy the fields of an API job document that the site keeps."""
        self.state = job.get("state") or self.state
        self.stage = job.get("stage") or ""
        try:
            self.progress = float(job.get("progress") or 0.0)
        except (TypeError, ValueError):
            pass
        self.error = job.get("error") or ""
        if job.get("frames"):
            self.frames = int(job["frames"])

    def delete_files(self) -> None:
        for field in (self.video, self.mask):
            if field and field.name:
                field.storage.delete(field.name)
        folder = Path(self.video.storage.path(f"submissions/{self.token}"))
        try:
            folder.rmdir()
        except OSError:
            pass
