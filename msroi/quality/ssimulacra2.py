"""SSIMULACRA2 as defined by libjxl v0.11.2 ``tools/ssimulacra2.cc``, in NumPy.

Pipeline (per pair of 8-bit sRGB images, reference first):

1. decode sRGB to linear RGB with the exact piecewise sRGB EOTF (values in 0..1);
2. for up to 6 scales (1:1 ... 1:32; linear RGB halved between scales by 2 x 2 box means,
   the last row/column repeated when a side is odd): convert to libjxl's XYB (opsin
   absorbance matrix and bias, cube root, intensity target 255 so no extra gain), then
   shift it to a roughly 0..1 range (``X*14 + 0.42``, ``Y + 0.01``, ``B - Y + 0.55``);
3. blur ``a*a``, ``b*b``, ``a*b``, ``a`` and ``b`` per channel with libjxl's recursive
   Gaussian (sigma 1.5) and compute, per channel, the 1- and 4-norms of three maps:
   ``1 - SSIM'`` (SSIM without the luminance denominator, clamped at 0), "ringing"
   (distorted has edges where the reference is smooth) and "blurring" (the reverse);
4. the 108 norms are combined with libjxl's fixed weights and mapped to the score by its
   cubic polynomial and power law (100 = identical).

The blur is what decides agreement with the C++ tool. libjxl uses the recursive
(IIR) Gaussian of Charalampidis (2016, "Recursive implementation of the Gaussian filter
using truncated cosine functions") with three undamped resonators started from zero state,
with the input outside the image read as zero, on rows and then on columns. In exact
arithmetic that recursion is a finite symmetric kernel of ``2N - 1`` taps (``N = 5`` for
sigma 1.5) applied with zero padding on every side; :func:`recursive_gaussian_kernel`
derives that kernel by running the recursion on an impulse, and the blur applies it
separably. Note that zero padding darkens the borders of ``mu`` and ``sigma`` alike; this
matters a lot at the coarse scales, where images are only 9-25 pixels across.

The C++ tool computes in float32 (with an IIR whose rounding depends on the SIMD target:
its own builds differ by up to 0.16 points); this module computes in float32 by default
(float64 on request) and agrees with libjxl's AVX2 build to about 0.05 points either way
(see ``tests/quality/test_ssimulacra2.py``).

libjxl iterates over scales while the previous scale is at least 8 pixels on each side and
indexes its weight table sequentially over the scales it actually computed; this module
does the same, so images with fewer than 6 scales get libjxl's (shifted) weights.
"""

from __future__ import annotations

import hashlib
import math
from functools import cache

import numpy as np
from msroi.quality._boxes import check_rgb_pair, roi_mean

__all__ = [
    "SSIMULACRA2_MIN_SIDE",
    "recursive_gaussian_kernel",
    "ssimulacra2",
    "ssimulacra2_roi",
]

#: Smallest width and height libjxl's ``ssimulacra2`` tool accepts ("Minimum image size is
#: 8x8 pixels"); below it no scale is computed at all.
SSIMULACRA2_MIN_SIDE = 8

_NUM_SCALES = 6
_SIGMA = 1.5
_C2 = 0.0009

# XYB: libjxl's opsin absorbance matrix (rows give the L, M, S mixes of linear R, G, B)
# and its bias (lib/jxl/cms/opsin_params.h). The C++ constants are float32 literals.
_M = np.array([
    [0.30, 1.0 - 0.078 - 0.30, 0.078],
    [0.23, 1.0 - 0.078 - 0.23, 0.078],
    [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821],
], dtype=np.float32).astype(np.float64)
_BIAS = float(np.float32(0.0037930732552754493))
_CBRT_BIAS = _BIAS ** (1.0 / 3.0)

# The 108 weights of libjxl v0.11.2, ordered channel (X, Y, B) > scale > norm (1, 4) >
# map (SSIM', ringing, blurring).
_WEIGHTS = np.array([
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0,
    0.0, 0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271,
    0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298,
    11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072,
    0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967,
    0.00031949755934435053, 0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398,
    0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0, 17.445833984131262,
    0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296,
    1.027889937768264, 225.20515300849274, 0.0, 0.0, 19.213238186143016,
    0.0011401524586618361, 0.001237755635509985, 176.39317598450694, 0.0, 0.0,
    24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0,
    34.77906344483772, 44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0005313191874358747, 0.0,
    0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
    0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862,
    23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682, 0.9834382792465353,
    0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0, 0.0, 0.0,
    0.0005130064588990679, 0.0, 0.00010854057858411537,
])


