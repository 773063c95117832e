"""The model card's evaluation: parent only, parent + fine-tuning, and + snapping, on a DAVIS split."""
from __future__ import annotations

import argparse

from osvos.budget import DEFAULT_STEPS, DEFAULT_THRESHOLD
from osvos.evaluation import ablation, summary_line


def thresholds(text: str) -> list[float]:
    """``0.5,0.6`` → [0.5, 0.6]; argparse reports a ValueError as a usage error."""
    return [float(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    parser.add_argument("--weights", help="parent weights (default: the shipped ones)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"fine-tuning steps (default {DEFAULT_STEPS})")
    parser.add_argument("--sequences", help="comma-separated subset")
    parser.add_argument("--thresholds", type=thresholds, default=[DEFAULT_THRESHOLD],
                        help="comma-separated probability thresholds to score (the first gives the plain tables)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sequences = args.sequences.split(",") if args.sequences else None
    tables = ablation(args.davis, args.split, args.out, weights=args.weights, budget=args.steps,
                      sequences=sequences, thresholds=args.thresholds)
    for key, table in tables.items():
        print(f"{key}: {summary_line(table)}")


if __name__ == "__main__":
    main()
