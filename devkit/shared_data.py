"""The data that tests and benchmarks read from outside the repository: the folder ``shared/`` beside the
checkout, with DAVIS-2016 in ``davis2016/`` and sample clips in ``samples/``. Nothing of it is copied in."""
from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
DAVIS = SHARED / "davis2016"
HEVC_SAMPLE = SHARED / "samples" / "blackswan-hevc.mp4"
"""DAVIS blackswan as an HEVC clip, 854x480, 50 frames at 24 fps."""
PHOTO_MASK = SHARED / "samples" / "blackswan-first-mask-rgb.png"
"""A JPEG photo of blackswan's first frame under a .png name: an upload that is not a mask."""
BLACKSWAN_MASK = DAVIS / "Annotations" / "480p" / "blackswan" / "00000.png"


def require(path: Path) -> Path:
    """``path`` when it exists; otherwise the calling test is skipped, with the reason every such test gives."""
    if not path.exists():
        import pytest

        pytest.skip(f"shared data missing: {path} (DAVIS-2016 and the samples belong in {SHARED}, beside the "
                    "checkout; see the README)")
    return path
