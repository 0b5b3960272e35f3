"""What SSIMULACRA2 and Butteraugli share: the input check and box-ROI pooling (crop both images
alike, area-weighted mean)."""

from __future__ import annotations

import math

import numpy as np


def check_rgb_pair(reference, distorted, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Both images as arrays; ValueError naming ``metric`` unless both are (H, W, 3) uint8 of one shape."""
    ref = np.asarray(reference)
    dist = np.asarray(distorted)
    for name, img in (("reference", ref), ("distorted", dist)):
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{metric}: {name} must be an H x W x 3 RGB array, got shape {img.shape}")
        if img.dtype != np.uint8:
            raise ValueError(f"{metric}: {name} must be uint8 sRGB, got dtype {img.dtype}")
    if ref.shape != dist.shape:
        raise ValueError(f"{metric}: image shapes differ: reference {ref.shape}, distorted {dist.shape}")
    return ref, dist


def clip_box(box, shape) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` rounded to whole pixels and clipped to an image of ``shape``."""
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    h, w = shape[:2]
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def roi_mean(reference: np.ndarray, distorted: np.ndarray, boxes, metric, min_side: int,
             n_values: int = 1) -> np.ndarray:
    """Area-weighted mean of ``metric(ref_crop, dist_crop)`` over ``boxes``.

    ``metric`` returns ``n_values`` numbers. Returns an array of ``n_values``; all NaN when
    a box is narrower or shorter than ``min_side`` pixels (after clipping) or when
    ``boxes`` is empty. NaN from ``metric`` propagates.
    """
    values, areas = [], []
    for box in boxes:
        x0, y0, x1, y1 = clip_box(box, reference.shape)
        w, h = x1 - x0, y1 - y0
        if w < min_side or h < min_side:
            return np.full(n_values, math.nan)
        values.append(np.atleast_1d(metric(reference[y0:y1, x0:x1], distorted[y0:y1, x0:x1])))
        areas.append(w * h)
    if not values:
        return np.full(n_values, math.nan)
    areas = np.asarray(areas, dtype=np.float64)
    return (areas @ np.asarray(values, dtype=np.float64)) / areas.sum()
