"""Performance benchmark: fine-tune time, segmentation speed, peak memory and J/F per configuration.

    python scripts/benchmark.py --davis ../shared/davis2016 --split val --out bench/
        [--sequences blackswan,dog] [--configs default,budget10,...] [--skip-memory]

Writes ``results.json``, ``results.md`` and ``j_vs_finetune.png`` (J against fine-tune seconds) into --out.
Each configuration runs in a process of its own (fresh model; peak RSS read with ``wait4``). Every time is
also given in units of one plain FP32 VGG16 (conv1_1 … conv5_3) forward pass at 480×854 measured in the same
run, since machines of the same kind differ up to 2× in speed. s/frame covers JPEG decode, the network and
the PNG write; J and F are scored afterwards and not timed. ``reference`` is the original recipe (500
iterations at full resolution, every layer trained) and takes about half an hour per sequence on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from osvos.budget import (DEFAULT_BUDGET, DEFAULT_WORK_SIZE, FINETUNE_CROP, FINETUNE_SCALES,  # noqa: E402
                          SEGMENT_BATCH)


@dataclass(frozen=True)
class Config:
    """One way of running fine-tuning and segmentation."""

    budget: float | int
    """Fine-tuning seconds (float) or iterations (int)."""
    work_size: int | None = None
    """Longest side the network runs at (None: full resolution)."""
    scales: tuple[float, ...] = (1.0, 0.75)
    """Scales of the first frame that fine-tuning trains on (with their mirror images). The default is the
    benchmark's baseline recipe (osvos's before ``augment512``; its own default is ``FINETUNE_SCALES``)."""
    crop: float = 0.0
    """Fine-tuning trains on random windows of this fraction of each scaled frame (0 = whole frames, the
    baseline; osvos's default is ``FINETUNE_CROP``)."""
    reference: bool = False
    """Train every layer on the full frame (no cached conv1–3 features), as the original recipe does."""
    plateau: int = 0
    """Early stopping window in steps (``FinetuneRecipe.plateau``; 0 = off)."""
    env: tuple[tuple[str, str], ...] = ()
    """Added to the child process's environment: TensorFlow's thread pools (e.g. TF_NUM_INTEROP_THREADS)."""
    batch: int = SEGMENT_BATCH
    """Frames per forward pass when segmenting."""
    about: str = ""


def _reduced(size: int) -> Config:
    height = round(480 * size / 854)
    return Config(DEFAULT_BUDGET, work_size=size,
                  about=f"{DEFAULT_BUDGET:g} s; network at {height}×{size}, masks upscaled")


CONFIGS = {
    "reference": Config(500, reference=True, about="original recipe: 500 iterations, full resolution, all layers"),
    "full": Config(DEFAULT_BUDGET, about=f"{DEFAULT_BUDGET:g} s at full resolution, conv1–3 frozen and cached"),
    "budget10": Config(10.0, about="10 s, full resolution"),
    "budget30": Config(30.0, about="30 s, full resolution"),
    "budget120": Config(120.0, about="120 s, full resolution"),
    "ft_half": Config(DEFAULT_BUDGET, scales=(0.5, 0.375),
                      about=f"{DEFAULT_BUDGET:g} s fine-tuning at half resolution, segmentation at full"),
    **{f"work{size}": _reduced(size) for size in (640, 512, 432, 384)},
    "augment512": replace(_reduced(DEFAULT_WORK_SIZE), scales=FINETUNE_SCALES, crop=FINETUNE_CROP,
                          about="work512, fine-tuning on scales 0.5–1.5 and random 75 % windows — the shipped "
                                "default (osvos.finetune.FinetuneRecipe)"),
    "plateau": replace(_reduced(DEFAULT_WORK_SIZE), plateau=10,
                       about="work512, stopping early once the smoothed loss falls < 2 % in 10 steps"),
    "inter1": replace(_reduced(DEFAULT_WORK_SIZE), env=(("TF_NUM_INTEROP_THREADS", "1"),),
                      about="work512 with one inter-op thread (TF's default: one per core)"),
    "batch1": replace(_reduced(DEFAULT_WORK_SIZE), batch=1,
                      about=f"work512 segmenting one frame per forward pass (default: {SEGMENT_BATCH})"),
    "intra1": replace(_reduced(DEFAULT_WORK_SIZE), env=(("TF_NUM_INTRAOP_THREADS", "1"),),
                      about="work512 with one intra-op thread (TF's default: one per core)"),
}


@dataclass(frozen=True)
class Forward:
    """One way of running the plain VGG16 trunk (conv1_1 … conv5_3)."""

    policy: str = "float32"
    jit: bool = False
    batch: int = 1
    size: tuple[int, int] = (480, 854)

    @property
    def about(self) -> str:
        return f"{self.policy}{', XLA' if self.jit else ''}, batch {self.batch}, {self.size[0]}×{self.size[1]}"


FORWARD_VARIANTS = {"fp32": Forward(), "bf16": Forward("mixed_bfloat16"), "xla": Forward(jit=True),
                    "fp32_512": Forward(size=(288, 512)), "batch4_512": Forward(batch=4, size=(288, 512))}
"""Forward-pass levers timed on the plain VGG16 trunk: precision policy, XLA compilation and batching frames
(at the default working size); ``fp32`` is the unit."""


# -- child processes -------------------------------------------------------------------------------------------
def child_forward(variant: Forward, repeats: int = 5) -> dict:
    """Median seconds per frame of a VGG16 conv1_1…conv5_3 forward run as ``variant`` says."""
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy(variant.policy)
    from osvos.model import build_networks, init_from_hed

    nets = build_networks()
    init_from_hed(nets.full)
    trunk = keras.Model(nets.full.input, nets.full.get_layer("block5_conv3").output)
    run = keras.ops.convert_to_tensor
    if variant.jit:
        import tensorflow as tf
        compiled = tf.function(trunk, jit_compile=True)
        call = lambda x: compiled(run(x))  # noqa: E731
    else:
        call = trunk.predict_on_batch
    x = np.random.default_rng(0).normal(0, 50, (variant.batch, *variant.size, 3)).astype("float32")
    np.asarray(call(x))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.asarray(call(x))
        times.append(time.perf_counter() - started)
    return {"seconds": statistics.median(times) / variant.batch}


def child_config(name: str, davis: str, sequences: list[str], out: Path) -> dict:
    """Fine-tune and segment every sequence with configuration ``name``; per-sequence timings and J/F."""
    from osvos.davis import load_sequence, read_rgb
    from osvos.finetune import FinetuneRecipe
    from osvos.masks import read_label_png, save_mask
    from osvos.metrics import score_sequence
    from osvos.reference import reference_finetune
    from osvos.system import OSVOS

    config = CONFIGS[name]
    model = OSVOS.load(work_size=config.work_size, recipe=FinetuneRecipe(scales=config.scales,
                                                                         crop=config.crop, plateau=config.plateau))
    rows = []
    for seq_name in sequences:
        seq = load_sequence(davis, seq_name)
        first, mask = read_rgb(seq.frames[0]), seq.mask(0)
        if config.reference:
            tuned = reference_finetune(model, first, mask, int(config.budget))
        else:
            tuned = model.finetune(first, mask, config.budget).last_finetune
        folder = out / "masks" / name / seq_name
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        rest = seq.frames[1:]
        for path, pred in zip(rest, model.segment((read_rgb(p) for p in rest), batch=config.batch)):
            save_mask(pred, folder / f"{path.stem}.png")
        per_frame = (time.perf_counter() - started) / len(rest)
        preds = [mask] + [read_label_png(folder / f"{path.stem}.png") for path in rest]
        score = score_sequence(preds, [seq.mask(i) for i in range(len(seq.frames))], temporal=False)
        j, f = score["J_mean"], score["F_mean"]
        rows.append({"sequence": seq_name, "finetune_s": tuned["seconds"], "steps": tuned["steps"],
                     "s_per_frame": per_frame, "J": j, "F": f})
        print(f"  {name} {seq_name}: fine-tune {tuned['seconds']:.1f} s ({tuned['steps']} steps), "
              f"{per_frame:.2f} s/frame, J {100 * j:.1f} F {100 * f:.1f}", file=sys.stderr, flush=True)
    return {"sequences": rows}


def child_main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "forward":
        result = child_forward(FORWARD_VARIANTS[argv[1]])
    else:
        result = child_config(argv[1], argv[2], argv[3].split(","), Path(argv[4]))
    print(json.dumps(result))


def run_child(args: list[str], env: tuple[tuple[str, str], ...] = ()) -> dict:
    """Run this script as a child with ``args`` (and ``env`` added to its environment); its JSON answer plus
    wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **dict(env)})
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {args[:2]} failed with status {proc.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result.update(wall_s=time.perf_counter() - started, peak_rss_mib=usage.ru_maxrss / 1024)
    return result


def memory_run(davis: str, out: Path, frames: int = 100) -> dict:
    """Peak RSS of ``python -m osvos segment --video`` on a ``frames``-frame 480p clip (10 s fine-tuning, network
    at full resolution: the most memory any setting needs)."""
    import ffmpeg
    import imageio_ffmpeg

    from osvos.davis import load_sequence

    seq = load_sequence(davis, "soapbox")
    clip = out / "memory_clip.mp4"
    pad = max(0, frames - len(seq.frames))
    (ffmpeg.input(str(seq.frames[0].parent / "%05d.jpg"), framerate=24)
     .filter("tpad", stop=pad, stop_mode="clone")
     .output(str(clip), vcodec="libx264", pix_fmt="yuv420p", frames=frames)
     .overwrite_output().run(cmd=imageio_ffmpeg.get_ffmpeg_exe(), quiet=True))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "osvos", "segment", "--video", str(clip), "--mask",
                             str(seq.masks[0]), "--out", str(out / "memory_masks"), "--budget", "10",
                             "--work-size", "0"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("osvos segment failed in the memory run")
    written = len(list((out / "memory_masks").glob("*.png")))
    return {"frames": frames, "masks_written": written, "wall_s": time.perf_counter() - started,
            "peak_rss_mib": usage.ru_maxrss / 1024}


# -- report ------------------------------------------------------------------------------------------------------
def summarise(name: str, result: dict, unit: float) -> dict:
    rows = result["sequences"]
    mean = {key: statistics.fmean(r[key] for r in rows) for key in ("finetune_s", "steps", "s_per_frame", "J", "F")}
    return {"config": name, **asdict(CONFIGS[name]), **mean, "finetune_units": mean["finetune_s"] / unit,
            "s_per_frame_units": mean["s_per_frame"] / unit, "peak_rss_mib": result["peak_rss_mib"],
            "sequences": rows}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def write_markdown(report: dict, path: Path) -> None:
    unit = report["vgg16_forward_s"]
    lines = [f"# Benchmark ({report['date']})", "",
             f"Machine: {report['cpu']}, {report['cores']} cores. Split `{report['split']}`, sequences: "
             f"{', '.join(report['sequences'])}. Command: `{report['command']}`.", "",
             f"Unit: one plain FP32 VGG16 forward (conv1_1 … conv5_3) at 480×854 = **{unit:.3f} s** in this run. "
             "Targets: fine-tuning ≤ 60 s (≤ 50 units), segmentation ≤ 0.5 s/frame (≤ 0.6 units), "
             "peak RSS ≤ 4 GiB for 100 frames.", "",
             "| config | what | fine-tune s | units | steps | s/frame | units | peak RSS MiB | J | F |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["configs"]:
        lines.append(f"| {row['config']} | {row['about']} | {row['finetune_s']:.1f} | {row['finetune_units']:.1f} | "
                     f"{row['steps']:.0f} | {row['s_per_frame']:.2f} | {row['s_per_frame_units']:.2f} | "
                     f"{row['peak_rss_mib']:.0f} | {100 * row['J']:.1f} | {100 * row['F']:.1f} |")
    lines += ["", "Forward-pass levers (VGG16 trunk, median of 5, seconds per frame):", "",
              "| variant | what | s per frame | units |", "|---|---|---|---|"]
    lines += [f"| {name} | {FORWARD_VARIANTS[name].about} | {v['seconds']:.3f} | {v['seconds'] / unit:.2f} |"
              for name, v in report["forward"].items()]
    if report.get("memory"):
        mem = report["memory"]
        lines += ["", f"Memory: `python -m osvos segment --video` on a {mem['frames']}-frame 480p H.264 clip "
                      f"(10 s fine-tuning, network at full resolution) peaked at **{mem['peak_rss_mib']:.0f} MiB** RSS, wrote "
                      f"{mem['masks_written']} masks in {mem['wall_s']:.0f} s."]
    lines += ["", "Per sequence:", "", "| config | sequence | fine-tune s | steps | s/frame | J | F |",
              "|---|---|---|---|---|---|---|"]
    for row in report["configs"]:
        lines += [f"| {row['config']} | {r['sequence']} | {r['finetune_s']:.1f} | {r['steps']} | "
                  f"{r['s_per_frame']:.2f} | {100 * r['J']:.1f} | {100 * r['F']:.1f} |" for r in row["sequences"]]
    path.write_text("\n".join(lines) + "\n")


def _nearby_labels(rows: list[dict], j_step: float = 1.0) -> dict[tuple[float, float], list[str]]:
    """Config names grouped by points that would overlap (same J within ``j_step``, same budget), so that
    each group gets one label."""
    groups: dict[tuple[int, int], list[dict]] = {}
    for r in sorted(rows, key=lambda r: -r["J"]):
        groups.setdefault((round(r["finetune_s"] / 5), round(100 * r["J"] / j_step)), []).append(r)
    return {(members[0]["finetune_s"], 100 * members[0]["J"]): [m["config"] for m in members]
            for members in groups.values()}


def plot_j_vs_time(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    rows = [r for r in report["configs"] if r["work_size"] is None]
    plain = tuple(Config.__dataclass_fields__["scales"].default)
    budgets = sorted((r for r in rows if not r["reference"] and tuple(r["scales"]) == plain),
                     key=lambda r: r["finetune_s"])
    ax.plot([r["finetune_s"] for r in budgets], [100 * r["J"] for r in budgets], "o-", label="cached conv1–3, budget")
    for index, r in enumerate(budgets):  # left of each point (right of the first): clear of the levers' labels
        ax.annotate(r["config"], (r["finetune_s"], 100 * r["J"]), textcoords="offset points",
                    xytext=(6, 4) if index == 0 else (-6, 4), ha="left" if index == 0 else "right", fontsize=8)
    for r in (r for r in rows if r["reference"]):
        ax.plot([r["finetune_s"]], [100 * r["J"]], "s", color="C3", label="reference (500 it, all layers)")
    smaller = [r for r in report["configs"] if r not in budgets and not r["reference"]]
    if smaller:
        ax.plot([r["finetune_s"] for r in smaller], [100 * r["J"] for r in smaller], "^", color="C2",
                label="other levers (working size, fine-tune scale, early stop, threads)")
        for (seconds, j), names in _nearby_labels(smaller).items():
            ax.annotate(", ".join(names), (seconds, j), textcoords="offset points", xytext=(6, -3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("fine-tune seconds per video (log)")
    ax.set_ylabel("mean J (%)")
    ax.set_title(f"J vs fine-tune time ({', '.join(report['sequences'])})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--davis", default="../shared/davis2016")
    parser.add_argument("--split", default="val")
    parser.add_argument("--sequences", help="comma-separated subset of the split (default: all of it)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 100-frame peak-RSS run")
    parser.add_argument("--append", action="store_true",
                        help="add (or redo) configs in --out's results.json, keeping its forward unit and memory run "
                             "(forward variants it lacks are measured)")
    parser.add_argument("--out", type=Path, default=Path("bench"))
    args = parser.parse_args(argv)
    from osvos.davis import split_names

    names = [name for name in args.configs.split(",") if name]  # --configs "" --append: forward variants only
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs: {', '.join(unknown)}")
    sequences = args.sequences.split(",") if args.sequences else split_names(args.davis, args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python scripts/benchmark.py " + " ".join(argv)
    if args.append:
        report = json.loads((args.out / "results.json").read_text())
        if report["sequences"] != sequences:
            parser.error(f"--append needs the same sequences as the stored run: {','.join(report['sequences'])}")
        report["command"] += f"; then {command}"
    else:
        report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "cores": os.cpu_count(),
                  "split": args.split, "sequences": sequences, "command": command, "forward": {}, "configs": []}
    for variant in (v for v in FORWARD_VARIANTS if v not in report["forward"]):
        report["forward"][variant] = run_child(["forward", variant])
        print(f"forward {variant}: {report['forward'][variant]['seconds']:.3f} s", flush=True)
    report["vgg16_forward_s"] = report["forward"]["fp32"]["seconds"]
    unit = report["vgg16_forward_s"]
    report["configs"] = [row for row in report["configs"] if row["config"] not in names]
    for name in names:
        result = run_child(["config", name, args.davis, ",".join(sequences), str(args.out)], CONFIGS[name].env)
        report["configs"].append(summarise(name, result, unit))
        row = report["configs"][-1]
        print(f"{name}: fine-tune {row['finetune_s']:.1f} s, {row['s_per_frame']:.2f} s/frame, "
              f"J {100 * row['J']:.1f}, peak {row['peak_rss_mib']:.0f} MiB", flush=True)
    if not args.skip_memory and not args.append:
        report["memory"] = memory_run(args.davis, args.out)
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    write_markdown(report, args.out / "results.md")
    plot_j_vs_time(report, args.out / "j_vs_finetune.png")
    print(f"wrote {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
