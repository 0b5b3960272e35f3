"""How well a saliency map finds the objects in hand-drawn boxes: lift, AUC and pointing game.

Each function takes a map (any non-negative (H, W) array) and a boolean mask of the boxes at
the map's size. Lift and the pointing game are the measures of weakly supervised localisation
(the pointing game: Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV
2016); AUC is the saliency benchmarks' area under the ROC curve of the map as a classifier of
box pixels (Judd et al., ICCV 2009), here with the boxes as the positives.
"""

from __future__ import annotations

import numpy as np


def lift(m, mask) -> float:
    """(share of the map's mass inside ``mask``) / (share of the area ``mask`` covers).

    1 is a uniform map, higher is better; a map that is zero outside the mask scores
    1 / (mask's area share).
    """
    m = np.clip(np.asarray(m, dtype=np.float64), 0.0, None)
    return float(m[mask].sum() / m.sum() / mask.mean())


def auc(m, mask) -> float:
    """Probability that a random pixel inside ``mask`` ranks above a random one outside (ties half).

    Rank-based, so unchanged by any increasing transform of the map (e.g. a power): what an
    encoder that ranks the map's values sees, unlike lift.
    """
    from scipy.stats import rankdata

    r = rankdata(np.asarray(m, dtype=np.float64).ravel())
    inside = np.asarray(mask, dtype=bool).ravel()
    n1, n0 = int(inside.sum()), int(inside.size - inside.sum())
    return float((r[inside].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def pointing(m, mask) -> bool:
    """Is the map's (first) maximum inside ``mask``?"""
    m = np.asarray(m)
    return bool(mask[np.unravel_index(int(np.argmax(m)), m.shape)])


def score_map(m, mask) -> dict:
    """``{"roi_fraction", "lift", "auc", "pointing"}`` of one map against one mask."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != np.shape(m):
        raise ValueError(f"map {np.shape(m)} and mask {mask.shape} differ in size")
    if not 0 < mask.sum() < mask.size:
        raise ValueError("the mask must cover part of the map, not none or all of it")
    return {"roi_fraction": float(mask.mean()), "lift": lift(m, mask), "auc": auc(m, mask),
            "pointing": pointing(m, mask)}
