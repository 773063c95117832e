"""The model card's evaluation: parent only, parent + fine-tuning, and + snapping, on a DAVIS split."""
from __future__ import annotations

import argparse

from osvos.budget import (
    ADAPT_FAR,
    ADAPT_STEPS,
    DEFAULT_CRF,
    DEFAULT_STEPS,
    DEFAULT_THRESHOLD,
    DEFAULT_VIEWS,
    FINETUNE_CONV3,
    FLOW_WEIGHT,
    MIN_REGION,
    SEGMENT_SCALE,
    VIEW_COUNTS,
    Budget,
)
from osvos.evaluation import ablation, summary_line
from osvos.finetune import FinetuneRecipe


def thresholds(text: str) -> list[float]:
    """``0.5,0.6`` → [0.5, 0.6]; argparse reports a ValueError as a usage error."""
    return [float(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    parser.add_argument("--weights", help="parent weights (default: the shipped ones)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"fine-tuning steps (default {DEFAULT_STEPS})")
    parser.add_argument("--views", type=int, choices=VIEW_COUNTS, default=DEFAULT_VIEWS,
                        help=f"test-time views per frame (default {DEFAULT_VIEWS})")
    parser.add_argument("--segment-scale", type=float, default=SEGMENT_SCALE,
                        help=f"segment at this x the fine-tuning size (default {SEGMENT_SCALE:g})")
    parser.add_argument("--flow-weight", type=float, default=FLOW_WEIGHT,
                        help=f"weight of the previous mask carried by optical flow (default {FLOW_WEIGHT:g}; 0 = off)")
    parser.add_argument("--crf", action=argparse.BooleanOptionalAction, default=DEFAULT_CRF,
                        help=f"the masks given out by a dense CRF (default: {'on' if DEFAULT_CRF else 'off'})")
    parser.add_argument("--min-region", type=float, default=MIN_REGION,
                        help=f"the masks given out lose detached regions below this x the largest (default "
                             f"{MIN_REGION:g}; 0 = keep all)")
    parser.add_argument("--train-conv3", action=argparse.BooleanOptionalAction, default=FINETUNE_CONV3,
                        help=f"fine-tuning trains conv3 too (default: {'on' if FINETUNE_CONV3 else 'off'})")
    parser.add_argument("--adapt-steps", type=int, default=ADAPT_STEPS,
                        help=f"online adaptation steps after each batch of frames (default {ADAPT_STEPS}; 0 = off)")
    parser.add_argument("--adapt-far", type=float, default=ADAPT_FAR,
                        help=f"online adaptation: background labels beyond this x the longest side "
                             f"(default {ADAPT_FAR:g})")
    parser.add_argument("--sequences", help="comma-separated subset")
    parser.add_argument("--thresholds", type=thresholds, default=[DEFAULT_THRESHOLD],
                        help="comma-separated probability thresholds to score (the first gives the plain tables)")
    parser.add_argument("--frame-stride", type=int, default=1,
                        help="a screen: score every Nth frame of 1 … N−2 (J and F only; default 1, every frame)")
    parser.add_argument("--parent-only", action="store_true", help="a screen: the parent row alone, no fine-tuning")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sequences = args.sequences.split(",") if args.sequences else None
    try:
        recipe = FinetuneRecipe(train_conv3=args.train_conv3, adapt_steps=args.adapt_steps, adapt_far=args.adapt_far)
    except ValueError as exc:
        parser.error(str(exc))
    tables = ablation(args.davis, args.split, args.out, weights=args.weights, budget=Budget(iterations=args.steps),
                      views=args.views, segment_scale=args.segment_scale, flow_weight=args.flow_weight,
                      crf=args.crf, min_region=args.min_region, recipe=recipe, sequences=sequences,
                      thresholds=args.thresholds, frame_stride=args.frame_stride, parent_only=args.parent_only)
    for key, table in tables.items():
        print(f"{key}: {summary_line(table)}")


if __name__ == "__main__":
    main()
