"""DAVIS-2016 measures: region similarity J, boundary accuracy F, temporal stability T, and their statistics."""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

BOUND_TH = 0.008
CONTOUR_STEP = 3.0
N_THETA, N_R, R_INNER, R_OUTER = 12, 5, 1 / 8, 2.0
T_SCALE = 5.0


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Region similarity: |P ∩ G| / |P ∪ G|, and 1 when both are empty."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """DAVIS seg2bmap: a pixel is boundary where it differs from its east, south or south-east neighbour."""
    seg = mask.astype(bool)
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def boundary_precision_recall(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> tuple[float, float]:
    """Boundary precision (the share of ``pred``'s boundary pixels within the tolerance of ``gt``'s) and recall (the
    share of ``gt``'s within the tolerance of ``pred``'s); the tolerance is ceil(bound_th × image diagonal) pixels,
    or ``bound_th`` pixels when it is 1 or more (DAVIS). No boundary predicted: precision 1; none to find: recall 1."""
    radius = int(math.ceil(bound_th * math.hypot(*gt.shape))) if bound_th < 1 else int(bound_th)
    pred_b, gt_b = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = pred_b.sum(), gt_b.sum()
    if n_pred == 0 or n_gt == 0:
        return (1.0 if n_pred == 0 else 0.0), (1.0 if n_gt == 0 else 0.0)
    disk = _disk(radius)
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), disk).astype(bool)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), disk).astype(bool)
    return float((pred_b & gt_dil).sum() / n_pred), float((gt_b & pred_dil).sum() / n_gt)


def _harmonic(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """Boundary F-measure: the harmonic mean of ``boundary_precision_recall`` (DAVIS)."""
    return _harmonic(*boundary_precision_recall(pred, gt, bound_th))


def longest_contour(mask: np.ndarray) -> np.ndarray | None:
    """The longest outer contour of a mask as (N, 2) float x, y points, or None for an empty mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    return max(contours, key=len)[:, 0, :].astype(np.float64)


def resample_contour(points: np.ndarray, step: float = CONTOUR_STEP) -> np.ndarray:
    """Simplify the pixel contour (tolerance ``step``), then insert points so neighbours are ≤ ``step`` apart."""
    simplified = cv2.approxPolyDP(points.astype(np.float32)[:, None, :], step, True)[:, 0, :].astype(np.float64)
    points = simplified if len(simplified) >= 3 else points
    nxt = np.roll(points, -1, axis=0)
    out = []
    for a, b in zip(points, nxt):
        pieces = max(1, int(math.ceil(np.linalg.norm(b - a) / step)))
        out.extend(a + (b - a) * k / pieces for k in range(pieces))
    return np.asarray(out)


def shape_context(points: np.ndarray) -> np.ndarray:
    """Shape-context histograms (N, 12 × 5): log-polar bins, radii normalised by the mean distance."""
    diff = points[None, :, :] - points[:, None, :]
    dist = np.hypot(diff[..., 0], diff[..., 1])
    n = len(points)
    mean = dist.sum() / max(1, n * n - n)
    r = dist / max(mean, 1e-12)
    edges = np.logspace(np.log10(R_INNER), np.log10(R_OUTER), N_R)
    r_bin = (r[..., None] < edges).sum(axis=-1)
    theta = np.mod(np.arctan2(diff[..., 1], diff[..., 0]), 2 * np.pi)
    t_bin = np.minimum((theta / (2 * np.pi / N_THETA)).astype(int), N_THETA - 1)
    valid = (r_bin > 0) & ~np.eye(n, dtype=bool)
    rows = np.repeat(np.arange(n), n).reshape(n, n)[valid]
    bins = (N_R - r_bin[valid]) * N_THETA + t_bin[valid]
    flat = np.bincount(rows * (N_THETA * N_R) + bins, minlength=n * N_THETA * N_R)
    return flat.reshape(n, N_THETA * N_R).astype(np.float64)


