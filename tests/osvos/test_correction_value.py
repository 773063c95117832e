"""What one correction is worth (devkit.corrections, scripts/evaluate_corrections.py): the frame it picks, the
frames it scores, both fine-tunings, and the script end to end on a tiny DAVIS folder."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from devkit.corrections import evaluate_sequence, mean_scores, table, worst_frame
from osvos.budget import Budget
from osvos.masks import save_mask

from osvos_helpers import REPO, square_case

SHAPE = (48, 64)


def squares(count: int) -> list[np.ndarray]:
    """Ground truth: a 20×20 square moving 2 px right a frame."""
    out = []
    for k in range(count):
        mask = np.zeros(SHAPE, bool)
        mask[10:30, 10 + 2 * k:30 + 2 * k] = True
        out.append(mask)
    return out


def half(mask: np.ndarray) -> np.ndarray:
    """The left half of a mask (J = 0.5 against it)."""
    cols = np.nonzero(mask.any(axis=0))[0]
    return mask & (np.arange(SHAPE[1]) < cols.min() + len(cols) // 2)


def test_worst_frame_is_the_lowest_j_among_the_scored_frames():
    gts = squares(6)
    preds = [np.zeros(SHAPE, bool), gts[1], half(gts[2]), gts[3], half(gts[4]), np.zeros(SHAPE, bool)]
    assert worst_frame(preds, gts) == 2, "frames 0 and N-1 are not scored, the first of equal frames wins"
    assert mean_scores(preds, gts, [1, 2, 3])[0] == pytest.approx(2.5 / 3)
    assert mean_scores(preds, gts, [2])[0] == pytest.approx(0.5) and mean_scores(preds, gts, [1, 3]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="at least 3"):
        worst_frame(preds[:2], gts[:2])


class LearningFake:
    """Predicts the ground truth except on frame 2 (half of it) and frame 3 (nothing), until it has been
    fine-tuned on two frames: then frame 2 is right too. Annotated frames come out as given."""

    def __init__(self, gts):
        self.gts, self.calls = gts, []

    def finetune(self, frame, mask, budget):
        frames = [frame] if isinstance(frame, np.ndarray) else frame
        masks = [mask] if isinstance(mask, np.ndarray) else mask
        self.calls.append((frames, masks, budget))
        return self

    def segment(self, frames, annotations):
        learnt = len(self.calls[-1][0]) > 1
        for i, _ in enumerate(frames):
            guess = self.gts[i]
            if i == 2 and not learnt:
                guess = half(guess)
            if i == 3:
                guess = np.zeros(SHAPE, bool)
            yield annotations.get(i, guess)


def test_evaluate_sequence_corrects_the_worst_frame_and_scores_the_others():
    gts = squares(6)
    frames = [np.full((*SHAPE, 3), k, np.uint8) for k in range(6)]
    model = LearningFake(gts)
    row = evaluate_sequence(model, frames, gts, Budget(iterations=3))
    assert row["corrected"] == 3 and row["frames"] == 6
    (first, first_masks, budget), (second, second_masks, again) = model.calls
    assert [f[0, 0, 0] for f in first] == [0] and [f[0, 0, 0] for f in second] == [0, 3]
    assert np.array_equal(second_masks[1], gts[3]) and budget == again == Budget(iterations=3)
    # Scored on frames 1, 2 and 4 (not 3, the corrected one): J 2.5/3 before, 1 after.
    assert row["J_1"] == pytest.approx(2.5 / 3) and row["J_2"] == pytest.approx(1.0)
    assert row["dJ"] == pytest.approx(row["J_2"] - row["J_1"]) and row["F_2"] >= row["F_1"]
    shown = table([{"sequence": "a", **row}, {"sequence": "b", **{**row, "J_1": 0.5, "J_2": 0.5, "dJ": 0.0}}])
    assert list(shown.index) == ["a", "b", "mean"]
    assert shown.loc["mean", "J_2"] == pytest.approx(75.0) and shown.loc["mean", "corrected"] == ""


def test_script_on_a_tiny_davis_folder(tmp_path):
    root = tmp_path / "davis"
    frame, _ = square_case()
    for name in ("left", "right"):
        images, labels = root / "JPEGImages" / "480p" / name, root / "Annotations" / "480p" / name
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for k, mask in enumerate(squares(5)):
            moved = np.roll(frame, 2 * k if name == "right" else -2 * k, axis=1)
            cv2.imwrite(str(images / f"{k:05d}.jpg"), cv2.cvtColor(moved, cv2.COLOR_RGB2BGR))
            save_mask(mask if name == "right" else mask[:, ::-1], labels / f"{k:05d}.png")
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text("/JPEGImages/480p/left /Annotations/480p/left\nright\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "scripts/evaluate_corrections.py", "--davis",
                           str(root), "--steps", "2", "--work-size", "64", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = pd.read_csv(out / "corrections.csv", index_col=0)
    assert list(scores.index) == ["left", "right", "mean"]
    assert set(scores.loc[["left", "right"], "corrected"].astype(int)) <= {1, 2, 3}
    assert scores.loc["mean", "J_2"] == pytest.approx(scores.loc[["left", "right"], "J_2"].mean(), abs=0.01)
    assert proc.stdout.strip().splitlines()[-1].startswith("mean J ")
    assert "| sequence" in (out / "corrections.md").read_text()
