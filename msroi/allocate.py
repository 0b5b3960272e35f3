"""Saliency-driven bit allocation inside one baseline JPEG.

The winning method of the allocation research (``docs/research.md``):

1. One quantisation table pair for the whole file: libjpeg's scaled Annex K tables at a
   quality ``Qt = Qb + offset``, where ``Qb`` is the highest standard (libjpeg-turbo,
   4:2:0, optimised Huffman) quality whose JPEG fits the byte budget and the offset is
   :func:`auto_offset` (10 at Qb <= 50, down to 2 at Qb = 90). The table sets the finest precision any block
   can have; salient blocks keep (nearly) all of it.
2. Per 8x8 block, each AC coefficient takes the level that minimises
   ``w_b * c_k * (x - l q)^2 + lambda * R(l)``: ``w_b`` is the block's weight from the
   saliency map (``ratio ** m``, m = percentile rank of the block's mean map value;
   1 for the least salient block, ``ratio`` = 4 for the most),
   ``c_k`` PSNR-HVS's contrast-sensitivity weight for luma coefficient k (``perceptual``),
   ``R`` an estimate of the Huffman + magnitude bits. Candidate levels are 0, the rounded
   level, one below it, and the top of each smaller magnitude category (1, 3, 7, 15, 31),
   the cheapest values of those categories. DC keeps plain rounding.
3. One Lagrange multiplier ``lambda`` for the whole image is searched so the file
   (Huffman tables optimised) lands at, and never above, ``budget_bytes``.

The output is one baseline (SOF0) 4:2:0 JPEG with standard-shaped tables; any decoder
reads it and nothing else is stored. Same inputs and options give the same bytes.
"""

from __future__ import annotations

import time

import numpy as np

from . import dct
from .errors import MsroiError

# Approximate cost in bits of a non-zero AC level of magnitude category s (1..10):
# s magnitude bits + a Huffman code for (run, s) + a share of the run/EOB overhead.
_RATE_BY_SIZE = np.array([0.0, 4.0, 5.0, 6.5, 8.0, 10.0, 12.5, 14.5, 17.0, 25.0, 26.0])

# PSNR-HVS(-M)'s contrast sensitivity weights (natural order, Ponomarenko et al.);
# squared and normalised to mean 1 they weight luma distortion per coefficient.
_CSF = np.array([
    1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887,
    2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911,
    1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555,
    1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082,
    1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222,
    1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729,
    0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803,
    0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950]).reshape(8, 8)
CSF_WEIGHT = _CSF ** 2 / np.mean(_CSF ** 2)

# PSNR-HVS-M's contrast masking coefficients (natural order).
_MASK = np.array([
    0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874,
    0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058,
    0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888,
    0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015,
    0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866,
    0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815,
    0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803,
    0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203]).reshape(8, 8)


