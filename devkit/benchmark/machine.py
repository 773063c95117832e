"""The machine a benchmark runs on: its CPU's name and its unit of time, one VGG16 trunk forward pass (conv1_1 …
conv5_3) run as a ``Forward`` variant says, so that results from different machines compare as ratios."""
from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

from devkit.benchmark.configs import Forward


def vgg16_forward_seconds(variant: Forward, repeats: int = 5) -> float:
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

        def call(x):
            return compiled(run(x))
    else:
        call = trunk.predict_on_batch
    x = np.random.default_rng(0).normal(0, 50, (variant.batch, *variant.size, 3)).astype("float32")
    np.asarray(call(x))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        np.asarray(call(x))
        times.append(time.perf_counter() - started)
    return statistics.median(times) / variant.batch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else what ``platform`` says)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
