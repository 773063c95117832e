"""What one correction is worth (scripts/evaluate_corrections.py): fine-tune on frame 0, segment, take the frame
with the lowest J as the one a user would correct, give its ground truth as the correction, fine-tune on both and
segment again; score both runs on the same frames (1 … N−2 without the corrected one)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from osvos.budget import Budget
from osvos.metrics import f_measure, jaccard

SCORES = ("J_1", "F_1", "J_2", "F_2", "dJ", "dF")
"""Per-sequence scores: first frame only (``_1``), with the correction (``_2``), and the gains."""


def worst_frame(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> int:
    """The frame among 1 … N−2 (the scored ones) with the lowest J; the first of equals."""
    inner = range(1, len(gts) - 1)
    if not inner:
        raise ValueError(f"a sequence of {len(gts)} frames has no frame to correct (it needs at least 3)")
    return min(inner, key=lambda i: jaccard(preds[i], gts[i]))


def mean_scores(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], frames: Sequence[int]) -> tuple[float, float]:
    """Mean J and F over ``frames``."""
    return (float(np.mean([jaccard(preds[i], gts[i]) for i in frames])),
            float(np.mean([f_measure(preds[i], gts[i]) for i in frames])))


def evaluate_sequence(model, frames: list[np.ndarray], gts: list[np.ndarray], budget: Budget) -> dict:
    """Both runs on one sequence (``model``: an ``osvos.OSVOS``); the corrected frame and the scores."""
    model.finetune(frames[0], gts[0], budget)
    first = list(model.segment(frames, annotations={0: gts[0]}))
    corrected = worst_frame(first, gts)
    model.finetune([frames[0], frames[corrected]], [gts[0], gts[corrected]], budget)
    second = list(model.segment(frames, annotations={0: gts[0], corrected: gts[corrected]}))
    scored = [i for i in range(1, len(gts) - 1) if i != corrected]
    j1, f1 = mean_scores(first, gts, scored)
    j2, f2 = mean_scores(second, gts, scored)
    return {"frames": len(gts), "corrected": corrected, "J_1": j1, "F_1": f1, "J_2": j2, "F_2": f2,
            "dJ": j2 - j1, "dF": f2 - f1}


def table(rows: list[dict]) -> pd.DataFrame:
    """Per-sequence rows (``sequence`` + ``evaluate_sequence``'s fields) in percent, with a mean row."""
    shown = pd.DataFrame(rows).set_index("sequence").astype({"frames": object, "corrected": object})
    shown[list(SCORES)] = shown[list(SCORES)] * 100
    shown.loc["mean"] = {"frames": "", "corrected": "", **shown[list(SCORES)].mean().to_dict()}
    return shown
