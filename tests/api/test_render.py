"""osvos.render on hand-made frames and masks, with expected values worked out by hand."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from osvos import render


def _frame(value=(10, 20, 30), shape=(4, 6)):
    frame = np.zeros((*shape, 3), np.uint8)
    frame[:] = value
    return frame


def test_overlay_tints_inside_and_leaves_outside():
    frame = _frame()
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:4] = True
    out = render.overlay(frame, mask, color=(200, 100, 0), alpha=0.5, outline=0)
    # (10+200)/2 = 105, (20+100)/2 = 60, (30+0)/2 = 15
    assert out[1, 2].tolist() == [105, 60, 15]
    assert (out[mask] == [105, 60, 15]).all()
    assert (out[~mask] == [10, 20, 30]).all()
    assert frame[1, 2].tolist() == [10, 20, 30], "the input frame must not be modified"


def test_overlay_alpha_rounding_and_outline():
    frame = _frame((0, 0, 0), (9, 9))
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    tinted = render.overlay(frame, mask, color=(255, 255, 255), alpha=0.3, outline=0)
    assert tinted[4, 4].tolist() == [76, 76, 76]  # round(0.3 * 255) = round(76.5) = 76 (banker's) -> rint
    outlined = render.overlay(frame, mask, color=(255, 0, 0), alpha=0.3, outline=1)
    assert outlined[2, 4].tolist() == [255, 0, 0], "the contour is drawn in the solid colour"
    assert outlined[4, 4].tolist() == [76, 0, 0], "the inside stays tinted"
    assert outlined[0, 0].tolist() == [0, 0, 0]


def test_overlay_empty_mask_is_identity():
    frame = _frame()
    out = render.overlay(frame, np.zeros((4, 6), bool))
    assert np.array_equal(out, frame)


def test_overlay_rejects_size_mismatch():
    with pytest.raises(ValueError):
        render.overlay(_frame(), np.zeros((3, 6), bool))


def test_side_by_side_concatenates_horizontally():
    left, right = _frame((1, 1, 1)), _frame((2, 2, 2))
    both = render.side_by_side(left, right)
    assert both.shape == (4, 12, 3)
    assert (both[:, :6] == 1).all() and (both[:, 6:] == 2).all()
    with pytest.raises(ValueError):
        render.side_by_side(left, _frame(shape=(4, 5)))


def test_cutout_alpha():
    frame = _frame((50, 60, 70))
    mask = np.zeros((4, 6), bool)
    mask[0, 0] = mask[3, 5] = True
    rgba = render.cutout(frame, mask)
    assert rgba.shape == (4, 6, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0].tolist() == [50, 60, 70, 255]
    assert rgba[3, 5].tolist() == [50, 60, 70, 255]
    assert rgba[1, 1].tolist() == [0, 0, 0, 0]
    assert int((rgba[..., 3] == 255).sum()) == 2


def test_thumbnail_keeps_aspect_and_never_upscales():
    image = np.zeros((480, 854, 3), np.uint8)
    small = render.thumbnail(image, 320)
    assert small.shape == (180, 320, 3)  # 480 * 320/854 = 179.9
    tiny = np.zeros((10, 20, 3), np.uint8)
    assert render.thumbnail(tiny, 320).shape == (10, 20, 3)


def test_jpeg_bytes_decodes_with_the_same_colours():
    image = _frame((200, 30, 40), (16, 16))
    data = render.jpeg_bytes(image, quality=95)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert data[:2] == b"\xff\xd8"
    assert np.abs(decoded.astype(int) - [200, 30, 40]).max() <= 6


def test_mask_stats_by_hand():
    mask = np.zeros((10, 10), bool)
    mask[2, 3] = mask[2, 4] = mask[5, 3] = True  # x: 3, 4, 3   y: 2, 2, 5
    stats = render.mask_stats(mask)
    assert stats == {"area_px": 3, "cx": pytest.approx(10 / 3), "cy": 3.0, "x_min": 3, "y_min": 2,
                     "x_max": 4, "y_max": 5}
    assert render.mask_stats(np.zeros((3, 3), bool))["cx"] is None


def test_trajectory_table_and_csv():
    a = np.zeros((8, 8), bool)
    a[1:3, 1:5] = True  # 2 rows x 4 cols: area 8, cx = 2.5, cy = 1.5, bbox (1,1)-(4,2)
    empty = np.zeros((8, 8), bool)
    b = np.zeros((8, 8), bool)
    b[7, 7] = True
    table = render.trajectory_table([a, empty, b], fps=4.0)
    assert list(table.columns) == list(render.TRAJECTORY_COLUMNS)
    assert table["frame"].tolist() == [0, 1, 2]
    assert table["time_s"].tolist() == [0.0, 0.25, 0.5]
    assert table["area_px"].tolist() == [8, 0, 1]
    assert table.loc[0, ["cx", "cy"]].tolist() == [2.5, 1.5]
    assert table.loc[0, ["x_min", "y_min", "x_max", "y_max"]].tolist() == [1, 1, 4, 2]
    assert table.loc[1, ["cx", "cy", "x_min", "y_min", "x_max", "y_max"]].isna().all()
    assert table.loc[2, ["x_min", "x_max"]].tolist() == [7, 7]

    text = render.trajectory_csv(table)
    lines = text.strip().split("\n")
    assert lines[0] == "frame,time_s,area_px,cx,cy,x_min,y_min,x_max,y_max"
    assert lines[1] == "0,0.0,8,2.5,1.5,1,1,4,2"
    assert lines[2] == "1,0.25,0,,,,,,", "an empty mask has empty cells"
    assert lines[3] == "2,0.5,1,7.0,7.0,7,7,7,7"
    back = pd.read_csv(io.StringIO(text))
    assert back["x_min"].isna().tolist() == [False, True, False]


def test_trajectory_rejects_bad_fps():
    with pytest.raises(ValueError):
        render.Trajectory(0)
