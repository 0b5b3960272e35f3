"""Separable 'valid' filtering of image planes for the metrics (compiled with numba).

:func:`filter_valid` gives exactly what ``scipy.ndimage.correlate1d`` along the last axis,
then along the second-last, cropped to the valid part, gives: for a symmetric kernel (as
scipy decides it: taps mirrored within DBL_EPSILON) each pass is computed in float64 with
scipy's order of operations (centre tap first, then the pairs of taps from the outermost
in, weighted by the left-hand tap) and rounded to the planes' dtype in between, so the
values are bit for bit scipy's. It is faster because it works on a few rows at a time (the
horizontal pass of a row is used by the vertical pass while still in cache) instead of
passing over whole planes twice, and because with ``step`` > 1 it computes only the
outputs a subsampling keeps. Other kernels go to scipy itself.
"""

from __future__ import annotations

import numpy as np

from msroi.codec.jit import njit


@njit(cache=True, nogil=True)
def _horizontal(line, g, step, acc, dst):
    """One float64 row filtered along its length at outputs 0, step, 2 step, ... of its valid part."""
    r = g.size // 2
    m = dst.size
    if step == 1:  # unit stride, which the compiler vectorises
        for j in range(m):
            acc[j] = line[j + r] * g[r]
        for k in range(r, 0, -1):
            w = g[r - k]
            for j in range(m):
                acc[j] += (line[j + r - k] + line[j + r + k]) * w
    else:
        for j in range(m):
            acc[j] = line[j * step + r] * g[r]
        for k in range(r, 0, -1):
            w = g[r - k]
            for j in range(m):
                c = j * step + r
                acc[j] += (line[c - k] + line[c + k]) * w
    for j in range(m):
        dst[j] = acc[j]


@njit(cache=True, nogil=True)
def _planes_valid(src, g, step, pad, out):
    n = g.size
    r = n // 2
    n_planes, height, width = src.shape
    out_h, out_w = out.shape[1], out.shape[2]
    padded_h = height + 2 * pad
    ring = np.empty((n, out_w), dtype=out.dtype)  # horizontal results of the last n rows
    line = np.zeros(width + 2 * pad)  # one input row in float64, between its zero borders
    acc = np.empty(out_w, dtype=np.float64)
    for p in range(n_planes):
        done = 0  # rows (of the zero-padded planes) filtered horizontally so far
        for o in range(out_h):
            top = o * step
            while done < min(top + n, padded_h):
                dst = ring[done % n]
                i = done - pad
                if 0 <= i < height:
                    row = src[p, i]
                    for j in range(width):
                        line[pad + j] = row[j]
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
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 1 or g.size % 2 == 0:
        raise ValueError(f"filter_valid needs an odd-length 1-D kernel, got shape {g.shape}")
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    hv, wv = h + 2 * pad - g.size + 1, w + 2 * pad - g.size + 1
    if hv <= 0 or wv <= 0:
        raise ValueError(f"planes of {w}x{h} are smaller than the {g.size}-tap kernel")
    if np.any(np.abs(g - g[::-1]) > np.finfo(np.float64).eps):
        return _scipy_valid(a, g, step, pad)
    src = np.ascontiguousarray(a.reshape((-1, h, w)))
    out = np.empty((src.shape[0], -(-hv // step), -(-wv // step)), dtype=a.dtype)
    _planes_valid(src, g, int(step), int(pad), out)
    return out.reshape(lead + out.shape[1:])
