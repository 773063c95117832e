"""Parent-network training on DAVIS (optionally mixed with still photos): deep supervision in three stages,
checkpoints, exact resume."""
from __future__ import annotations

import csv
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from .augment import augment, augment_still, swap_background
from .davis import load_split, read_rgb
from .losses import balanced_bce
from .masks import read_label_png
from .model import CAFFE_BGR_MEAN, build_networks, freeze_low_blocks, init_from_hed, preprocess, save_float16
from .stills import load_stills

LOG_COLUMNS = ["step", "loss", "side_weight", "wall_s"]
SIDE_WEIGHTS = (1.0, 0.5, 0.0)
"""Side-output loss weight in each third of the run (OSVOS: full, halved, fused output only)."""


@dataclass
class TrainConfig:
    """A parent-training recipe."""

    davis: str
    split: str = "train"
    iters: int = 6000
    size: tuple[int, int] = (240, 432)
    batch: int = 4
    lr: float = 1e-4
    checkpoint_every: int = 100
    seed: int = 0
    precision: str = "float32"
    init: str | None = None
    """Weights to start from (e.g. an earlier parent); None starts from the HED VGG16 trunk."""
    train_low: bool = False
    """Also train conv1–conv3 (frozen by default, which saves a third of a CPU step; a GPU run can afford them)."""
    load_threads: int = 1
    """Threads that decode and augment the images of a batch (a GPU step outruns one thread)."""
    stills: str | None = None
    """A folder of still photos with masks (DUTS-TR layout, ``osvos.stills``) mixed into every batch."""
    still_fraction: float = 0.5
    """Share of each batch's slots that are stills (rounded to whole slots; the first slots of the batch)."""
    side_weights: tuple[float, float, float] = SIDE_WEIGHTS
    """Side-output loss weight in each third of the run; (0, 0, 0) trains the fused output only, as a run that
    continues a trained parent may (its side heads were left behind in its own last third)."""
    schedule: str = "constant"
    """Learning rate over the run: ``constant``, or ``cosine`` (from ``lr`` down to 0 at ``iters``)."""
    video_rotation: float = 0.0
    """DAVIS frames turn by up to this many degrees either way (0: flip, scale and crop only)."""
    video_jitter: bool = False
    """DAVIS frames get the stills' colour jitter (``augment.colour_jitter``)."""
    video_swap: float = 0.0
    """Share of DAVIS frames whose object is put on a frame of another training video, that video's object
    inpainted away (``augment.swap_background``): the object out of the context it was filmed in."""

    def still_slots(self) -> int:
        """How many images of each batch are stills."""
        if not 0.0 <= self.still_fraction <= 1.0:
            raise ValueError(f"still_fraction must be in [0, 1]: {self.still_fraction}")
        if not self.stills:
            return 0
        return min(self.batch, round(self.batch * self.still_fraction))


