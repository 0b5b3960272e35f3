"""Compiled (numba) kernels of the encoder's front end: colour conversion, 4:2:0
downsampling and the 8x8 DCT, fused and run MCU row by MCU row in parallel.

The arithmetic is :mod:`msroi.codec.dct`'s: libjpeg's 16-bit fixed-point YCbCr
(``jccolor.c``), its h2v2 box downsampling with alternating bias, edge replication to
whole MCUs, and the orthonormal DCT-II (here as ``C @ X @ C.T``; it agrees with
``scipy.fft.dctn`` to rounding).
"""

from __future__ import annotations

import numpy as np
from msroi.codec.jit import njit

_FR, _FG, _FB = 19595, 38470, 7471  # FIX(0.29900), FIX(0.58700), FIX(0.11400)
_CBR, _CBG, _CBB = 11059, 21709, 32768  # FIX(0.16874), FIX(0.33126), FIX(0.5)
_CRG, _CRB = 27439, 5329  # FIX(0.41869), FIX(0.08131)
_HALF = 1 << 15
_OFF = 128 << 16


@njit(cache=True, nogil=True)
def _dct_block(x, c, tmp, out):
    for u in range(8):
        for j in range(8):
            s = 0.0
            for i in range(8):
                s += c[u, i] * x[i, j]
            tmp[u, j] = s
    for u in range(8):
        for v in range(8):
            s = 0.0
            for j in range(8):
                s += tmp[u, j] * c[v, j]
            out[u, v] = s


def coefficients(rgb, c, y_out, cb_out, cr_out):
    """Fill ``y_out`` (H16/8, W16/8, 8, 8) and ``cb_out``, ``cr_out`` (H16/16, W16/16, 8, 8)
    with the DCT coefficients of the level-shifted JFIF planes of ``rgb`` (uint8), MCU
    rows shared among :mod:`msroi.codec.threads`."""
    from msroi.codec import threads

    threads.run_chunks(_coefficient_rows, cb_out.shape[0], rgb, c, y_out, cb_out, cr_out)


@njit(cache=True, nogil=True)
def _coefficient_rows(rgb, c, y_out, cb_out, cr_out, r0, r1):
    h, w = rgb.shape[0], rgb.shape[1]
    nc = cb_out.shape[1]
    w16 = nc * 16
    yb = np.empty((16, w16))
    cbb = np.empty((16, w16), np.int64)
    crb = np.empty((16, w16), np.int64)
    for r in range(r0, r1):
        blk = np.empty((8, 8))
        tmp = np.empty((8, 8))
        for i in range(16):
            yy = min(r * 16 + i, h - 1)
            for x in range(w16):
                xx = min(x, w - 1)
                R = np.int64(rgb[yy, xx, 0])
                G = np.int64(rgb[yy, xx, 1])
                B = np.int64(rgb[yy, xx, 2])
                yb[i, x] = np.float64((_FR * R + _FG * G + _FB * B + _HALF) >> 16) - 128.0
                cbb[i, x] = (-_CBR * R - _CBG * G + _CBB * B + _OFF + _HALF - 1) >> 16
                crb[i, x] = (_CBB * R - _CRG * G - _CRB * B + _OFF + _HALF - 1) >> 16
        for by in range(2):
            for bx in range(2 * nc):
                for i in range(8):
                    for j in range(8):
                        blk[i, j] = yb[by * 8 + i, bx * 8 + j]
                _dct_block(blk, c, tmp, y_out[2 * r + by, bx])
        for comp in range(2):
            src = cbb if comp == 0 else crb
            dst = cb_out if comp == 0 else cr_out
            for bx in range(nc):
                for i in range(8):
                    for j in range(8):
                        col = bx * 8 + j
                        s = (src[2 * i, 2 * col] + src[2 * i, 2 * col + 1]
                             + src[2 * i + 1, 2 * col] + src[2 * i + 1, 2 * col + 1])
                        bias = 1 if col % 2 == 0 else 2
                        blk[i, j] = np.float64((s + bias) >> 2) - 128.0
                _dct_block(blk, c, tmp, dst[r, bx])
