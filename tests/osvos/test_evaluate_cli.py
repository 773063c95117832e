"""evaluation + ``python -m osvos``: scoring folders, the flow baseline and the command line."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from osvos import cli
from osvos.crf import COLOUR_WEIGHTS
from osvos.masks import read_label_png, save_mask
from osvos.metrics import f_measure, jaccard, temporal_instability

from osvos_helpers import REPO, square_case

try:
    evaluation = importlib.import_module("osvos.evaluation")
except ModuleNotFoundError:  # the module's former name
    evaluation = importlib.import_module("osvos.evaluate")

VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
SHAPE = (48, 64)


def last_line(text: str) -> str:
    """The last line of stderr (TensorFlow may log above it)."""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([PYTHON, "-m", "osvos", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def rect(top, left, height, width) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[top:top + height, left:left + width] = True
    return mask


def score_folders_case(tmp_path):
    """Two sequences of 5 frames. 'alpha': perfect on frames 1..3 (J = 1). 'beta': frames 1..3 predict the left
    half of the object (J = 0.5). Frames 0 and 4 are wrong in both (not scored) → mean J = 0.75."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    expected = {}
    def left_part(g):
        return g & (np.arange(SHAPE[1]) < g.nonzero()[1].min() + 10)

    for name, predict in (("alpha", lambda g: g), ("beta", left_part)):
        (pred / name).mkdir(parents=True)
        (gt / name).mkdir(parents=True)
        gts = [rect(10 + k, 12 + 2 * k, 20, 20) for k in range(5)]
        preds = [rect(28, 40, 20, 20)] + [predict(g) for g in gts[1:4]] + [rect(0, 0, 20, 20)]   # wrong ends
        for k, (p, g) in enumerate(zip(preds, gts)):
            save_mask(p, pred / name / f"{k:05d}.png")
            save_mask(g, gt / name / f"{k:05d}.png")
        expected[name] = {
            "J": np.mean([jaccard(p, g) for p, g in zip(preds[1:4], gts[1:4])]),
            "F": np.mean([f_measure(p, g) for p, g in zip(preds[1:4], gts[1:4])]),
            "T": np.mean([temporal_instability(a, b) for a, b in zip(preds, preds[1:])]),   # all finite here
        }
    assert expected["alpha"]["J"] == 1.0 and expected["beta"]["J"] == 0.5
    assert np.isfinite([expected[n]["T"] for n in expected]).all()
    return pred, gt, expected


def test_score_folders_in_process(tmp_path):
    pred, gt, expected = score_folders_case(tmp_path)
    table = evaluation.score_folders(pred, gt)
    assert list(table.index) == ["alpha", "beta"]
    assert list(table.columns) == evaluation.COLUMNS
    assert table.loc["alpha", "J_mean"] == 1.0 and table.loc["beta", "J_mean"] == 0.5
    assert table.loc["beta", "J_recall"] == 0.0             # 0.5 is not > 0.5
    for name in ("alpha", "beta"):
        assert table.loc[name, "F_mean"] == pytest.approx(expected[name]["F"])
        assert table.loc[name, "T_mean"] == pytest.approx(expected[name]["T"])
    assert evaluation.score_folders(pred, gt, ["beta"]).index.tolist() == ["beta"]
    assert evaluation.summary_line(table).startswith("mean J=75.0 F=")