def masking_thresholds(y_blocks: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """Per-coefficient contrast-masking thresholds of each luma block (same units as the
    coefficients), after PSNR-HVS-M: a coefficient error below its threshold is invisible.

    ``y_blocks`` (bh, bw, 8, 8) pixel blocks, ``coefs`` their DCT.
    """
    ac = coefs.reshape(*coefs.shape[:2], 64)[..., 1:]
    energy = np.sum(ac ** 2 * _MASK.reshape(64)[1:], axis=-1)

    def var(t):
        return np.var(t, axis=(-2, -1), ddof=1) * t.shape[-1] * t.shape[-2]

    v = var(y_blocks)
    quads = (var(y_blocks[..., :4, :4]) + var(y_blocks[..., :4, 4:]) + var(y_blocks[..., 4:, :4])
             + var(y_blocks[..., 4:, 4:]))
    ratio = np.divide(quads, v, out=np.zeros_like(v), where=v > 0)
    m = np.sqrt(energy * ratio / 16.0 / 64.0)
    thr = m[..., None, None] / _MASK
    thr[..., 0, 0] = 0.0
    return thr

#: Defaults of :func:`encode_semantic` (the research winner).
DEFAULTS = dict(quality_offset=None, ratio=4.0, calibrate="rank", smooth=0.0,
                perceptual=True, candidates="full", masking=False)


def _size(x: np.ndarray) -> np.ndarray:
    """JPEG magnitude category of non-negative integer-valued floats (0 for 0), max 10."""
    out = np.zeros(x.shape, dtype=np.int64)
    nz = x >= 1
    out[nz] = np.floor(np.log2(x[nz])).astype(np.int64) + 1
    return np.minimum(out, 10)


def block_weights(smap: np.ndarray, block: int, shape: tuple[int, int], ratio: float,
                  calibrate: str = "absolute", smooth: float = 0.0) -> np.ndarray:
    """Per-block allocation weights ``ratio ** m`` from a map in [0, 1].

    The map (H, W) is padded to ``shape`` (pixels, multiples of ``block``) by edge
    replication and averaged over ``block`` x ``block`` cells; ``smooth`` > 0 blurs the
    block values (Gaussian, in blocks). ``calibrate``: "absolute" uses map values as given,
    "minmax" stretches them to [0, 1], "rank" replaces them by their percentile.
    """
    m = dct.pad_to(np.asarray(smap, dtype=np.float64), *shape)
    h, w = shape
    b = m.reshape(h // block, block, w // block, block).mean(axis=(1, 3))
    if smooth > 0:
        from scipy.ndimage import gaussian_filter
        b = gaussian_filter(b, smooth, mode="nearest")
    if calibrate == "rank":
        from scipy.stats import rankdata
        r = (rankdata(b.ravel(), method="average") - 1) / max(b.size - 1, 1)
        b = r.reshape(b.shape)
    elif calibrate == "minmax":
        lo, hi = b.min(), b.max()
        b = (b - lo) / (hi - lo) if hi > lo else np.zeros_like(b)
    elif calibrate != "absolute":
        raise MsroiError(f"calibrate must be absolute, minmax or rank, not {calibrate!r}")
    return float(ratio) ** np.clip(b, 0.0, 1.0)


class _Component:
    """RD candidates of one component's AC coefficients, precomputed once per table.

    Only coefficients whose rounded level is non-zero have a choice; the others stay 0.
    """

    def __init__(self, coefs, table, weights, coef_weight, candidates, thresholds=None):
        q = table.astype(np.float64)
        self.shape = coefs.shape
        a = np.abs(coefs) / q
        lr = np.floor(a + 0.5)
        self.dc = np.sign(coefs[..., 0, 0]) * lr[..., 0, 0]
        ac = np.ones((8, 8), bool)
        ac[0, 0] = False
        self.idx = np.nonzero((lr >= 1) & ac)
        av, lv = a[self.idx], lr[self.idx]
        self.sign = np.where(coefs[self.idx] < 0, -1.0, 1.0)
        scale = (weights[..., None, None] * (q * q * coef_weight))[self.idx]
        if candidates == "zero":
            cands = [np.zeros_like(lv), lv]
        elif candidates == "full":
            cands = [np.zeros_like(lv), lv, lv - 1]
            cands += [np.minimum(lv, top) for top in (1, 3, 7, 15, 31)]
        else:
            raise MsroiError(f"candidates must be full or zero, not {candidates!r}")
        self.cands = [c.astype(np.float32) for c in cands]
        if thresholds is None:
            self.dist = [((av - c) ** 2 * scale).astype(np.float32) for c in cands]
        else:
            thr = (thresholds / q)[self.idx]
            self.dist = [(np.maximum(np.abs(av - c) - thr, 0.0) ** 2 * scale).astype(np.float32)
                         for c in cands]
        self.rate = [_RATE_BY_SIZE[_size(c)].astype(np.float32) for c in cands]

    def choose(self, lam: float):
        """Levels (magnitudes) minimising distortion + lam * rate, and their model bits."""
        lam = np.float32(lam)
        best = self.dist[0] + lam * self.rate[0]
        lev = self.cands[0].copy()
        bits = self.rate[0].copy()
        for d, r, c in zip(self.dist[1:], self.rate[1:], self.cands[1:]):
            cost = d + lam * r
            better = cost < best
            np.copyto(best, cost, where=better)
            np.copyto(lev, c, where=better)
            np.copyto(bits, r, where=better)
        return lev, float(bits.sum(dtype=np.float64))

    def levels(self, chosen) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.int64)
        out[self.idx] = (self.sign * chosen).astype(np.int64)
        out[..., 0, 0] = self.dc
        return out


def _pillow_bytes(rgb: np.ndarray, quality: int) -> int:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality), subsampling=2, optimize=True)
    return buf.tell()


