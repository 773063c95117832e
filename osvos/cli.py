"""``python -m osvos segment|evaluate``: argument parsing and printing only."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from .budget import (
    ADAPT_FAR,
    ADAPT_GROWTH,
    ADAPT_STEPS,
    DEFAULT_CRF,
    DEFAULT_DREAMS,
    DEFAULT_SNAP,
    DEFAULT_STEPS,
    DEFAULT_VIEWS,
    DEFAULT_WORK_SIZE,
    FINETUNE_CONV3,
    FLOW_WEIGHT,
    MIN_REGION,
    QUICK_DREAMS,
    QUICK_STEPS,
    SEGMENT_BATCH,
    SEGMENT_SCALE,
    VIEW_COUNTS,
    Budget,
    check_adaptation,
    check_dreams,
)
from .temporal import checked_weight
from .views import view_plan


def _annotation(text: str) -> tuple[int, str]:
    """``INDEX:PATH`` → (INDEX, PATH); a bare path is frame 0 (argparse reports a ValueError as a usage error)."""
    index, sep, path = text.partition(":")
    if sep and index.strip().isdigit():
        return int(index), path
    return 0, text


def _budget(args: argparse.Namespace) -> Budget | None:
    """The fine-tuning budget of ``--steps`` and ``--max-seconds``; None (parent only) for ``--steps 0``. Checks
    ``--dreams`` too."""
    if args.steps < 0 or (args.max_seconds is not None and not args.max_seconds > 0):
        raise ValueError("--steps must be 0 or more and --max-seconds more than 0")
    check_dreams(args.dreams, "--dreams")
    return Budget(iterations=args.steps, seconds=args.max_seconds) if args.steps else None


def model_options(args: argparse.Namespace) -> dict:
    """``OSVOS.load``'s keyword arguments from the options of ``add_model_options`` (and ``--finetune-seed`` where
    the command has it), checked before any model loads: ValueError names the flag."""
    from .finetune import FinetuneRecipe

    check_adaptation(args.adapt_steps, args.adapt_far, args.adapt_growth,
                     ("--adapt-steps", "--adapt-far", "--adapt-growth"))
    view_plan(args.views, args.segment_scale)
    checked_weight(args.flow_weight)
    recipe = FinetuneRecipe(seed=getattr(args, "finetune_seed", 0), train_conv3=args.train_conv3,
                            adapt_steps=args.adapt_steps, adapt_far=args.adapt_far, adapt_growth=args.adapt_growth)
    return {"weights": args.weights, "work_size": args.work_size, "views": args.views,
            "segment_scale": args.segment_scale, "flow_weight": args.flow_weight, "crf": args.crf,
            "min_region": args.min_region, "recipe": recipe}


def _segment(args: argparse.Namespace) -> int:
    from .davis import read_rgb
    from .masks import MaskError, load_mask, save_mask
    from .system import OSVOS
    from .video import VideoError, probe_video, read_frames

    try:
        budget = _budget(args)
        options = model_options(args)
        if args.video:
            info = probe_video(args.video)
            names = [f"{i:05d}" for i in range(info.frames)]
            size, frames = (info.width, info.height), lambda: read_frames(args.video, info)
        else:
            paths = sorted(p for p in Path(args.frames).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if not paths:
                raise VideoError(f"no .jpg/.png frames in {args.frames}")
            first = read_rgb(paths[0])
            names = [p.stem for p in paths]
            size, frames = (first.shape[1], first.shape[0]), lambda: (read_rgb(p) for p in paths)
        annotations = {}
        for index, path in args.mask:
            if index >= len(names):
                raise ValueError(f"--mask {index}:{path}: the video has frames 0 to {len(names) - 1}")
            if index in annotations:
                raise ValueError(f"frame {index} is annotated twice")
            annotations[index] = load_mask(path, size)
        started = time.perf_counter()
        model = OSVOS.load(**options)
    except (VideoError, MaskError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if budget is not None:
        annotated = {i: frame for i, frame in enumerate(frames()) if i in annotations}
        with tqdm(total=1.0, desc="fine-tune", bar_format="{l_bar}{bar}| {n:.0%} [{elapsed}{postfix}]") as bar:

            def show(fraction: float, eta: float | None) -> None:
                bar.set_postfix_str("" if eta is None else f"ETA {eta:.0f} s", refresh=False)
                bar.update(fraction - bar.n)

            model.finetune([annotated[i] for i in sorted(annotations)], [annotations[i] for i in sorted(annotations)],
                           budget, dreams=args.dreams, progress=show)
    count = 0
    masks = model.segment(frames(), snap=args.snap, annotations=annotations)
    for name, predicted in tqdm(zip(names, masks), total=len(names), desc="segment", unit="frame"):
        save_mask(predicted, out / f"{name}.png")
        count += 1
    tuned = model.last_finetune
    print(f"wrote {count} masks to {out} in {time.perf_counter() - started:.1f} s "
          f"(fine-tune {tuned.get('seconds', 0.0):.1f} s, {tuned.get('steps', 0)} steps)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, summary_line, to_percent

    sequences = [s for s in args.sequences.split(",") if s] if args.sequences else None
    if args.pred:
        if not args.gt:
            print("error: --pred needs --gt", file=sys.stderr)
            return 2
        table = evaluate(pred=args.pred, gt=args.gt, sequences=sequences, out=args.out)
    elif args.davis:
        if not args.out:
            print("error: --davis needs --out", file=sys.stderr)
            return 2
        try:
            budget, options = _budget(args), model_options(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        table = evaluate(davis=args.davis, split=args.split, method=args.method, out=args.out, sequences=sequences,
                         budget=budget, snap=args.snap, dreams=args.dreams, **options)
    else:
        print("error: give --pred and --gt, or --davis", file=sys.stderr)
        return 2
    print(to_percent(table).to_markdown(floatfmt=".1f"))
    print(summary_line(table))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m osvos`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m osvos", description="One-shot video object segmentation.")
    sub = parser.add_subparsers(dest="command", required=True)

    seg = sub.add_parser("segment", help="fine-tune on the first mask and write one mask PNG per frame")
    source = seg.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="a video file (any common codec)")
    source.add_argument("--frames", help="a folder of frames (.jpg/.png, sorted by name)")
    seg.add_argument("--mask", required=True, action="append", type=_annotation, metavar="[INDEX:]PATH",
                     help="mask image of frame INDEX (a bare path: frame 0); give it again for more annotated "
                          "frames, which fine-tuning shares its steps between and which come out as given")
    seg.add_argument("--out", required=True, help="output folder for 0/255 PNG masks")
    add_model_options(seg)
    _run_options(seg)
    seg.set_defaults(run=_segment)

    ev = sub.add_parser("evaluate", help="score masks, or run a method on a DAVIS split, with J, F and T")
    ev.add_argument("--pred", help="predicted masks: PRED/<sequence>/<frame>.png")
    ev.add_argument("--gt", help="ground truth: GT/<sequence>/<frame>.png")
    ev.add_argument("--davis", help="DAVIS root (runs --method on --split)")
    ev.add_argument("--split", default="val")
    ev.add_argument("--method", choices=("osvos", "flow"), default="osvos")
    ev.add_argument("--sequences", help="comma-separated subset")
    ev.add_argument("--out", help="folder for masks, results.csv and results.md")
    ev.add_argument("--finetune-seed", type=int, default=0,
                    help="seed of fine-tuning's random windows and dreams (default 0, the product's): other seeds "
                         "show how much of a difference between settings is chance")
    add_model_options(ev)
    _run_options(ev)
    ev.set_defaults(run=_evaluate)
    return parser


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of the network, its fine-tuning steps and its segmentation (``model_options`` reads them)."""
    parser.add_argument("--weights",
                        help="parent weights (default: $OSVOS_WEIGHTS, else models/osvos_parent.weights.h5)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"fine-tuning steps (default {DEFAULT_STEPS}; 0 = parent only): the same input gives the "
                             "same masks on any machine")
    parser.add_argument("--views", type=int, choices=VIEW_COUNTS, default=DEFAULT_VIEWS,
                        help=f"test-time views each frame is segmented from (default {DEFAULT_VIEWS}): 1, the frame; "
                             "2, the frame and its mirror image, their probabilities averaged (2x the network's time)")
    parser.add_argument("--segment-scale", type=float, default=SEGMENT_SCALE,
                        help=f"segment frames at this x the work size that fine-tuning runs at (default "
                             f"{SEGMENT_SCALE:g}; 1 = the same size)")
    parser.add_argument("--flow-weight", type=float, default=FLOW_WEIGHT,
                        help=f"weight of the previous frame's mask, carried by optical flow, in each frame's "
                             f"probability (default {FLOW_WEIGHT:g}; 0 = each frame on its own, as OSVOS)")
    parser.add_argument("--crf", action=argparse.BooleanOptionalAction, default=DEFAULT_CRF,
                        help="the masks given out come from a dense CRF on each frame and its probability; the "
                             "network's (snapped) mask is still the one carried to the next frame (default: "
                             f"{'on' if DEFAULT_CRF else 'off'}; about 0.3 s more per 480p frame)")
    parser.add_argument("--min-region", type=float, default=MIN_REGION,
                        help=f"the masks given out lose their detached regions smaller than this x the largest "
                             f"region's area (default {MIN_REGION:g}; 0 keeps every region; the mask carried to the "
                             "next frame keeps them)")
    parser.add_argument("--train-conv3", action=argparse.BooleanOptionalAction, default=FINETUNE_CONV3,
                        help="fine-tuning trains conv3 as well as conv4, conv5 and the heads (default: "
                             f"{'on' if FINETUNE_CONV3 else 'off'}; each step costs about 1.4x)")
    parser.add_argument("--adapt-steps", type=int, default=ADAPT_STEPS,
                        help=f"online adaptation while segmenting: training steps after each batch of "
                             f"{SEGMENT_BATCH} frames on the last one's sure pixels (default {ADAPT_STEPS}; 0 = off, "
                             "segmentation about 1.4x faster)")
    parser.add_argument("--adapt-far", type=float, default=ADAPT_FAR,
                        help=f"online adaptation: pixels farther than this x the frame's longest side from the mask "
                             f"are background labels (default {ADAPT_FAR:g})")
    parser.add_argument("--adapt-growth", type=float, default=ADAPT_GROWTH,
                        help="online adaptation: once the mask has grown past this x the annotated mask's area, no "
                             f"background label where the parent network marks the object (default {ADAPT_GROWTH:g}; "
                             "0 = never)")
    parser.add_argument("--work-size", type=int, default=DEFAULT_WORK_SIZE,
                        help=f"longest side the network runs at (default {DEFAULT_WORK_SIZE}; 0 = full resolution)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``segment`` and ``evaluate`` alone: a time cap on fine-tuning, dreams and snapping."""
    parser.add_argument("--max-seconds", type=float,
                        help="also stop fine-tuning after this many seconds (the result then depends on the machine)")
    parser.add_argument("--dreams", type=int, default=DEFAULT_DREAMS,
                        help=f"synthetic later frames made from each annotated one to fine-tune on as well (default "
                             f"{DEFAULT_DREAMS}). --steps {QUICK_STEPS} --dreams {QUICK_DREAMS} is the quick setting: "
                             "a third of the fine-tuning time, J -1.9 and F -3.0 on DAVIS val")
    parser.add_argument("--snap", action=argparse.BooleanOptionalAction, default=DEFAULT_SNAP,
                        help="snap masks to contour superpixels where the network is unsure (0.2 < p < 0.8; "
                             f"default: {'on' if DEFAULT_SNAP else 'off'}; about 2x the segmentation time)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m osvos``."""
    args = build_parser().parse_args(argv)
    return args.run(args)
