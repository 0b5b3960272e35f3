"""Compiled (numba) kernels of the metrics: separable filtering and the per-pixel maps.

:func:`filter_valid` gives exactly what ``scipy.ndimage.correlate1d`` along the last axis,
then along the second-last, cropped to the valid part, gives: for a symmetric kernel (as
scipy decides it: taps mirrored within DBL_EPSILON) each pass is computed in float64 with
scipy's order of operations (centre tap first, then the pairs of taps from the outermost
in, weighted by the left-hand tap) and rounded to the planes' dtype in between, so the
values are bit for bit scipy's. It is faster because it works on a few rows at a time (the
horizontal pass of a row is used by the vertical pass while still in cache) instead of
passing over whole planes twice, and because with ``step`` > 1 it computes only the
outputs a subsampling keeps. Other kernels go to scipy itself.

The map kernels (:func:`ssim_maps`, :func:`vifp_terms`, :func:`ssimulacra2_maps`) do in
one pass, pixel by pixel, the arithmetic that NumPy would do array by array, with the same
operations in the same order and dtype, so their maps are bit for bit NumPy's; the sums
over the maps stay with NumPy. (numba contracts no multiply-add into a fused one unless
asked to, so the roundings are NumPy's.)
"""

from __future__ import annotations

import numpy as np

from msroi.codec.jit import njit


@njit(cache=True, nogil=True)
def _horizontal(line, g, step, acc, dst):
    """One float64 row filtered along its length at outputs 0, step, 2 step, ... of its valid part."""
    r = g.size // 2
    m = dst.size
    # the taps read slices (views), whose indices cannot be negative: loops over them vectorise
    centre = line[r : r + (m - 1) * step + 1 : step]
    for j in range(m):
        acc[j] = centre[j] * g[r]
    for k in range(r, 0, -1):
        w = g[r - k]
        left = line[r - k : r - k + (m - 1) * step + 1 : step]
        right = line[r + k : r + k + (m - 1) * step + 1 : step]
        for j in range(m):
            acc[j] += (left[j] + right[j]) * w
    for j in range(m):
        dst[j] = acc[j]


@njit(cache=True, nogil=True)
def _load(x_row, y_row, term, line, pad):
    """Row ``term`` (0: x, 1: y, 2: x x, 3: y y, 4: x y; products in the rows' dtype) into
    the float64 ``line`` after ``pad`` zeros."""
    m = x_row.size
    if term == 0:
        for j in range(m):
            line[pad + j] = x_row[j]
    elif term == 1:
        for j in range(m):
            line[pad + j] = y_row[j]
    elif term == 2:
        for j in range(m):
            line[pad + j] = x_row[j] * x_row[j]
    elif term == 3:
        for j in range(m):
            line[pad + j] = y_row[j] * y_row[j]
    else:
        for j in range(m):
            line[pad + j] = x_row[j] * y_row[j]


@njit(cache=True, nogil=True)
def _planes_valid(x, y, terms, g, step, pad, out):
    n = g.size
    r = n // 2
    height, width = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    padded_h = height + 2 * pad
    ring = np.empty((n, out_w), dtype=out.dtype)  # horizontal results of the last n rows
    line = np.zeros(width + 2 * pad)  # one input row in float64, between its zero borders
    acc = np.empty(out_w, dtype=np.float64)
    for p in range(terms.size):
        done = 0  # rows (of the zero-padded planes) filtered horizontally so far
        for o in range(out_h):
            top = o * step
            while done < min(top + n, padded_h):
                dst = ring[done % n]
                i = done - pad
                if 0 <= i < height:
                    _load(x[i], y[i], terms[p], line, pad)
                    _horizontal(line, g, step, acc, dst)
                else:
                    dst[:] = 0.0
                done += 1
            c = top + r
            centre = ring[c % n]
            for j in range(out_w):
                acc[j] = np.float64(centre[j]) * g[r]
            for k in range(r, 0, -1):
                above, below, w = ring[(c - k) % n], ring[(c + k) % n], g[r - k]
                for j in range(out_w):
                    acc[j] += (np.float64(above[j]) + np.float64(below[j])) * w
            dst = out[p, o]
            for j in range(out_w):
                dst[j] = acc[j]


