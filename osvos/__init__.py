"""osvos: one-shot video object segmentation (Caelles et al., CVPR 2017) as a library, with no web framework.

    from osvos import OSVOS
    masks = OSVOS.load().finetune(frame0, mask0, budget=60.0).segment(frames)

The network modules (Keras) load lazily, so ``osvos.video``, ``osvos.masks`` or ``osvos.render`` import fast.
"""
from __future__ import annotations

import importlib

_LAZY = {"OSVOS": "system", "DEFAULT_BUDGET": "budget", "Budget": "budget", "Cancelled": "cancel",
         "evaluate": "evaluation"}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'osvos' has no attribute {name!r}")
