"""train: parent training on a tiny DAVIS-layout folder — outputs, checkpoints and exact resume."""
from __future__ import annotations

import csv
import dataclasses
import json
import shutil

import h5py
import numpy as np
import pytest

from osvos.stills import load_stills
from osvos.train import LOG_COLUMNS, DavisBatches, TrainConfig, learning_rate, train_parent, trim_log

from osvos_helpers import TINY_SEQUENCES


def config(davis, iters=4, **changes) -> TrainConfig:
    return TrainConfig(**{"davis": str(davis), "iters": iters, "size": (32, 48), "batch": 1, "checkpoint_every": 2,
                          **changes})


def seeded_train(seed, *args, **kwargs):
    import keras

    keras.utils.set_random_seed(seed)
    return train_parent(*args, **kwargs)


@pytest.fixture(scope="module")
def runs(tiny_davis, tmp_path_factory):
    """'straight': 4 steps in one go; the other runs are added by the `resumed` fixture."""
    base = tmp_path_factory.mktemp("runs")
    seeded_train(0, config(tiny_davis), base / "straight")
    return base


@pytest.fixture(scope="module")
def resumed(runs, tiny_davis):
    """'resumed': 2 steps, then resumed to 4 in the same folder ('half' is a copy of it after 2 steps).

    The first part starts with Keras' global RNG seeded as for 'straight' (see test_same_config_gives_the_same_run
    for why this is needed); before resuming, the global RNGs (Python, NumPy, Keras) are put in another state, as
    in the new process a real resume runs in, and the log says the first part took 1000 s."""
    seeded_train(0, config(tiny_davis, iters=2), runs / "resumed")
    shutil.copytree(runs / "resumed", runs / "half")
    (row,) = log_rows(runs / "resumed")
    with (runs / "resumed" / "log.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([LOG_COLUMNS, [row["step"], row["loss"], row["side_weight"], "1000.0"]])
    seeded_train(12345, config(tiny_davis), runs / "resumed", resume=True)
    return runs


def datasets(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as stored:
        stored.visititems(lambda name, item: out.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return out


def log_rows(run) -> list[dict]:
    with (run / "log.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("step, kept, wall", [(200, ["100", "200"], 20.0), (100, ["100"], 10.0), (0, [], 0.0)])
def test_trim_log_keeps_the_rows_up_to_the_restart_step(tmp_path, step, kept, wall):
    with (tmp_path / "log.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS)
        writer.writerows([[100, "1.0", 1.0, "10.0"], [200, "0.9", 1.0, "20.0"]])
    assert trim_log(tmp_path, step) == wall         # the resumed run's clock goes on from there
    assert [row["step"] for row in log_rows(tmp_path)] == kept


def test_batches_depend_only_on_seed_and_step(tiny_davis):
    cfg = config(tiny_davis)
    a, b = DavisBatches(cfg, 0), DavisBatches(cfg, 2)
    assert len(a.samples) == 6 and len(a) == 2
    images, labels = a[3]
    assert images.shape == (1, 32, 48, 3) and images.dtype == np.float32
    assert labels.shape == (1, 32, 48, 1) and set(np.unique(labels)) <= {0.0, 1.0}
    for x, y in zip(a[3], b[1]):
        assert np.array_equal(x, y)
    a.on_epoch_end()                       # the next epoch starts at step 2
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0]))
    assert not np.array_equal(DavisBatches(cfg, 0)[0][0], b[0][0])
    reseeded = DavisBatches(dataclasses.replace(cfg, seed=1), 2)
    assert not np.array_equal(reseeded[0][0], b[0][0])      # another seed, another sample sequence


def test_batches_do_not_depend_on_load_threads(tiny_davis):
    cfg = config(tiny_davis, batch=3)
    one, three = DavisBatches(cfg, 0), DavisBatches(dataclasses.replace(cfg, load_threads=3), 0)
    for index in range(2):
        images, labels = three[index]
        assert images.shape == (3, 32, 48, 3)
        assert not np.array_equal(images[0], images[1])         # each slot of a batch is its own sample
        assert all(np.array_equal(x, y) for x, y in zip(one[index], (images, labels)))


def test_outputs_of_a_run(runs):
    run = runs / "straight"
    rows = log_rows(run)
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert [float(r["side_weight"]) for r in rows] == [1.0, 0.5]     # stages by thirds of the 4 steps
    assert all(np.isfinite(float(r["loss"])) and float(r["loss"]) > 0 for r in rows)
    assert json.loads((run / "state.json").read_text()) == {"step": 4}
    assert json.loads((run / "config.json").read_text())["iters"] == 4
    parent = datasets(run / "parent.weights.h5")
    assert parent and {a.dtype for a in parent.values()} == {np.dtype("float16")}
    assert {a.dtype for a in datasets(run / "ckpt.weights.h5").values()} == {np.dtype("float32")}
    assert (run / "optimizer.npz").exists()
    assert not list(run.glob("*.tmp.*"))


def changed_from_hed(checkpoint, names=("block1_conv1", "block3_conv3", "block5_conv3")) -> dict[str, bool]:
    """Per conv layer: whether the checkpoint's kernel differs from the HED init it started from."""
    from osvos.model import build_networks, init_from_hed

    nets = build_networks()
    init_from_hed(nets.full)
    trained = build_networks()
    trained.full.load_weights(checkpoint)
    return {name: not np.array_equal(trained.full.get_layer(name).get_weights()[0],
                                     nets.full.get_layer(name).get_weights()[0]) for name in names}


def test_trained_weights_changed_and_low_blocks_frozen(runs):
    assert changed_from_hed(runs / "straight" / "ckpt.weights.h5") == {
        "block1_conv1": False, "block3_conv3": False, "block5_conv3": True}


def test_train_low_trains_conv1_to_conv3(tiny_davis, tmp_path):
    seeded_train(0, config(tiny_davis, iters=2, train_low=True), tmp_path / "low")
    assert changed_from_hed(tmp_path / "low" / "ckpt.weights.h5") == {
        "block1_conv1": True, "block3_conv3": True, "block5_conv3": True}


def test_resume_is_exact(resumed):
    """4 steps straight == 2 steps, then resumed to 4 (in a process whose global RNGs are in another state).

    Fails while trainer.fit shuffles the order of the batches inside each checkpoint epoch with Python's global
    `random` (fit's default shuffle=True, applied by Keras to a PyDataset): batch k then no longer depends only on
    (seed, k), and a resumed run trains on the same batches in another order."""
    straight, resumed = resumed / "straight", resumed / "resumed"
    assert json.loads((resumed / "state.json").read_text()) == {"step": 4}
    assert [r["step"] for r in log_rows(resumed)] == ["2", "4"]
    assert [float(r["wall_s"]) > 1000 for r in log_rows(resumed)] == [False, True]   # the clock goes on
    a, b = datasets(straight / "ckpt.weights.h5"), datasets(resumed / "ckpt.weights.h5")
    assert a.keys() == b.keys()
    different = [k for k in a if not np.allclose(a[k], b[k], atol=1e-5)]
    assert not different, f"{len(different)} of {len(a)} weight arrays differ, e.g. {different[:3]}"
    assert [r["loss"] for r in log_rows(resumed)] == [r["loss"] for r in log_rows(straight)]
    a16, b16 = datasets(straight / "parent.weights.h5"), datasets(resumed / "parent.weights.h5")
    assert all(np.allclose(a16[k].astype(np.float32), b16[k].astype(np.float32), atol=1e-5) for k in a16)


def test_resume_of_a_finished_run_trains_nothing(runs, tiny_davis):
    run = runs / "straight"
    before = datasets(run / "ckpt.weights.h5")
    train_parent(config(tiny_davis), run, resume=True)
    assert json.loads((run / "state.json").read_text()) == {"step": 4}
    assert len(log_rows(run)) == 2
    after = datasets(run / "ckpt.weights.h5")
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_same_config_gives_the_same_run(resumed, tiny_davis, tmp_path):
    """TrainConfig has a seed; two runs of the same config should start from the same weights and end equal,
    whatever the global RNG state. train_parent seeds only the data (DavisBatches), not the random init of the
    side and fuse convs, so they differ (and a resume compared with a straight run only matches when the caller
    seeds Keras)."""
    seeded_train(1, config(tiny_davis, iters=2), tmp_path / "again")
    a, b = datasets(resumed / "half" / "ckpt.weights.h5"), datasets(tmp_path / "again" / "ckpt.weights.h5")
    different = [k for k in a if not np.allclose(a[k], b[k], atol=1e-5)]
    assert not different, f"{len(different)} of {len(a)} weight arrays differ, e.g. {different[:3]}"


def test_iters_not_a_multiple_of_checkpoint_every(tiny_davis, tmp_path):
    """iters=1 with checkpoint_every=2 (like --iters 50 with the default checkpoint_every=100): either refused up
    front, or the step is trained. train_parent runs iters // checkpoint_every = 0 epochs: it trains nothing,
    writes no state.json, and returns the untrained HED-initialised network as parent.weights.h5 (and
    iters=5 with checkpoint_every=2 silently stops at step 4)."""
    run = tmp_path / "short"
    try:
        seeded_train(0, config(tiny_davis, iters=1), run)
    except ValueError:
        return
    assert (run / "state.json").exists(), "no step was trained"
    assert json.loads((run / "state.json").read_text())["step"] == 1


def test_batches_mix_stills_into_the_first_slots(tiny_davis, tiny_stills):
    """Half of a batch of 4 are stills: slots 0-1 come from the stills (synthetic: a bright ellipse whose mask
    agrees with the image), slots 2-3 from DAVIS; a batch stays a function of (seed, step), whatever the threads."""
    cfg = config(tiny_davis, batch=4, stills=str(tiny_stills), still_fraction=0.5)
    assert cfg.still_slots() == 2
    data = DavisBatches(cfg, 0)
    assert len(data.stills) == 3
    images, labels = data[1]
    assert images.shape == (4, 32, 48, 3) and labels.shape == (4, 32, 48, 1)
    rgb = images[..., ::-1] + np.array([122.67892, 116.66877, 104.00699], np.float32)   # undo preprocess
    for slot in (0, 1):
        bright = rgb[slot].mean(axis=-1) > 150
        assert labels[slot, ..., 0].any() and (bright == (labels[slot, ..., 0] > 0)).mean() > 0.9
    threaded = DavisBatches(dataclasses.replace(cfg, load_threads=4), 0)
    assert all(np.array_equal(x, y) for x, y in zip(threaded[1], data[1]))
    davis_only = DavisBatches(config(tiny_davis, batch=2), 0)
    assert not np.array_equal(davis_only[1][0], images[2:])     # DAVIS picks come from the same stream, but
    assert DavisBatches(dataclasses.replace(cfg, seed=3), 0)[1][0].shape == images.shape   # fewer of them


def test_no_stills_or_fraction_zero_is_the_davis_only_batch(tiny_davis, tiny_stills):
    plain = DavisBatches(config(tiny_davis, batch=3), 0)
    zero = DavisBatches(config(tiny_davis, batch=3, stills=str(tiny_stills), still_fraction=0.0), 0)
    assert all(np.array_equal(x, y) for x, y in zip(plain[2], zero[2]))
    with pytest.raises(ValueError, match="still_fraction"):
        config(tiny_davis, stills=str(tiny_stills), still_fraction=1.5).still_slots()
    assert config(tiny_davis, batch=4, stills=str(tiny_stills), still_fraction=0.3).still_slots() == 1
    assert config(tiny_davis, batch=4, stills=str(tiny_stills), still_fraction=1.0).still_slots() == 4


def test_video_swap_changes_the_images_and_stays_a_function_of_seed_and_step(tiny_davis):
    """With every DAVIS frame swapped onto another video's, the images differ from the plain batch's, a batch is
    the same when built again, and the labels are still whole masks; at 0 the batch is the plain one, bit for bit.
    (That the object and its label stay put is ``test_augment``'s ``swap_background`` test.)"""
    plain = DavisBatches(config(tiny_davis, batch=3), 0)
    swapped = DavisBatches(config(tiny_davis, batch=3, video_swap=1.0), 0)
    assert swapped.videos == [name for name in TINY_SEQUENCES for _ in range(3)]
    images, labels = swapped[1]
    assert not np.array_equal(images, plain[1][0])
    assert all(np.array_equal(x, y) for x, y in zip(swapped[1], DavisBatches(swapped.config, 0)[1]))
    assert set(np.unique(labels)) <= {0.0, 1.0} and labels.any()
    none = DavisBatches(config(tiny_davis, batch=3, video_swap=0.0), 0)
    assert all(np.array_equal(x, y) for x, y in zip(plain[2], none[2]))


def test_load_stills_refuses_a_broken_folder(tiny_stills, tmp_path):
    assert [p.name for p, _ in load_stills(tiny_stills)] == ["still0.jpg", "still1.jpg", "still2.jpg"]
    with pytest.raises(FileNotFoundError, match="list.txt"):
        load_stills(tmp_path)
    shutil.copytree(tiny_stills, tmp_path / "broken")
    (tmp_path / "broken" / "Masks" / "still1.png").unlink()
    with pytest.raises(FileNotFoundError, match="still1"):
        load_stills(tmp_path / "broken")


def test_cosine_schedule_by_hand(tiny_davis):
    assert learning_rate(config(tiny_davis, lr=1e-4)) == 1e-4
    cosine = learning_rate(config(tiny_davis, lr=1e-4, iters=100, schedule="cosine"))
    assert [round(float(cosine(step)) * 1e5, 4) for step in (0, 50, 100)] == [10.0, 5.0, 0.0]
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(config(tiny_davis, schedule="linear"))


def test_resume_with_stills_and_cosine_is_exact(tiny_davis, tiny_stills, tmp_path, monkeypatch):
    """A run killed after its first checkpoint and resumed ends as the straight run: the cosine schedule follows
    the optimiser's step count, which the checkpoint restores. Side weights of our own per third are applied."""
    import osvos.train

    cfg = config(tiny_davis, batch=2, stills=str(tiny_stills), schedule="cosine", side_weights=(0.25, 0.0, 0.0))
    seeded_train(0, cfg, tmp_path / "straight")
    assert [float(r["side_weight"]) for r in log_rows(tmp_path / "straight")] == [0.25, 0.0]
    save = osvos.train.save_checkpoint

    def save_then_die(run, trainer, step):
        save(run, trainer, step)
        raise KeyboardInterrupt

    monkeypatch.setattr(osvos.train, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        seeded_train(0, cfg, tmp_path / "resumed")
    monkeypatch.setattr(osvos.train, "save_checkpoint", save)
    seeded_train(999, cfg, tmp_path / "resumed", resume=True)
    assert [r["loss"] for r in log_rows(tmp_path / "resumed")] == [r["loss"] for r in log_rows(tmp_path / "straight")]
    a, b = datasets(tmp_path / "straight" / "ckpt.weights.h5"), datasets(tmp_path / "resumed" / "ckpt.weights.h5")
    assert all(np.allclose(a[k], b[k], atol=1e-5) for k in a)
