"""A job's frames and masks by index, as images: frame n is the n-th frame the decoder gives, counted exactly as the
pipeline counts them when it fine-tunes and segments, so frame n, predicted mask n and annotation n always match.

Browsers seek by time, which is not exact (variable frame rates, B-frames, rounding); the API decodes by index
instead and keeps each decoded frame as a JPEG in the job folder, so a frame costs one decode."""
from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np

from osvos import render
from osvos.masks import load_mask, read_label_png
from osvos.video import VideoInfo, read_frames

from .store import JobStore, annotated_frames, atomic_write_bytes

FRAME_QUALITY = 92
"""JPEG quality of a served frame (what the user draws a correction on)."""
THUMBNAIL_SIDE = 240
"""Longest side of an annotation's thumbnail."""


def frames_at(video: Path, info: VideoInfo, indices: list[int]) -> dict[int, np.ndarray]:
    """Frames ``indices`` of the video (RGB), decoded in order; decoding stops after the last one wanted.
    ValueError if the video decodes to fewer frames."""
    wanted, found = set(indices), {}
    if wanted:
        for index, frame in enumerate(read_frames(video, info)):
            if index in wanted:
                found[index] = frame
                if len(found) == len(wanted):
                    break
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(f"the video has no frame {missing[0]} (it decodes to fewer frames)")
    return found


def video_info(record: dict) -> VideoInfo:
    """The stored video's stream info, as the job record keeps it."""
    return VideoInfo(record["width"], record["height"], record["fps"], record["frames"], record.get("codec") or "")


def stored_annotations(store: JobStore, record: dict) -> dict[int, np.ndarray]:
    """Every annotated frame's stored mask (frame index → boolean mask at the video's size); FileNotFoundError
    when one is gone."""
    size = (record["width"], record["height"])
    return {index: load_mask(store.annotation_path(record["id"], index).read_bytes(), size=size)
            for index in annotated_frames(record)}


def frame_jpeg(store: JobStore, record: dict, index: int) -> Path:
    """The file holding frame ``index`` of the job's video as a JPEG (decoded and kept at the first request)."""
    path = store.frame_cache_path(record["id"], index)
    if not path.is_file():
        video = store.video_path(record["id"])
        if not video.is_file():
            raise FileNotFoundError(f"the video of job {record['id']} is gone")
        frame = frames_at(video, video_info(record), [index])[index]
        path.parent.mkdir(exist_ok=True)
        atomic_write_bytes(path, render.jpeg_bytes(frame, FRAME_QUALITY))
    return path


def predicted_mask_png(store: JobStore, job_id: str, index: int) -> bytes:
    """Mask ``index`` of a finished job's masks.zip (a 0/255 PNG, as stored); FileNotFoundError without it."""
    with zipfile.ZipFile(store.output_path(job_id, "masks.zip")) as archive:
        try:
            return archive.read(f"{index:05d}.png")
        except KeyError:
            raise FileNotFoundError(f"masks.zip has no mask {index}") from None


def annotation_thumbnail(store: JobStore, record: dict, index: int) -> bytes:
    """Frame ``index`` with its annotation tinted over it, at most ``THUMBNAIL_SIDE`` pixels a side (JPEG)."""
    mask = read_label_png(store.annotation_path(record["id"], index))
    frame = cv2.cvtColor(cv2.imread(str(frame_jpeg(store, record, index))), cv2.COLOR_BGR2RGB)
    return render.jpeg_bytes(render.thumbnail(render.overlay(frame, mask), THUMBNAIL_SIDE))
