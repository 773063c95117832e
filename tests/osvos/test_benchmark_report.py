"""The benchmark's report (devkit.benchmark.report: summary arithmetic, markdown table, J-vs-time plot) and
scripts/benchmark.py's command line (no model runs)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from devkit.benchmark.report import nearby_labels, plot_j_vs_time, summarise, write_markdown

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(finetune, per_frame, j, f, rss=1500.0):
    rows = [{"sequence": f"s{i}", "finetune_s": ft, "steps": 10 * (i + 1), "s_per_frame": pf, "J": jj, "F": ff}
            for i, (ft, pf, jj, ff) in enumerate(zip(finetune, per_frame, j, f))]
    return {"sequences": rows, "peak_rss_mib": rss}


def test_summary_means_and_units():
    row = summarise("full", _result([60.0, 62.0], [1.0, 2.0], [0.8, 0.6], [0.7, 0.5]), unit=0.5)
    assert row["finetune_s"] == pytest.approx(61.0) and row["s_per_frame"] == pytest.approx(1.5)
    assert row["finetune_units"] == pytest.approx(122.0) and row["s_per_frame_units"] == pytest.approx(3.0)
    assert (row["J"], row["F"], row["steps"]) == (pytest.approx(0.7), pytest.approx(0.6), pytest.approx(15.0))
    assert row["work_size"] is None and row["reference"] is False and row["peak_rss_mib"] == 1500.0


def test_markdown_and_plot(tmp_path):
    unit = 0.8
    report = {"date": "today", "cpu": "test cpu", "cores": 2, "split": "val", "sequences": ["s0", "s1"],
              "command": "python scripts/benchmark.py", "vgg16_forward_s": unit,
              "forward": {"fp32": {"seconds": 0.8}, "bf16": {"seconds": 1.2}},
              "memory": {"frames": 100, "masks_written": 100, "wall_s": 90.0, "peak_rss_mib": 2100.0},
              "configs": [summarise("budget10", _result([10.0, 12.0], [1.0, 1.0], [0.5, 0.7], [0.4, 0.6]), unit),
                          summarise("full", _result([60.0, 60.0], [1.0, 1.0], [0.7, 0.9], [0.6, 0.8]), unit),
                          summarise("reference", _result([1800.0, 1900.0], [1.0, 1.0], [0.8, 0.9],
                                                               [0.7, 0.8]), unit)]}
    write_markdown(report, tmp_path / "results.md")
    text = (tmp_path / "results.md").read_text()
    assert "| budget10 | 10 s, full resolution | 11.0 | 13.8 | 15 | 1.00 | 1.25 | 1500 | 60.0 | 50.0 |" in text
    assert "| bf16 | mixed_bfloat16, batch 1, 480×854 | 1.200 | 1.50 |" in text and "peaked at **2100 MiB**" in text
    assert "| reference | s1 | 1900.0 | 20 | 1.00 | 90.0 | 80.0 |" in text
    plot_j_vs_time(report, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_config_is_refused(bench, capsys):
    with pytest.raises(SystemExit) as stop:
        bench.main(["--configs", "full,turbo", "--out", "unused"])
    assert stop.value.code == 2 and "unknown configs: turbo" in capsys.readouterr().err


def test_points_that_would_overlap_share_one_label():
    rows = [{"config": "a", "finetune_s": 60.2, "J": 0.754}, {"config": "b", "finetune_s": 60.4, "J": 0.750},
            {"config": "c", "finetune_s": 60.1, "J": 0.740}, {"config": "d", "finetune_s": 120.0, "J": 0.752}]
    labels = nearby_labels(rows)
    assert sorted(labels.values()) == [["a", "b"], ["c"], ["d"]]
    (where,) = [point for point, names in labels.items() if names == ["a", "b"]]
    assert where == pytest.approx((60.2, 75.4))  # placed at the group's highest point
