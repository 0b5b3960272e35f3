"""Saliency-driven bit allocation inside one standard JPEG.

The project's semantic method (``docs/research.md``):

1. One quantisation table pair for the whole file: a table family's base tables
   (default N. Robidoux's, mozjpeg's default; or the standard's Annex K) scaled by
   libjpeg's quality scaling to a quality ``Qt = Qb + offset`` and clamped to 8 bits.
   ``Qb`` is the highest standard (libjpeg-turbo, 4:2:0, optimised Huffman) quality whose
   JPEG fits the byte budget; the offset is the one of :data:`TABLE_OFFSETS` (and
   :data:`EXTRA_OFFSETS`) whose trellis predicts the least weighted distortion at the
   budget. The table sets the finest precision any block can have.
2. Per 8x8 block, the AC levels minimise ``sum_k w_b c_k (x_k - l_k q_k)^2 + lambda R``
   (:mod:`msroi.codec.trellis`): ``w_b`` is the block's weight from the saliency map
   (``ratio ** m``, m = percentile rank of the block's smoothed mean map value; 1 for the
   least salient block, ``ratio`` for the most), ``c_k`` the frequency weight (default
   "hybrid": PSNR-HVS's contrast sensitivity to the power 0.7 times one over the squared
   step of the family's base table (mozjpeg's weighting) to the power 0.3; the CSF alone
   rewarded blur that SSIMULACRA2 and Butteraugli punish, the table weighting alone costs
   PSNR-HVS-M and SSIM), ``R`` the block's Huffman bits. DC levels are chosen by a
   Viterbi pass over the DC differences at the same lambda (``dc_trellis``).
3. One Lagrange multiplier ``lambda`` for the whole image is searched so the file
   (Huffman tables optimised) lands at, and never above, ``budget_bytes``.

The output is one 4:2:0 JPEG with 8-bit tables: baseline (SOF0) by default, progressive
(SOF2, scans chosen for size, :mod:`msroi.codec.progressive`) on request; any decoder
reads it and nothing else is stored. Same inputs and options give the same bytes.
"""

from __future__ import annotations

import time

import numpy as np

from msroi import settings
from msroi.codec import dct, jpeg, rate
from msroi.codec.rate import fit_budget
from msroi.codec.jpeg import EncoderOptions
from msroi.codec.record import attach_metadata, make_record
from msroi.errors import MsroiError

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


#: Chroma distortion relative to luma at the same frequency, as the standard tables imply
#: it (an error of one table step is equally visible in either component).
CHROMA_RELATIVE = (dct.STD_LUMA / dct.STD_CHROMA) ** 2

#: Table qualities tried above ``Qb`` when no offset is forced.
TABLE_OFFSETS = (0, 2, 4, 7, 10, 14, 20)
#: Further offsets tried for families coarser than Annex K at the same quality number.
EXTRA_OFFSETS = {"robidoux": (27, 35)}
#: Highest table quality tried for these families unless the base quality is higher
#: (finer tables were never chosen on the development set and their trellis is the
#: slowest: about 0.9 s of a 2.2 s encode at a q90 budget). At a q95 budget Robidoux's q95
#: tables at plain rounding leave 6-21 % of it unused; filling it with finer tables
#: (up to the base + 4) scored no better (SSIMULACRA2 -0.04 on average over 5 photos at
#: q92/95/97, -2.2 to +1.5 each) at 2-5x the time.
MAX_TABLE_QUALITY = {"robidoux": 95}

#: Activity masking scale of mozjpeg's trellis (``lambda_log_scale2`` = 16.5 on its DCT,
#: which is 8 times the orthonormal one): a block whose mean squared AC coefficient is E
#: has its distortion weighted by ``E0 / (E0 + E)``.
MOZJPEG_MASKING = 2.0 ** 16.5 / 64.0

#: Defaults of :func:`encode_semantic` (chosen in docs/research.md).
DEFAULTS = dict(ratio=settings.RATIO, smooth=settings.SMOOTH, calibrate="rank", perceptual=True, tables="robidoux",
                progressive=False, dc_trellis=True, csf_share=0.7)

#: The writer options the semantic method can honour (4:2:0 files with optimised Huffman
#: tables, sequential or progressive); anything else is refused by :func:`check_options`.
SUPPORTED_OPTIONS = {"subsampling": ("4:2:0",), "progressive": (False, True), "optimize": (True,)}


def check_options(options: EncoderOptions) -> None:
    """Raise :class:`MsroiError` when ``options`` ask for a file the semantic method cannot
    write (progressive output also needs libjpeg-turbo's ``jpegtran``)."""
    from msroi.codec.progressive import jpegtran_path

    for name, allowed in SUPPORTED_OPTIONS.items():
        value = getattr(options, name)
        if value not in allowed:
            can = ", ".join(f"{k} {'/'.join(map(str, v))}" for k, v in SUPPORTED_OPTIONS.items())
            raise MsroiError(f"the semantic method cannot write {name} {value} (it writes {can}); "
                             f"change the option or use another method")
    if options.progressive and jpegtran_path() is None:
        raise MsroiError("progressive output of the semantic method needs jpegtran "
                         "(Debian: apt-get install libjpeg-turbo-progs)")


