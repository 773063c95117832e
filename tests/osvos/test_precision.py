"""precision: bfloat16 chosen at run time where the CPU does it natively; both paths segment alike."""
from __future__ import annotations

import numpy as np
import pytest

from osvos.metrics import jaccard
from osvos.precision import choose_precision, native_bf16

ZEN4 = "processor : 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512vl\nprocessor : 1\n"
SAPPHIRE = "flags : fpu avx2 avx512f amx_bf16 amx_tile\n"
AVX2_ONLY = "flags : fpu sse2 avx2 fma\nbugs : avx512_bf16_is_not_a_flag_here\n"


def test_native_bf16_reads_the_flags_line():
    assert native_bf16(ZEN4) and native_bf16(SAPPHIRE)
    assert not native_bf16(AVX2_ONLY) and not native_bf16("")


def test_choose_precision(monkeypatch):
    monkeypatch.delenv("OSVOS_PRECISION", raising=False)
    assert choose_precision(None, ZEN4) == "bfloat16" and choose_precision("auto", AVX2_ONLY) == "float32"
    assert choose_precision("float32", ZEN4) == "float32" and choose_precision("bfloat16", AVX2_ONLY) == "bfloat16"
    monkeypatch.setenv("OSVOS_PRECISION", "float32")
    assert choose_precision(None, ZEN4) == "float32"
    monkeypatch.setenv("OSVOS_PRECISION", "half")
    with pytest.raises(ValueError, match="precision"):
        choose_precision(None, ZEN4)


@pytest.fixture(scope="module")
def both(square_module):
    """The shipped network in float32 and in bfloat16, each fine-tuned 20 steps on the square."""
    import keras

    import osvos

    frame, mask = square_module
    models = {}
    for precision in ("float32", "bfloat16"):
        keras.utils.set_random_seed(0)
        models[precision] = osvos.OSVOS.load(work_size=64, precision=precision).finetune(frame, mask, 20)
    return models


@pytest.fixture(scope="module")
def square_module():
    from osvos_helpers import square_case

    return square_case()


def test_both_paths_compute_in_their_precision(both):
    import keras

    assert both["float32"].nets.segmenter.get_layer("block4_conv1").compute_dtype == "float32"
    assert both["bfloat16"].nets.segmenter.get_layer("block4_conv1").compute_dtype == "bfloat16"
    assert both["bfloat16"].nets.segmenter.get_layer("block4_conv1").variable_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"      # restored after building
    assert "-bfloat16" in both["bfloat16"].version and "bfloat16" not in both["float32"].version


def test_both_paths_segment_alike(both, square_module):
    """The same 20 steps in either precision: probabilities within a few hundredths, masks nearly the same."""
    frame, mask = square_module
    p32, p16 = both["float32"].probabilities(frame), both["bfloat16"].probabilities(frame)
    assert p16.dtype == np.float32 and p16.shape == p32.shape
    assert np.abs(p32 - p16).mean() < 0.05
    m32, m16 = next(both["float32"].segment([frame])), next(both["bfloat16"].segment([frame]))
    assert jaccard(m16, m32) > 0.95
    assert abs(jaccard(m16, mask) - jaccard(m32, mask)) < 0.02


def test_the_contour_branch_runs_in_the_models_precision(both, square_module):
    """HED is built in the model's precision; its contours come back as float32 and near float32's."""
    frame, _ = square_module
    for precision, model in both.items():
        hed = model._hed()
        assert {layer.compute_dtype for layer in hed.layers if layer.weights} == {precision}
    c32, c16 = both["float32"].contours(frame), both["bfloat16"].contours(frame)
    assert c16.dtype == np.float32 and c16.shape == c32.shape
    assert np.abs(c32 - c16).max() < 0.05
