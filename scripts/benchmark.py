"""Performance benchmark: fine-tune time, segmentation speed, peak memory and J/F per configuration.

    python scripts/benchmark.py --davis ../shared/davis2016 --split val --out bench/
        [--sequences blackswan,dog] [--configs default,budget10,...] [--skip-memory]

Writes ``results.json``, ``results.md`` and ``j_vs_finetune.png`` (J against fine-tune seconds) into --out.
Each configuration runs in a process of its own (fresh model; peak RSS read with ``wait4``). Every time is
also given in units of one plain FP32 VGG16 (conv1_1 … conv5_3) forward pass at 480×854 measured in the same
run, since machines of the same kind differ widely in speed. s/frame covers JPEG decode, the network and
the PNG write; J and F are scored afterwards and not timed. ``reference`` is the original recipe (500
iterations at full resolution, every layer trained: ``osvos.reference``), by far the slowest configuration.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from devkit.benchmark.configs import CONFIGS, FORWARD_VARIANTS
from devkit.benchmark.machine import cpu_model, vgg16_forward_seconds
from devkit.benchmark.report import plot_j_vs_time, summarise, write_markdown

ROOT = Path(__file__).resolve().parents[1]


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
        result = {"seconds": vgg16_forward_seconds(FORWARD_VARIANTS[argv[1]])}
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
                             str(seq.masks[0]), "--out", str(out / "memory_masks"), "--steps", "20",
                             "--work-size", "0"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("osvos segment failed in the memory run")
    written = len(list((out / "memory_masks").glob("*.png")))
    return {"frames": frames, "masks_written": written, "wall_s": time.perf_counter() - started,
            "peak_rss_mib": usage.ru_maxrss / 1024}


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
