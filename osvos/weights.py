"""Where ``OSVOS.load()`` finds the parent network when it is given no weights: the file that ``OSVOS_WEIGHTS``
names, else the weights shipped in this checkout's ``models/``, else none (the HED initialisation)."""
from __future__ import annotations

import os
from pathlib import Path

SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "osvos_parent.weights.h5"
"""The parent weights of the checkout (models/README.md is their model card)."""


def default_weights() -> Path | None:
    """``OSVOS_WEIGHTS`` when it is set (a missing file is the caller's error to report), else
    ``SHIPPED_WEIGHTS`` when it exists, else None."""
    named = os.environ.get("OSVOS_WEIGHTS", "").strip()
    if named:
        return Path(named)
    return SHIPPED_WEIGHTS if SHIPPED_WEIGHTS.is_file() else None
