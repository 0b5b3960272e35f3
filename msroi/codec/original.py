"""The original MSROI compression of Prakash et al. (DCC 2017), vectorised.

1. Encode the image with standard JPEG at Q = 10, 20, ..., 100 and decode each (the ladder).
2. Per pixel, a level from the map picks which decode the pixel is copied from (the mosaic);
   levels are ladder indices 1..9, i.e. Q20..Q100.
3. Re-encode the mosaic as one standard JPEG at the highest Q whose file fits the budget
   ``size(standard JPEG at base Q) * (1 + threshold_pct / 100)``.
"""

from __future__ import annotations

import numpy as np

from msroi.codec import jpeg
from msroi.codec.jpeg import EncoderOptions
from msroi.codec.rate import budget_bytes, fit_budget
from msroi.codec.record import Record, attach_metadata, make_record

LADDER_QUALITIES = tuple(range(10, 101, 10))  # index i -> Q = 10 * (i + 1)
SELECTION_MODELS = (1, 2, 3, 4, 5, 6)


def quality_ladder(rgb: np.ndarray, options: EncoderOptions = EncoderOptions(), levels=None) -> dict[int, np.ndarray]:
    """Decodes of ``rgb`` encoded at the ladder's qualities.

    Returns ``{level: (H, W, 3) uint8 decode}`` with level i holding Q = 10 * (i + 1), for
    ``levels`` (default: all ten, Q10..Q100).
    """
    levels = range(len(LADDER_QUALITIES)) if levels is None else sorted({int(lv) for lv in levels})
    return {lv: jpeg.decode(jpeg.encode(rgb, LADDER_QUALITIES[lv], options)) for lv in levels}


def _level_from_quality(q: np.ndarray) -> np.ndarray:
    return np.asarray(q, dtype=np.int64) // 10 - 1


def selection_levels(saliency: np.ndarray, model: int = 3) -> np.ndarray:
    """Ladder index (1..9, i.e. Q20..Q100) per pixel for selection model 1..6 of the original method.

    Takes a 2-D float map (any range; only its order and, for models 1-2, its mean/max
    matter); returns an int array of the same shape.

    1. value > mean -> Q100, else Q70.
    2. level ``floor(10 * value / max) + 2``, clipped: Q30 at 0 .. Q100 from 0.8 * max up;
       a map whose max is <= 0 (for example constant zero) gives Q30 everywhere instead
       of dividing by zero.
    3. deciles: a pixel in the k-th decile (k = 1..10) gets level k, i.e. Q = 10 * (k + 1),
       clipped to Q100: the lowest tenth Q20, the next Q30, ..., the top two tenths Q100.
       The original found the first of the ten percentiles 10..100 that the value is
       below; a pixel equal to the map maximum is below none, and silently kept the level
       of the previous pixel in its loop. Here the maximum is in the top decile: Q100.
       A constant map is at or above every decile: Q100 everywhere.
    4. < 20th percentile Q50, < 60th Q70, < 90th Q90, else Q100.
    5. < median Q30, else Q90.
    6. < median Q80, else Q100.
    """
    m = np.asarray(saliency, dtype=np.float64)
    if model == 1:
        q = np.where(m > m.mean(), 100, 70)
    elif model == 2:
        mx = m.max()
        ratio = m / mx if mx > 0 else np.zeros_like(m)
        return np.clip(np.floor(10 * ratio).astype(np.int64) + 2, 1, 9)
    elif model == 3:
        edges = np.percentile(m, np.arange(10, 100, 10))
        k = np.searchsorted(edges, m, side="right")
        return np.clip(k + 1, 1, 9)
    elif model == 4:
        p20, p60, p90 = np.percentile(m, [20, 60, 90])
        q = np.select([m < p20, m < p60, m < p90], [50, 70, 90], 100)
    elif model == 5:
        q = np.where(m < np.median(m), 30, 90)
    elif model == 6:
        q = np.where(m < np.median(m), 80, 100)
    else:
        raise ValueError(f"selection model must be one of {SELECTION_MODELS}, got {model!r}")
    return np.clip(_level_from_quality(q), 1, 9)


def mosaic(ladder, levels: np.ndarray) -> np.ndarray:
    """Pick each pixel from ``ladder[levels[y, x]][y, x]``; returns ``(H, W, 3)`` uint8.

    ``ladder`` maps level -> decode (a dict from :func:`quality_ladder`, or an array).
    """
    present = np.unique(levels)
    out = np.array(ladder[int(present[-1])], copy=True)
    for lv in present[:-1]:
        np.copyto(out, ladder[int(lv)], where=(levels == lv)[..., None])
    return out


def compress_original(
    rgb: np.ndarray,
    saliency: np.ndarray,
    selection: int = 3,
    base_quality: int = 50,
    threshold_pct: float = 1.0,
    options: EncoderOptions = EncoderOptions(),
    ladder: np.ndarray | None = None,
    metadata=None,
) -> tuple[bytes, bytes, Record]:
    """Compress ``rgb`` guided by ``saliency`` (a 2-D map, resized to the image if needed).

    Returns ``(output_jpeg, baseline_jpeg, record)``: the output is one standard JPEG; the
    baseline is standard JPEG at ``base_quality``; the :class:`Record` holds bytes, final Q,
    base bytes, budget, whether the budget was met, and the settings. A precomputed
    ``ladder`` may be passed to share it between settings; ``metadata``
    (:class:`msroi.files.ImageMetadata`) is carried into both files.
    """
    from msroi.files import resize_map

    if threshold_pct < 0:
        raise ValueError(f"threshold_pct must be >= 0, got {threshold_pct}")
    h, w = rgb.shape[:2]
    if saliency.shape != (h, w):
        saliency = resize_map(saliency, (h, w))
    levels = selection_levels(saliency, selection)
    if ladder is None:
        ladder = quality_ladder(rgb, options, np.unique(levels))
    mixed = mosaic(ladder, levels)
    baseline = jpeg.encode(rgb, base_quality, options)
    budget = budget_bytes(len(baseline), threshold_pct)
    final_q, data, fits = fit_budget(mixed, budget, options)
    record = make_record(data, method="original", selection=selection, base_quality=base_quality,
                         threshold_pct=threshold_pct, final_quality=final_q, base_bytes=len(baseline),
                         budget_bytes=budget, fits_budget=bool(fits), width=w, height=h, optimize=options.optimize)
    return attach_metadata(data, baseline, record, metadata)