def compress_semantic(rgb: np.ndarray, saliency: np.ndarray, base_quality: int = settings.BASE_QUALITY,
                      threshold_pct: float = 0.0, ratio: float = settings.RATIO, smooth: float = settings.SMOOTH,
                      options: EncoderOptions = EncoderOptions(optimize=True), metadata=None):
    """The semantic method's driver: the budget from standard JPEG (``options``) at
    ``base_quality`` plus ``threshold_pct``, then :func:`encode_semantic` at that budget.

    Takes the image, its map in [0, 1] at the image's size and the settings; ``metadata``
    is carried into both files. Returns ``(output_jpeg, baseline_jpeg, Record)``; raises
    :class:`MsroiError` for options the method cannot honour (:data:`SUPPORTED_OPTIONS`).
    """
    check_options(options)
    baseline = jpeg.encode(rgb, base_quality, options)
    budget = rate.budget_bytes(len(baseline), threshold_pct)
    same = options == EncoderOptions(optimize=True)  # then the baseline is the file encode_semantic would make
    data, info = encode_semantic(rgb, saliency, budget, ratio=ratio, smooth=smooth, progressive=options.progressive,
                                 base_quality_hint=base_quality, base_data=baseline if same else None)
    record = make_record(data, method="semantic", base_quality=base_quality, threshold_pct=threshold_pct,
                         final_quality=info["table_quality"], base_bytes=len(baseline), budget_bytes=budget,
                         fits_budget=bool(info["fits"]), width=rgb.shape[1], height=rgb.shape[0],
                         optimize=True, ratio=float(ratio), smooth=float(smooth))
    data, baseline, record = attach_metadata(data, baseline, record, metadata)
    return data, baseline, record


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
        b = _gaussian_nearest(b, smooth)
    if calibrate == "rank":
        r = (_rank_average(b.ravel()) - 1) / max(b.size - 1, 1)
        b = r.reshape(b.shape)
    elif calibrate == "minmax":
        lo, hi = b.min(), b.max()
        b = (b - lo) / (hi - lo) if hi > lo else np.zeros_like(b)
    elif calibrate != "absolute":
        raise MsroiError(f"calibrate must be absolute, minmax or rank, not {calibrate!r}")
    return float(ratio) ** np.clip(b, 0.0, 1.0)