@cache
def _recursive_gaussian_coefficients(sigma: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Radius N and the per-resonator input gains and feedback terms for ``sigma``.

    Charalampidis (2016): three truncated cosines of frequencies k*pi/(2N), k = 1, 3, 5,
    with weights solved so that the filter has unit gain, variance ``sigma**2`` and the
    paper's third condition (its equations 37-57).
    """
    radius = float(round(3.2795 * sigma + 0.2546))
    omega = np.array([1.0, 3.0, 5.0]) * math.pi / (2.0 * radius)
    p = np.array([1.0, -1.0, 1.0]) / np.tan(0.5 * omega)
    r = np.array([1.0, -1.0, 1.0]) * p * p / np.sin(omega)
    rho = np.exp(-0.5 * sigma * sigma * omega * omega) / radius
    d13 = p[0] * r[1] - r[0] * p[1]
    d35 = p[1] * r[2] - r[1] * p[2]
    d51 = p[2] * r[0] - r[2] * p[0]
    zeta15, zeta35 = d35 / d13, d51 / d13
    system = np.array([p, r, [zeta15, zeta35, 1.0]])
    rhs = np.array([1.0, radius * radius - sigma * sigma,
                    zeta15 * rho[0] + zeta35 * rho[1] + rho[2]])
    beta = np.linalg.solve(system, rhs)
    gain = -beta * np.cos(omega * (radius + 1.0))
    feedback = -2.0 * np.cos(omega)
    return int(radius), gain, feedback


@cache
def recursive_gaussian_kernel(sigma: float = _SIGMA) -> np.ndarray:
    """The finite kernel that libjxl's recursive Gaussian equals (taps at -(N-1)..N-1).

    Obtained by running the three-resonator recursion, from zero state, over an impulse:
    each resonator is ``y[n] = g * (x[n-N-1] + x[n+N-1]) - f * y[n-1] - y[n-2]`` and the
    output is the sum of the three. The response vanishes beyond N-1 taps from the centre.
    """
    n_rad, gain, feedback = _recursive_gaussian_coefficients(sigma)
    length = 4 * n_rad + 3
    centre = length // 2
    x = np.zeros(length)
    x[centre] = 1.0
    y1 = np.zeros(3)
    y2 = np.zeros(3)
    out = np.zeros(length)
    for n in range(-n_rad + 1, length):
        left, right = n - n_rad - 1, n + n_rad - 1
        s = (x[left] if 0 <= left < length else 0.0) + (x[right] if 0 <= right < length else 0.0)
        y = gain * s - feedback * y1 - y2
        y2, y1 = y1, y
        if 0 <= n < length:
            out[n] = y.sum()
    kernel = out[centre - n_rad + 1:centre + n_rad]
    kernel.setflags(write=False)
    return kernel


def _srgb_to_linear_lut() -> np.ndarray:
    v = np.arange(256) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


_LINEAR = _srgb_to_linear_lut()


def _check_pair(reference, distorted, check_size: bool = True) -> tuple[np.ndarray, np.ndarray]:
    ref, dist = check_rgb_pair(reference, distorted, "SSIMULACRA2")
    h, w = ref.shape[:2]
    if check_size and (h < SSIMULACRA2_MIN_SIDE or w < SSIMULACRA2_MIN_SIDE):
        raise ValueError(f"SSIMULACRA2 needs at least {SSIMULACRA2_MIN_SIDE}x{SSIMULACRA2_MIN_SIDE} "
                         f"pixels (libjxl's minimum), got {w}x{h} (W x H)")
    return ref, dist


def _linear_planes(img: np.ndarray, dtype) -> np.ndarray:
    """uint8 H x W x 3 sRGB -> 3 x H x W linear RGB of ``dtype``."""
    return _LINEAR.astype(dtype)[np.moveaxis(img, 2, 0)]


def _downsample2(lin: np.ndarray) -> np.ndarray:
    """2 x 2 box mean; an odd last row/column is paired with itself (edge clamping)."""
    _, h, w = lin.shape
    if h % 2 or w % 2:
        lin = np.pad(lin, ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (lin[:, 0::2, 0::2] + lin[:, 0::2, 1::2] + lin[:, 1::2, 0::2] + lin[:, 1::2, 1::2])


def _positive_xyb(lin: np.ndarray) -> np.ndarray:
    """Linear RGB planes -> libjxl XYB, shifted to about 0..1 as ssimulacra2 does."""
    mixed = np.tensordot(_M.astype(lin.dtype), lin, axes=1) + _BIAS
    np.maximum(mixed, 0.0, out=mixed)
    mixed = np.cbrt(mixed) - _CBRT_BIAS
    x = 0.5 * (mixed[0] - mixed[1])
    y = 0.5 * (mixed[0] + mixed[1])
    return np.stack([x * 14.0 + 0.42, y + 0.01, (mixed[2] - y) + 0.55])


def _blur(planes: np.ndarray) -> np.ndarray:
    """Separable libjxl-equivalent Gaussian over the last two axes, zero padding."""
    from msroi.quality._kernels import filter_valid  # numba starts on first use only

    k = recursive_gaussian_kernel(_SIGMA).astype(planes.dtype)
    return filter_valid(planes, k, pad=k.size // 2)


def _blur_terms(x: np.ndarray, y: np.ndarray, terms) -> np.ndarray:
    """:func:`_blur` of the stack of ``terms`` (``"y"``, ``"yy"``, ``"xy"``, ...) of two planes,
    without building the stack (:func:`msroi.quality._kernels.filter_terms`)."""
    from msroi.quality._kernels import filter_terms

    k = recursive_gaussian_kernel(_SIGMA).astype(x.dtype)
    return filter_terms(x, y, terms, k, pad=k.size // 2)


def _reference_scale(img1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What one scale needs of the reference alone: its XYB planes, their blur and the blur
    of their squares."""
    mu1, s11 = _blur(np.stack([img1, img1 * img1]))
    return img1, mu1, s11


def _scale_norms(ref_scale, img2: np.ndarray) -> np.ndarray:
    """The 18 norms of one scale as an array [channel, norm, map]."""
    from msroi.quality._kernels import ssimulacra2_maps

    out = np.empty((3, 2, 3))
    # one channel at a time: the temporaries stay small enough for the allocator to reuse
    # (whole-stack temporaries cost more in page faults than in arithmetic)
    for c in range(3):
        x, mu1, s11 = (a[c] for a in ref_scale)
        y = img2[c]
        s22, s12, mu2 = _blur_terms(x, y, ("yy", "xy", "y"))
        # 1 - SSIM', ringing and blurring, then their fourth powers
        maps = ssimulacra2_maps(x, mu1, s11, y, mu2, s22, s12, _C2)
        for m in range(3):
            out[c, 0, m] = maps[m].mean(axis=(-2, -1), dtype=np.float64)
            out[c, 1, m] = np.sqrt(np.sqrt(maps[3 + m].mean(axis=(-2, -1), dtype=np.float64)))
    return out


def _scales(lin: np.ndarray):
    """Linear RGB planes at each scale libjxl computes (while the previous scale is at
    least 8 pixels on each side, so a 1:2 scale of 4 px can occur)."""
    for scale in range(_NUM_SCALES):
        if lin.shape[1] < 8 or lin.shape[2] < 8:
            return
        if scale:
            lin = _downsample2(lin)
        yield lin


# Scores against one reference usually come in runs (a sweep, the outputs of one job), so
# the reference's own planes are kept for the last few references seen, keyed by content.
_REFERENCES: dict[tuple, list] = {}
_KEEP = 4


def _reference(ref: np.ndarray, dtype) -> list:
    key = (ref.shape, np.dtype(dtype).str, hashlib.blake2b(np.ascontiguousarray(ref), digest_size=16).digest())
    if key not in _REFERENCES:
        if len(_REFERENCES) >= _KEEP:
            del _REFERENCES[next(iter(_REFERENCES))]
        _REFERENCES[key] = [_reference_scale(_positive_xyb(lin)) for lin in _scales(_linear_planes(ref, dtype))]
    return _REFERENCES[key]


def _score(per_scale: list[np.ndarray]) -> float:
    # libjxl walks channel > scale > norm > map with one running weight index.
    terms = np.stack(per_scale, axis=1).reshape(-1)  # [channel, scale, norm, map]
    total = float(np.dot(_WEIGHTS[:terms.size], np.abs(terms)))
    s = total * 0.9562382616834844
    s = 2.326765642916932 * s - 0.020884521182843837 * s * s + 6.248496625763138e-05 * s * s * s
    if s > 0:
        return 100.0 - 10.0 * s ** 0.6276336467831387
    return 100.0


def ssimulacra2(reference, distorted, dtype=np.float32) -> float:
    """SSIMULACRA2 as defined by libjxl v0.11.2 ``tools/ssimulacra2.cc`` (uint8 H x W x 3 sRGB).

    ``ComputeSSIMULACRA2(reference, distorted)`` then ``Msssim::Score``; 100 means
    identical, lower is worse (it can go negative). ``dtype``: the precision of the image
    planes (float32, as the C++ tool computes, about 5x faster than float64 here; norms are
    always accumulated in float64).
    Raises ``ValueError`` if the shapes differ, the arrays are not uint8 RGB, or a side is
    shorter than :data:`SSIMULACRA2_MIN_SIDE`.
    """
    ref, dist = _check_pair(reference, distorted)
    per_ref = _reference(ref, dtype)
    per_scale = [_scale_norms(r, _positive_xyb(lin)) for r, lin in zip(per_ref, _scales(_linear_planes(dist, dtype)))]
    return _score(per_scale)


def ssimulacra2_roi(reference, distorted, boxes) -> float:
    """Area-weighted mean of SSIMULACRA2 over boxes ``(x0, y0, x1, y1)`` (pixels, x1/y1 exclusive).

    Both images are cropped alike (the box is clipped to the image) and each crop is scored
    as an image of its own. A box narrower or shorter than :data:`SSIMULACRA2_MIN_SIDE`
    pixels gives NaN: libjxl refuses such images, and below 8 pixels no scale of the
    metric is defined. The result is NaN if any box is NaN, or if ``boxes`` is empty.
    """
    ref, dist = _check_pair(reference, distorted, check_size=False)
    return float(roi_mean(ref, dist, boxes, ssimulacra2, SSIMULACRA2_MIN_SIDE)[0])
