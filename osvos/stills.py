"""Still photos with a salient-object mask (DUTS-TR layout: list.txt, Images/<name>.jpg, Masks/<name>.png),
extra data for parent training."""
from __future__ import annotations

from pathlib import Path


def load_stills(root: str | Path) -> list[tuple[Path, Path]]:
    """(image, mask) paths of every name in ``root/list.txt``; raises if a listed file is missing."""
    root = Path(root)
    listing = root / "list.txt"
    if not listing.is_file():
        raise FileNotFoundError(f"no list.txt in {root} (expected the DUTS-TR layout: list.txt, Images/, Masks/)")
    pairs = []
    for name in (line.strip() for line in listing.read_text().splitlines()):
        if not name:
            continue
        image, mask = root / "Images" / f"{name}.jpg", root / "Masks" / f"{name}.png"
        if not image.is_file() or not mask.is_file():
            raise FileNotFoundError(f"{name!r} is listed in {listing} but {image.name} or {mask.name} is missing")
        pairs.append((image, mask))
    if not pairs:
        raise ValueError(f"{listing} lists no images")
    return pairs
