"""video: probing, decoding and encoding with the bundled ffmpeg."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from osvos.video import FFMPEG, VideoError, probe_video, read_frames, write_video


def test_probe_hevc_sample(hevc_sample):
    info = probe_video(hevc_sample)
    assert (info.width, info.height) == (854, 480)
    assert info.fps == pytest.approx(24.0)
    assert info.frames == 50
    assert info.codec == "hevc"


def test_read_frames_hevc_sample(hevc_sample):
    shapes = [frame.shape for frame in read_frames(hevc_sample)]
    assert len(shapes) == 50
    assert set(shapes) == {(480, 854, 3)}


def test_read_frames_stops_cleanly_when_abandoned(hevc_sample):
    frames = read_frames(hevc_sample)
    first = next(frames)
    assert first.dtype == np.uint8 and first.shape == (480, 854, 3)
    assert 20 < first.mean() < 235   # a real picture, not a blank frame
    frames.close()


def odd_frames(count: int = 7) -> list[np.ndarray]:
    """Frames 33 high × 31 wide with a bright bar moving right, on a grey background."""
    frames = []
    for k in range(count):
        frame = np.full((33, 31, 3), 60, np.uint8)
        frame[8:24, 2 + 3 * k:6 + 3 * k] = (240, 200, 40)
        frames.append(frame)
    return frames


def test_write_video_odd_size_is_padded_and_exact(tmp_path):
    path = tmp_path / "odd.mp4"
    assert write_video(iter(odd_frames()), path, 12.5) == 7
    info = probe_video(path)
    assert info.frames == 7
    assert info.fps == pytest.approx(12.5)
    assert (info.width, info.height) == (32, 34)      # padded to even sizes
    assert info.codec == "h264"
    decoded = list(read_frames(path, info))
    assert len(decoded) == 7
    # The content survives (lossy, but the moving bar is where it was drawn).
    for k, frame in enumerate(decoded):
        bar = frame[8:24, 2 + 3 * k:6 + 3 * k].astype(float)
        assert bar[..., 0].mean() > 180 and frame[28:, :, 0].mean() < 100


def test_write_video_alpha_webm_vp9(tmp_path):
    path = tmp_path / "alpha.webm"
    frames = [np.dstack([f, np.full(f.shape[:2], 255, np.uint8)]) for f in odd_frames()]
    for frame in frames:
        frame[:, :10, 3] = 0       # a transparent left band
    assert write_video(frames, path, 10, alpha=True) == 7
    assert path.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"   # Matroska/WebM magic
    info = probe_video(path)
    assert info.codec == "vp9" and info.frames == 7
    assert info.fps == pytest.approx(10)
    # Decoded with libvpx (which keeps alpha), the transparent band is there.
    proc = subprocess.run([FFMPEG, "-nostdin", "-loglevel", "error", "-c:v", "libvpx-vp9", "-i", str(path),
                           "-f", "rawvideo", "-pix_fmt", "rgba", "-"], capture_output=True, check=True)
    rgba = np.frombuffer(proc.stdout, np.uint8).reshape(-1, info.height, info.width, 4)
    assert len(rgba) == 7
    assert rgba[:, :, :8, 3].mean() < 30 and rgba[:, :, 12:, 3].mean() > 225


def test_videoerror_for_text_file(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoError):
        probe_video(path)


def test_videoerror_for_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        probe_video(path)


def test_videoerror_for_truncated_sample(tmp_path, hevc_sample):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(hevc_sample.read_bytes()[:2048])
    with pytest.raises(VideoError):
        probe_video(path)


def test_videoerror_is_a_valueerror():
    assert issubclass(VideoError, ValueError)
