"""Recipes and summaries of the fine-tuning sweep (scripts/finetune_sweep.py): mean J/F per recipe × step count,
as a markdown table and as a plot of J and F against fine-tuning seconds."""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pandas as pd

from osvos.finetune import FinetuneRecipe

RECIPES = {
    "default": FinetuneRecipe(),
    "previous": FinetuneRecipe(lr=3e-5, dreams=0),
    "dreams": FinetuneRecipe(dreams=20),
    "l2sp": FinetuneRecipe(l2sp=0.1, dreams=0),
    "dreams_l2sp": FinetuneRecipe(dreams=20, l2sp=0.1),
    "sgd": FinetuneRecipe(optimizer="sgd", lr=1e-3, bias_lr=2.0, fuse_lr=0.01, dreams=0),
    "sgd_dreams": FinetuneRecipe(optimizer="sgd", lr=1e-3, bias_lr=2.0, fuse_lr=0.01, dreams=20),
}
"""Named recipes (the ones without ``dreams`` in their name train on the real views alone); ``name:field=value:…``
on the command line changes fields of one of them."""

COLUMNS = ["recipe", "sequence", "steps", "seconds", "J", "F"]
"""One row of ``sweep.csv``: a recipe's scores on one sequence after ``steps`` fine-tuning steps."""


def parse_recipe(text: str) -> tuple[str, FinetuneRecipe]:
    """``dreams:l2sp=0.01:lr=1e-4`` → ('dreams:l2sp=0.01:lr=1e-4', RECIPES['dreams'] with those fields)."""
    base, *changes = text.split(":")
    if base not in RECIPES:
        raise argparse.ArgumentTypeError(f"unknown recipe {base!r}: {', '.join(RECIPES)}")
    recipe = RECIPES[base]
    for change in changes:
        field, _, value = change.partition("=")
        if field not in recipe.__dataclass_fields__:
            raise argparse.ArgumentTypeError(f"FinetuneRecipe has no field {field!r}")
        current = getattr(recipe, field)
        recipe = replace(recipe, **{field: type(current)(value) if current is not None else value})
    return text, recipe


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean J, F (in %) and seconds per recipe × steps, with the number of sequences behind each mean."""
    grouped = rows.groupby(["recipe", "steps"], sort=True)
    summary = grouped[["J", "F", "seconds"]].mean()
    summary[["J", "F"]] *= 100
    summary.insert(0, "sequences", grouped.size())
    return summary.reset_index()


def write_summary(table: Path, path: Path) -> pd.DataFrame:
    """Write the markdown table of :func:`summarize` over ``sweep.csv``; returns the summary."""
    summary = summarize(pd.read_csv(table))
    path.write_text(summary.to_markdown(index=False, floatfmt=".1f") + "\n")
    return summary


def plot_summary(summary: pd.DataFrame, path: Path, title: str) -> None:
    """J (solid) and F (dashed) against mean fine-tuning seconds, one colour per recipe, points labelled by steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for index, (recipe, group) in enumerate(summary.groupby("recipe", sort=True)):
        colour = f"C{index}"
        ax.plot(group["seconds"], group["J"], "o-", color=colour, label=f"{recipe} J")
        ax.plot(group["seconds"], group["F"], "s--", color=colour, alpha=0.6, label=f"{recipe} F")
        for seconds, j, steps in zip(group["seconds"], group["J"], group["steps"]):
            ax.annotate(str(steps), (seconds, j), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("fine-tuning seconds per video (points: steps)")
    ax.set_ylabel("mean (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
