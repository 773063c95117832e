"""The floating-point precision the network computes in, chosen at run time: bfloat16 where the CPU does bf16
arithmetic natively (AVX512_BF16 or AMX: there it halves a VGG16 forward), float32 elsewhere (where bf16 would be
emulated, and slower). Weights stay float32 either way (Keras' ``mixed_bfloat16`` policy)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import keras

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags of CPUs with native bfloat16 arithmetic."""
CHOICES = ("auto", "float32", "bfloat16")


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU (``cpuinfo``: the text of /proc/cpuinfo; read when None) has native bf16 arithmetic."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.is_file() else ""
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def choose_precision(requested: str | None = None, cpuinfo: str | None = None) -> str:
    """``float32`` or ``bfloat16`` for ``requested`` (``auto``, ``float32`` or ``bfloat16``; None reads
    ``OSVOS_PRECISION``, default ``auto``: bfloat16 exactly where ``native_bf16``)."""
    requested = (requested or os.environ.get("OSVOS_PRECISION", "").strip() or "auto").lower()
    if requested not in CHOICES:
        raise ValueError(f"precision must be one of {', '.join(CHOICES)}: {requested!r}")
    if requested == "auto":
        return "bfloat16" if native_bf16(cpuinfo) else "float32"
    return requested


@contextmanager
def building_in(precision: str):
    """Layers built inside compute in ``precision`` (bfloat16: ``mixed_bfloat16``, float32 weights)."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
