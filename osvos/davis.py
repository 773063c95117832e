"""Reading DAVIS-layout folders: JPEGImages/480p/<seq>/*.jpg, Annotations/480p/<seq>/*.png, ImageSets/*.txt."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .masks import read_label_png


@dataclass(frozen=True)
class Sequence:
    """One DAVIS sequence: sorted frame and annotation paths."""

    name: str
    frames: tuple[Path, ...]
    masks: tuple[Path, ...]

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8."""
        return read_rgb(self.frames[index])

    def mask(self, index: int) -> np.ndarray:
        """Ground-truth mask ``index`` as bool."""
        return read_label_png(self.masks[index])


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def split_names(root: str | Path, split: str) -> list[str]:
    """Sequence names listed in ImageSets/<split>.txt."""
    path = Path(root) / "ImageSets" / f"{split}.txt"
    return [line.split()[0].strip("/").split("/")[-1] for line in path.read_text().splitlines() if line.strip()]


def load_sequence(root: str | Path, name: str, resolution: str = "480p") -> Sequence:
    """Paths of one sequence's frames and annotations."""
    root = Path(root)
    frames = tuple(sorted((root / "JPEGImages" / resolution / name).glob("*.jpg")))
    masks = tuple(sorted((root / "Annotations" / resolution / name).glob("*.png")))
    if not frames:
        raise FileNotFoundError(f"no frames for sequence {name!r} under {root}")
    return Sequence(name, frames, masks)


def load_split(root: str | Path, split: str) -> list[Sequence]:
    """All sequences of a split."""
    return [load_sequence(root, name) for name in split_names(root, split)]
