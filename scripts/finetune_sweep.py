"""J and F of fine-tuning recipes against their step count on a DAVIS split, from one fine-tuning per sequence.

    python scripts/finetune_sweep.py --davis ../shared/davis2016 --split val --recipes previous,default \
        --steps 50,125,250,500 --stride 3 --out runs/sweep

Each sequence is fine-tuned once per recipe (all recipes on one sequence, then the next) up to the largest step
count; at every listed count the network, as it is then, segments frames 1 … N−2 (every ``--stride``-th of them)
and they are scored. The seconds column is the fine-tuning time to that count (caching the views included,
segmentation excluded), on this machine as it was then. Writes ``sweep.csv`` (one row per recipe × sequence ×
steps; a rerun skips what is there), ``sweep.md`` (means per recipe × steps) and ``sweep.png`` (J and F against
seconds).
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from devkit.sweep import COLUMNS, RECIPES, parse_recipe, plot_summary, write_summary
from osvos.budget import Budget
from osvos.davis import load_sequence, split_names
from osvos.metrics import f_measure, jaccard
from osvos.system import OSVOS


def sweep_sequence(model: OSVOS, davis: str, name: str, steps: list[int], stride: int) -> list[dict]:
    """Fine-tune on frame 0 up to ``max(steps)``, scoring the masks at every count in ``steps``."""
    seq = load_sequence(davis, name)
    scored = list(range(1, len(seq.frames) - 1))[::stride]
    frames = [seq.frame(i) for i in scored]
    truths = [seq.mask(i) for i in scored]
    rows: list[dict] = []
    started = time.perf_counter()
    paused = [0.0]

    def at_step(fraction: float, _eta) -> None:
        count = round(fraction * max(steps))
        if count not in steps or any(r["steps"] == count for r in rows):
            return
        pause = time.perf_counter()
        masks = list(model.segment(frames))
        rows.append({"sequence": name, "steps": count, "seconds": pause - started - paused[0],
                     "J": statistics.fmean(jaccard(m, t) for m, t in zip(masks, truths)),
                     "F": statistics.fmean(f_measure(m, t) for m, t in zip(masks, truths))})
        paused[0] += time.perf_counter() - pause

    model.finetune(seq.frame(0), seq.mask(0), Budget(iterations=max(steps)), progress=at_step)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    parser.add_argument("--sequences", help="comma-separated subset")
    parser.add_argument("--weights", help="parent weights (default: the shipped ones)")
    parser.add_argument("--recipes", default="default",
                        help=f"comma-separated: {', '.join(RECIPES)} (or name:field=value)")
    parser.add_argument("--steps", default="50,125,250,500", help="comma-separated step counts to score at")
    parser.add_argument("--stride", type=int, default=1, help="score every n-th frame of 1 … N−2")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    recipes = [parse_recipe(text) for text in args.recipes.split(",")]
    steps = sorted(int(s) for s in args.steps.split(","))
    names = args.sequences.split(",") if args.sequences else split_names(args.davis, args.split)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "sweep.csv"
    done = set()
    if table.exists():
        with table.open() as handle:
            done = {(r["recipe"], r["sequence"]) for r in csv.DictReader(handle)}
    model = OSVOS.load(args.weights)
    for name in names:
        for label, recipe in recipes:
            if (label, name) in done:
                continue
            model.recipe = recipe
            rows = sweep_sequence(model, args.davis, name, steps, args.stride)
            new = not table.exists()
            with table.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, COLUMNS)
                if new:
                    writer.writeheader()
                for row in rows:
                    writer.writerow({"recipe": label, **row})
            print(label, name, " ".join(f"{r['steps']}:{100 * r['J']:.1f}" for r in rows), flush=True)
    summary = write_summary(table, out / "sweep.md")
    plot_summary(summary, out / "sweep.png", f"{args.split}: {', '.join(names)} (every {args.stride}th frame)")


if __name__ == "__main__":
    main()