def chi2_cost(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """χ² distance between every pair of normalised histograms."""
    a = (h1 / (h1.sum(axis=1, keepdims=True) + 1e-16)).astype(np.float32)
    b = (h2 / (h2.sum(axis=1, keepdims=True) + 1e-16)).astype(np.float32)
    num = (a[:, None, :] - b[None, :, :]) ** 2
    return 0.5 * (num / (a[:, None, :] + b[None, :, :] + 1e-16)).sum(axis=2)


def _dp_path(cost: np.ndarray) -> tuple[float, np.ndarray]:
    """Cheapest monotone path from (0, 0) to (n−1, m−1) with steps (1,1), (1,2), (2,1); returns (mean, pairs)."""
    n, m = cost.shape
    inf = np.inf
    acc = np.full((n, m), inf)
    move = np.zeros((n, m), np.int8)
    acc[0, 0] = cost[0, 0]
    for i in range(1, n):
        options = np.full((3, m), inf)
        options[0, 1:] = acc[i - 1, :-1]
        options[1, 2:] = acc[i - 1, :-2]
        if i >= 2:
            options[2, 1:] = acc[i - 2, :-1]
        move[i] = options.argmin(axis=0)
        acc[i] = cost[i] + options.min(axis=0)
    if not np.isfinite(acc[-1, -1]):
        return inf, np.zeros((0, 2), int)
    pairs, i, j = [], n - 1, m - 1
    while True:
        pairs.append((i, j))
        if i == 0 and j == 0:
            break
        step = ((1, 1), (1, 2), (2, 1))[move[i, j]]
        i, j = i - step[0], j - step[1]
    pairs = np.asarray(pairs[::-1])
    return float(cost[pairs[:, 0], pairs[:, 1]].mean()), pairs


def _bijective(pairs: np.ndarray, cost: np.ndarray) -> np.ndarray:
    for axis in (0, 1):
        keep = []
        for index in np.unique(pairs[:, axis]):
            group = pairs[pairs[:, axis] == index]
            keep.append(group[np.argmin(cost[group[:, 0], group[:, 1]])])
        pairs = np.asarray(keep)
    return pairs


def _resample_count(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along the closed polygon ``points`` (arc length)."""
    closed = np.vstack([points, points[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    at = np.linspace(0, arc[-1], count, endpoint=False)
    return np.stack([np.interp(at, arc, closed[:, 0]), np.interp(at, arc, closed[:, 1])], axis=1)


def temporal_instability(mask_a: np.ndarray, mask_b: np.ndarray, shifts: int = 8) -> float:
    """T between two consecutive masks: shape-context matching of their longest contours (lower is steadier).

    Cyclic alignment: the second contour is rolled to each of ``shifts`` evenly spaced starts and to the
    best matches of the first point; each alignment is matched by dynamic programming, the cheapest is
    kept, its pairs are made bijective, and T = 5 × their mean χ² cost. NaN when either mask is empty.
    """
    ca, cb = longest_contour(mask_a), longest_contour(mask_b)
    if ca is None or cb is None or len(ca) < 3 or len(cb) < 3:
        return float("nan")
    pa, pb = resample_contour(ca), resample_contour(cb)
    count = max(len(pa), len(pb))
    pa, pb = _resample_count(pa, count), _resample_count(pb, count)
    cost = chi2_cost(shape_context(pa), shape_context(pb))
    m = cost.shape[1]
    starts = set(np.linspace(0, m, shifts, endpoint=False).astype(int)) | set(np.argsort(cost[0])[:4].tolist())
    best = (np.inf, None, 0)
    for start in sorted(starts):
        mean, pairs = _dp_path(np.roll(cost, -start, axis=1))
        if mean < best[0]:
            best = (mean, pairs, start)
    _, pairs, start = best
    if pairs is None:
        return float("nan")
    pairs = pairs.copy()
    pairs[:, 1] = (pairs[:, 1] + start) % m
    pairs = _bijective(pairs, cost)
    return T_SCALE * float(cost[pairs[:, 0], pairs[:, 1]].mean())


def decay(values: Sequence[float], bins: int = 4) -> float:
    """Mean of the first quarter of the frames minus the mean of the last quarter (DAVIS decay)."""
    values = np.asarray(values, float)
    if len(values) == 0:
        return float("nan")
    parts = np.array_split(values, bins)
    parts = [p for p in parts if len(p)]
    return float(np.nanmean(parts[0]) - np.nanmean(parts[-1]))


def statistics(values: Sequence[float]) -> dict[str, float]:
    """Mean, recall (fraction > 0.5) and decay of per-frame scores."""
    values = np.asarray(values, float)
    return {"mean": float(np.nanmean(values)), "recall": float(np.mean(values > 0.5)), "decay": decay(values)}


def score_sequence(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], temporal: bool = True) -> dict[str, float]:
    """Score one sequence as DAVIS-2016 does: J and F on frames 1 … N−2, T on consecutive predictions
    (``temporal=False`` skips T, by far the slowest measure, and reports it as NaN). Also the mean boundary
    precision and recall F is made of (``boundary_precision_recall``): which of the two F loses."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predicted masks for {len(gts)} ground-truth frames")
    frames = range(1, len(gts) - 1)
    j = [jaccard(preds[i], gts[i]) for i in frames]
    boundary = [boundary_precision_recall(preds[i], gts[i]) for i in frames]
    f = [_harmonic(*pair) for pair in boundary]
    t = [temporal_instability(preds[i], preds[i + 1]) for i in range(len(preds) - 1)] if temporal else []
    result = {}
    for name, values in (("J", j), ("F", f)):
        for stat, value in statistics(values).items():
            result[f"{name}_{stat}"] = value
    precision, recall = np.mean(boundary, axis=0) if boundary else (float("nan"), float("nan"))
    result["boundary_precision"], result["boundary_recall"] = float(precision), float(recall)
    finite = [v for v in t if np.isfinite(v)]
    result["T_mean"] = float(np.mean(finite)) if finite else float("nan")
    return result
