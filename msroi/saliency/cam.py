"""Class activation maps and the MSROI combination of Prakash et al. (DCC 2017), in NumPy (no TensorFlow).

References: Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016
(CAM = last conv features dotted with the GAP classifier's weights for a class);
Prakash et al., DCC 2017, §3 (MSROI: the top-k classes' CAMs combined by rank).
"""

from __future__ import annotations

import numpy as np


def minmax(m: np.ndarray) -> np.ndarray:
    """Scale ``m`` to [0, 1]; a constant array gives all zeros (no division by zero)."""
    m = np.asarray(m, dtype=np.float64)
    lo, hi = float(m.min()), float(m.max())
    if not hi > lo:
        return np.zeros_like(m)
    return (m - lo) / (hi - lo)


def class_activation_maps(features: np.ndarray, weights: np.ndarray, classes) -> np.ndarray:
    """CAMs for the given classes.

    Takes conv features ``(h, w, C)``, the GAP classifier's kernel ``(C, n_classes)`` and a
    sequence of class indices; returns ``(len(classes), h, w)`` float64, not normalised.
    """
    features = np.asarray(features, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)[:, list(classes)]
    return np.moveaxis(features @ w, -1, 0)


def top_k_classes(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest logits, best first (ties broken by lower index)."""
    logits = np.asarray(logits).ravel()
    return np.argsort(-logits, kind="stable")[:k]


def combine_ranked(cams: np.ndarray, last_weight: float = 1.2) -> np.ndarray:
    """The original's "simple exponential ranking" of best-first CAMs.

    Each CAM is min-max normalised; starting from the lowest-ranked one,
    ``roi = last_weight * m_k``, then ``roi = (roi + m_i) / 2`` for i = k-1 .. 1, so the
    best class weighs 1/2, the next 1/4, and so on. Returns the result min-max normalised
    to [0, 1]. ``cams`` is ``(k, h, w)``, best first.
    """
    cams = np.asarray(cams, dtype=np.float64)
    roi = last_weight * minmax(cams[-1])
    for m in cams[-2::-1]:
        roi = (roi + minmax(m)) / 2.0
    return minmax(roi)


def combine_weighted(cams: np.ndarray, weights) -> np.ndarray:
    """Probability-weighted sum of rectified CAMs: ``sum_i w_i * max(cam_i, 0)``, not normalised.

    The ReLU keeps only evidence *for* a class (as Grad-CAM does; for a GAP classifier
    Grad-CAM's channel weights are the CAM's up to a constant, so this is Grad-CAM of the
    weighted classes); weighting by softmax scores lets a confident top class dominate and
    several plausible classes share. When no CAM is positive anywhere, the plain weighted
    sum is returned instead (so the map still ranks pixels). ``cams`` is ``(k, h, w)``.
    """
    cams = np.asarray(cams, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    out = np.tensordot(w, np.maximum(cams, 0.0), axes=1)
    if not out.max() > 0.0:
        out = np.tensordot(w, cams, axes=1)
    return out
