"""What the dense CRF (``osvos.crf``) adds to each frame's segmentation, in seconds and in units of one plain FP32
VGG16 forward pass at 480×854 measured in the same run (``scripts/benchmark.py``'s unit).

    python scripts/benchmark_crf.py --davis ../shared/davis2016 --out bench_crf/ [--sequences blackswan,dog]

Each sequence's first ``--frames`` frames go through the CRF with a probability made from their ground-truth mask
(blurred, so the edge is soft, as the network's is): the object's real size sets the colour kernel's width, which
sets the CRF's cost. Writes ``results.json`` and ``results.md`` into --out."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from devkit.benchmark.configs import FORWARD_VARIANTS
from devkit.benchmark.machine import cpu_model, vgg16_forward_seconds
from osvos.crf import colour_width, dense_crf
from osvos.davis import load_sequence, read_rgb


def soft_probability(mask: np.ndarray, blur: int = 9) -> np.ndarray:
    """A mask as a probability with a soft edge: 0.1 / 0.9 away from it, blurred across it."""
    probability = np.where(mask, 0.9, 0.1).astype(np.float32)
    return cv2.GaussianBlur(probability, (blur, blur), 0)


def time_sequence(davis: str, name: str, frames: int) -> dict:
    """Median seconds of ``dense_crf`` per frame over the first ``frames`` frames of sequence ``name``."""
    seq = load_sequence(davis, name)
    times, widths = [], []
    for index in range(min(frames, len(seq.frames))):
        frame, probability = read_rgb(seq.frames[index]), soft_probability(seq.mask(index))
        started = time.perf_counter()
        dense_crf(frame, probability)
        times.append(time.perf_counter() - started)
        widths.append(colour_width(probability))
    return {"sequence": name, "frames": len(times), "seconds": statistics.median(times),
            "colour_width_px": statistics.median(widths), "size": list(frame.shape[:2])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--sequences", default="blackswan,bmx-trees,dog,drift-straight,paragliding-launch,soapbox")
    parser.add_argument("--frames", type=int, default=10, help="frames per sequence (default 10)")
    parser.add_argument("--out", type=Path, default=Path("bench_crf"))
    args = parser.parse_args(argv)
    unit = vgg16_forward_seconds(FORWARD_VARIANTS["fp32"])
    rows = [time_sequence(args.davis, name, args.frames) for name in args.sequences.split(",") if name]
    for row in rows:
        row["units"] = row["seconds"] / unit
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "vgg16_forward_s": unit,
              "command": "python scripts/benchmark_crf.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "sequences": rows, "median_s": statistics.median(r["seconds"] for r in rows)}
    report["median_units"] = report["median_s"] / unit
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    lines = [f"Dense CRF per frame, {report['cpu']}, {report['date']}; unit: one FP32 VGG16 forward at 480×854 = "
             f"{unit:.3f} s", "", "| sequence | frames | colour kernel px | s per frame | units |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['sequence']} | {r['frames']} | {r['colour_width_px']:.0f} | {r['seconds']:.3f} | "
              f"{r['units']:.2f} |" for r in rows]
    lines += [f"| **median** | | | **{report['median_s']:.3f}** | **{report['median_units']:.2f}** |", "",
              f"`{report['command']}`", ""]
    (args.out / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
