"""Carry a DAVIS split to another machine in a few MB: frames as H.264 videos, masks bit-packed.

The 30 training sequences take 143 MB as JPEG; as x264 CRF 25 videos they take 22 MB, small enough to travel
with the working tree to a GPU machine. Unpacking needs only OpenCV and NumPy (no ffmpeg binary), and gives back
a DAVIS-layout folder that ``train_parent`` reads. Masks travel losslessly; frames lose a little (CRF 25 on top of
the JPEG source).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from .davis import load_sequence, split_names
from .masks import read_label_png, save_mask

FPS = 24


def pack_split(root: str | Path, split: str, out: str | Path, crf: int = 25) -> list[str]:
    """Write ``<seq>.mp4`` (frames) and ``<seq>.masks.npz`` (packed masks) per sequence of ``split`` and the
    list ``<split>.txt`` into ``out``; returns the sequence names."""
    from .video import write_video  # needs the ffmpeg binary, which unpacking does not

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = split_names(root, split)
    for name in names:
        sequence = load_sequence(root, name)
        write_video((sequence.frame(k) for k in range(len(sequence.frames))), out / f"{name}.mp4", FPS, crf=crf,
                    preset="slow")
        masks = np.stack([read_label_png(path) for path in sequence.masks])
        np.savez_compressed(out / f"{name}.masks.npz", bits=np.packbits(masks, axis=-1), width=masks.shape[-1])
    (out / f"{split}.txt").write_text("".join(f"{name}\n" for name in names))
    return names


def unpack_split(packed: str | Path, split: str, out: str | Path, threads: int = 8) -> list[str]:
    """Rebuild a DAVIS-layout folder (JPEG frames, 0/255 PNG masks, ImageSets/<split>.txt) from ``pack_split``'s
    output; returns the sequence names."""
    packed, out = Path(packed), Path(out)
    names = (packed / f"{split}.txt").read_text().split()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda name: _unpack_sequence(packed, name, out), names))
    (out / "ImageSets").mkdir(parents=True, exist_ok=True)
    (out / "ImageSets" / f"{split}.txt").write_text("".join(f"{name}\n" for name in names))
    return names


def _unpack_sequence(packed: Path, name: str, out: Path) -> None:
    stored = np.load(packed / f"{name}.masks.npz")
    masks = np.unpackbits(stored["bits"], axis=-1, count=int(stored["width"])).astype(bool)
    frames_dir, masks_dir = out / "JPEGImages" / "480p" / name, out / "Annotations" / "480p" / name
    frames_dir.mkdir(parents=True, exist_ok=True)
    masks_dir.mkdir(parents=True, exist_ok=True)
    video = cv2.VideoCapture(str(packed / f"{name}.mp4"))
    count = 0
    while True:
        ok, frame_bgr = video.read()
        if not ok:
            break
        cv2.imwrite(str(frames_dir / f"{count:05d}.jpg"), frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        count += 1
    video.release()
    if count != len(masks):
        raise ValueError(f"{name}: the video holds {count} frames but there are {len(masks)} masks")
    for k, mask in enumerate(masks):
        save_mask(mask, masks_dir / f"{k:05d}.png")
