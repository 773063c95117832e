"""The benchmark's report from its measurements: per-configuration means in the run's time unit, the markdown
table (results.md) and the plot of J against fine-tuning seconds."""
from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path

from .configs import CONFIGS, FORWARD_VARIANTS, Config


def summarise(name: str, result: dict, unit: float) -> dict:
    rows = result["sequences"]
    mean = {key: statistics.fmean(r[key] for r in rows) for key in ("finetune_s", "steps", "s_per_frame", "J", "F")}
    return {"config": name, **asdict(CONFIGS[name]), **mean, "finetune_units": mean["finetune_s"] / unit,
            "s_per_frame_units": mean["s_per_frame"] / unit, "peak_rss_mib": result["peak_rss_mib"],
            "sequences": rows}


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
                      f"(10 s fine-tuning, network at full resolution) peaked at **{mem['peak_rss_mib']:.0f} MiB** "
                      "RSS, wrote "
                      f"{mem['masks_written']} masks in {mem['wall_s']:.0f} s."]
    lines += ["", "Per sequence:", "", "| config | sequence | fine-tune s | steps | s/frame | J | F |",
              "|---|---|---|---|---|---|---|"]
    for row in report["configs"]:
        lines += [f"| {row['config']} | {r['sequence']} | {r['finetune_s']:.1f} | {r['steps']} | "
                  f"{r['s_per_frame']:.2f} | {100 * r['J']:.1f} | {100 * r['F']:.1f} |" for r in row["sequences"]]
    path.write_text("\n".join(lines) + "\n")


def nearby_labels(rows: list[dict], j_step: float = 1.0) -> dict[tuple[float, float], list[str]]:
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
        for (seconds, j), names in nearby_labels(smaller).items():
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