def _fit_quality(rgb, budget):
    """Highest standard (libjpeg-turbo, 4:2:0, optimised Huffman) quality whose file fits
    ``budget`` (0 if none), and its size."""
    lo, hi, best = 1, 100, (0, None)
    while lo <= hi:
        mid = (lo + hi) // 2
        n = _pillow_bytes(rgb, mid)
        if n <= budget:
            best, lo = (mid, n), mid + 1
        else:
            hi = mid - 1
    return best


def auto_offset(base_quality: int) -> int:
    """Default table-quality offset: 10 for Qb <= 50, then 10 * (100 - Qb) / 50, at least 2.

    Coefficient-level RD choices cannot emulate a much coarser step when the table is very
    fine (Qt near 100), so the headroom shrinks as the base quality rises.
    """
    return int(min(10, max(2, round(10 * (100 - int(base_quality)) / 50))))


def encode_semantic(rgb: np.ndarray, saliency: np.ndarray, budget_bytes: int, *,
                    quality_offset: int | None = DEFAULTS["quality_offset"],
                    ratio: float = DEFAULTS["ratio"],
                    calibrate: str = DEFAULTS["calibrate"],
                    smooth: float = DEFAULTS["smooth"],
                    perceptual: bool = DEFAULTS["perceptual"],
                    candidates: str = DEFAULTS["candidates"],
                    masking: bool = False,
                    table_quality: int | None = None):
    """Encode ``rgb`` as one baseline JPEG of at most ``budget_bytes``, spending the bytes
    where ``saliency`` is high.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
    saliency : (H, W) float in [0, 1] (values outside are clipped; NaN refused).
    budget_bytes : int, the size the file must not exceed.
    quality_offset : table quality above ``Qb``, the highest plain-JPEG quality that fits.
        None (default) = :func:`auto_offset`: 10 at Qb <= 50 falling to 2 at Qb = 90.
    ratio : weight of the most salient block relative to the least (4). 1 = no semantics
        (a pure rate-distortion optimised encode).
    calibrate : "rank" (default; percentiles of the block means, ties averaged),
        "absolute" (map values as given) or "minmax" - how map values become weights.
    smooth : Gaussian blur of the block weights, in blocks (0).
    perceptual : weight luma distortion by PSNR-HVS's contrast sensitivity (True).
    candidates : "full" (trade levels down to cheaper magnitude categories) or "zero"
        (only keep-or-zero: thresholding).
    table_quality : force the table quality (overrides ``quality_offset``).

    Returns
    -------
    (jpeg_bytes, info): ``info`` holds ``fits`` (False if even the coarsest setting is
    above the budget; the smallest file found is returned then), ``bytes``,
    ``table_quality``, ``base_quality`` (highest plain quality that fits), ``lam``,
    ``encodes`` and ``seconds``.
    """
    t0 = time.perf_counter()
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise MsroiError(f"image must be an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    smap = np.asarray(saliency, dtype=np.float64)
    if smap.shape != (height, width):
        raise MsroiError(f"saliency map is {smap.shape}, image is {(height, width)}")
    if not np.all(np.isfinite(smap)):
        raise MsroiError("saliency map has NaN or infinite values")
    smap = np.clip(smap, 0.0, 1.0)
    budget = int(budget_bytes)
    if budget <= 0:
        raise MsroiError(f"budget must be a positive number of bytes, got {budget_bytes}")
    if ratio < 1:
        raise MsroiError(f"ratio must be >= 1, got {ratio}")

    coefs = dct.image_coefficients(rgb)
    encodes = 0
    base_q, base_n = _fit_quality(rgb, budget)
    if table_quality is None:
        off = auto_offset(base_q) if quality_offset is None else int(quality_offset)
        qt = min(100, max(base_q, 1) + off)
    else:
        qt = int(min(max(table_quality, 1), 100))
    tables = dct.quality_tables(qt)

    shape = (coefs[0].shape[0] * 8, coefs[0].shape[1] * 8)
    wy = block_weights(smap, 8, shape, ratio, calibrate, smooth)
    wc = block_weights(smap, 16, shape, ratio, calibrate, smooth)
    cw_y = CSF_WEIGHT if perceptual else np.ones((8, 8))
    thr = None
    if masking:
        ypix = dct.to_blocks(dct.pad_to(dct.rgb_to_ycbcr(rgb)[0], *shape))
        thr = masking_thresholds(ypix, coefs[0])
    comps = [_Component(coefs[0], tables[0], wy, cw_y, candidates, thr),
             _Component(coefs[1], tables[1], wc, np.ones((8, 8)), candidates),
             _Component(coefs[2], tables[1], wc, np.ones((8, 8)), candidates)]

    def encode(lam):
        chosen = [c.choose(lam) for c in comps]
        data = dct.write_jpeg(tuple(c.levels(ch[0]) for c, ch in zip(comps, chosen)),
                              tables, height, width)
        return data, sum(ch[1] for ch in chosen)

    def model_bits(lam):
        return sum(c.choose(lam)[1] for c in comps)

    data0, bits0 = encode(0.0)
    encodes += 1
    best, best_lam = (data0, 0.0) if len(data0) <= budget else (None, None)
    smallest = data0
    if best is None:
        # Fixed costs (headers, Huffman tables, DC, EOBs) = bytes at "all AC zero".
        lam_max = 1e12
        data_min, _ = encode(lam_max)
        encodes += 1
        smallest = data_min
        if len(data_min) > budget:
            best, best_lam = None, lam_max
        else:
            best, best_lam = data_min, lam_max
            fixed = len(data_min)
            # bytes ~ fixed + k * model_bits / 8; refine k from each real encode.
            k = max((len(data0) - fixed) / max(bits0 / 8, 1.0), 1e-3)
            lo, hi = 0.0, lam_max  # lo too big (over budget), hi fits
            for _ in range(8):
                target_bits = max((budget - fixed) / k * 8, 0.0)
                a, b = (lo if lo > 0 else 1e-4), hi
                for _ in range(40):  # bisection on the model (cheap)
                    mid = np.sqrt(a * b)
                    if model_bits(mid) > target_bits:
                        a = mid
                    else:
                        b = mid
                    if b / a < 1.002:
                        break
                lam = b
                if lam <= lo or lam >= hi:
                    lam = np.sqrt(max(lo, 1e-4) * hi)
                data, bits = encode(lam)
                encodes += 1
                n = len(data)
                if n <= budget:
                    if lam < hi:
                        hi, best, best_lam = lam, data, lam
                    if n >= budget * 0.997:
                        break
                else:
                    lo = lam
                if bits > 0:
                    k = max((n - fixed) / (bits / 8), 1e-3)
                if hi / max(lo, 1e-12) < 1.001:
                    break
    fits = best is not None
    out = best if fits else smallest
    info = dict(fits=fits, bytes=len(out), budget=budget, table_quality=qt, base_quality=base_q,
                base_bytes=base_n, lam=None if best_lam is None else float(best_lam), encodes=encodes, ratio=float(ratio),
                perceptual=bool(perceptual), candidates=candidates, calibrate=calibrate,
                seconds=time.perf_counter() - t0)
    return out, info
