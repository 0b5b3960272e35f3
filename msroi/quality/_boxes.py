"""Box-ROI pooling shared by the quality metrics: crop both images alike, area-weighted mean."""

from __future__ import annotations

import math

import numpy as np


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
