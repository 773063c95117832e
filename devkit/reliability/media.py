"""Small synthetic clips and masks, and the bad files the checks upload."""
from __future__ import annotations

import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devkit.clips import first_mask, synthetic_frames

WIDTH, HEIGHT, FPS = 96, 64, 10.0
CLIP_FRAMES = 12
MAX_FRAMES = 30          # OSVOS_MAX_FRAMES of the live API
MAX_UPLOAD_MB = 1.0      # OSVOS_MAX_UPLOAD_MB of the API, OSVOS_WEB_MAX_VIDEO_MB / _MASK_MB of the site


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (len(data).to_bytes(4, "big") + kind + data
            + zlib.crc32(kind + data).to_bytes(4, "big"))


def decompression_bomb_png(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side×side pixels (900 megapixels) that compresses to about 100 KB."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    chunks.append(compressor.compress(row * (side % 1000)))
    chunks.append(compressor.flush())
    ihdr = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(chunks))
            + _png_chunk(b"IEND", b""))


@dataclass
class Media:
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)

    def path(self, key: str) -> Path:
        return self.files[key]

    def bytes(self, key: str) -> bytes:
        return self.files[key].read_bytes()


def make_media(folder: Path) -> Media:
    """Small synthetic inputs (96x64 clips written with osvos.video.write_video) and the bad files."""
    import cv2
    from PIL import Image

    from osvos.masks import mask_png_bytes
    from osvos.video import FFMPEG, write_video

    folder.mkdir(parents=True, exist_ok=True)
    media = Media(folder)
    f = media.files
    size = (WIDTH, HEIGHT)
    frames = synthetic_frames(MAX_FRAMES + 10, size)
    f["clip"] = folder / "clip.mp4"
    write_video(frames[:CLIP_FRAMES], f["clip"], FPS)
    f["one_frame"] = folder / "one-frame.mp4"
    write_video(frames[:1], f["one_frame"], FPS)
    f["long"] = folder / "forty-frames.mp4"
    write_video(frames, f["long"], FPS)
    mask = first_mask(size)
    f["mask"] = folder / "mask.png"
    f["mask"].write_bytes(mask_png_bytes(mask))

    f["empty"] = folder / "empty.mp4"
    f["empty"].write_bytes(b"")
    f["text"] = folder / "notes.mp4"
    f["text"].write_text("these are my notes, not a video\n" * 40)
    f["text_txt"] = folder / "notes.txt"
    f["text_txt"].write_text("these are my notes\n" * 40)
    f["truncated"] = folder / "truncated.mp4"
    f["truncated"].write_bytes(f["clip"].read_bytes()[:600])
    f["audio"] = folder / "tone.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=0.5", "-c:a", "aac", str(f["audio"])], check=True, timeout=60)
    f["big"] = folder / "big.mp4"  # over the 1 MB caps (random bytes: refused on size, before decoding)
    f["big"].write_bytes(np.random.default_rng(1).integers(0, 256, int(1.5 * 1024 * 1024), np.uint8).tobytes())

    f["bomb"] = folder / "bomb.png"
    f["bomb"].write_bytes(decompression_bomb_png())
    small = np.zeros((HEIGHT // 2, WIDTH // 2), bool)
    small[7:15, 2:10] = True
    f["mask_small"] = folder / "mask-48x32.png"
    f["mask_small"].write_bytes(mask_png_bytes(small))
    f["mask_black"] = folder / "all-black.png"
    f["mask_black"].write_bytes(mask_png_bytes(np.zeros((HEIGHT, WIDTH), bool)))
    f["mask_white"] = folder / "all-white.png"
    f["mask_white"].write_bytes(mask_png_bytes(np.ones((HEIGHT, WIDTH), bool)))
    f["mask_garbage"] = folder / "garbage.png"
    f["mask_garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    f["mask16"] = folder / "mask-16bit.png"
    Image.fromarray(np.where(mask, 65535, 0).astype(np.uint16)).save(f["mask16"])
    f["mask_cmyk"] = folder / "mask-cmyk.tif"
    cmyk = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    cmyk[..., 3] = 255            # black background
    cmyk[mask] = (0, 0, 0, 0)     # white object
    Image.fromarray(cmyk, "CMYK").save(f["mask_cmyk"])
    f["mask_rgb"] = folder / "mask-rgb.png"  # a drawing: red object on white
    drawing = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    drawing[mask] = (0, 0, 255)
    cv2.imwrite(str(f["mask_rgb"]), drawing)
    return media