def test_evaluate_cli_prints_table_and_summary(tmp_path):
    pred, gt, expected = score_folders_case(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("evaluate", "--pred", str(pred), "--gt", str(gt), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    f_mean = 100 * np.mean([expected[n]["F"] for n in expected])
    t_mean = 100 * np.mean([expected[n]["T"] for n in expected])
    assert re.fullmatch(r"mean J=-?\d+\.\d F=-?\d+\.\d T=-?\d+\.\d", lines[-1])
    assert lines[-1] == f"mean J=75.0 F={f_mean:.1f} T={t_mean:.1f}"
    table = "\n".join(lines[:-1])
    assert "| alpha" in table and "| beta" in table and "| mean" in table and "J_mean" in table
    assert re.search(r"\|\s*-+", table)          # a markdown header rule

    csv = pd.read_csv(out / "results.csv", index_col=0)
    assert csv.loc["alpha", "J_mean"] == pytest.approx(100.0)
    assert csv.loc["beta", "J_mean"] == pytest.approx(50.0)
    assert csv.loc["mean", "J_mean"] == pytest.approx(75.0)
    assert csv.loc["mean", "F_mean"] == pytest.approx(f_mean, abs=0.01)
    markdown = (out / "results.md").read_text()
    assert "alpha" in markdown and "beta" in markdown and "75.0" in markdown


def test_evaluate_cli_needs_gt(tmp_path, capsys):
    assert cli.main(["evaluate", "--pred", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_flow_propagate_follows_a_translating_square():
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 80, SHAPE).astype(np.uint8), (0, 0), 1)
    texture = cv2.GaussianBlur(rng.integers(150, 255, (16, 16)).astype(np.uint8), (0, 0), 1)
    frames, gts = [], []
    for k in range(6):
        gray = background.copy()
        gray[16:32, 8 + 3 * k:24 + 3 * k] = texture
        frames.append(np.dstack([gray] * 3))
        gts.append(rect(16, 8 + 3 * k, 16, 16))
    masks = list(evaluation.flow_propagate(iter(frames), gts[0]))
    assert len(masks) == 6
    assert np.array_equal(masks[0], gts[0])
    scores = [jaccard(m, g) for m, g in zip(masks, gts)]
    assert min(scores) > 0.8, scores
    # Not just the first mask repeated: it moved.
    assert jaccard(masks[-1], gts[0]) < 0.5


def test_help_lists_commands(capsys):
    # In-process (the `python -m osvos` entry point itself is run by the subprocess tests here).
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "segment" in out and "evaluate" in out
    with pytest.raises(SystemExit) as info:
        cli.main(["segment", "--help"])
    out = capsys.readouterr().out
    assert all(option in out for option in ("--frames", "--mask", "--steps", "--max-seconds", "--work-size"))


@pytest.fixture
def frames_dir(tmp_path):
    """4 frames 48×64 (PNG, lossless) of a square moving right, and the first frame's mask."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in range(4):
        frame, mask = square_case()
        frame = np.roll(frame, 2 * k, axis=1)
        cv2.imwrite(str(folder / f"clip_{k:03d}.png"), frame[..., ::-1])
        if k == 0:
            save_mask(mask, tmp_path / "mask.png")
    return folder, tmp_path / "mask.png"


def test_segment_cli_on_frames(frames_dir, tmp_path):
    folder, mask = frames_dir
    out = tmp_path / "out"
    proc = run_cli("segment", "--frames", str(folder), "--mask", str(mask), "--out", str(out),
                   "--steps", "0", "--work-size", "64")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"clip_{k:03d}.png" for k in range(4)]
    for path in out.iterdir():
        written = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert written.shape == SHAPE and written.dtype == np.uint8
        assert set(np.unique(written)) <= {0, 255}
    assert "wrote 4 masks" in proc.stdout and "0 steps" in proc.stdout


@pytest.mark.parametrize("case", ["wrong-size", "all-black", "missing"])
def test_segment_cli_bad_mask(frames_dir, tmp_path, case, capsys):
    # In-process for speed (an exception would fail the test); the subprocess case is the next test.
    folder, _ = frames_dir
    bad = tmp_path / "bad.png"
    if case == "wrong-size":
        save_mask(rect(5, 5, 10, 10)[:40], bad)
    elif case == "all-black":
        cv2.imwrite(str(bad), np.zeros(SHAPE, np.uint8))
    code = cli.main(["segment", "--frames", str(folder), "--mask", str(bad), "--out", str(tmp_path / "out"),
                     "--steps", "0", "--work-size", "64"])
    assert code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and len(message.splitlines()) == 1
    assert {"wrong-size": "64x40", "all-black": "empty", "missing": "bad.png"}[case] in message
    assert not (tmp_path / "out").exists()


def test_segment_cli_with_two_annotated_frames(frames_dir, tmp_path):
    """--mask PATH (frame 0) and --mask 2:PATH: fine-tuning on both, and both written exactly as given."""
    folder, first = frames_dir
    later = rect(4, 40, 12, 14)  # not where the square is: only the annotation can put it there
    save_mask(later, tmp_path / "mask2.png")
    out = tmp_path / "out"
    proc = run_cli("segment", "--frames", str(folder), "--mask", str(first), "--mask", f"2:{tmp_path / 'mask2.png'}",
                   "--out", str(out), "--steps", "2", "--work-size", "64")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"clip_{k:03d}.png" for k in range(4)]
    assert np.array_equal(read_label_png(out / "clip_002.png"), later)
    assert np.array_equal(read_label_png(out / "clip_000.png"), read_label_png(first))
    assert "wrote 4 masks" in proc.stdout and "2 steps" in proc.stdout


def test_segment_cli_twice_gives_identical_masks_and_an_eta(frames_dir, tmp_path):
    """The default budget is steps: two runs on the same input write byte-identical masks; the bar shows the ETA."""
    folder, mask = frames_dir
    written = []
    for run in ("a", "b"):
        proc = run_cli("segment", "--frames", str(folder), "--mask", str(mask), "--out", str(tmp_path / run),
                       "--steps", "4", "--work-size", "64")
        assert proc.returncode == 0, proc.stderr
        assert "ETA 0 s" in proc.stderr and "4 steps" in proc.stdout
        written.append({path.name: path.read_bytes() for path in sorted((tmp_path / run).iterdir())})
    assert len(written[0]) == 4 and written[0] == written[1]


@pytest.mark.parametrize("indices, words", [
    (("0", "4"), "the video has frames 0 to 3"),
    (("1", "1"), "frame 1 is annotated twice"),
])
def test_segment_cli_bad_annotation_index(frames_dir, tmp_path, capsys, indices, words):
    folder, mask = frames_dir
    args = [arg for index in indices for arg in ("--mask", f"{index}:{mask}")]
    code = cli.main(["segment", "--frames", str(folder), *args, "--out", str(tmp_path / "out"), "--steps", "0"])
    assert code == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("error:") and len(message.splitlines()) == 1 and words in message, message
    assert f"--mask {indices[-1]}:" in message or "twice" in message
    assert not (tmp_path / "out").exists()


def test_segment_cli_dreams(frames_dir, tmp_path, capsys, monkeypatch):
    """--dreams N fine-tunes on N dreamed frames as well; a count outside 0…100 is a one-line error."""
    import osvos.finetune

    folder, mask = frames_dir
    made = []
    original = osvos.finetune.dream
    monkeypatch.setattr(osvos.finetune, "dream", lambda *a, **k: made.append(1) or original(*a, **k))
    args = ["segment", "--frames", str(folder), "--mask", str(mask), "--steps", "2", "--work-size", "64"]
    assert cli.main([*args, "--out", str(tmp_path / "out"), "--dreams", "2"]) == 0
    assert len(made) == 2 and len(list((tmp_path / "out").iterdir())) == 4
    assert cli.main([*args, "--out", str(tmp_path / "bad"), "--dreams", "101"]) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message == "error: --dreams must be between 0 and 100: 101"
    assert not (tmp_path / "bad").exists()


def test_segment_cli_snaps_by_default():
    base = ["segment", "--frames", "f", "--mask", "m.png", "--out", "o"]
    assert cli.build_parser().parse_args(base).snap is True
    assert cli.build_parser().parse_args([*base, "--no-snap"]).snap is False


def test_segment_cli_negative_index_is_a_usage_error(frames_dir, tmp_path, capsys):
    folder, mask = frames_dir
    with pytest.raises(SystemExit) as info:
        cli.main(["segment", "--frames", str(folder), "--mask", f"-1:{mask}", "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    assert "error: argument --mask: expected one argument" in capsys.readouterr().err


def test_segment_cli_refuses_photo_as_mask(tmp_path, hevc_sample, photo_mask):
    # The shared "mask" is a JPEG photo of blackswan's first frame, the same size as the video.
    proc = run_cli("segment", "--video", str(hevc_sample), "--mask", str(photo_mask), "--out",
                   str(tmp_path / "out"), "--steps", "0", "--work-size", "64")
    assert proc.returncode == 2
    assert last_line(proc.stderr).startswith("error:") and "photo" in last_line(proc.stderr)
    assert "Traceback" not in proc.stderr


def synthetic_davis(root, frames: int = 4):
    """A DAVIS-layout folder with one sequence 'square' (the square case, still) listed in ImageSets/val.txt."""
    frame, mask = square_case()
    images, labels = root / "JPEGImages" / "480p" / "square", root / "Annotations" / "480p" / "square"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for k in range(frames):
        cv2.imwrite(str(images / f"{k:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        save_mask(mask, labels / f"{k:05d}.png")
    (root / "ImageSets").mkdir()
    (root / "ImageSets" / "val.txt").write_text("/JPEGImages/480p/square /Annotations/480p/square\n")
    return mask


def test_ablation_scores_every_row_at_every_threshold(tmp_path):
    mask = synthetic_davis(tmp_path / "davis")
    tables = evaluation.ablation(tmp_path / "davis", "val", tmp_path / "out", budget=1, thresholds=(0.5, 0.0, 1.0),
                                 log=lambda line: None)
    rows = ("parent", "osvos", "osvos_snap")
    assert set(tables) == {f"{row}{suffix}" for row in rows for suffix in ("", "@0", "@1")}
    covered = mask.sum() / mask.size                         # 672 of 3072 pixels
    assert covered == pytest.approx(0.21875)
    for row in rows:
        assert tables[f"{row}@0"].loc["square", "J_mean"] == pytest.approx(covered)   # every pixel is the object
        assert tables[f"{row}@1"].loc["square", "J_mean"] == 0.0                      # no pixel is
        assert np.isnan(tables[f"{row}@0"].loc["square", "T_mean"])     # T is not computed at extra thresholds
        assert (tmp_path / "out" / f"{row}@1.csv").exists() and (tmp_path / "out" / f"{row}.md").exists()
    assert tables["parent"].loc["square", "finetune_s"] == 0.0 < tables["osvos"].loc["square", "finetune_s"]


@pytest.mark.parametrize("crf", [True, False])
def test_ablation_scores_the_snapped_row_as_evaluate_runs_the_product(tmp_path, monkeypatch, crf):
    """The ``osvos_snap`` row is the product's output (the snapped mask carried frame to frame), the ``osvos`` row
    the same fine-tuning unsnapped: each equals ``python -m osvos evaluate`` with and without snapping, with the
    CRF giving the masks out or not. The network's stand-in is a blurred, shifted square, unsure along its edges:
    snapping changes J there."""
    from osvos.system import OSVOS

    mask = synthetic_davis(tmp_path / "davis", frames=5)
    blurred = cv2.GaussianBlur(np.roll(mask, 2, axis=1).astype(np.float32), (0, 0), 3)
    monkeypatch.setattr(OSVOS, "_batch_probabilities", lambda self, frames, *args, **kwargs: [blurred] * len(frames))
    common = {"budget": 1, "work_size": 64, "crf": crf, "log": lambda line: None}
    tables = evaluation.ablation(tmp_path / "davis", "val", tmp_path / "ablation", **common)
    scores = ["J_mean", "F_mean", "T_mean"]
    for row, snap in (("osvos_snap", True), ("osvos", False)):
        product = evaluation.run_method(tmp_path / "davis", "val", "osvos", tmp_path / row, snap=snap, **common)
        assert product.loc["square", "J_mean"] > 0.5
        np.testing.assert_array_equal(tables[row].loc["square", scores], product.loc["square", scores])
        assert ("crf_weight" in product) is crf, "the CRF's colour weight chosen for the sequence is in its row"
        if crf:
            assert product.loc["square", "crf_weight"] in COLOUR_WEIGHTS
    snapped, unsnapped = (tables[row].loc["square", "J_mean"] for row in ("osvos_snap", "osvos"))
    if crf:
        assert snapped == unsnapped == 1.0, "the CRF puts the shifted, blurred square's edges back on the frame's"
    else:
        assert snapped != unsnapped


def test_ablation_picks_the_scale_batch_by_batch_as_segment_does(tmp_path, monkeypatch):
    """The fake network finds the whole frame at scale 1.5 (the object has grown 2.1x: the tracker asks for 1.0)
    and the annotated square at 1.0 (back to 1.5). The first frame goes in with its mask, as the product gives it:
    frames 0-3 run at 1.5, 4-7 at 1.0 (read from frame 3's mask) and 8 at 1.5 again, in both of the model card's
    ablation passes (unsnapped, then snapped) and in ``python -m osvos evaluate`` (``OSVOS.segment``). Before them,
    fine-tuning segments the annotated frame once at the first frame's scale, 1.5, to choose the CRF's weight."""
    from osvos.budget import SEGMENT_BATCH
    from osvos.finetune import FinetuneRecipe
    from osvos.system import OSVOS

    assert SEGMENT_BATCH == 4
    mask = synthetic_davis(tmp_path / "davis", frames=9)
    asked = []

    def fake(self, frames, segmenter=None, scale=None):
        if segmenter is None:
            asked.extend([scale] * len(frames))
        found = np.ones(mask.shape, bool) if scale == 1.5 else mask
        return [np.where(found, 0.9, 0.1).astype(np.float32) for _ in frames]

    monkeypatch.setattr(OSVOS, "_batch_probabilities", fake)
    expected = [1.5] * 4 + [1.0] * 4 + [1.5]
    fixed = FinetuneRecipe(adapt_steps=0)     # the fine-tuned network itself segments (no adapting copy)
    evaluation.ablation(tmp_path / "davis", "val", tmp_path / "ablation", budget=1, recipe=fixed,
                        log=lambda line: None)
    assert asked == [1.5] + expected * 2
    asked.clear()
    evaluation.run_method(tmp_path / "davis", "val", "osvos", tmp_path / "evaluate", budget=1, snap=False,
                          recipe=fixed, log=lambda line: None)
    assert asked == [1.5] + expected


def test_segment_cli_views(frames_dir, tmp_path, capsys, monkeypatch):
    """--views and --segment-scale reach the model (defaults DEFAULT_VIEWS and SEGMENT_SCALE); another count is a
    usage error, a scale out of range a one-line error."""
    from osvos.budget import DEFAULT_VIEWS, SEGMENT_SCALE
    from osvos.system import OSVOS

    loaded = []
    original = OSVOS.load.__func__

    def load(cls, *args, **options):
        loaded.append((options["views"], options["segment_scale"]))
        return original(cls, *args, **options)

    monkeypatch.setattr(OSVOS, "load", classmethod(load))
    folder, mask = frames_dir
    args = ["segment", "--frames", str(folder), "--mask", str(mask), "--steps", "0", "--work-size", "64"]
    assert cli.main([*args, "--out", str(tmp_path / "two"), "--views", "2", "--segment-scale", "1"]) == 0
    assert cli.main([*args, "--out", str(tmp_path / "default")]) == 0
    assert loaded == [(2, 1.0), (DEFAULT_VIEWS, SEGMENT_SCALE)] and len(list((tmp_path / "two").iterdir())) == 4
    with pytest.raises(SystemExit) as info:
        cli.main([*args, "--out", str(tmp_path / "bad"), "--views", "3"])
    assert info.value.code == 2 and "invalid choice: 3" in capsys.readouterr().err
    assert cli.main([*args, "--out", str(tmp_path / "bad"), "--segment-scale", "9"]) == 2
    assert capsys.readouterr().err.strip() == "error: segment scale must be a number from 0.25 to 4: 9.0"
    assert not (tmp_path / "bad").exists()


def test_screened_frames_keep_both_ends_and_every_nth_frame_between():
    assert evaluation.screened_frames(10, 1) == list(range(10))
    assert evaluation.screened_frames(10, 4) == [0, 1, 5, 9]      # scored: 1 and 5 (DAVIS drops first and last)
    assert evaluation.screened_frames(2, 4) == [0, 1]
    with pytest.raises(ValueError, match="at least 1"):
        evaluation.screened_frames(10, 0)


def test_ablation_screen_reads_every_nth_frame_through_the_parent_alone(tmp_path, monkeypatch):
    """Stride 3 over 9 frames segments frames 1, 4, 7 and 8 (the last closes the list) once each, after the
    annotated frame 0, with the parent's own network and no fine-tuning; the half-right parent scores J 0.5 and
    no T."""
    from osvos.system import OSVOS

    mask = synthetic_davis(tmp_path / "davis", frames=9)
    half = mask & (np.arange(mask.shape[1]) < mask.nonzero()[1].min() + (np.ptp(mask.nonzero()[1]) + 1) // 2)
    calls = []

    def fake(self, frames, segmenter=None, scale=None):
        calls.append((len(frames), segmenter))
        return [np.where(half, 0.9, 0.1).astype(np.float32) for _ in frames]

    def no_finetune(*args, **kwargs):
        raise AssertionError("a parent-only screen must not fine-tune")

    monkeypatch.setattr(OSVOS, "_batch_probabilities", fake)
    monkeypatch.setattr(OSVOS, "finetune", no_finetune)
    tables = evaluation.ablation(tmp_path / "davis", "val", tmp_path / "screen", frame_stride=3, parent_only=True,
                                 log=lambda line: None)
    assert set(tables) == {"parent"}
    assert sum(count for count, _ in calls) == 1 + 4 and all(segmenter is None for _, segmenter in calls)
    assert tables["parent"].loc["square", "J_mean"] == pytest.approx(0.5)
    assert np.isnan(tables["parent"].loc["square", "T_mean"])
    assert (tmp_path / "screen" / "parent.csv").exists() and not (tmp_path / "screen" / "osvos.csv").exists()


def test_evaluate_cli_finetune_seed_conv3_and_adaptation_reach_the_recipe(tmp_path, monkeypatch, capsys):
    """``evaluate --finetune-seed N`` fine-tunes with ``FinetuneRecipe.seed`` N (default 0, the product's), and one
    seed gives the same masks twice; ``--train-conv3`` gives ``FinetuneRecipe.train_conv3`` True (default
    False), ``--adapt-steps 2 --adapt-far 0.1 --adapt-growth 0`` ``adapt_steps`` 2, ``adapt_far`` 0.1 and
    ``adapt_growth`` 0 (default ADAPT_STEPS 6, ADAPT_FAR 0.02, ADAPT_GROWTH 3); a negative count or growth, or a
    distance of 1 or more, is refused before any model loads."""
    from osvos.budget import ADAPT_FAR, ADAPT_GROWTH, ADAPT_STEPS
    from osvos.system import OSVOS

    synthetic_davis(tmp_path / "davis")
    seeds = []
    original = OSVOS.load.__func__

    def load(cls, *args, **options):
        recipe = options["recipe"]
        seeds.append((recipe.seed, recipe.train_conv3, recipe.adapt_steps, recipe.adapt_far, recipe.adapt_growth))
        return original(cls, *args, **options)

    monkeypatch.setattr(OSVOS, "load", classmethod(load))
    common = ["evaluate", "--davis", str(tmp_path / "davis"), "--steps", "2", "--work-size", "64", "--no-snap"]
    for name, seed in (("a", ["--finetune-seed", "7"]), ("b", ["--finetune-seed", "7"]), ("c", []),
                       ("d", ["--finetune-seed", "7", "--train-conv3"]),
                       ("e", ["--adapt-steps", "2", "--adapt-far", "0.1", "--adapt-growth", "0"])):
        assert cli.main([*common, *seed, "--out", str(tmp_path / name)]) == 0
    assert (ADAPT_STEPS, ADAPT_FAR, ADAPT_GROWTH) == (6, 0.02, 3.0)
    assert seeds == [(7, False, 6, 0.02, 3.0), (7, False, 6, 0.02, 3.0), (0, False, 6, 0.02, 3.0),
                     (7, True, 6, 0.02, 3.0), (0, False, 2, 0.1, 0.0)]
    capsys.readouterr()
    assert cli.main([*common, "--adapt-steps", "-1", "--out", str(tmp_path / "f")]) == 2
    assert "--adapt-steps must be 0 or more" in capsys.readouterr().err and len(seeds) == 5
    assert cli.main([*common, "--adapt-far", "1.5", "--out", str(tmp_path / "g")]) == 2
    assert "--adapt-far must be" in capsys.readouterr().err and len(seeds) == 5
    assert cli.main([*common, "--adapt-growth", "-1", "--out", str(tmp_path / "h")]) == 2
    assert "--adapt-growth must be 0 or more" in capsys.readouterr().err and len(seeds) == 5
    masks = [sorted((tmp_path / name / "masks" / "square").iterdir()) for name in "ab"]
    assert len(masks[0]) == len(masks[1]) > 1
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(*masks))


def load_evaluate_parent():
    spec = importlib.util.spec_from_file_location("evaluate_parent", REPO / "scripts" / "evaluate_parent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_evaluate_parent_takes_the_model_options_of_the_command_line(monkeypatch, capsys):
    """``scripts/evaluate_parent.py`` declares and reads the model's options through ``osvos.cli`` (one place):
    the same flags reach ``ablation`` as ``OSVOS.load``'s arguments that ``python -m osvos evaluate`` builds, and
    the same bad values get the same one-line usage errors before any model loads."""
    script = load_evaluate_parent()
    seen = {}
    monkeypatch.setattr(script, "ablation", lambda *args, **kwargs: seen.update(kwargs) or {})
    flags = ["--views", "1", "--segment-scale", "1.25", "--flow-weight", "0.2", "--no-crf", "--min-region", "0.1",
             "--train-conv3", "--adapt-steps", "2", "--adapt-far", "0.05", "--work-size", "128"]
    monkeypatch.setattr(sys, "argv", ["evaluate_parent.py", "--out", "unused", "--steps", "7", *flags])
    script.main()
    expected = cli.model_options(cli.build_parser().parse_args(["evaluate", *flags]))
    assert {key: seen[key] for key in expected} == expected
    assert seen["recipe"].train_conv3 and seen["recipe"].adapt_far == 0.05 and seen["budget"].iterations == 7
    for bad, message in ((["--flow-weight", "2"], "flow weight"), (["--adapt-steps", "-1"], "--adapt-steps"),
                         (["--steps", "0"], "--parent-only")):
        monkeypatch.setattr(sys, "argv", ["evaluate_parent.py", "--out", "unused", *bad])
        with pytest.raises(SystemExit) as info:
            script.main()
        assert info.value.code == 2 and message in capsys.readouterr().err