class DeepSupervision(keras.Model):
    """Wraps the full network; loss = fused BCE + side_weight × Σ side BCEs (side_weight set per stage)."""

    def __init__(self, net: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.side_weight = keras.Variable(1.0, trainable=False, name="side_weight")

    def call(self, x, training=False):
        return self.net(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        fused, *sides = y_pred
        loss = balanced_bce(y, fused)
        for side in sides:
            loss = loss + self.side_weight * balanced_bce(y, side)
        return loss


class DavisBatches(keras.utils.PyDataset):
    """Augmented batches; batch k of the run depends only on (seed, k), so a resumed run sees the same data.

    With stills, the first ``config.still_slots()`` images of each batch are stills (``augment_still``: turned,
    zoomed, shifted, colour-jittered), the rest DAVIS frames (``augment``: flip, scale, crop; turned and
    colour-jittered where the config says so, and a share of them moved onto another video's background).
    """

    def __init__(self, config: TrainConfig, start_step: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.config = config
        split = load_split(config.davis, config.split)
        self.samples = [(f, m) for seq in split for f, m in zip(seq.frames, seq.masks)]
        self.videos = [seq.name for seq in split for _ in seq.frames]
        self.stills = load_stills(config.stills) if config.stills else []
        self.step = start_step
        self.pool = ThreadPoolExecutor(config.load_threads)

    def __len__(self) -> int:
        return self.config.checkpoint_every

    def __getitem__(self, index: int):
        step = self.step + index
        stills = self.config.still_slots()
        rng = np.random.default_rng([self.config.seed, step])
        frames = rng.integers(0, len(self.samples), self.config.batch - stills)
        picks = [("still", int(k)) for k in (rng.integers(0, len(self.stills), stills) if stills else [])]
        picks += [("davis", int(k)) for k in frames]
        images, labels = zip(*self.pool.map(self._sample, picks, [step] * len(picks), range(len(picks))))
        return preprocess(np.stack(images)), np.stack(labels)[..., None].astype(np.float32)

    def _sample(self, pick: tuple[str, int], step: int, slot: int) -> tuple[np.ndarray, np.ndarray]:
        source, index = pick
        rng = np.random.default_rng([self.config.seed, step, slot])
        if source == "still":
            image, mask = self.stills[index]
            return augment_still(read_rgb(image), read_label_png(mask), self.config.size, rng)
        frame, mask = self.samples[index]
        image, label = read_rgb(frame), read_label_png(mask)
        if self.config.video_swap and rng.random() < self.config.video_swap:
            others = [k for k, video in enumerate(self.videos) if video != self.videos[index]]
            scene, scene_mask = self.samples[others[int(rng.integers(len(others)))]]
            image = swap_background(image, label, read_rgb(scene), read_label_png(scene_mask))
        return augment(image, label, self.config.size, rng,
                       fill=CAFFE_BGR_MEAN[::-1].astype(np.uint8), rotation=self.config.video_rotation,
                       jitter=self.config.video_jitter)

    def on_epoch_end(self):
        self.step += self.config.checkpoint_every


class _Checkpointer(keras.callbacks.Callback):
    def __init__(self, run: Path, trainer: DeepSupervision, config: TrainConfig, start_step: int,
                 wall_before: float = 0.0):
        super().__init__()
        self.run, self.trainer, self.config = run, trainer, config
        self.step = start_step
        self.started = time.time() - wall_before
        self.bar = tqdm(total=config.iters, initial=start_step, unit="step", desc="parent")
        self.losses: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        stage = min(2, self.step * 3 // self.config.iters)
        self.trainer.side_weight.assign(self.config.side_weights[stage])

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{self.losses[-1]:.4f}")

    def on_epoch_end(self, epoch, logs=None):
        self.step += self.config.checkpoint_every
        log = self.run / "log.csv"
        new = not log.exists()
        with log.open("a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(LOG_COLUMNS)
            writer.writerow([self.step, f"{np.mean(self.losses):.6f}", float(self.trainer.side_weight.numpy()),
                             f"{time.time() - self.started:.1f}"])
        self.losses.clear()
        save_checkpoint(self.run, self.trainer, self.step)


def trim_log(run: Path, step: int) -> float:
    """Drop the log rows after ``step``, the step training starts from: a run stopped between a log row and its
    checkpoint trains those steps again (from 0 when it never finished a checkpoint). Returns the wall seconds
    of the last row kept (0 without one), from which the resumed run's ``wall_s`` goes on counting."""
    log = run / "log.csv"
    if not log.exists():
        return 0.0
    with log.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= step]
    with log.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return float(rows[-1]["wall_s"]) if rows else 0.0


def save_checkpoint(run: Path, trainer: DeepSupervision, step: int) -> None:
    """Atomically write weights, optimizer state and step to ``run``."""
    trainer.net.save_weights(run / "ckpt.tmp.weights.h5")
    np.savez(run / "optimizer.tmp.npz", *[np.asarray(v) for v in trainer.optimizer.variables])
    (run / "ckpt.tmp.weights.h5").replace(run / "ckpt.weights.h5")
    (run / "optimizer.tmp.npz").replace(run / "optimizer.npz")
    (run / "state.json").write_text(json.dumps({"step": step}))


def learning_rate(config: TrainConfig):
    """Adam's learning rate: a float, or a schedule of the optimiser's step count (restored on resume)."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.lr, config.iters)
    raise ValueError(f"unknown learning-rate schedule {config.schedule!r} (constant or cosine)")


def train_parent(config: TrainConfig, run: str | Path, resume: bool = False) -> Path:
    """Train the parent network into ``run``; returns the float16 weights of the final step."""
    if config.iters % config.checkpoint_every:
        raise ValueError(f"iters ({config.iters}) must be a multiple of checkpoint_every ({config.checkpoint_every})")
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    nets = build_networks()
    if config.init:
        nets.full.load_weights(config.init)
    else:
        init_from_hed(nets.full)
    if not config.train_low:
        freeze_low_blocks(nets.full)
    trainer = DeepSupervision(nets.full)
    # jit under JAX (unjitted it runs op by op); TensorFlow trains in plain graph mode.
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate(config)),
                    jit_compile=keras.backend.backend() == "jax")
    step = 0
    if resume and (run / "state.json").exists():
        step = json.loads((run / "state.json").read_text())["step"]
        nets.full.load_weights(run / "ckpt.weights.h5")
        trainer.optimizer.build(trainer.trainable_variables)
        stored = np.load(run / "optimizer.npz")
        for var, key in zip(trainer.optimizer.variables, stored.files):
            var.assign(stored[key])
    wall_before = trim_log(run, step)
    (run / "config.json").write_text(json.dumps(asdict(config), indent=2))
    if step < config.iters:
        data = DavisBatches(config, step)
        epochs = config.iters // config.checkpoint_every
        trainer.fit(data, epochs=epochs, initial_epoch=step // config.checkpoint_every, verbose=0, shuffle=False,
                    callbacks=[_Checkpointer(run, trainer, config, step, wall_before)])
    out = run / "parent.weights.h5"
    save_float16(nets.full, out)
    return out
