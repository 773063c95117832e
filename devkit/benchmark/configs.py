"""What the benchmark compares: ways of fine-tuning and segmenting (``CONFIGS``) and of running the plain VGG16
trunk that gives the machine's unit of time (``FORWARD_VARIANTS``)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from osvos.budget import DEFAULT_WORK_SIZE, FINETUNE_CROP, FINETUNE_SCALES, SEGMENT_BATCH

SECONDS = 60.0
"""The benchmark's fine-tuning time: osvos's default budget when the benchmark was made (it is now a step count,
``osvos.budget.DEFAULT_STEPS``), kept so that the configurations compare as they did."""


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
    return Config(SECONDS, work_size=size,
                  about=f"{SECONDS:g} s; network at {height}×{size}, masks upscaled")


CONFIGS = {
    "reference": Config(500, reference=True, about="original recipe: 500 iterations, full resolution, all layers"),
    "full": Config(SECONDS, about=f"{SECONDS:g} s at full resolution, conv1–3 frozen and cached"),
    "budget10": Config(10.0, about="10 s, full resolution"),
    "budget30": Config(30.0, about="30 s, full resolution"),
    "budget120": Config(120.0, about="120 s, full resolution"),
    "ft_half": Config(SECONDS, scales=(0.5, 0.375),
                      about=f"{SECONDS:g} s fine-tuning at half resolution, segmentation at full"),
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
