"""masks: robust reading of user masks (many encodings) and writing 0/255 PNGs."""
from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
import pytest
from PIL import Image

from osvos.masks import (
    MaskError,
    load_mask,
    mask_png_bytes,
    read_label_png,
    read_masks_zip,
    resize_mask,
    save_mask,
    write_masks_zip,
)
from osvos.metrics import jaccard

H, W = 64, 96


def coverage() -> np.ndarray:
    """Fraction of each pixel covered by a tilted ellipse (rendered 8× larger, area-downsampled)."""
    big = np.zeros((H * 8, W * 8), np.uint8)
    cv2.ellipse(big, (40 * 8, 30 * 8), (24 * 8, 16 * 8), 20, 0, 360, 255, -1)
    return cv2.resize(big.astype(np.float32) / 255, (W, H), interpolation=cv2.INTER_AREA)


COVERAGE = coverage()
TRUTH = COVERAGE > 0.5


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg(array: np.ndarray, quality: int = 75) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def same(mask: np.ndarray, truth: np.ndarray) -> bool:
    """Exact equality, with a short message instead of two array reprs when it fails."""
    assert mask.shape == truth.shape, f"shape {mask.shape} != {truth.shape}"
    wrong = int((mask != truth).sum())
    inverted = " (the mask is inverted)" if wrong == truth.size else ""
    assert wrong == 0, f"{wrong} of {truth.size} pixels differ{inverted}"
    return True


def gray_255(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def test_binary_grayscale_png():
    mask = load_mask(png(gray_255(TRUTH)))
    assert mask.dtype == bool and mask.shape == (H, W)
    assert np.array_equal(mask, TRUTH)


def test_accepts_path(tmp_path):
    path = tmp_path / "mask.png"
    path.write_bytes(png(gray_255(TRUTH)))
    assert same(load_mask(path, (W, H)), TRUTH)
    assert same(load_mask(str(path)), TRUTH)


def test_palette_png_any_nonzero_index_is_object():
    indices = np.zeros((H, W), np.uint8)
    indices[TRUTH] = 3
    indices[TRUTH & (np.arange(W) < 40)] = 1   # two object indices, one of them dark in the palette
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 5, 5, 5, 0, 0, 0, 128, 0, 0] + [0] * 756)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "P"
    assert same(load_mask(buffer.getvalue()), TRUTH)


@pytest.mark.parametrize("colour", [(200, 30, 40), (0, 0, 0), (30, 160, 60)])
def test_rgb_coloured_object_on_white(colour):
    drawing = np.full((H, W, 3), 255, np.uint8)
    drawing[TRUTH] = colour
    assert same(load_mask(png(drawing)), TRUTH)


def test_rgb_object_on_coloured_background():
    drawing = np.zeros((H, W, 3), np.uint8)
    drawing[:] = (20, 40, 160)
    drawing[TRUTH] = (250, 250, 0)
    assert same(load_mask(png(drawing)), TRUTH)


def test_anti_aliased_grayscale_edges():
    anti_aliased = (COVERAGE * 255).round().astype(np.uint8)
    assert ((anti_aliased > 0) & (anti_aliased < 255)).sum() > 100   # really anti-aliased
    assert jaccard(load_mask(png(anti_aliased)), TRUTH) > 0.98


def test_anti_aliased_rgb_edges():
    colour = np.array([200, 30, 40], np.float32)
    drawing = (255 * (1 - COVERAGE[..., None]) + colour * COVERAGE[..., None]).round().astype(np.uint8)
    assert jaccard(load_mask(png(drawing)), TRUTH) > 0.98


@pytest.mark.parametrize("sigma", [0.8, 1.5])
def test_blurred_edges(sigma):
    blurred = cv2.GaussianBlur(TRUTH.astype(np.float32) * 255, (0, 0), sigma).round().astype(np.uint8)
    assert jaccard(load_mask(png(blurred)), TRUTH) > 0.98


@pytest.mark.parametrize("quality", [50, 90])
def test_jpeg_compressed_masks(quality):
    data = jpeg(gray_255(TRUTH), quality)
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert len(np.unique(decoded)) > 2   # compression artefacts present
    assert jaccard(load_mask(data), TRUTH) > 0.98
    drawing = np.full((H, W, 3), 255, np.uint8)
    drawing[TRUTH] = (200, 30, 40)
    assert jaccard(load_mask(jpeg(drawing, quality)), TRUTH) > 0.98


@pytest.mark.parametrize("scale", [65535, 40000, 1000])
def test_16_bit_grayscale_png(scale):
    data = png((TRUTH * scale).astype(np.uint16))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert same(load_mask(data), TRUTH)


def test_wrong_size_mentions_both_sizes():
    with pytest.raises(MaskError) as info:
        load_mask(png(gray_255(TRUTH)), (100, 50))
    assert "96x64" in str(info.value) and "100x50" in str(info.value)
    assert same(load_mask(png(gray_255(TRUTH)), (96, 64)), TRUTH)


@pytest.mark.parametrize("data", [
    png(np.zeros((H, W), np.uint8)),
    png(np.zeros((H, W, 3), np.uint8)),
])
def test_all_black_is_refused(data):
    with pytest.raises(MaskError, match="empty"):
        load_mask(data)


