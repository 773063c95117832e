"""Run a method over a DAVIS split and score masks with J, F and T, per sequence and over the dataset."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .budget import DEFAULT_BUDGET, DEFAULT_SNAP, DEFAULT_THRESHOLD, Budget
from .davis import load_sequence, read_rgb, split_names
from .masks import read_label_png, save_mask
from .metrics import score_sequence
from .temporal import FlowPrior

COLUMNS = ["J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "T_mean", "boundary_precision",
           "boundary_recall"]


def flow_propagate(frames: Iterable[np.ndarray], first_mask: np.ndarray) -> Iterable[np.ndarray]:
    """Training-free baseline: carry the first mask frame to frame with DIS optical flow (backward warping,
    ``osvos.temporal.FlowPrior.carried``), thresholded at 0.5 after each step."""
    carrier = FlowPrior(0.0)
    mask = np.asarray(first_mask, dtype=bool)
    for frame in frames:
        carried = carrier.carried(frame)
        if carried is not None:
            mask = carried > 0.5
        carrier.remember(mask)
        yield mask


def _mask_files(root: Path, sequence: str) -> list[Path]:
    files = sorted((root / sequence).glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no PNG masks for sequence {sequence!r} under {root}")
    return files


def score_folders(pred_root: str | Path, gt_root: str | Path, sequences: Sequence[str] | None = None) -> pd.DataFrame:
    """Score ``pred_root/<seq>/*.png`` against ``gt_root/<seq>/*.png``: one row per sequence."""
    pred_root, gt_root = Path(pred_root), Path(gt_root)
    names = list(sequences) if sequences else sorted(p.name for p in pred_root.iterdir() if p.is_dir())
    rows = []
    for name in names:
        preds = [read_label_png(p) for p in _mask_files(pred_root, name)]
        gts = [read_label_png(p) for p in _mask_files(gt_root, name)]
        rows.append({"sequence": name, **score_sequence(preds, gts)})
    return pd.DataFrame(rows).set_index("sequence")[COLUMNS]


def _predict(method: str, budget: Budget | None, snap: bool, dreams: int | None, load: dict
             ) -> Callable[[list[Path], np.ndarray], tuple[Iterable[np.ndarray], dict]]:
    if method == "flow":
        return lambda paths, mask: (flow_propagate((read_rgb(p) for p in paths), mask), {})
    if method != "osvos":
        raise ValueError(f"unknown method {method!r} (osvos or flow)")
    from .system import OSVOS

    model = OSVOS.load(**load)

    def run(paths: list[Path], mask: np.ndarray):
        if budget is not None:
            model.finetune(read_rgb(paths[0]), mask, budget, dreams=dreams)
        else:
            model.reset()
        masks = model.segment((read_rgb(p) for p in paths), snap=snap, annotations={0: mask})
        return masks, {"finetune_s": model.last_finetune.get("seconds", 0.0),
                       "crf_weight": model.last_finetune.get("crf_colour_weight")}

    return run


def _jft(j: float, f: float, t: float) -> str:
    """Scores in [0, 1] as ``J=<x> F=<y> T=<z>`` in percent, one decimal."""
    return f"J={100 * j:.1f} F={100 * f:.1f} T={100 * t:.1f}"


def run_method(davis: str | Path, split: str, method: str, out: str | Path, *,
               budget: Budget | None = DEFAULT_BUDGET, snap: bool = DEFAULT_SNAP, dreams: int | None = None,
               sequences: Sequence[str] | None = None, log: Callable[[str], None] = print, **load) -> pd.DataFrame:
    """Run ``method`` on each sequence from its first-frame mask, write masks to ``out/masks``, score them
    (``budget`` None: the parent network without fine-tuning; ``dreams`` as in ``OSVOS.finetune``; ``load``:
    ``OSVOS.load``'s keyword arguments, the product's where not given). The ``recipe``'s ``seed`` seeds fine-tuning's
    windows and dreams (the product uses 0): the spread over seeds is the noise a lever must beat."""
    out = Path(out)
    names = list(sequences) if sequences else split_names(davis, split)
    predict = _predict(method, budget, snap, dreams, load)
    rows = []
    for name in names:
        seq = load_sequence(davis, name)
        folder = out / "masks" / name
        folder.mkdir(parents=True, exist_ok=True)
        gts = [seq.mask(i) for i in range(len(seq.frames))]
        started = time.perf_counter()
        masks, info = predict(list(seq.frames), gts[0])
        preds = []
        for path, mask in zip(seq.frames, masks):
            save_mask(mask, folder / f"{path.stem}.png")
            preds.append(mask)
        wall = time.perf_counter() - started
        tuned = info.get("finetune_s", 0.0)
        scores = score_sequence(preds, gts)
        rows.append({"sequence": name, **scores, "finetune_s": tuned,
                     "s_per_frame": (wall - tuned) / max(1, len(seq.frames) - 1)})
        weight = info.get("crf_weight")
        if weight is not None:
            rows[-1]["crf_weight"] = weight
        log(f"{name}: {_jft(scores['J_mean'], scores['F_mean'], scores['T_mean'])} "
            f"fine-tune {tuned:.1f}s, {rows[-1]['s_per_frame']:.2f} s/frame"
            + ("" if weight is None else f", CRF colour weight {weight:g}"))
    return pd.DataFrame(rows).set_index("sequence")


def screened_frames(count: int, stride: int) -> list[int]:
    """Frame positions a pass reads: all ``count`` at stride 1, else the first, every ``stride``-th of
    1 … count−2 and the last, so that DAVIS scoring (frames 1 … N−2 of the list) scores exactly the strided ones."""
    if stride < 1:
        raise ValueError(f"frame stride must be at least 1: {stride}")
    if stride == 1 or count < 3:
        return list(range(count))
    return [0, *range(1, count - 1, stride), count - 1]


def ablation(davis: str | Path, split: str, out: str | Path, *, budget: Budget = DEFAULT_BUDGET,
             sequences: Sequence[str] | None = None, thresholds: Sequence[float] = (DEFAULT_THRESHOLD,),
             frame_stride: int = 1, parent_only: bool = False, log: Callable[[str], None] = print, **load
             ) -> dict[str, pd.DataFrame]:
    """The model card's rows: parent only, parent + fine-tuning, and + snapping, from one fine-tuning per sequence.

    Frames go through the networks as ``OSVOS.segment`` runs them (``OSVOS.segment_probabilities``: the same
    batches, scales and temporal prior) in two passes: the fine-tuned network unsnapped, with the parent network on
    the same views (rows ``parent`` and ``osvos``), then snapped, as the product runs it, the snapped mask carried
    to the next frame (row ``osvos_snap``; its ``s_per_frame`` is the product's time per frame). Every row is
    scored at each of ``thresholds``: the first gives the tables ``parent``, ``osvos`` and ``osvos_snap`` and the
    masks each pass carries, the others ``<row>@<threshold>`` (J and F only: T costs more than the network).
    ``load``: ``OSVOS.load``'s keyword arguments, the product's where not given (the ``osvos`` and ``osvos_snap`` rows
    at the first threshold are the masks as the product gives them out, with ``crf`` the CRF's, and the rows at the
    other thresholds the network's own); the first frame goes in with its mask, as the product gives it.
    A screen: ``frame_stride`` > 1 reads only the frames of ``screened_frames`` (J and F only), ``parent_only``
    skips fine-tuning, snapping, the flow prior, the CRF and ``min_region`` (the ``parent`` rows alone, one pass).
    Tables go to ``out/<table>.csv|.md``, rewritten after each sequence, so a pass that stops keeps what it scored.
    """
    from .system import OSVOS

    model = OSVOS.load(**(load | {"flow_weight": 0.0, "crf": False, "min_region": 0.0} if parent_only else load))
    names = list(sequences) if sequences else split_names(davis, split)
    suffixes = {t: "" if i == 0 else f"@{t:g}" for i, t in enumerate(thresholds)}
    kinds = ("parent",) if parent_only else ("parent", "osvos", "osvos_snap")
    rows: dict[str, list[dict]] = {f"{row}{suffix}": [] for suffix in suffixes.values() for row in kinds}
    tables: dict[str, pd.DataFrame] = {}
    for name in names:
        seq = load_sequence(davis, name)
        picked = screened_frames(len(seq.frames), frame_stride)
        gts = [seq.mask(i) for i in picked]
        preds: dict[str, list[np.ndarray]] = {key: [gts[0]] for key in rows}
        if parent_only:
            model.reset()
        else:
            model.finetune(read_rgb(seq.frames[0]), gts[0], budget)

        def passed(snap: bool, parent: bool) -> Iterable:
            frames = (read_rgb(seq.frames[i]) for i in picked)
            segmented = model.segment_probabilities(frames, snap=snap, threshold=thresholds[0], parent=parent,
                                                     annotations={0: gts[0]})
            return (one for one in segmented if not one.annotated)

        for one in passed(snap=False, parent=not parent_only):
            parent_probability = one.probability if parent_only else one.parent_probability
            for threshold, suffix in suffixes.items():
                preds[f"parent{suffix}"].append(parent_probability > threshold)
                if not parent_only:
                    preds[f"osvos{suffix}"].append(one.probability > threshold if suffix else one.mask)
        started = time.perf_counter()
        extra = list(suffixes.items())[1:]
        for one in [] if parent_only else passed(snap=True, parent=False):
            preds["osvos_snap"].append(one.mask)
            for threshold, suffix in extra:
                preds[f"osvos_snap{suffix}"].append(one.snapper(one.probability, threshold))
        per_frame = (time.perf_counter() - started) / max(1, len(picked) - 1)
        tuned = 0.0 if parent_only else model.last_finetune["seconds"]
        for key, masks in preds.items():
            scores = score_sequence(masks, gts, temporal="@" not in key and frame_stride == 1)
            timing = {"finetune_s": 0.0 if key.startswith("parent") else tuned}
            if key.startswith("osvos_snap"):
                timing["s_per_frame"] = per_frame
            rows[key].append({"sequence": name, **scores, **timing})
            log(f"{name} {key}: {_jft(scores['J_mean'], scores['F_mean'], scores['T_mean'])}")
        tables = {key: pd.DataFrame(value).set_index("sequence") for key, value in rows.items()}
        for key, table in tables.items():
            write_tables(table, out, key)
    return tables


def summary_line(table: pd.DataFrame) -> str:
    """The last line the CLI prints: ``mean J=<x> F=<y> T=<z>`` in percent, one decimal."""
    mean = table[["J_mean", "F_mean", "T_mean"]].mean()
    return f"mean {_jft(mean['J_mean'], mean['F_mean'], mean['T_mean'])}"


def to_percent(table: pd.DataFrame) -> pd.DataFrame:
    """Scores as percentages (timings untouched), with a dataset-mean row."""
    shown = table.copy()
    scores = [c for c in COLUMNS if c in shown]
    shown[scores] = shown[scores] * 100
    shown.loc["mean"] = shown.mean(numeric_only=True)
    return shown.round(2)


def write_tables(table: pd.DataFrame, out: str | Path, name: str = "results") -> tuple[Path, Path]:
    """Write ``name.csv`` and ``name.md`` (percent) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shown = to_percent(table)
    shown.to_csv(out / f"{name}.csv")
    (out / f"{name}.md").write_text(shown.to_markdown(floatfmt=".1f") + "\n")
    return out / f"{name}.csv", out / f"{name}.md"


def evaluate(*, pred: str | Path | None = None, gt: str | Path | None = None, davis: str | Path | None = None,
             split: str = "val", method: str = "osvos", out: str | Path | None = None,
             sequences: Sequence[str] | None = None, **options) -> pd.DataFrame:
    """Score existing masks (``pred`` + ``gt``) or run ``method`` on a DAVIS split (``davis``); see the CLI."""
    if pred is not None:
        if gt is None:
            raise ValueError("scoring existing masks needs both pred and gt")
        table = score_folders(pred, gt, sequences)
    elif davis is not None:
        if out is None:
            raise ValueError("running a method needs an output folder")
        table = run_method(davis, split, method, out, sequences=sequences, **options)
    else:
        raise ValueError("give pred and gt, or davis")
    if out is not None:
        write_tables(table, out)
    return table