def _scipy_valid(a: np.ndarray, g: np.ndarray, step: int, pad: int) -> np.ndarray:
    from scipy.ndimage import correlate1d

    if pad:
        a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(pad, pad), (pad, pad)])
    r = g.size // 2
    out = correlate1d(a, g, axis=-1, mode="constant")[..., r : a.shape[-1] - r]
    out = correlate1d(out, g, axis=-2, mode="constant")[..., r : a.shape[-2] - r, :]
    return out[..., ::step, ::step]


_TERMS = {"x": 0, "y": 1, "xx": 2, "yy": 3, "xy": 4}


def _check(g, h, w, pad):
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 1 or g.size % 2 == 0:
        raise ValueError(f"filter_valid needs an odd-length 1-D kernel, got shape {g.shape}")
    hv, wv = h + 2 * pad - g.size + 1, w + 2 * pad - g.size + 1
    if hv <= 0 or wv <= 0:
        raise ValueError(f"planes of {w}x{h} are smaller than the {g.size}-tap kernel")
    return g, hv, wv, bool(np.all(np.abs(g - g[::-1]) <= np.finfo(np.float64).eps))


def filter_valid(planes: np.ndarray, g: np.ndarray, step: int = 1, pad: int = 0) -> np.ndarray:
    """Separable 'valid' filtering of ``(..., H, W)`` float planes by ``g`` x ``g`` (odd length).

    Equal, bit for bit, to ``correlate1d(correlate1d(planes, g, axis=-1), g, axis=-2)``
    (any mode) cropped to rows and columns ``r .. size - r - 1`` (r = len(g) // 2) and then
    subsampled ``[..., ::step, ::step]`` (MATLAB's ``filter2(.., 'valid')``), the planes
    first given ``pad`` rows and columns of zeros on every side (``pad = r``: the same-size
    result of ``mode="constant"``). The result has the planes' dtype (float32 or float64;
    other dtypes are computed as float64).
    """
    a = np.asarray(planes)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    g, hv, wv, symmetric = _check(g, h, w, pad)
    if not symmetric:
        return _scipy_valid(a, g, step, pad)
    src = np.ascontiguousarray(a.reshape((-1, h, w)))
    out = np.empty((src.shape[0], -(-hv // step), -(-wv // step)), dtype=a.dtype)
    one = np.zeros(1, dtype=np.int64)
    for p in range(src.shape[0]):
        _planes_valid(src[p], src[p], one, g, int(step), int(pad), out[p : p + 1])
    return out.reshape(lead + out.shape[1:])


def filter_terms(x: np.ndarray, y: np.ndarray, terms, g: np.ndarray, step: int = 1, pad: int = 0) -> np.ndarray:
    """:func:`filter_valid` of ``np.stack([...])`` of the ``terms`` of two 2-D planes of one
    float dtype, without building the stack: each term is ``"x"``, ``"y"``, ``"xx"``,
    ``"yy"`` or ``"xy"`` (the products rounded to the planes' dtype, as NumPy's ``x * y``).
    Returns ``(len(terms), H', W')``, bit for bit the stacked version's result."""
    if x.shape != y.shape or x.dtype != y.dtype or x.ndim != 2 or x.dtype not in (np.float32, np.float64):
        raise ValueError("filter_terms needs two 2-D float32 or float64 planes of one shape and dtype")
    g, hv, wv, symmetric = _check(g, *x.shape, pad)
    if not symmetric:
        planes = {"x": x, "y": y, "xx": x * x, "yy": y * y, "xy": x * y}
        return _scipy_valid(np.stack([planes[t] for t in terms]), g, step, pad)
    codes = np.array([_TERMS[t] for t in terms], dtype=np.int64)
    out = np.empty((codes.size, -(-hv // step), -(-wv // step)), dtype=x.dtype)
    _planes_valid(np.ascontiguousarray(x), np.ascontiguousarray(y), codes, g, int(step), int(pad), out)
    return out


@njit(cache=True, nogil=True)
def _ssim_maps(mu_x, sxx, mu_y, eyy, exy, c1, c2, ssim_map, cs_map):
    for i in range(mu_x.shape[0]):
        for j in range(mu_x.shape[1]):
            mx, my = mu_x[i, j], mu_y[i, j]
            mxx, myy, mxy = mx * mx, my * my, mx * my
            syy, sxy = eyy[i, j] - myy, exy[i, j] - mxy
            cs = (2.0 * sxy + c2) / (sxx[i, j] + syy + c2)
            cs_map[i, j] = cs
            ssim_map[i, j] = ((2.0 * mxy + c1) / (mxx + myy + c1)) * cs


def ssim_maps(mu_x, sxx, mu_y, eyy, exy, c1: float, c2: float):
    """SSIM and contrast-structure maps (float64) from the window moments of x and y.

    ``cs = (2 sxy + c2) / (sxx + syy + c2)`` and ``ssim = ((2 mu_x mu_y + c1) / (mu_x^2 +
    mu_y^2 + c1)) cs`` with ``syy = eyy - mu_y^2``, ``sxy = exy - mu_x mu_y``.
    """
    ssim_map, cs_map = np.empty_like(mu_x), np.empty_like(mu_x)
    _ssim_maps(mu_x, sxx, mu_y, eyy, exy, float(c1), float(c2), ssim_map, cs_map)
    return ssim_map, cs_map


@njit(cache=True, nogil=True)
def _vifp_terms(mu1, s11, flat_ref, mu2, e22, e12, sigma_nsq, out):
    for i in range(mu1.shape[0]):
        for j in range(mu1.shape[1]):
            m2 = mu2[i, j]
            s22 = max(e22[i, j] - m2 * m2, 0.0)
            s12 = e12[i, j] - mu1[i, j] * m2
            a = s11[i, j]
            gg = s12 / (a + 1e-10)
            sv = s22 - gg * s12
            if flat_ref[i, j]:
                gg = 0.0
                sv = s22
            if s22 <= 1e-10:
                gg = 0.0
                sv = 0.0
            if gg < 0:
                sv = s22
                gg = 0.0
            sv = max(sv, 1e-10)
            out[i, j] = 1.0 + gg * gg * a / (sv + sigma_nsq)


def vifp_terms(mu1, s11, flat_ref, mu2, e22, e12, sigma_nsq: float):
    """``1 + g^2 s11 / (sv + sigma_nsq)`` per position (VIF-P's numerator before log10).

    ``s11`` is the reference's clamped variance, already 0 where ``flat_ref``; ``g`` and
    ``sv`` follow ``vifp_mscale.m``'s clamps (see :func:`msroi.quality.metrics.vifp`).
    """
    out = np.empty_like(mu1)
    _vifp_terms(mu1, s11, flat_ref, mu2, e22, e12, float(sigma_nsq), out)
    return out


@njit(cache=True, nogil=True)
def _ssimulacra2_maps(x, mu1, s11, y, mu2, s22, s12, consts, out):
    one, two, zero, c2 = consts[0], consts[1], consts[2], consts[3]  # in the planes' dtype
    for i in range(x.shape[0]):
        x_i, mu1_i, s11_i, y_i, mu2_i, s22_i, s12_i = x[i], mu1[i], s11[i], y[i], mu2[i], s22[i], s12[i]
        err_i, ring_i, blur_i, err4_i, ring4_i, blur4_i = out[0, i], out[1, i], out[2, i], out[3, i], out[4, i], out[5, i]
        for j in range(x.shape[1]):
            m1, m2 = mu1_i[j], mu2_i[j]
            num_s = two * (s12_i[j] - m1 * m2) + c2
            denom_s = (s11_i[j] - m1 * m1) + (s22_i[j] - m2 * m2) + c2
            diff = m1 - m2
            err = max(one - (one - diff * diff) * num_s / denom_s, zero)
            ratio = (one + abs(y_i[j] - m2)) / (one + abs(x_i[j] - m1)) - one
            ring, blur = max(ratio, zero), max(-ratio, zero)
            err_i[j], ring_i[j], blur_i[j] = err, ring, blur
            err, ring, blur = err * err, ring * ring, blur * blur
            err4_i[j], ring4_i[j], blur4_i[j] = err * err, ring * ring, blur * blur


def ssimulacra2_maps(x, mu1, s11, y, mu2, s22, s12, c2: float) -> np.ndarray:
    """SSIMULACRA2's three error maps of one channel and their fourth powers.

    Returns ``(6, H, W)``: ``1 - SSIM'`` clamped at 0, ringing, blurring, then the three
    squared squares; from the planes ``x``, ``y``, their blurs ``mu1``, ``mu2`` and the
    blurs ``s11``, ``s22``, ``s12`` of ``x^2``, ``y^2``, ``x y`` (all of one dtype, float32 or float64).
    """
    out = np.empty((6,) + x.shape, dtype=x.dtype)
    _ssimulacra2_maps(x, mu1, s11, y, mu2, s22, s12, np.array([1, 2, 0, c2], dtype=x.dtype), out)
    return out
