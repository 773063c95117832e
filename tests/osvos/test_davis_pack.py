"""davis_pack: a DAVIS split packed into videos + bit-packed masks and unpacked again (masks exact, frames close)."""
from __future__ import annotations

import numpy as np
import pytest

from osvos.davis import load_split
from osvos.davis_pack import pack_split, unpack_split

from osvos_helpers import TINY_SEQUENCES


def test_pack_then_unpack_gives_the_split_back(tiny_davis, tmp_path):
    assert pack_split(tiny_davis, "train", tmp_path / "packed", crf=18) == list(TINY_SEQUENCES)
    assert sorted(p.name for p in (tmp_path / "packed").iterdir()) == [
        "bear.masks.npz", "bear.mp4", "boat.masks.npz", "boat.mp4", "train.txt"]
    assert unpack_split(tmp_path / "packed", "train", tmp_path / "davis") == list(TINY_SEQUENCES)
    originals, copies = load_split(tiny_davis, "train"), load_split(tmp_path / "davis", "train")
    assert [s.name for s in copies] == list(TINY_SEQUENCES)
    for original, copy in zip(originals, copies):
        assert len(copy.frames) == len(copy.masks) == len(original.frames) == 3
        for k in range(3):
            assert np.array_equal(copy.mask(k), original.mask(k))
            assert copy.frame(k).shape == original.frame(k).shape == (48, 80, 3)
            error = np.abs(copy.frame(k).astype(int) - original.frame(k).astype(int)).mean()
            assert error < 8, f"{copy.name} frame {k}: mean abs error {error:.1f}"


def test_unpack_refuses_a_video_shorter_than_its_masks(tiny_davis, tmp_path):
    pack_split(tiny_davis, "train", tmp_path / "packed")
    stored = np.load(tmp_path / "packed" / "bear.masks.npz")
    np.savez_compressed(tmp_path / "packed" / "bear.masks.npz", bits=np.concatenate([stored["bits"]] * 2),
                        width=stored["width"])
    with pytest.raises(ValueError, match="bear: the video holds 3 frames but there are 6 masks"):
        unpack_split(tmp_path / "packed", "train", tmp_path / "davis")
