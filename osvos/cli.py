"""``python -m osvos segment|evaluate``: argument parsing and printing only."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from .budget import DEFAULT_BUDGET, DEFAULT_WORK_SIZE, FINETUNE_PACE


def _segment(args: argparse.Namespace) -> int:
    from .davis import read_rgb
    from .masks import MaskError, load_mask, save_mask
    from .system import OSVOS
    from .video import VideoError, probe_video, read_frames

    try:
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
        mask = load_mask(args.mask, size)
        started = time.perf_counter()
        model = OSVOS.load(args.weights, work_size=args.work_size)
    except (VideoError, MaskError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(frames()))
    if args.budget > 0:
        with tqdm(total=1.0, desc="fine-tune", bar_format="{l_bar}{bar}| {n:.0%} [{elapsed}<{remaining}]") as bar:
            model.finetune(first, mask, args.budget, progress=lambda fraction, _eta: bar.update(fraction - bar.n))
    count = 0
    for name, predicted in tqdm(zip(names, model.segment(frames(), snap=args.snap)), total=len(names),
                                desc="segment", unit="frame"):
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
        table = evaluate(davis=args.davis, split=args.split, method=args.method, out=args.out, sequences=sequences,
                         weights=args.weights, budget=args.budget, snap=args.snap, work_size=args.work_size)
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
    seg.add_argument("--mask", required=True, help="first-frame mask image")
    seg.add_argument("--out", required=True, help="output folder for 0/255 PNG masks")
    _model_options(seg)
    seg.set_defaults(run=_segment)

    ev = sub.add_parser("evaluate", help="score masks, or run a method on a DAVIS split, with J, F and T")
    ev.add_argument("--pred", help="predicted masks: PRED/<sequence>/<frame>.png")
    ev.add_argument("--gt", help="ground truth: GT/<sequence>/<frame>.png")
    ev.add_argument("--davis", help="DAVIS root (runs --method on --split)")
    ev.add_argument("--split", default="val")
    ev.add_argument("--method", choices=("osvos", "flow"), default="osvos")
    ev.add_argument("--sequences", help="comma-separated subset")
    ev.add_argument("--out", help="folder for masks, results.csv and results.md")
    _model_options(ev)
    ev.set_defaults(run=_evaluate)
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights",
                        help="parent weights (default: $OSVOS_WEIGHTS, else models/osvos_parent.weights.h5)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET,
                        help=f"fine-tune seconds, at most {FINETUNE_PACE:.3g} steps a second: a fast machine finishes "
                             f"sooner (default {DEFAULT_BUDGET:g}; 0 = parent only)")
    parser.add_argument("--snap", action=argparse.BooleanOptionalAction, default=False,
                        help="snap masks to contour superpixels")
    parser.add_argument("--work-size", type=int, default=DEFAULT_WORK_SIZE,
                        help=f"longest side the network runs at (default {DEFAULT_WORK_SIZE}; 0 = full resolution)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m osvos``."""
    args = build_parser().parse_args(argv)
    return args.run(args)
