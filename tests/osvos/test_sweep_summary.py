"""The fine-tuning sweep's recipes and summaries (devkit.sweep): recipe parsing, the means per recipe × steps
against hand-computed values, the markdown table and the plot (no model runs)."""
from __future__ import annotations

import argparse

import pandas as pd
import pytest

from devkit.sweep import COLUMNS, RECIPES, parse_recipe, plot_summary, summarize, write_summary


def test_recipe_fields_change_on_a_copy():
    label, recipe = parse_recipe("dreams:l2sp=0.01:lr=1e-4:optimizer=sgd")
    assert label == "dreams:l2sp=0.01:lr=1e-4:optimizer=sgd"
    assert (recipe.dreams, recipe.l2sp, recipe.lr, recipe.optimizer) == (20, 0.01, 1e-4, "sgd")
    assert RECIPES["dreams"].l2sp == 0.0 and RECIPES["dreams"].lr == 3e-5


@pytest.mark.parametrize("text, message", [("lucid", "unknown recipe 'lucid'"),
                                           ("default:momentum=0.9", "no field 'momentum'")])
def test_unknown_recipes_and_fields_are_refused(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_recipe(text)


def _rows():
    return pd.DataFrame([
        ("default", "a", 40, 30.0, 0.50, 0.40),
        ("default", "b", 40, 34.0, 0.70, 0.60),
        ("default", "a", 80, 60.0, 0.60, 0.50),
        ("dreams", "a", 40, 33.0, 0.20, 0.30),
    ], columns=COLUMNS)


def test_summary_means_per_recipe_and_steps():
    summary = summarize(_rows()).set_index(["recipe", "steps"])
    assert summary.loc[("default", 40)].tolist() == pytest.approx([2, 60.0, 50.0, 32.0])
    assert summary.loc[("default", 80)].tolist() == pytest.approx([1, 60.0, 50.0, 60.0])
    assert summary.loc[("dreams", 40)].tolist() == pytest.approx([1, 20.0, 30.0, 33.0])
    assert len(summary) == 3


def test_markdown_table_and_plot_are_written(tmp_path):
    _rows().to_csv(tmp_path / "sweep.csv", index=False)
    summary = write_summary(tmp_path / "sweep.csv", tmp_path / "sweep.md")
    lines = (tmp_path / "sweep.md").read_text().splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == ["recipe", "steps", "sequences", "J", "F", "seconds"]
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == ["default", "40", "2", "60.0", "50.0", "32.0"]
    assert len(lines) == 5
    plot_summary(summary, tmp_path / "sweep.png", "val: a, b")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
