"""The model card's evaluation: parent only, parent + fine-tuning, and + snapping, on a DAVIS split."""
from __future__ import annotations

import argparse

from osvos.budget import DEFAULT_THRESHOLD, Budget
from osvos.cli import add_model_options, model_options
from osvos.evaluation import ablation, summary_line


def thresholds(text: str) -> list[float]:
    """``0.5,0.6`` → [0.5, 0.6]; argparse reports a ValueError as a usage error."""
    return [float(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    add_model_options(parser)
    parser.add_argument("--sequences", help="comma-separated subset")
    parser.add_argument("--thresholds", type=thresholds, default=[DEFAULT_THRESHOLD],
                        help="comma-separated probability thresholds to score (the first gives the plain tables)")
    parser.add_argument("--frame-stride", type=int, default=1,
                        help="a screen: score every Nth frame of 1 … N−2 (J and F only; default 1, every frame)")
    parser.add_argument("--parent-only", action="store_true", help="a screen: the parent row alone, no fine-tuning")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sequences = args.sequences.split(",") if args.sequences else None
    if args.steps < 1:
        parser.error("--steps must be 1 or more (--parent-only skips fine-tuning)")
    try:
        options = model_options(args)
    except ValueError as exc:
        parser.error(str(exc))
    tables = ablation(args.davis, args.split, args.out, budget=Budget(iterations=args.steps), sequences=sequences,
                      thresholds=args.thresholds, frame_stride=args.frame_stride, parent_only=args.parent_only,
                      **options)
    for key, table in tables.items():
        print(f"{key}: {summary_line(table)}")


if __name__ == "__main__":
    main()
