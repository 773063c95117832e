"""What one correction is worth on a DAVIS split: J/F with the first frame only against the first frame plus the
ground truth of the frame where the first run's J was lowest (standing in for the user's correction), both scored
on frames 1 … N−2 without the corrected one. Writes corrections.csv / corrections.md into --out.

    python scripts/evaluate_corrections.py --davis ../shared/davis2016 --split val --out runs/eval/corrections
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from devkit.corrections import evaluate_sequence, table
from osvos.budget import DEFAULT_STEPS, DEFAULT_WORK_SIZE, Budget
from osvos.davis import load_sequence, read_rgb, split_names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    parser.add_argument("--sequences", help="comma-separated subset")
    parser.add_argument("--weights", help="parent weights (default: $OSVOS_WEIGHTS, else the shipped ones)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"fine-tuning steps of each run (default {DEFAULT_STEPS})")
    parser.add_argument("--work-size", type=int, default=DEFAULT_WORK_SIZE,
                        help=f"longest side the network runs at (default {DEFAULT_WORK_SIZE}; 0 = full size)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    from osvos import OSVOS

    model = OSVOS.load(args.weights, work_size=args.work_size)
    names = args.sequences.split(",") if args.sequences else split_names(args.davis, args.split)
    rows = []
    for name in names:
        started = time.perf_counter()
        seq = load_sequence(args.davis, name)
        frames = [read_rgb(path) for path in seq.frames]
        gts = [seq.mask(i) for i in range(len(seq.frames))]
        row = {"sequence": name, **evaluate_sequence(model, frames, gts, Budget(iterations=args.steps))}
        rows.append(row)
        print(f"{name}: corrected frame {row['corrected']}, J {100 * row['J_1']:.1f} → {100 * row['J_2']:.1f}, "
              f"F {100 * row['F_1']:.1f} → {100 * row['F_2']:.1f} ({time.perf_counter() - started:.0f} s)",
              flush=True)
        shown = write_tables(rows, args.out)
    print(shown.to_markdown(floatfmt=".1f"))
    mean = shown.loc["mean"]
    print(f"mean J {mean['J_1']:.1f} → {mean['J_2']:.1f}, F {mean['F_1']:.1f} → {mean['F_2']:.1f} "
          f"(1 annotation → 2, {len(rows)} sequences, {args.steps} steps)")


def write_tables(rows: list[dict], out: Path):
    """Write the table of the sequences so far (a stopped run keeps what it finished); returns it."""
    shown = table(rows)
    out.mkdir(parents=True, exist_ok=True)
    shown.to_csv(out / "corrections.csv", float_format="%.2f")
    (out / "corrections.md").write_text(shown.to_markdown(floatfmt=".1f") + "\n")
    return shown


if __name__ == "__main__":
    main()
