"""Full-reference image quality metrics, as VQMT 1.1 computes them, plus ROI variants.

The paper (Prakash et al., DCC 2017) scored its JPEGs with VQMT (EPFL MMSPG, P. Hanhart;
public repository ``rolinh/VQMT``, version 1.1) on luma. This module reproduces VQMT's
definitions in double precision; ``docs/metrics.md`` gives every formula and the checks
against VQMT's own output and the original MATLAB code.

Luma
    :func:`luma` is full-range BT.601, ``Y = floor((299 R + 587 G + 114 B + 500) / 1000)``
    (round half up, 0..255, no 16..235 scaling), as in the VQMT oracle of this project.
    The paper's own pipeline fed VQMT ffmpeg's limited-range yuv420p luma; values differ
    slightly from ours for that reason. :func:`luma_matlab` is MATLAB's ``rgb2gray``,
    only for comparing with values published on ``rgb2gray`` input.

Metric functions take two 2-D arrays (reference first) on the 0..255 scale (any real
dtype; computed in float64) and an optional ROI weight map (2-D, same shape, values in
[0, 1]; see :mod:`msroi.quality.roi`). Without a ROI they return the whole-image value. With a
ROI, each metric's pooling becomes a weighted mean (a 0/1 mask restricts it):

===========  ==============================================================================
metric       ROI definition
===========  ==============================================================================
PSNR         ``10 log10(255^2 / (sum w (x-y)^2 / sum w))`` (weighted MSE; RGB: over channels)
SSIM         weighted mean of the SSIM map; the value at a window position is weighted by
             the ROI at the window's centre pixel
MS-SSIM      per level, weighted means of the SSIM and contrast-structure maps as for SSIM;
             the ROI is reduced from level to level like the images (2 x 2 mean)
VIF-P        ``sum w num / sum w den`` over all positions of all scales, the ROI filtered and
             subsampled like the images and taken at each window's centre
PSNR-HVS(-M) weighted mean of the per-block errors, block weight = mean ROI over the 8 x 8
             block
===========  ==============================================================================

If the ROI has zero total weight where a metric pools, that metric is NaN.

:func:`all_metrics` adds the two colour metrics the field judges JPEG encoders by:
SSIMULACRA2 (:mod:`msroi.quality.ssimulacra2`) and Butteraugli max and 3-norm
(:mod:`msroi.quality.butteraugli`, libjxl 0.7's tool); their ROI form is the area-weighted
mean over boxes (a weight map or mask contributes its bounding box). :data:`METRICS` is the
project's one list of metrics, with display names and direction (Butteraugli: lower is
better).

Speed, without changing a value: the Gaussian filtering and the per-pixel maps run in
compiled kernels that repeat SciPy's and NumPy's arithmetic bit for bit
(:mod:`msroi.quality._kernels`), and the reference side of SSIM/MS-SSIM and VIF-P is kept
for the last references scored (:class:`_Reference`), since scores come in runs against
one reference (a sweep, the outputs of one job).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from msroi.errors import MsroiError

#: Peak value of 8-bit images, used by every PSNR-type metric.
PEAK = 255.0
#: SSIM constants of Wang et al. 2004 / VQMT: ``(K1 * 255)^2`` and ``(K2 * 255)^2``.
C1 = (0.01 * PEAK) ** 2
C2 = (0.03 * PEAK) ** 2
#: MS-SSIM level weights of Wang, Simoncelli and Bovik 2003.
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: VIF-P noise variance ``sigma_nsq`` (Sheikh & Bovik, ``vifp_mscale.m``; VQMT).
VIFP_SIGMA_NSQ = 2.0
#: Value VQMT gives to PSNR-HVS and PSNR-HVS-M when the error energy is <= FLT_EPSILON.
HVS_CAP = 100000.0
_FLT_EPSILON = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Metric:
    """One metric of :func:`all_metrics`: column name, display name, direction, decimals."""

    name: str
    label: str
    higher_is_better: bool = True
    digits: int = 2


#: Every metric the project reports, in table order; the one list used everywhere.
METRICS = (
    Metric("ssimulacra2", "SSIMULACRA2"),
    Metric("butteraugli_3norm", "Butteraugli 3-norm", higher_is_better=False, digits=3),
    Metric("butteraugli_max", "Butteraugli max", higher_is_better=False, digits=3),
    Metric("psnr", "PSNR"),
    Metric("ssim", "SSIM", digits=4),
    Metric("msssim", "MS-SSIM", digits=4),
    Metric("vifp", "VIF-P", digits=4),
    Metric("psnrhvs", "PSNR-HVS"),
    Metric("psnrhvsm", "PSNR-HVS-M"),
    Metric("psnr_rgb", "PSNR (RGB)"),
)
#: Names returned by :func:`all_metrics` (ROI variants are prefixed with ``roi_``).
METRIC_NAMES = tuple(m.name for m in METRICS)
#: The metrics by name.
METRIC = {m.name: m for m in METRICS}
#: The six luma metrics of the paper (as VQMT computes them).
PAPER_METRICS = ("psnr", "ssim", "msssim", "vifp", "psnrhvs", "psnrhvsm")
#: Metrics that need RGB input (skipped for 2-D luma pairs).
RGB_METRICS = ("ssimulacra2", "butteraugli_max", "butteraugli_3norm", "psnr_rgb")


def metric_name(column: str) -> str:
    """The metric of a column name: ``roi_psnr`` -> ``psnr``."""
    return column.removeprefix("roi_")


def better(column: str, delta: float) -> bool:
    """Whether a difference ``delta`` of metric ``column`` (``roi_`` allowed) is an improvement."""
    return delta > 0 if METRIC[metric_name(column)].higher_is_better else delta < 0


# ----------------------------------------------------------------------------- luma


def luma(rgb) -> np.ndarray:
    """Full-range BT.601 luma of an 8-bit RGB image, with exact integer rounding.

    Takes an ``(H, W, 3)`` uint8 array; returns ``(H, W)`` uint8
    ``floor((299 R + 587 G + 114 B + 500) / 1000)``, i.e. ``round(0.299 R + 0.587 G +
    0.114 B)`` with halves rounded up (the luma of the project's VQMT oracle). A 2-D input
    is taken to be luma already and returned as uint8.
    """
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.uint8, copy=False)
    _check_rgb(a)
    a = a.astype(np.int32)
    y = (299 * a[..., 0] + 587 * a[..., 1] + 114 * a[..., 2] + 500) // 1000
    return y.astype(np.uint8)


def luma_matlab(rgb) -> np.ndarray:
    """MATLAB ``rgb2gray`` of an 8-bit RGB image (for comparing with MATLAB-published values).

    ``0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B``, rounded half away
    from zero to uint8, as ``rgb2gray`` does for uint8 input. Returns ``(H, W)`` uint8.
    """
    a = np.asarray(rgb)
    _check_rgb(a)
    a = a.astype(np.float64)
    y = 0.298936021293775 * a[..., 0] + 0.587043074451121 * a[..., 1] + 0.114020904255103 * a[..., 2]
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def _check_rgb(a):
    if a.ndim != 3 or a.shape[2] != 3:
        raise MsroiError(f"expected an RGB image of shape (H, W, 3), got shape {a.shape}")


# ------------------------------------------------------------------------- helpers


def _pair(ref, dist, roi=None, ndim=2):
    x = np.asarray(ref, dtype=np.float64)
    y = np.asarray(dist, dtype=np.float64)
    if x.ndim != ndim or y.ndim != ndim:
        raise MsroiError(f"expected {ndim}-D images, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise MsroiError(
            f"reference and distorted images differ in size: {_size(x.shape)} vs {_size(y.shape)} (width x height)"
        )
    w = None
    if roi is not None:
        w = np.asarray(roi, dtype=np.float64)
        if w.shape != x.shape[:2]:
            raise MsroiError(f"ROI is {_size(w.shape)} but the images are {_size(x.shape)} (width x height)")
        if not np.all(np.isfinite(w)) or w.min() < 0 or w.max() > 1:
            raise MsroiError("ROI weights must be finite and within [0, 1]")
    return x, y, w


def _size(shape):
    return f"{shape[1]}x{shape[0]}" if len(shape) >= 2 else str(shape)


def _wmean(values, w):
    """Plain mean, or weighted mean (NaN if the weights sum to zero)."""
    if w is None:
        return float(np.mean(values, dtype=np.float64))
    total = float(w.sum())
    if total <= 0:
        return float("nan")
    return float(np.sum(values * w) / total)


def _psnr_from_mse(mse: float) -> float:
    if np.isnan(mse):
        return float("nan")
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(PEAK * PEAK / mse))


def gaussian_window(n: int, sigma: float) -> np.ndarray:
    """1-D Gaussian taps ``exp(-(i - (n-1)/2)^2 / (2 sigma^2))``, i = 0..n-1, summing to 1.

    Its outer product is MATLAB's ``fspecial('gaussian', n, sigma)``.
    """
    i = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-(i * i) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(stack: np.ndarray, g: np.ndarray, step: int = 1) -> np.ndarray:
    """Separable 'valid' filtering of ``(..., H, W)`` by ``g`` x ``g`` (MATLAB ``filter2(.., 'valid')``),
    subsampled by ``step`` (see :func:`msroi.quality._kernels.filter_valid`)."""
    from msroi.quality._kernels import filter_valid

    return filter_valid(stack, g, step)


def _filter_terms(x: np.ndarray, y: np.ndarray, terms, g: np.ndarray) -> np.ndarray:
    """:func:`_filter_valid` of the stack of ``terms`` of x and y (``"x"``, ``"y"``, ``"xx"``,
    ``"yy"``, ``"xy"``), without building it (:func:`msroi.quality._kernels.filter_terms`)."""
    from msroi.quality._kernels import filter_terms

    return filter_terms(x, y, terms, g)


def _centre(w, n):
    """ROI weights at the centre pixels of all valid n x n window positions."""
    if w is None:
        return None
    r = (n - 1) // 2
    return w[r : w.shape[0] - r, r : w.shape[1] - r]


# ------------------------------------------------------------------------- PSNR


def psnr(ref, dist, roi=None) -> float:
    """PSNR in dB of two images on the 0..255 scale (2-D luma or ``(H, W, C)``).

    ``10 log10(255^2 / MSE)``, MSE over all samples (all channels), as VQMT and
    ``skimage.metrics.peak_signal_noise_ratio(data_range=255)``. Identical images give
    ``inf`` (VQMT prints ``inf``; there is no cap). With ``roi`` (H x W weights) the MSE is
    ``sum w (x-y)^2 / sum w`` with the weight shared by the channels of a pixel.
    """
    a = np.asarray(ref)
    x, y, w = _pair(ref, dist, roi, ndim=a.ndim if a.ndim in (2, 3) else 2)
    d2 = (x - y) ** 2
    if d2.ndim == 3:
        d2 = d2.mean(axis=2)
    return _psnr_from_mse(_wmean(d2, w))


def psnr_rgb(ref_rgb, dist_rgb, roi=None) -> float:
    """PSNR in dB over the three RGB channels (scikit-image's definition, data range 255).

    Takes two ``(H, W, 3)`` images; see :func:`psnr` for the ROI form and identical images.
    """
    a, b = np.asarray(ref_rgb), np.asarray(dist_rgb)
    _check_rgb(a)
    _check_rgb(b)
    return psnr(a, b, roi)


# ------------------------------------------------------------------------- SSIM


_SSIM_WINDOW = gaussian_window(11, 1.5)


def _ssim_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference side of :func:`_ssim_maps`: ``mu_x`` and ``sigma_x^2`` (valid size)."""
    mu_x, exx = _filter_terms(x, x, ("x", "xx"), _SSIM_WINDOW)
    return mu_x, exx - mu_x * mu_x


def _ssim_maps(x: np.ndarray, y: np.ndarray, x_moments=None):
    """Valid-size SSIM and contrast-structure maps (11 x 11 Gaussian, sigma 1.5, C1, C2).

    Population moments: ``sigma_x^2 = G*(x^2) - mu_x^2`` etc., as Wang et al.'s
    ``ssim_index.m`` and VQMT. ``x_moments``: ``_ssim_reference(x)`` if already computed.
    Returns ``(ssim_map, cs_map)`` of size (H-10) x (W-10).
    """
    mu_x, sxx = _ssim_reference(x) if x_moments is None else x_moments
    # every line is filtered on its own, so filtering y's planes apart from x's changes no value
    mu_y, eyy, exy = _filter_terms(x, y, ("y", "yy", "xy"), _SSIM_WINDOW)
    from msroi.quality._kernels import ssim_maps

    return ssim_maps(mu_x, sxx, mu_y, eyy, exy, C1, C2)


def ssim(ref, dist, roi=None) -> float:
    """SSIM of two 2-D images on the 0..255 scale (Wang et al. 2004, as VQMT computes it).

    11 x 11 Gaussian window, sigma 1.5, ``C1 = (0.01*255)^2``, ``C2 = (0.03*255)^2``,
    population moments, 'valid' borders (the map is (H-10) x (W-10)), plain mean, no
    downsampling: ``skimage.metrics.structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255)``, which is what runs here;
    it equals the original ``ssim_index.m`` and VQMT (checked to 1e-6). With ``roi`` the
    map is averaged with the ROI weight of each window's centre pixel. Images with a side
    under 11 pixels give NaN. Identical images give 1.
    """
    x, y, w = _pair(ref, dist, roi)
    if min(x.shape) < 11:
        return float("nan")
    if w is None:
        from skimage.metrics import structural_similarity

        return float(
            structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=PEAK)
        )
    ssim_map, _ = _ssim_maps(x, y)
    return _wmean(ssim_map, _centre(w, 11))


# ----------------------------------------------------------------------- MS-SSIM


def _half(a: np.ndarray) -> np.ndarray:
    """Mean of non-overlapping 2 x 2 blocks; an odd last row/column is replicated first.

    For even sides this is VQMT's half-size bilinear resize and MATLAB's
    ``imfilter(x, ones(2)/4, 'symmetric')`` then ``x(1:2:end, 1:2:end)`` (``msssim.m``);
    for odd sides it follows ``msssim.m`` (symmetric padding keeps ceil(n/2) samples).
    """
    h, w = a.shape
    if h % 2 or w % 2:
        a = np.pad(a, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def msssim(ref, dist, roi=None, weighting: str = "vqmt") -> float:
    """Multi-scale SSIM of two 2-D images on the 0..255 scale (Wang, Simoncelli, Bovik 2003).

    5 levels, each the previous one reduced by 2 x 2 block means; at each level the mean
    SSIM (``mssim_l``) and mean contrast-structure (``mcs_l``) with SSIM's 11 x 11,
    sigma 1.5 valid window and C1, C2; weights ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``.

    ``weighting`` selects how the levels are combined (``w`` the weights above):

    - ``"vqmt"`` (default, what the paper measured): ``mssim_5 * prod_{l<5} mcs_l^w_l``,
      as VQMT 1.1 and the older ``ssim_mscale_new.m`` (level 5 enters with exponent 1);
    - ``"product"``: ``mssim_5^0.1333 * prod_{l<5} mcs_l^w_l``, the later ``msssim.m``
      with ``method='product'`` (a negative mean to a fractional power gives NaN);
    - ``"wtd_sum"``: ``sum_{l<5} v_l mcs_l + v_5 mssim_5`` with ``v = w / sum(w)``,
      ``msssim.m`` with ``method='wtd_sum'``; the "original MATLAB MS-SSIM" values
      published in IQA-PyTorch's calibration table (our TID2013 oracle) are this form.

    Images too small for 5 levels (the level-5 image under 11 pixels on a side, i.e.
    ``min(H, W) < 161``; VQMT itself needs 176 and crashes below) give NaN. With ``roi``,
    every mean is weighted by the ROI at the window centre, the ROI being reduced like the
    images. Identical images give 1.
    """
    x, y, w = _pair(ref, dist, roi)
    return _msssim_many(x, y, [w], weighting, _reference(x))[0][0]


def _msssim_many(x, y, rois, weighting="vqmt", ref=None):
    """MS-SSIM for several ROI weightings sharing one computation of the maps.

    ``ref``: the :class:`_Reference` of ``x`` (its per-level work is reused). Returns
    ``(values, level1_ssims)``: per entry of ``rois`` (None = whole image), the MS-SSIM and
    the level-1 mean SSIM (which is :func:`ssim`; VQMT reports the same).
    """
    if weighting not in ("vqmt", "product", "wtd_sum"):
        raise MsroiError(f"unknown MS-SSIM weighting {weighting!r} (use 'vqmt', 'product' or 'wtd_sum')")
    ref = _Reference(x) if ref is None else ref
    h, wd = x.shape
    for _ in range(4):
        h, wd = (h + 1) // 2, (wd + 1) // 2
    too_small = min(h, wd) < 11
    rois = list(rois)
    mssim = [[] for _ in rois]
    mcs = [[] for _ in rois]
    for level in range(5):
        if min(y.shape) < 11:
            break
        x, x_moments = ref.ssim_level(level)
        ssim_map, cs_map = _ssim_maps(x, y, x_moments)
        for i, w in enumerate(rois):
            wc = _centre(w, 11)
            mssim[i].append(_wmean(ssim_map, wc))
            mcs[i].append(_wmean(cs_map, wc))
        if level == 4 or too_small:
            break
        y = _half(y)
        rois = [None if w is None else _half(w) for w in rois]
    level1 = [m[0] if m else float("nan") for m in mssim]
    if too_small:
        return [float("nan")] * len(rois), level1
    wts = np.asarray(MSSSIM_WEIGHTS)
    values = []
    for ms, cs in zip(mssim, mcs):
        cs4 = np.asarray(cs[:4])
        if weighting == "wtd_sum":
            v = wts / wts.sum()
            values.append(float(np.sum(v[:4] * cs4) + v[4] * ms[4]))
            continue
        with np.errstate(invalid="ignore"):
            value = float(np.prod(np.power(cs4, wts[:4])))
            last = ms[4] if weighting == "vqmt" else float(np.power(ms[4], wts[4]))
        values.append(value * last)
    return values, level1


# ------------------------------------------------------------------------- VIF-P


def vifp(ref, dist, roi=None) -> float:
    """Pixel-domain VIF (VIF-P) of two 2-D images on the 0..255 scale (Sheikh & Bovik 2006).

    As ``vifp_mscale.m`` and VQMT: 4 scales s = 1..4, window ``N = 2^(5-s) + 1`` (17, 9,
    5, 3), Gaussian sigma ``N / 5``; for s > 1 both images are valid-filtered with the
    current window and every other row and column is kept from the first (MATLAB
    ``1:2:end``, ceil(n/2) samples; VQMT keeps floor(n/2), identical for sides that are
    multiples of 8). Per scale, valid local moments give ``g = s12 / (s11 + 1e-10)``,
    ``sv = s22 - g s12`` with the clamps s11, s22 >= 0; s11 <= 1e-10 -> g = 0, sv = s22,
    s11 = 0; s22 <= 1e-10 -> g = sv = 0; g < 0 -> sv = s22, g = 0; sv >= 1e-10. Pooled over
    all positions of all scales: ``sum log10(1 + g^2 s11 / (sv + 2)) / sum log10(1 + s11 /
    2)`` (sigma_nsq = 2). A flat reference (zero denominator) gives NaN; identical images
    give 1. Images too small for the scale-4 window (``min(H, W) < 41``) give NaN.
    """
    x, y, w = _pair(ref, dist, roi)
    return _vifp_many(x, y, [w], _reference(x))[0]


def _vifp_reference(x: np.ndarray, g: np.ndarray):
    """The reference side of one VIF-P scale: ``mu1``, ``s11`` (0 where flat), the flat
    positions (``s11 <= 1e-10`` before zeroing) and the denominator map."""
    mu1, e11 = _filter_terms(x, x, ("x", "xx"), g)
    s11 = np.maximum(e11 - mu1 * mu1, 0.0)
    flat = s11 <= 1e-10
    s11[flat] = 0.0
    return mu1, s11, flat, np.log10(1.0 + s11 / VIFP_SIGMA_NSQ)


def _vifp_many(x, y, rois, ref=None):
    """VIF-P for several ROI weightings (None = whole image) sharing one computation.

    ``ref``: the :class:`_Reference` of ``x`` (its per-scale work is reused).
    """
    from msroi.quality._kernels import vifp_terms

    ref = _Reference(x) if ref is None else ref
    rois = list(rois)
    num = np.zeros(len(rois))
    den = np.zeros(len(rois))
    nan = [float("nan")] * len(rois)
    for s in range(1, 5):
        n = 2 ** (5 - s) + 1
        g = gaussian_window(n, n / 5.0)
        if s > 1:
            if min(y.shape) < n:
                return nan
            y = _filter_valid(y, g, 2)
            rois = [None if w is None else _filter_valid(w, g, 2) for w in rois]
        if min(y.shape) < n:
            return nan
        x, (mu1, s11, flat_ref, den_map) = ref.vif_scale(s)
        mu2, e22, e12 = _filter_terms(x, y, ("y", "yy", "xy"), g)
        num_map = np.log10(vifp_terms(mu1, s11, flat_ref, mu2, e22, e12, VIFP_SIGMA_NSQ))
        for i, w in enumerate(rois):
            wc = _centre(w, n)
            num[i] += float(num_map.sum() if wc is None else np.sum(wc * num_map))
            den[i] += float(den_map.sum() if wc is None else np.sum(wc * den_map))
    return [float(a / b) if b != 0 else float("nan") for a, b in zip(num, den)]


# ------------------------------------------------------------- reference cache


class _Reference:
    """The reference-side work of MS-SSIM/SSIM and VIF-P for one reference luma ``x``,
    computed on first use: per MS-SSIM level the image and its window moments, per VIF-P
    scale the image and :func:`_vifp_reference`."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self._ssim: list = []
        self._vif: list = []

    def ssim_level(self, level: int):
        """``(x_level, (mu_x, sigma_x^2))`` of MS-SSIM level ``level`` (0 = full size)."""
        while len(self._ssim) <= level:
            xl = self.x if not self._ssim else _half(self._ssim[-1][0])
            self._ssim.append((xl, _ssim_reference(xl)))
        return self._ssim[level]

    def vif_scale(self, s: int):
        """``(x_s, _vifp_reference(x_s, g_s))`` of VIF-P scale ``s`` (1..4)."""
        while len(self._vif) < s:
            k = len(self._vif) + 1
            n = 2 ** (5 - k) + 1
            g = gaussian_window(n, n / 5.0)
            xs = self.x if k == 1 else _filter_valid(self._vif[-1][0], g, 2)
            self._vif.append((xs, _vifp_reference(xs, g)))
        return self._vif[s - 1]

    def nbytes(self) -> int:
        """Bytes held by the arrays computed so far."""
        arrays = [a for _, m in self._ssim for a in m] + [a for _, m in self._vif for a in m]
        arrays += [xl for xl, _ in self._ssim[1:]] + [xs for xs, _ in self._vif[1:]]
        return self.x.nbytes + sum(a.nbytes for a in arrays)


# Scores against one reference come in runs (a sweep, the outputs of one job), so the
# reference-side work is kept for the last references seen, keyed by content, within a
# memory budget (a 4-megapixel reference holds about 300 MB once every metric has run).
_REFERENCES: dict[tuple, _Reference] = {}
_REFERENCE_BUDGET = 1 << 30


def _reference(x: np.ndarray, pixels: np.ndarray | None = None) -> _Reference:
    """The cached :class:`_Reference` of the float64 luma ``x`` (created on a miss).

    ``pixels``: the uint8 luma that ``x`` was made from, if at hand; hashing it is 8x less
    work than hashing ``x``.
    """
    import hashlib

    src = np.ascontiguousarray(x if pixels is None else pixels)
    key = (x.shape, src.dtype.str, hashlib.blake2b(src, digest_size=16).digest())
    ref = _REFERENCES.pop(key, None) or _Reference(x)
    while _REFERENCES and sum(r.nbytes() for r in _REFERENCES.values()) + ref.nbytes() > _REFERENCE_BUDGET:
        del _REFERENCES[next(iter(_REFERENCES))]
    _REFERENCES[key] = ref  # most recently used last
    return ref


# -------------------------------------------------------------- PSNR-HVS(-M)


def _hvs_tiles():
    # psnr_hvsm's package __init__ prints a note to stdout when PyTorch is missing;
    # keep it off our stdout (the CLI prints JSON there).
    with contextlib.redirect_stdout(io.StringIO()):
        from psnr_hvsm.numpy import hvs_hvsm_mse_tiles
    return hvs_hvsm_mse_tiles


def hvs_block_errors(ref, dist):
    """Per-block PSNR-HVS and PSNR-HVS-M error energies of two 2-D 0..255 images.

    Images are cropped at the bottom and right to sides that are multiples of 8 (the
    8 x 8 block grid from (0, 0); VQMT needs multiples of 8 and aborts otherwise; the
    cropped partial blocks are not scored). Returns ``(hvs, hvsm, (rows, cols))``: two
    float64 arrays of per-block mean squared CSF-weighted DCT error, blocks in raster
    order, computed by ``psnr_hvsm`` (numpy backend; Ponomarenko et al. 2006/2007 CSF and
    masking tables, identical to VQMT's). Raises :class:`MsroiError` below 8 x 8.
    """
    x, y, _ = _pair(ref, dist)
    h8, w8 = (x.shape[0] // 8) * 8, (x.shape[1] // 8) * 8
    if h8 == 0 or w8 == 0:
        raise MsroiError(f"PSNR-HVS needs at least 8x8 pixels, got {_size(x.shape)}")
    with np.errstate(invalid="ignore", divide="ignore"):  # flat blocks: 0/0 is masked out
        hvs, hvsm = _hvs_tiles()(x[:h8, :w8], y[:h8, :w8])
    return np.asarray(hvs, dtype=np.float64), np.asarray(hvsm, dtype=np.float64), (h8 // 8, w8 // 8)


def _hvs_psnr(s: float) -> float:
    if np.isnan(s):
        return float("nan")
    if s <= _FLT_EPSILON:
        return HVS_CAP
    return float(10.0 * np.log10(PEAK * PEAK / s))


def _block_weights(w, grid):
    if w is None:
        return None
    rows, cols = grid
    return w[: rows * 8, : cols * 8].reshape(rows, 8, cols, 8).mean(axis=(1, 3)).ravel()


def psnr_hvs_hvsm(ref, dist, roi=None) -> tuple[float, float]:
    """PSNR-HVS and PSNR-HVS-M in dB of two 2-D images on the 0..255 scale.

    Egiazarian et al. 2006 (PSNR-HVS) and Ponomarenko et al. 2007 (PSNR-HVS-M), as VQMT:
    8 x 8 blocks from (0, 0), orthonormal DCT-II, CSF weighting and (for -M) contrast
    masking with the original tables; ``10 log10(255^2 / S)`` with S the mean error energy
    per pixel. Sides that are not multiples of 8 are cropped at the bottom/right (see
    :func:`hvs_block_errors`); images under 8 x 8 give NaN. ``S <= FLT_EPSILON`` (e.g.
    identical images) gives the VQMT cap :data:`HVS_CAP` = 100000. Computed in float64;
    VQMT's float32 accumulation makes its PSNR-HVS up to ~2e-3 dB higher. With ``roi``,
    S is the mean of per-block energies weighted by the block's mean ROI weight.
    """
    x, y, w = _pair(ref, dist, roi)
    if min(x.shape) < 8:
        return float("nan"), float("nan")
    hvs, hvsm, grid = hvs_block_errors(x, y)
    bw = _block_weights(w, grid)
    return _hvs_psnr(_wmean(hvs, bw)), _hvs_psnr(_wmean(hvsm, bw))


def psnr_hvs(ref, dist, roi=None) -> float:
    """PSNR-HVS in dB; see :func:`psnr_hvs_hvsm`."""
    return psnr_hvs_hvsm(ref, dist, roi)[0]


def psnr_hvsm(ref, dist, roi=None) -> float:
    """PSNR-HVS-M in dB; see :func:`psnr_hvs_hvsm`."""
    return psnr_hvs_hvsm(ref, dist, roi)[1]


# --------------------------------------------------------------------- all at once


def roi_bounding_box(roi) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` (x1/y1 exclusive) around the nonzero weights of ``roi``; None if empty."""
    ys, xs = np.nonzero(np.asarray(roi) > 0)
    if ys.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _butteraugli_pairs(a, b, boxes):
    """Butteraugli ``[(max, 3-norm)]`` of one RGB pair: whole image, then over ``boxes`` if given.

    The box crops are scored by a second tool process running alongside the first (the tool
    is single-threaded)."""
    from concurrent.futures import ThreadPoolExecutor

    from msroi.quality.butteraugli import butteraugli, butteraugli_roi

    if boxes is None:
        return [butteraugli(a, b)]
    with ThreadPoolExecutor(1) as pool:
        roi = pool.submit(butteraugli_roi, a, b, boxes)
        return [butteraugli(a, b), roi.result()]


def _ssimulacra2_values(a, b, boxes):
    """SSIMULACRA2 of one RGB pair: whole image (NaN under 8 px), then over ``boxes`` if given."""
    from msroi.quality.ssimulacra2 import SSIMULACRA2_MIN_SIDE, ssimulacra2, ssimulacra2_roi

    whole = float("nan") if min(a.shape[:2]) < SSIMULACRA2_MIN_SIDE else ssimulacra2(a, b)
    return [whole] + ([] if boxes is None else [ssimulacra2_roi(a, b, boxes)])


def all_metrics(ref_rgb, dist_rgb, roi=None, metrics=None, boxes=None) -> dict[str, float]:
    """Compute the metrics of one image pair; returns ``{name: value}``.

    Takes two ``(H, W, 3)`` uint8 RGB images (or two 2-D luma images, then without the
    :data:`RGB_METRICS`), an optional ROI weight map ``(H, W)`` in [0, 1] (never defaulted:
    pass a region that is not the map under test), an optional subset of
    :data:`METRIC_NAMES`, and optional ROI ``boxes`` ``[(x0, y0, x1, y1), ...]`` (pixels,
    x1/y1 exclusive) for the box-based metrics. Names: ``psnr``, ``ssim``, ``msssim``
    (VQMT weighting), ``vifp``, ``psnrhvs``, ``psnrhvsm`` on :func:`luma`; ``psnr_rgb``;
    ``ssimulacra2`` (:mod:`msroi.quality.ssimulacra2`); ``butteraugli_max`` and
    ``butteraugli_3norm`` (one call of libjxl 0.7's tool, :mod:`msroi.quality.butteraugli`;
    NaN without the tool). With a ROI also ``roi_<name>`` for each: the luma metrics pool
    their maps with the ROI weights; SSIMULACRA2 and Butteraugli are the area-weighted mean
    over ``boxes`` of the metric on each box's crop (without ``boxes``: the bounding box of
    the ROI's nonzero weights, so a mask ROI uses its bounding box), NaN when a box is under
    8 pixels on a side. Each map is computed once and pooled with and without the ROI; when
    MS-SSIM is computed, ``ssim`` is its level-1 mean SSIM, as in VQMT (equal to
    :func:`ssim`). Raises :class:`MsroiError` when the sizes differ.
    """
    a, b = np.asarray(ref_rgb), np.asarray(dist_rgb)
    if a.shape != b.shape:
        raise MsroiError(
            f"reference and distorted images differ in size: {_size(a.shape)} vs {_size(b.shape)} (width x height)"
        )
    names = list(METRIC_NAMES if metrics is None else metrics)
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown:
        raise MsroiError(f"unknown metric(s) {unknown}; known: {', '.join(METRIC_NAMES)}")
    if a.ndim == 2:
        names = [n for n in names if n not in RGB_METRICS]
    ya = luma(a)
    x, y, w = _pair(ya, luma(b), roi)
    if w is not None and boxes is None:
        box = roi_bounding_box(w)
        boxes = [] if box is None else [box]
    if w is None:
        boxes = None
    rgb8 = (np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
    pool = butter = None
    if "butteraugli_max" in names or "butteraugli_3norm" in names:
        # the external tool runs while the other metrics are computed here
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1)
        butter = pool.submit(_butteraugli_pairs, *rgb8, boxes)
    rois = [None] if w is None else [None, w]
    prefixes = ["", "roi_"][: len(rois)]
    ref = _reference(x, ya) if "msssim" in names or "vifp" in names else None
    res: dict[str, list[float]] = {}
    if "psnr" in names:
        d2 = (x - y) ** 2
        res["psnr"] = [_psnr_from_mse(_wmean(d2, r)) for r in rois]
    if "msssim" in names:
        res["msssim"], level1 = _msssim_many(x, y, rois, ref=ref)
        if "ssim" in names:
            res["ssim"] = level1
    elif "ssim" in names:
        res["ssim"] = [ssim(x, y, r) for r in rois]
    if "vifp" in names:
        res["vifp"] = _vifp_many(x, y, rois, ref)
    if "psnrhvs" in names or "psnrhvsm" in names:
        if min(x.shape) < 8:
            hvs_vals = [(float("nan"), float("nan"))] * len(rois)
        else:
            hvs, hvsm, grid = hvs_block_errors(x, y)
            bws = [_block_weights(r, grid) for r in rois]
            hvs_vals = [(_hvs_psnr(_wmean(hvs, bw)), _hvs_psnr(_wmean(hvsm, bw))) for bw in bws]
        if "psnrhvs" in names:
            res["psnrhvs"] = [v[0] for v in hvs_vals]
        if "psnrhvsm" in names:
            res["psnrhvsm"] = [v[1] for v in hvs_vals]
    if "psnr_rgb" in names:
        d = a.astype(np.int32) - b.astype(np.int32) if a.dtype == np.uint8 else a.astype(float) - b
        d2 = np.einsum("ijk,ijk->ij", d, d, dtype=np.float64) / 3.0
        res["psnr_rgb"] = [_psnr_from_mse(_wmean(d2, r)) for r in rois]
    if "ssimulacra2" in names:
        res["ssimulacra2"] = _ssimulacra2_values(*rgb8, boxes)
    if butter is not None:
        with pool:
            pairs = butter.result()
        res["butteraugli_max"] = [v[0] for v in pairs]
        res["butteraugli_3norm"] = [v[1] for v in pairs]
    out: dict[str, float] = {}
    for i, prefix in enumerate(prefixes):
        for name in METRIC_NAMES:
            if name in res and name in names:
                out[prefix + name] = float(res[name][i])
    return out


