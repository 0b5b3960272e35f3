"""JPEG in the DCT domain: colour conversion, 8x8 DCT, quantisation tables and writing
quantised coefficients as one baseline JPEG (:mod:`msroi.codec.writer`, or jpeglib's
libjpeg-turbo backend for files it cannot write).

Conventions follow JFIF / libjpeg:
- YCbCr is full-range BT.601 (JFIF) rounded to integers exactly as libjpeg's fixed-point
  converter does (16 fractional bits). Integer luma matters: it is the signal decoders and
  metrics compare against, and coding the unrounded float luma instead cost 0.7 dB
  PSNR-HVS-M at quality 90 (coffee; ``docs/research.md``).
- Chroma is subsampled 4:2:0 by libjpeg's h2v2 box downsampling (sum of 2x2, bias
  alternating 1, 2 across columns, shift by 2), the sampling Pillow uses by default.
- The forward DCT is the exact orthonormal 2-D DCT-II of each level-shifted 8x8 block,
  which is the transform JPEG's FDCT defines (libjpeg computes it in fixed point).
- Quality scaling of the standard Annex K tables is libjpeg's (``jpeg_quality_scaling``),
  clamped to 1..255 as with ``force_baseline``.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

#: Annex K luminance and chrominance tables (natural order).
STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.int64).reshape(8, 8)
STD_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99], dtype=np.int64).reshape(8, 8)


#: N. Robidoux's table (posted on the ImageMagick forum, 2012), mozjpeg's default
#: (``quant_table`` 3, used for luma and chroma alike); natural order.
ROBIDOUX = np.array([
    16, 16, 16, 18, 25, 37, 56, 85, 16, 17, 20, 27, 34, 40, 53, 75,
    16, 20, 24, 31, 43, 62, 91, 135, 18, 27, 31, 40, 53, 74, 106, 156,
    25, 34, 43, 53, 69, 94, 131, 189, 37, 40, 62, 74, 94, 124, 169, 238,
    56, 53, 91, 106, 131, 169, 226, 311, 85, 75, 135, 156, 189, 238, 311, 418],
    dtype=np.int64).reshape(8, 8)

#: Base (quality 50) table pairs (luma, chroma) by family name.
TABLE_FAMILIES = {
    "annexk": (STD_LUMA, STD_CHROMA),
    "robidoux": (ROBIDOUX, ROBIDOUX),
}


def quality_tables(quality: int, family: str = "annexk") -> np.ndarray:
    """libjpeg's quality scaling (``jpeg_quality_scaling``) of a table family's base
    tables for ``quality`` in 1..100, clamped to 1..255 (baseline): int array (2, 8, 8).
    ``family``: a key of :data:`TABLE_FAMILIES` ("annexk": the standard's Annex K tables,
    "robidoux": mozjpeg's default)."""
    q = int(min(max(int(quality), 1), 100))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    try:
        bases = TABLE_FAMILIES[family]
    except KeyError:
        raise ValueError(f"table family must be one of {sorted(TABLE_FAMILIES)}, not {family!r}") from None
    out = []
    for base in bases:
        t = (base * scale + 50) // 100
        out.append(np.clip(t, 1, 255))
    return np.stack(out).astype(np.int64)


def _fix(x: float) -> int:
    return int(x * 65536 + 0.5)


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """JFIF YCbCr planes of an (H, W, 3) uint8 image, integer-valued float64 in 0..255,
    computed in libjpeg's 16-bit fixed point (``jccolor.c``'s constants and rounding)."""
    x = rgb.astype(np.int64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    half, offset = 1 << 15, 128 << 16
    y = (_fix(0.29900) * r + _fix(0.58700) * g + _fix(0.11400) * b + half) >> 16
    cb = (-_fix(0.16874) * r - _fix(0.33126) * g + _fix(0.5) * b + offset + half - 1) >> 16
    cr = (_fix(0.5) * r - _fix(0.41869) * g - _fix(0.08131) * b + offset + half - 1) >> 16
    return y.astype(np.float64), cb.astype(np.float64), cr.astype(np.float64)


def pad_to(plane: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pad a plane to (h, w) by replicating its last row and column (what libjpeg does)."""
    ph, pw = h - plane.shape[0], w - plane.shape[1]
    if ph == 0 and pw == 0:
        return plane
    return np.pad(plane, ((0, ph), (0, pw)), mode="edge")


def downsample2(plane: np.ndarray) -> np.ndarray:
    """libjpeg's h2v2 downsampling of an integer-valued plane with even sides:
    ``(sum of the 2x2 cell + bias) >> 2``, bias 1, 2, 1, 2, ... across output columns."""
    h, w = plane.shape
    s = plane.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
    bias = np.where(np.arange(w // 2) % 2 == 0, 1.0, 2.0)
    return np.floor((s + bias) / 4.0)


def to_blocks(plane: np.ndarray) -> np.ndarray:
    """(H, W) with sides multiple of 8 -> (H/8, W/8, 8, 8)."""
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2)


def fdct(plane: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 DCT of the level-shifted plane: (H/8, W/8, 8, 8) float64."""
    from scipy.fft import dctn

    return dctn(to_blocks(plane - 128.0), type=2, norm="ortho", axes=(-2, -1))


def image_coefficients(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unquantised DCT coefficients of Y (full size) and Cb, Cr (4:2:0) of an RGB image.

    The image is padded to a multiple of 16 (one 4:2:0 MCU) by edge replication.
    Returns three float arrays of shape (bh, bw, 8, 8). Computed MCU row by MCU row
    (:func:`msroi.codec.kernels.coefficients`, the same integer colour conversion and
    downsampling as :func:`rgb_to_ycbcr` and :func:`downsample2`, the DCT as a matrix
    product) so no full-size plane is held besides the coefficients.
    """
    from msroi.codec.kernels import coefficients

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    h16, w16 = -(-h // 16) * 16, -(-w // 16) * 16
    y = np.empty((h16 // 8, w16 // 8, 8, 8))
    cb = np.empty((h16 // 16, w16 // 16, 8, 8))
    cr = np.empty_like(cb)
    coefficients(rgb, DCT_MATRIX, y, cb, cr)
    return y, cb, cr


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    c = np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    c[0] /= np.sqrt(2)
    return c


#: Orthonormal 8-point DCT-II matrix: coefficients of a block X are ``C @ X @ C.T``.
DCT_MATRIX = _dct_matrix()


def write_jpeg(levels: tuple[np.ndarray, np.ndarray, np.ndarray], tables: np.ndarray,
               height: int, width: int, optimize: bool = True, in_range: bool = False) -> bytes:
    """Write quantised coefficient arrays (Y, Cb, Cr; int, (bh, bw, 8, 8)) as a baseline
    4:2:0 JPEG of ``height`` x ``width`` pixels with the given (2, 8, 8) tables.

    Levels are clipped to the baseline range (|level| <= 1023 for AC, 2047 for DC);
    ``in_range=True`` promises int16 levels already in it (not checked: four passes over
    the levels a write at 24 MP). Huffman tables are optimised when ``optimize`` is true.
    Written by :mod:`msroi.codec.writer` (the same bytes as libjpeg-turbo's) when it can,
    else through jpeglib's libjpeg-turbo.
    """
    # libjpeg holds ceil(side / 8) luma and ceil(side / 16) chroma blocks per side; the
    # arrays are padded to whole MCUs, so drop the blocks past that or rows are misread.
    by, bx = -(-int(height) // 8), -(-int(width) // 8)
    cy, cx = -(-int(height) // 16), -(-int(width) // 16)
    shapes = ((by, bx), (cy, cx), (cy, cx))
    if in_range:
        y, cb, cr = (np.ascontiguousarray(c[:sh[0], :sh[1]], dtype=np.int16) for c, sh in zip(levels, shapes))
    else:
        y, cb, cr = (_baseline_levels(c[:sh[0], :sh[1]]) for c, sh in zip(levels, shapes))
    qt = np.ascontiguousarray(np.asarray(tables, dtype=np.uint16))
    if optimize and height > 8 and width > 8 and 1 <= qt.min() and qt.max() <= 255:
        from msroi.codec.writer import encode_baseline

        return encode_baseline((y, cb, cr), qt, height, width)
    # jpeglib infers the sampling factors from the block counts, so an image at most 8
    # pixels high or wide is written with 2x1 or 1x2 luma sampling: only libjpeg writes that
    import jpeglib

    if jpeglib.version.get() != "turbo210":  # set() scans jpeglib's folder: 0.5 ms a call
        jpeglib.version.set("turbo210")
    img = jpeglib.from_dct(Y=y, Cb=cb, Cr=cr, qt=qt, quant_tbl_no=[0, 1, 1])
    img.height, img.width = int(height), int(width)
    flags = ["+OPTIMIZE_CODING"] if optimize else ["-OPTIMIZE_CODING"]
    for folder in dict.fromkeys((_SCRATCH, None)):
        fd, tmp = tempfile.mkstemp(suffix=".jpg", prefix="msroi-", dir=folder)
        os.close(fd)
        try:
            img.write_dct(tmp, flags=flags)
            with open(tmp, "rb") as f:
                return _jfif_component_ids(f.read())
        except OSError:
            if folder is None:
                raise
        finally:
            os.unlink(tmp)
    raise AssertionError("unreachable")  # pragma: no cover


#: Memory-backed folder for the writer's temporary files when there is one: jpeglib writes
#: only to paths, and unlinking a file on the disk took about 1 ms a write (a fifth of a
#: 0.4 MP encode's writes). The system's temporary folder is the fallback (e.g. when full).
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK) else None


def _baseline_levels(c: np.ndarray) -> np.ndarray:
    """Contiguous int16 levels clipped to the baseline ranges; int16 input already in range
    (what :meth:`msroi.codec.trellis.Trellis.levels` returns) is used without a copy."""
    if c.dtype == np.int16 and c.flags.c_contiguous:
        flat = c.reshape(-1, 64)
        if (-1023 <= int(flat[:, 1:].min(initial=0)) and int(flat[:, 1:].max(initial=0)) <= 1023
                and -2047 <= int(flat[:, 0].min(initial=0)) and int(flat[:, 0].max(initial=0)) <= 2047):
            return c
    c = np.ascontiguousarray(np.clip(c, -2047, 2047).astype(np.int16, copy=False))
    ac = c.reshape(*c.shape[:2], 64)[..., 1:]
    np.clip(ac, -1023, 1023, out=ac)
    return c


def _jfif_component_ids(data: bytes) -> bytes:
    """Renumber component ids 0, 1, 2 (as jpeglib writes them) to JFIF's 1, 2, 3 in the
    frame and scan headers; files already numbered from 1 are returned unchanged."""
    buf = bytearray(data)
    i = 2
    while i + 4 <= len(buf) and buf[i] == 0xFF:
        marker = buf[i + 1]
        length = int.from_bytes(buf[i + 2:i + 4], "big")
        if marker == 0xC0:
            n = buf[i + 9]
            ids = [buf[i + 10 + 3 * k] for k in range(n)]
            if ids != list(range(n)):
                return bytes(buf)
            for k in range(n):
                buf[i + 10 + 3 * k] += 1
        elif marker == 0xDA:
            n = buf[i + 4]
            for k in range(n):
                buf[i + 5 + 2 * k] += 1
            break
        i += 2 + length
    return bytes(buf)
