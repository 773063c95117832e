"""Frame-accurate video decoding and encoding with ffmpeg-python and the ffmpeg of imageio-ffmpeg."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import ffmpeg
import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


class VideoError(ValueError):
    """The file is not a decodable video (the message says why, in words for a user)."""


@dataclass(frozen=True)
class VideoInfo:
    """What a user's video is: size, frame rate and exact frame count."""

    width: int
    height: int
    fps: float
    frames: int
    codec: str


_STREAM = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+) (?:fps|tbr)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def _run(args: list[str], *, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, check=False)


def probe_video(path: str | Path) -> VideoInfo:
    """Return size, fps and exact frame count of the first video stream (counts by decoding)."""
    path = str(path)
    if not Path(path).is_file():
        raise VideoError(f"no video file at {path}")
    if Path(path).stat().st_size == 0:
        raise VideoError("the video file is empty")
    args = ffmpeg.input(path).output("-", format="null", map="0:v:0", fps_mode="passthrough")
    proc = _run(args.compile(cmd=FFMPEG) + ["-nostdin"])
    log = proc.stderr.decode("utf-8", "replace")
    stream = _STREAM.search(log)
    if stream is None:
        raise VideoError("the file holds no video stream (not a video, or audio only)")
    counts = _FRAMES.findall(log)
    frames = int(counts[-1]) if counts else 0
    if proc.returncode != 0 and frames == 0:
        raise VideoError("the video could not be decoded (truncated or damaged file)")
    if frames == 0:
        raise VideoError("the video has no decodable frames")
    fps_match = _FPS.search(log[stream.start():])
    fps = float(fps_match.group(1)) if fps_match else 25.0
    return VideoInfo(int(stream.group(2)), int(stream.group(3)), fps, frames, stream.group(1))


def read_frames(path: str | Path, info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Yield every frame once, as RGB uint8 arrays (H, W, 3), in display order, none dropped or duplicated."""
    info = info or probe_video(path)
    args = ffmpeg.input(str(path)).output(
        "pipe:", format="rawvideo", pix_fmt="rgb24", map="0:v:0", fps_mode="passthrough")
    proc = subprocess.Popen(args.compile(cmd=FFMPEG) + ["-nostdin", "-loglevel", "error"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    size = info.width * info.height * 3
    try:
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield np.frombuffer(buf, np.uint8).reshape(info.height, info.width, 3)
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float, *, alpha: bool = False, crf: int = 20,
                preset: str = "veryfast") -> int:
    """Encode RGB frames as H.264 yuv420p MP4 (+faststart; ``crf``, x264 ``preset``), or RGBA frames as VP9 WebM
    with alpha.

    Odd sizes are padded by one pixel (H.264 4:2:0 needs even sizes). Returns the number of frames written;
    the output has exactly that many frames at ``fps``.
    """
    iterator = iter(frames)
    first = next(iterator)
    height, width = first.shape[:2]
    pix_in = "rgba" if alpha else "rgb24"
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt=pix_in, s=f"{width}x{height}", r=fps)
    if alpha:
        out = stream.output(str(path), vcodec="libvpx-vp9", pix_fmt="yuva420p", crf=32,
                            deadline="good", **{"b:v": 0, "auto-alt-ref": 0, "cpu-used": 5, "row-mt": 1})
    else:
        stream = stream.filter("pad", "ceil(iw/2)*2", "ceil(ih/2)*2")
        out = stream.output(str(path), vcodec="libx264", pix_fmt="yuv420p", crf=crf, preset=preset,
                            movflags="+faststart")
    proc = subprocess.Popen(out.overwrite_output().compile(cmd=FFMPEG) + ["-nostdin", "-loglevel", "error"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    count = 0
    try:
        for frame in _chain(first, iterator):
            proc.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
            count += 1
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to encode {path}: {err.strip()}")
    return count


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
