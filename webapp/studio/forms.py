"""Server-side validation of an upload: file types, size caps, and mask size against the video's size."""
from __future__ import annotations

import os

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from . import media


def _extension(name: str) -> str:
    return os.path.splitext(name or "")[1].lower()


def _check_type_and_size(upload, kind: str, file_kind: str, allowed: tuple[str, ...], limit: int) -> None:
    """Refuse the `kind` upload ("video", "mask") if its extension is not in `allowed` or it exceeds `limit` bytes."""
    if _extension(upload.name) not in allowed:
        raise forms.ValidationError(
            f"“%(name)s” is not {file_kind} we accept (allowed: %(allowed)s).",
            code=f"{kind}_type", params={"name": upload.name, "allowed": ", ".join(allowed)})
    if upload.size > limit:
        raise forms.ValidationError(
            f"The {kind} is %(size)s; the limit is %(limit)s.", code=f"{kind}_size",
            params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)})


class UploadForm(forms.Form):
    MASK_SOURCES = [("file", "Upload a mask image"), ("drawn", "Draw the mask on the first frame")]

    name = forms.CharField(max_length=120, required=False, strip=True,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. black swan"}))
    video = forms.FileField(
        help_text="MP4, MOV, WebM, MKV or AVI (any codec ffmpeg reads).",
        widget=forms.ClearableFileInput(attrs={"accept": "video/*," + ",".join(media.VIDEO_EXTENSIONS)}))
    mask_source = forms.ChoiceField(choices=MASK_SOURCES, initial="file", widget=forms.RadioSelect)
    mask = forms.FileField(
        required=True,
        help_text="The object in white (or any colour) on black, same size as the video; PNG preferred.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*," + ",".join(media.MASK_EXTENSIONS)}))
    budget = forms.FloatField(
        required=False, min_value=1, max_value=3600, label="Time cap (seconds, optional)",
        help_text=("Empty (recommended): the service's default number of fine-tuning steps, so the same video and "
                   "mask give the same masks on any machine. A number caps fine-tuning by time instead: it trains "
                   "for that many seconds, and the result then depends on the machine's speed and load."),
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "default"}))
    snap = forms.BooleanField(
        required=False, initial=True, label="Snap mask edges to image contours",
        help_text="Where the network is unsure, the mask it carries from frame to frame follows the image's "
                  "contours: a little more accurate, and segmenting takes about twice as long. (The masks you get "
                  "are then refined along the image's colour edges by the service, box or not.)")
    quick = forms.BooleanField(
        required=False, label="Quick fine-tuning",
        help_text=("Trains a third as long, and only on your first frame as it is (not also on synthetic later "
                   "frames made from it, the object moved, bent and recoloured): a shorter wait, and less exact "
                   "masks, most of all for fast or bending objects."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.video_size: tuple[int, int] | None = None
        self.mask_size: tuple[int, int] | None = None
        self.fields["mask"].error_messages["required"] = (
            "Choose a mask image, or draw the mask on the video's first frame.")

    def clean_video(self):
        video = self.cleaned_data["video"]
        _check_type_and_size(video, "video", "a video file", media.VIDEO_EXTENSIONS, settings.MAX_VIDEO_BYTES)
        if video.size == 0:
            raise forms.ValidationError("The video file is empty.", code="video_empty")
        try:
            with media.local_path(video) as path:
                frame = media.first_frame(path)
        except media.MediaError as exc:
            raise forms.ValidationError("“%(name)s”: %(why)s.", code="video_unreadable",
                                        params={"name": video.name, "why": exc}) from exc
        self.video_size = (frame.width, frame.height)
        return video

    def clean_mask(self):
        mask = self.cleaned_data["mask"]
        _check_type_and_size(mask, "mask", "an image file", media.MASK_EXTENSIONS, settings.MAX_MASK_BYTES)
        try:
            self.mask_size = media.image_size(mask)
        except media.MediaError as exc:
            raise forms.ValidationError("“%(name)s”: %(why)s.", code="mask_unreadable",
                                        params={"name": mask.name, "why": exc}) from exc
        return mask

    def clean(self):
        cleaned = super().clean()
        mask_size = self.mask_size
        if self.video_size and mask_size and "mask" in cleaned and tuple(mask_size) != tuple(self.video_size):
            self.add_error("mask", forms.ValidationError(
                "The mask is %(mw)s×%(mh)s pixels but the video is %(vw)s×%(vh)s: the mask must be drawn on "
                "the video's first frame at full size.", code="mask_dimensions",
                params={"mw": mask_size[0], "mh": mask_size[1], "vw": self.video_size[0],
                        "vh": self.video_size[1]}))
        return cleaned