def _gaussian_nearest(x: np.ndarray, sigma: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(x, sigma, mode="nearest")`` (truncate 4) in numpy,
    which spares the compressor scipy.ndimage's import (about 0.3 s)."""
    radius = int(4.0 * float(sigma) + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * t * t / float(sigma) ** 2)
    k /= k.sum()
    out = np.asarray(x, dtype=np.float64)
    for axis in (0, 1):
        n = out.shape[axis]
        idx = np.clip(np.arange(-radius, n + radius), 0, n - 1)
        p = np.take(out, idx, axis=axis)
        acc = np.zeros_like(out)
        for i, kw in enumerate(k):
            acc += kw * np.take(p, np.arange(i, i + n), axis=axis)
        out = acc
    return out


def _rank_average(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(x, method="average")`` in numpy (scipy.stats takes about
    0.6 s to import): ranks from 1, ties get the mean of their ranks."""
    x = np.asarray(x).ravel()
    sorter = np.argsort(x, kind="mergesort")
    inv = np.empty(sorter.size, dtype=np.intp)
    inv[sorter] = np.arange(sorter.size, dtype=np.intp)
    xs = x[sorter]
    obs = np.r_[True, xs[1:] != xs[:-1]]
    dense = obs.cumsum()[inv]
    count = np.r_[np.nonzero(obs)[0], len(obs)]
    return 0.5 * (count[dense] + count[dense - 1] + 1)


def frequency_weights(distortion: str, family: str, csf_share: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Per-frequency distortion weights (luma, chroma), (8, 8) each.

    "csf": PSNR-HVS's contrast sensitivity (chroma scaled by the Annex K luma/chroma step
    ratio squared); "mse": plain squared error (chroma as "csf"); "table": one over the
    squared step of the family's base table (mozjpeg's weighting: an error of one table
    step costs the same at every frequency), "auto" family measured with Robidoux's table;
    "hybrid": the geometric mean of "table" and "csf", ``csf_share`` the exponent of "csf".
    """
    if distortion == "csf":
        return CSF_WEIGHT, CSF_WEIGHT * CHROMA_RELATIVE
    if distortion == "mse":
        return np.ones((8, 8)), np.ones((8, 8)) * CHROMA_RELATIVE
    if distortion in ("table", "hybrid"):
        luma, chroma = dct.TABLE_FAMILIES["robidoux" if family == "auto" else family]
        wl, wc = 1.0 / luma.astype(np.float64) ** 2, 1.0 / chroma.astype(np.float64) ** 2
        norm = wl.mean()
        wl, wc = wl / norm, wc / norm
        if distortion == "hybrid":  # weighted geometric mean of "table" and "csf"
            a = float(csf_share)
            wl = wl ** (1 - a) * CSF_WEIGHT ** a
            wc = wc ** (1 - a) * (CSF_WEIGHT * CHROMA_RELATIVE) ** a
        return wl, wc
    raise MsroiError(f"distortion must be csf, mse, table or hybrid, not {distortion!r}")


def masking_weights(coefs: np.ndarray, e0: float) -> np.ndarray:
    """Per-block activity masking ``e0 / (e0 + E)``, E the block's mean squared AC
    coefficient (orthonormal DCT), as mozjpeg's trellis scales its lambda; ones if e0 <= 0."""
    bh, bw = coefs.shape[:2]
    if not e0 > 0:
        return np.ones((bh, bw))
    c = coefs.reshape(bh, bw, 64)
    e = (np.sum(c * c, axis=2) - c[..., 0] ** 2) / 63.0
    return e0 / (e0 + e)


def encode_semantic(rgb: np.ndarray, saliency: np.ndarray, budget_bytes: int, *,
                    ratio: float = DEFAULTS["ratio"],
                    smooth: float = DEFAULTS["smooth"],
                    calibrate: str = DEFAULTS["calibrate"],
                    perceptual: bool = DEFAULTS["perceptual"],
                    quality_offset: int | None = None,
                    tables: str = DEFAULTS["tables"],
                    distortion: str | None = None,
                    masking: float = 0.0,
                    progressive: bool | None = DEFAULTS["progressive"],
                    chroma_weight: float = 1.0,
                    dc_trellis: bool = DEFAULTS["dc_trellis"],
                    csf_share: float = DEFAULTS["csf_share"],
                    base_quality_hint: int | None = None,
                    base_data: bytes | None = None):
    """Encode ``rgb`` as one baseline JPEG of at most ``budget_bytes``, spending the bytes
    where ``saliency`` is high.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
    saliency : (H, W) float in [0, 1] (values outside are refused, as are NaN).
    budget_bytes : int, the size the file must not exceed.
    ratio : weight of the most salient block relative to the least (6). 1 = no semantics
        (a rate-distortion optimised encode of the whole image).
    smooth : Gaussian blur of the block means before ranking, sigma in pixels (64): CNN
        maps peak on an object's most telling parts, the blur spreads weight over it.
    calibrate : "rank" (default; percentiles of the block means, ties averaged),
        "absolute" (map values as given) or "minmax" - how map values become weights.
    perceptual : weight distortion perceptually (True; see ``distortion``); False = MSE.
    quality_offset : force the table quality to ``Qb + quality_offset`` instead of
        choosing it among :data:`TABLE_OFFSETS`.
    tables : quantisation table family, "robidoux" (mozjpeg's default; the default here),
        "annexk" (the standard's) or "auto" (both tried, the least predicted distortion wins); always
        scaled by libjpeg's quality scaling and clamped to 8 bits.
    distortion : per-frequency weighting of the trellis' distortion, "csf", "mse" or
        "table" or "hybrid" (:func:`frequency_weights`); None = "hybrid" if ``perceptual``
        else "mse". ("csf" was the earlier default; "table" is best on
        SSIMULACRA2 and Butteraugli but costs PSNR-HVS-M and SSIM, docs/research.md.)
    masking : activity masking scale E0 (:func:`masking_weights`; 0 = off,
        :data:`MOZJPEG_MASKING` = mozjpeg's).
    progressive : write the file progressive (:mod:`msroi.codec.progressive`: the same
        coefficients, scans chosen for size; needs jpegtran); the budget applies to the
        progressive file. False (default): baseline sequential. None: progressive when
        jpegtran is installed, else baseline (``info["progressive"]`` says which).
    chroma_weight : multiplier of chroma distortion relative to luma (1).
    dc_trellis : choose DC levels too (rounded value or one step either side, Viterbi
        over the DC differences at the same lambda; default) instead of rounding them.
    csf_share : with ``distortion="hybrid"``, the exponent of the CSF weights (0.7).
    base_quality_hint : the standard quality expected to fit the budget best (the base
        quality the budget came from); saves the bisection's encodes when right (the
        answer is verified either way, :func:`msroi.codec.rate.fit_budget`).
    base_data : the standard JPEG (4:2:0, optimised Huffman, baseline) at
        ``base_quality_hint`` when the caller has it already (saves encoding it again).

    Returns
    -------
    (jpeg_bytes, info): ``info`` holds ``fits`` (False if even the coarsest setting is
    above the budget; the smallest file found is returned then), ``bytes``,
    ``table_quality``, ``table_family``, ``base_quality`` (highest plain quality that fits), ``lam``,
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
    if smap.size and (smap.min() < -1e-9 or smap.max() > 1 + 1e-9):
        raise MsroiError(f"saliency map values must lie in [0, 1], found {smap.min():g}..{smap.max():g}")
    if smap.size and (smap.min() < 0.0 or smap.max() > 1.0):
        smap = np.clip(smap, 0.0, 1.0)  # bilinear resizing may step out by rounding
    budget = int(budget_bytes)
    if budget <= 0:
        raise MsroiError(f"budget must be a positive number of bytes, got {budget_bytes}")
    if not ratio >= 1:
        raise MsroiError(f"ratio must be >= 1, got {ratio}")
    if not smooth >= 0:
        raise MsroiError(f"smooth must be >= 0, got {smooth}")

    coefs = dct.image_coefficients(rgb)
    known = {int(base_quality_hint): base_data} if base_data is not None and base_quality_hint is not None else None
    base_q, base_data, base_fits = fit_budget(rgb, budget, EncoderOptions(optimize=True), guess=base_quality_hint,
                                              known=known)
    base_q, base_n = (base_q, len(base_data)) if base_fits else (0, None)
    start = max(base_q, 1)
    if tables not in ("auto", *dct.TABLE_FAMILIES):
        raise MsroiError(f"tables must be auto or one of {sorted(dct.TABLE_FAMILIES)}, not {tables!r}")
    if distortion is None:
        distortion = "hybrid" if perceptual else "mse"
    if progressive is None:
        from msroi.codec.progressive import jpegtran_path
        progressive = jpegtran_path() is not None
    cw = frequency_weights(distortion, tables, csf_share)
    cw = (cw[0], cw[1] * float(chroma_weight))
    families = tuple(dct.TABLE_FAMILIES) if tables == "auto" else (tables,)
    qts = {}
    for fam in families:
        offsets = (TABLE_OFFSETS + EXTRA_OFFSETS.get(fam, ()) if quality_offset is None
                   else (int(quality_offset),))
        cap = max(MAX_TABLE_QUALITY.get(fam, 100), start) if quality_offset is None else 100
        qts[fam] = list(dict.fromkeys(min(cap, 100, max(1, start + o)) for o in offsets))
    shape = (coefs[0].shape[0] * 8, coefs[0].shape[1] * 8)
    wy = block_weights(smap, 8, shape, ratio, calibrate, smooth / 8)
    wc = block_weights(smap, 16, shape, ratio, calibrate, smooth / 16)
    weights = tuple(w * masking_weights(c, float(masking)) for w, c in zip((wy, wc, wc), coefs))
    del smap, saliency, rgb  # the coefficients hold the image from here on (memory)
    out, info = _trellis_search(coefs, families, qts, weights, cw, budget, height, width,
                                bool(progressive), bool(dc_trellis))
    info.update(base_quality=base_q, base_bytes=base_n, ratio=float(ratio), smooth=float(smooth),
                calibrate=calibrate, perceptual=bool(perceptual), distortion=distortion,
                masking=float(masking), csf_share=float(csf_share), dc_trellis=bool(dc_trellis),
                seconds=time.perf_counter() - t0)
    return out, info


def _trellis_components(coefs, tables, weights, cw):
    from msroi.codec.trellis import Trellis, code_lengths

    cw_y, cw_c = cw
    comps = [Trellis(coefs[0], tables[0], weights[0], cw_y),
             Trellis(coefs[1], tables[1], weights[1], cw_c),
             Trellis(coefs[2], tables[1], weights[2], cw_c)]
    comps[1].lengths = comps[2].lengths = code_lengths(comps[1].counts0 + comps[2].counts0)
    return comps


def _model(comps, lam):
    runs = [c.run(lam) for c in comps]
    return runs, sum(r[1] for r in runs), sum(r[3] for r in runs) + sum(c.dc_dist for c in comps)


def _lam_for_bits(comps, target_bits, guess=None, tol=1.003, ftol=0.001, slope=-0.2, fit=True, estimate=None,
                  model=None):
    """A lambda whose trellis bits are at most ``target_bits`` and either within ``tol``
    (as a lambda ratio) of the smallest such lambda or within ``ftol`` (relative) of the
    target; 0 if lambda 0 already fits. ``fit=False`` also accepts bits up to ``ftol``
    over the target. ``estimate``: the bits at ``guess`` as estimated without a run (an
    earlier run's symbols under new code lengths); the search then starts with a step from
    it instead of a run at ``guess``. ``model(comps, lam)`` -> (runs, bits, distortion)
    counts the bits (default :func:`_model`: the trellis' own estimate). Returns
    ``(lambda, slope, distortion)``: the slope is the last estimate of d log(bits) /
    d log(lambda) (a start for the next search), the distortion the model's at the target
    bits, interpolated on log-log axes between the two runs nearest the target (the model's at the returned lambda after a single run),
    so that it does not depend on where in the tolerance the search stopped.

    Bits fall monotonically with lambda, close to a local power law: Newton steps on
    log-log axes from ``guess`` with the slope measured between the last two runs
    (``slope`` before that), aimed just below the target; once the root is bracketed,
    steps leaving the bracket are replaced by regula falsi, and by bisection when one
    side keeps moving.
    """
    lt = np.log(max(target_bits, 1.0))
    x_min, x_max = np.log(1e-3), np.log(1e9)
    model = model or _model

    dists, points = {}, []

    def f(x):
        _, bits, dists[x] = model(comps, float(np.exp(x)))
        points.append((np.log(max(bits, 1.0)) - lt, np.log(max(dists[x], 1e-300))))
        return points[-1][0]

    def done(x):
        near = sorted(set(points), key=lambda p: abs(p[0]))[:2]
        if len(near) < 2 or near[0][0] == near[1][0]:
            return float(np.exp(x)), s, dists[x]
        (f0, d0), (f1, d1) = near
        g = (d1 - d0) / (f1 - f0)  # d log(distortion) / d log(bits)
        if abs(f1 - f0) < 1e-4 or not -20.0 < g < 0.0:  # too close to tell, or noise
            return float(np.exp(x)), s, dists[x]
        return float(np.exp(x)), s, float(np.exp(d0 - f0 * g))

    aim, over = (-0.5 * ftol, 0.0) if fit else (0.0, ftol)
    s, prev, sides = float(slope), None, []

    def newton(x, fx):
        step = (aim - fx) / min(max(s, -1.5), -0.05)
        return x + min(max(step, -np.log(16.0)), np.log(16.0))

    x = min(max(np.log(guess) if guess else 0.0, x_min), x_max)
    if estimate is not None and guess:
        x = min(max(newton(x, np.log(max(estimate, 1.0)) - lt), x_min), x_max)
    fx = f(x)
    a = fa = b = fb = None  # a: over the target (f > 0), b: fits (f <= 0)
    for _ in range(100):
        if fx > 0:
            a, fa = x, fx
        else:
            b, fb = x, fx
        sides.append(fx > 0)
        if prev is not None and x != prev[0]:
            s_new = (fx - prev[1]) / (x - prev[0])
            if s_new < -1e-3:
                s = s_new
        if not fit and 0 < fx < over:
            return done(x)
        if -ftol < fx <= 0 or (a is not None and b is not None and b - a <= np.log(tol)):
            return done(b)
        if a is None and b <= x_min:  # fits at the smallest lambda tried
            _, bits, dist = model(comps, 0.0)
            return (0.0, s, dist) if bits <= target_bits else (float(np.exp(x_min)), s, dists[b])
        if b is None and a >= x_max:  # every AC coefficient is zero and still over
            return float(np.exp(x_max)), s, dists[a]
        xn = newton(x, fx)
        if a is not None and b is not None:
            lo, hi = a + 0.01 * (b - a), b - 0.01 * (b - a)
            if not lo <= xn <= hi:
                xn = a + (aim - fa) * (b - a) / (fb - fa)
            if len(sides) >= 3 and sides[-1] == sides[-2] == sides[-3]:
                xn = 0.5 * (a + b)
            xn = min(max(xn, lo), hi)
        prev = (x, fx)
        x = min(max(xn, x_min), x_max)
        fx = f(x)
    return (float(np.exp(b)), s, dists[b]) if b is not None else (float(np.exp(a)), s, dists[a])


def _real(comps, runs, tables, height, width):
    if height > 8 and width > 8:  # levels straight from the trellis' zigzag order
        from msroi.codec.writer import encode_zigzag

        levels = tuple(c.zigzag_levels(r[0]) for c, r in zip(comps, runs))
        return encode_zigzag(levels, comps[0].shape[1], tables, height, width)
    return dct.write_jpeg(tuple(c.levels(r[0]) for c, r in zip(comps, runs)), tables, height, width, in_range=True)


def _quality_scale(quality: int) -> float:
    """libjpeg's scaling of the base tables at ``quality`` (1 at 50; at 100, where libjpeg's
    is 0 and every step 1, that of 99)."""
    q = min(max(int(quality), 1), 99)
    return (5000 / q if q < 50 else 200 - 2 * q) / 100


#: First lambda of a plan without a prior: ``LAMBDA_SCALE * scale ** 2 * depth ** 1.4``
#: (:func:`_plan`; fitted on the coffee photo at 0.4 and 4 MP, about 1600-2000).
LAMBDA_SCALE = 1700.0


def _plan(coefs, family, qt, weights, cw, budget, height, width, prior=None, frac=1.0, stuffing=None):
    """Predicted weighted distortion of table quality ``qt`` of ``family`` at the budget,
    with what the final search needs: (distortion, (family, qt), tables, comps, lambda,
    calibration, stuffing). ``prior``: the calibration of a plan of another table quality,
    from which the lambda search starts (see below).

    The file is its header plus the entropy-coded data and its byte stuffing:
    ``stuffing`` = (header bytes, stuffed bytes per entropy-coded byte) as measured on the
    first plan's file at plain rounding (written when ``stuffing`` is None; later plans
    predict theirs from its exact bits). The trellis' AC bits target is the budget less the
    header and, scaled from this file at plain rounding, everything else (DC codes, the
    Huffman codes' excess over the trellis' estimate, stuffing).

    ``coefs`` and ``weights`` may be a sample of the image's MCUs holding ``frac`` of its
    blocks (:func:`_sample_mcus`): header and stuffing are the sample's, its DC bits are
    scaled by ``1 / frac`` and the AC bits target is the image's times ``frac``.

    The first lambda tried is predicted from ``prior`` = (lambda, table scale, depth,
    slope): lambda grows with the squared table scale (distortion is in coefficient
    units) and about as depth ** 1.4, depth being log(bits of plain rounding / target).
    """
    tables = dct.quality_tables(qt, family)
    comps = _trellis_components(coefs, tables, weights, cw)
    runs, bits, dist = _model(comps, 0.0)
    entropy = _entropy_bits(comps, runs)
    if stuffing is None:
        if frac < 1.0:  # the sample's own picture size
            height, width = coefs[0].shape[0] * 8, coefs[0].shape[1] * 8
        data = _real(comps, runs, tables, height, width)
        header = _header_bytes(data)
        stuffing = (header, (len(data) - header) / max(entropy / 8, 1.0) - 1)
    header, stuff = stuffing
    size = header + (1 + stuff) * entropy / 8  # of this file at plain rounding (the first plan's: exact)
    # all but the trellis' AC bits estimate, scaled from plain rounding: it overstates the
    # overhead of deep cuts (stuffing and the Huffman codes' excess shrink with the AC
    # bits), which keeps plans off the finer tables that predicted distortion favours and
    # SSIMULACRA2 and Butteraugli do not (counting it at the budget's size moved 6 of 52
    # development choices to finer tables: SSIMULACRA2 -0.16 on average, -2.5 at worst)
    overhead = header + (size - header - bits / 8) / frac
    target = max((budget - overhead) * 8 * frac, 0.0)
    if bits <= target:
        return dist, (family, qt), tables, comps, 0.0, prior, stuffing
    scale = _quality_scale(qt)
    depth = float(np.log(max(bits, 1.0) / max(target, 1.0)))
    guess, slope = LAMBDA_SCALE * scale ** 2 * max(depth, 1e-3) ** 1.4, -0.2
    if prior is not None:
        lam0, scale0, depth0, _ = prior  # its slope may belong to another regime (small lambdas are flat)
        guess = lam0 * (scale / scale0) ** 2 * (max(depth, 1e-3) / max(depth0, 1e-3)) ** 1.4
    lam, slope, _ = _lam_for_bits(comps, target, guess=guess, tol=1.1, ftol=0.03, slope=slope,
                                  fit=False)  # coarse, then
    runs = _model(comps, lam)[0]
    _relength(comps, runs)  # with the code lengths of its symbols, again
    lam, slope, dist = _lam_for_bits(comps, target, guess=lam, tol=1.02, ftol=0.005, slope=slope,
                                     fit=False, estimate=_bits_under_lengths(comps, runs))
    calib = (lam, scale, depth, slope) if lam > 0 else prior
    return dist, (family, qt), tables, comps, lam, calib, stuffing


def _dc_bytes(comps) -> float:
    """Bytes of the DC codes and magnitudes of the components' current DC levels in a
    4:2:0 scan, with optimal Huffman tables (luma, and one shared by the chroma)."""
    from msroi.codec.writer import huffman_bits

    counts = [c.dc_counts(mcu) for c, mcu in zip(comps, (2, 1, 1))]
    bits = 0
    for cnt in (counts[0], counts[1] + counts[2]):
        bits += huffman_bits(cnt) + int(cnt @ np.arange(12))
    return bits / 8


#: Magnitude bits of each AC symbol index (run * 16 + size): its size.
_MAGNITUDE_BITS = np.tile(np.arange(16), 16)


def _entropy_bits(comps, runs) -> float:
    """Bits of the entropy-coded data (before byte stuffing) of the file the components
    make with the AC levels of ``runs`` and their current DC levels: the writer's optimal
    Huffman tables for exactly these symbols (luma; one shared by the chroma) and the
    magnitude bits. (The trellis' own count prices symbols by their entropy, which
    Huffman codes exceed by about 1 %, by a share that moves with lambda.)"""
    from msroi.codec.writer import huffman_bits

    bits = 8.0 * _dc_bytes(comps)
    for counts in (runs[0][2], runs[1][2] + runs[2][2]):
        freq = np.array(counts[:256])
        freq[0x00], freq[0xF0] = counts[256], counts[257]  # EOB and ZRL (size 0: no other symbol has it)
        bits += float(huffman_bits(freq) + counts[:256] @ _MAGNITUDE_BITS)
    return bits


def _file_dc(comps, lam, dc_trellis) -> None:
    """Set the components' DC levels to those the file at ``lam`` has: the DC trellis' at
    ``lam`` (when on and ``lam`` > 0), else as they are."""
    if dc_trellis and lam > 0:
        for c, mcu in zip(comps, (2, 1, 1)):
            c.dc_trellis(lam, mcu)


def _file_model(comps, lam, dc_trellis):
    """:func:`_model` counting the file's bits instead of the trellis' estimate: the runs at
    ``lam``, :func:`_entropy_bits` with the DC levels the file at ``lam`` will have, and the
    distortion."""
    runs, _, dist = _model(comps, lam)
    _file_dc(comps, lam, dc_trellis)
    return runs, _entropy_bits(comps, runs), dist


def _header_bytes(data: bytes) -> int:
    """Bytes of a baseline JPEG outside its entropy-coded data: everything up to the end
    of the SOS header, plus the EOI marker."""
    i = 2
    while i + 4 <= len(data):
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if data[i + 1] == 0xDA:
            return i + 2 + length + 2
        i += 2 + length
    return len(data)


#: Planning (the choice of the table quality) runs on a sample of the MCUs of images of at
#: least ``pixels``: every ``rows``-th MCU row and in it every ``cols``-th MCU column,
#: (pixels, rows, cols) from the largest (docs/research.md, "Speed": on 0.4 MP images every
#: 4th row chose finer tables than the whole image and lost SSIMULACRA2, every 2nd row chose
#: the same or coarser ones at equal or better scores; from 4 MP on every 4th row chose the
#: same). Smaller images plan on every MCU.
PLAN_SAMPLING = ((2_000_000, 4, 1), (200_000, 2, 2))


def _plan_stride(pixels: int) -> tuple[int, int]:
    """The MCU (row, column) strides of planning for an image of ``pixels``
    (:data:`PLAN_SAMPLING`)."""
    return next(((rows, cols) for least, rows, cols in PLAN_SAMPLING if pixels >= least), (1, 1))


#: The final rate control accepts a file of ``FINAL_ACCEPT`` of the budget or more and
#: aims its lambda at ``FINAL_AIM`` of it (inside the window, so that one step usually lands
#: in it, close to its top).
FINAL_ACCEPT, FINAL_AIM = 0.998, 0.9995
#: The final lambda search's tolerance on the file's bits (relative, below its aim).
FINAL_FTOL = 0.0015

#: Index in the candidate table qualities where the climb to the least predicted
#: distortion starts (offset 14 of :data:`TABLE_OFFSETS`; the dip is usually at 10..20).
PLAN_START = 5


def _sample_mcus(coefs, weights, rows, cols):
    """Every ``rows``-th MCU row and in it every ``cols``-th MCU column (4:2:0: 2x2 luma
    blocks, one chroma block each) of the components and their block weights, as a
    smaller image; returns (coefs, weights, fraction of blocks kept)."""
    r = np.arange(0, coefs[1].shape[0], rows)
    c = np.arange(0, coefs[1].shape[1], cols)
    ly = np.stack([2 * r, 2 * r + 1], 1).ravel()
    lx = np.stack([2 * c, 2 * c + 1], 1).ravel()
    cy = (np.ascontiguousarray(coefs[0][np.ix_(ly, lx)]), np.ascontiguousarray(coefs[1][np.ix_(r, c)]),
          np.ascontiguousarray(coefs[2][np.ix_(r, c)]))
    w = (weights[0][np.ix_(ly, lx)], weights[1][np.ix_(r, c)], weights[2][np.ix_(r, c)])
    return cy, w, (len(r) * len(c)) / (coefs[1].shape[0] * coefs[1].shape[1])


def _bits_under_lengths(comps, runs) -> float:
    """AC bits of the symbols of ``runs`` under the components' current code lengths."""
    total = 0.0
    for c, r in zip(comps, runs):
        hl, eob, zrl = c.lengths
        counts = r[2]
        sym = counts[:256].reshape(16, 16)[:, 1:11]
        total += float(np.sum(sym * (hl[:, 1:] + np.arange(1, 11)))) + counts[256] * eob + counts[257] * zrl
    return total


def _relength(comps, runs):
    """Re-estimate code lengths from the symbols of ``runs`` (chroma shares a table)."""
    from msroi.codec.trellis import code_lengths

    comps[0].lengths = code_lengths(runs[0][2])
    comps[1].lengths = comps[2].lengths = code_lengths(runs[1][2] + runs[2][2])


def _trellis_search(coefs, families, qts, weights, cw, budget, height, width, progressive=False,
                    dc_trellis=False):
    """Encode with the table quality in ``qts`` whose trellis predicts the least weighted
    distortion at ``budget``, searching lambda so the file lands at (never above) it.

    Planning compares the table qualities on a sample of the MCUs (:func:`_plan`). The
    chosen table's final search counts the file's entropy-coded bits exactly for the
    levels of each trellis run (:func:`_file_model`) and predicts the stuffing and headers
    from the last file written; the prediction is inverted on log lambda (each trellis run
    takes milliseconds), then checked with a real encode. Code lengths follow the symbols
    chosen, as the optimised Huffman tables will.
    """
    rows, cols = _plan_stride(height * width)
    if rows * cols > 1:
        pcoefs, pweights, frac = _sample_mcus(coefs, weights, rows, cols)
    else:
        pcoefs, pweights, frac = coefs, weights, 1.0
    plans = []
    best = stuffing = None
    for family in families:
        # predicted distortion is unimodal in the table quality: climb from the middle
        # offset to the dip, keeping only the best plan's trellis (memory)
        cands = qts[family]
        done = {}
        prior = [None]

        def dist(i):
            nonlocal best, stuffing
            if i not in done:
                plan = _plan(pcoefs, family, cands[i], pweights, cw, budget, height, width, prior[0], frac, stuffing)
                prior[0], stuffing = plan[5], plan[6]
                done[i] = plan[:3] + (None,) + plan[4:]
                if best is None or plan[0] < best[0]:
                    best = plan
            return done[i][0]

        i = min(PLAN_START, len(cands) - 1)
        dist(i)
        while True:
            near = [j for j in (i - 1, i + 1) if 0 <= j < len(cands)]
            j = min(near + [i], key=lambda k: (dist(k), k))
            if j == i:
                break
            i = j
        plans += list(done.values())
    _, (family, qt), tables, comps, lam, calib, (header, stuffing) = best
    slope = calib[3] if calib is not None else -0.2
    best = pcoefs = pweights = None  # memory: the sample is not needed any more
    estimate = None
    if frac < 1.0:  # the chosen table's trellis on the whole image, code lengths from the sample
        lengths = [c.lengths for c in comps]
        comps = None
        comps = _trellis_components(coefs, tables, weights, cw)
        for c, ln in zip(comps, lengths):
            c.lengths = ln
        if lam > 0:  # code lengths from the whole image's symbols before its first (costly) write
            runs = _model(comps, lam)[0]
            _relength(comps, runs)
            _file_dc(comps, lam, dc_trellis)
            estimate = _entropy_bits(comps, runs)  # these symbols; the next run at lam has the new lengths'
            runs = None
    encodes = len(plans)
    script = None

    def model(cs, x):
        return _file_model(cs, x, dc_trellis)

    def real(runs, lam):
        nonlocal script
        _file_dc(comps, lam, dc_trellis)
        seq = _real(comps, runs, tables, height, width)
        if not progressive:
            return seq
        from msroi.codec import progressive as prog
        if script is None:
            script, data = prog.best_script(seq)
            return data
        return prog.rewrite(seq, script)

    # The file = its headers + the entropy-coded bits (counted exactly for given levels) and
    # their byte stuffing, estimated per coded byte from the last file written (at first the
    # plan's); lambda aims the file at FINAL_AIM of the budget, and the file is accepted in
    # FINAL_ACCEPT..1 of it.
    slack = int(budget * (1 - FINAL_AIM))
    smallest = best = best_lam = None
    tried = set()
    for i in range(7):
        if lam > 0 or i > 0:
            target = max((budget - slack - header) / (1 + stuffing) * 8, 0.0)
            lam, slope, _ = _lam_for_bits(comps, target, guess=lam if lam > 0 else None, slope=slope, model=model,
                                          estimate=estimate, ftol=FINAL_FTOL)
            estimate = None
            if lam in tried:  # the search cannot move any more
                break
        tried.add(lam)
        runs, bits, _ = model(comps, lam)
        data = real(runs, lam)
        encodes += 1
        if smallest is None or len(data) < len(smallest):
            smallest = data
        if len(data) <= budget:
            if best is None or len(data) > len(best):
                best, best_lam = data, lam
            if len(data) >= budget * FINAL_ACCEPT or lam == 0:
                break
            slack = max(0, slack - (budget - len(data)) // 2)  # an overshoot's margin was too wide
        elif lam >= 1e9:  # every AC coefficient is already zero
            break
        else:
            slack += (len(data) - budget) // 2 + 1
        header = _header_bytes(data)
        # (negative for a progressive file, whose scans code the levels in fewer bytes)
        stuffing = max((len(data) - header) / max(bits / 8, 1.0) - 1, -0.5)
        if i == 0 and lam > 0:  # code lengths of the file's own symbols (the count of these stays)
            _relength(comps, runs)
            estimate = bits
        runs = None
    fits = best is not None
    out = best if fits else smallest
    return out, dict(fits=fits, bytes=len(out), budget=budget, table_quality=qt, table_family=family,
                     progressive=bool(progressive), scans=script,
                     lam=None if best_lam is None else float(best_lam), encodes=encodes)