def test_all_white_is_refused():
    with pytest.raises(MaskError):
        load_mask(png(np.full((H, W), 255, np.uint8)))


def test_shared_rgb_photo_is_refused(photo_mask):
    # The sample named "...-mask-rgb.png" is a JPEG photo of the frame, not a mask.
    with pytest.raises(MaskError, match="photo"):
        load_mask(photo_mask)
    with pytest.raises(MaskError):
        load_mask(photo_mask, (854, 480))


def test_synthetic_photo_is_refused():
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3)).astype(np.uint8), (0, 0), 2)
    with pytest.raises(MaskError):
        load_mask(png(noise))


@pytest.mark.parametrize("data", [b"", np.random.default_rng(1).bytes(700), b"not an image at all\n",
                                  png(gray_255(TRUTH))[:100]])
def test_undecodable_bytes_are_refused(data):
    with pytest.raises(MaskError):
        load_mask(data)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(MaskError, match="empty"):
        load_mask(path)


def test_rgba_alpha_is_the_object():
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = np.random.default_rng(2).integers(0, 256, (H, W, 3), dtype=np.uint8)   # colour ignored
    rgba[..., 3] = gray_255(TRUTH)
    assert same(load_mask(png(rgba)), TRUTH)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 0, 0)])
def test_rgba_alpha_with_uniform_colour_is_the_object(colour):
    """A cut-out: one colour everywhere, the object given by alpha only (the docstring: 'any alpha')."""
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = gray_255(TRUTH)
    assert same(load_mask(png(rgba)), TRUTH)


def test_grayscale_mask_with_large_object_is_not_inverted():
    """A 0/255 mask (white = object, as save_mask writes and DAVIS uses) whose object covers most of the frame."""
    large = np.zeros((H, W), bool)
    large[4:60, 6:90] = True                      # 77 % of the frame
    assert same(load_mask(png(gray_255(large))), large)
    assert same(load_mask(mask_png_bytes(large)), large)   # round trip of our own output


# --- writing ---------------------------------------------------------------------------------------------

def test_mask_png_round_trip(tmp_path):
    path = tmp_path / "m.png"
    save_mask(TRUTH, path)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8 and raw.shape == (H, W)
    assert set(np.unique(raw)) == {0, 255}
    assert np.array_equal(raw == 255, TRUTH)
    assert np.array_equal(read_label_png(path), TRUTH)


def test_read_label_png_palette_and_rgb(tmp_path):
    indices = np.zeros((H, W), np.uint8)
    indices[TRUTH] = 2
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    image.save(tmp_path / "p.png")
    assert np.array_equal(read_label_png(tmp_path / "p.png"), TRUTH)
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[TRUTH] = (0, 0, 128)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(read_label_png(tmp_path / "rgb.png"), TRUTH)


def test_write_masks_zip(tmp_path):
    masks = [np.roll(TRUTH, 3 * k, axis=1) for k in range(3)]
    path = tmp_path / "masks.zip"
    assert write_masks_zip(iter(masks), path) == 3
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["00000.png", "00001.png", "00002.png"]
        for name, mask in zip(archive.namelist(), masks):
            decoded = np.asarray(Image.open(io.BytesIO(archive.read(name))))
            assert decoded.shape == (H, W) and decoded.dtype == np.uint8
            assert set(np.unique(decoded)) == {0, 255}
            assert np.array_equal(decoded == 255, mask)


def test_read_masks_zip_gives_back_what_was_written(tmp_path):
    masks = [np.roll(TRUTH, 5 * k, axis=0) for k in range(4)]
    write_masks_zip(masks, tmp_path / "masks.zip")
    read = list(read_masks_zip(tmp_path / "masks.zip", 3))
    assert len(read) == 3 and all(r.dtype == bool and np.array_equal(r, m) for r, m in zip(read, masks))


def test_write_masks_zip_empty(tmp_path):
    assert write_masks_zip([], tmp_path / "none.zip") == 0
    with zipfile.ZipFile(tmp_path / "none.zip") as archive:
        assert archive.namelist() == []


def _centroid(weights: np.ndarray) -> np.ndarray:
    ys, xs = np.indices(weights.shape)
    return np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()


@pytest.mark.parametrize("size", [(512, 288), (256, 144), (1000, 562)])
def test_resized_mask_stays_on_the_resized_image(size):
    """A 480×854 mask brought to the working size (or up) sits where the area/bilinear-resized image of the same
    shape sits: its centroid within 0.1 px. ``cv2.INTER_NEAREST`` moves it by 0.4–0.6 px down and right at
    512×288 and fails this."""
    mask = np.zeros((480, 854), bool)
    cv2.ellipse(mask.view(np.uint8), (300, 200), (90, 40), 20, 0, 360, 1, -1)
    interpolation = cv2.INTER_AREA if size[0] < 854 else cv2.INTER_LINEAR
    image = cv2.resize(mask.astype(np.float32), size, interpolation=interpolation)
    small = resize_mask(mask, size)
    assert small.shape == (size[1], size[0]) and small.dtype == bool
    assert np.abs(_centroid(small.astype(float)) - _centroid(image)).max() < 0.1
    assert abs(int(small.sum()) - image.sum()) < 0.01 * image.sum()
