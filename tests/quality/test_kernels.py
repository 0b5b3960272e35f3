"""Tests of the compiled separable filter and of the luma metrics' reference cache."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate1d
from skimage import data

from msroi.quality import metrics as M
from msroi.quality._kernels import filter_terms, filter_valid, ssim_maps, ssimulacra2_maps, vifp_terms
from msroi.quality.ssimulacra2 import recursive_gaussian_kernel


def _scipy_valid(planes, g, step, pad=0):
    planes = np.pad(planes, [(0, 0)] * (planes.ndim - 2) + [(pad, pad), (pad, pad)])
    r = len(g) // 2
    out = correlate1d(planes, g, axis=-1, mode="constant")[..., r : planes.shape[-1] - r]
    out = correlate1d(out, g, axis=-2, mode="constant")[..., r : planes.shape[-2] - r, :]
    return out[..., ::step, ::step]


KERNELS = {
    "ssim": M.gaussian_window(11, 1.5),
    "vif17": M.gaussian_window(17, 17 / 5),
    "vif3": M.gaussian_window(3, 3 / 5),
    # mirrored only to within DBL_EPSILON: scipy still takes it as symmetric
    "ssimulacra2": recursive_gaussian_kernel(1.5),
    "ssimulacra2_f32": recursive_gaussian_kernel(1.5).astype(np.float32),
    "asymmetric": np.array([0.1, 0.2, 0.4, 0.2, 0.15]),
}


@pytest.mark.parametrize("kernel", KERNELS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("pad", [0, 2, 4])
def test_filter_valid_is_scipy_bit_for_bit(kernel, dtype, step, pad):
    rng = np.random.default_rng(7)
    g = KERNELS[kernel]
    for shape in ((3, 61, 83), (1, 18, 17), (2, len(g), len(g) + 1)):
        planes = rng.integers(0, 256, shape).astype(dtype)
        planes[0] *= planes[0]  # squares, as the metrics filter them
        want = _scipy_valid(planes, g, step, pad)
        got = filter_valid(planes, g, step, pad)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_filter_valid_2d_and_errors():
    x = data.camera()[:64, :80].astype(np.float64)
    g = KERNELS["ssim"]
    np.testing.assert_array_equal(filter_valid(x, g), _scipy_valid(x, g, 1))
    # zero padding by the radius is scipy's same-size result with mode="constant"
    same = correlate1d(correlate1d(x, g, axis=-1, mode="constant"), g, axis=-2, mode="constant")
    np.testing.assert_array_equal(filter_valid(x, g, pad=5), same)
    with pytest.raises(ValueError, match="odd-length"):
        filter_valid(x, np.ones(4) / 4)
    with pytest.raises(ValueError, match="smaller than"):
        filter_valid(x[:5], g)


def test_reference_cache_changes_no_value_and_is_bounded(monkeypatch):
    rgb = data.astronaut()
    ref = M.luma(rgb)
    dists = [ref[::-1].copy(), np.clip(ref.astype(int) + 9, 0, 255).astype(np.uint8)]
    roi = np.zeros(ref.shape)
    roi[100:400, 50:300] = 1.0
    M._REFERENCES.clear()
    cached = [M.all_metrics(ref, d, roi) for d in dists]  # the second reuses the first's work
    assert len(M._REFERENCES) == 1
    for d, values in zip(dists, cached):
        M._REFERENCES.clear()
        assert M.all_metrics(ref, d, roi) == values
    # a budget below one reference keeps only the newest
    monkeypatch.setattr(M, "_REFERENCE_BUDGET", 1)
    M.all_metrics(ref, dists[0])
    M.all_metrics(dists[1], dists[0])
    assert len(M._REFERENCES) == 1
    M._REFERENCES.clear()


def _moments(rng, shape, dtype):
    x = rng.integers(0, 256, shape).astype(dtype)
    y = np.clip(x + rng.normal(0, 9, shape), 0, 255).astype(dtype)
    x[:20, :20] = 77  # a flat patch (VIF-P clamps it)
    g = KERNELS["ssim"]
    return x, y, *filter_valid(np.stack([x, y, x * x, y * y, x * y]), g, pad=5)


def test_ssim_maps_are_numpy_bit_for_bit():
    x, y, mu_x, mu_y, exx, eyy, exy = _moments(np.random.default_rng(3), (40, 50), np.float64)
    sxx = exx - mu_x * mu_x
    ssim_map, cs_map = ssim_maps(mu_x, sxx, mu_y, eyy, exy, M.C1, M.C2)
    mxx, myy, mxy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    cs = (2.0 * (exy - mxy) + M.C2) / (sxx + (eyy - myy) + M.C2)
    np.testing.assert_array_equal(cs_map, cs)
    np.testing.assert_array_equal(ssim_map, ((2.0 * mxy + M.C1) / (mxx + myy + M.C1)) * cs)


def test_vifp_terms_are_numpy_bit_for_bit():
    x, y, mu1, mu2, e11, e22, e12 = _moments(np.random.default_rng(4), (60, 70), np.float64)
    y[30:, 30:] = 5  # flat distorted patch
    mu1, mu2, e11, e22, e12 = filter_valid(np.stack([x, y, x * x, y * y, x * y]), KERNELS["ssim"], pad=5)
    s11 = np.maximum(e11 - mu1 * mu1, 0.0)
    flat = s11 <= 1e-10
    s11[flat] = 0.0
    got = vifp_terms(mu1, s11, flat, mu2, e22, e12, 2.0)
    s22 = np.maximum(e22 - mu2 * mu2, 0.0)
    s12 = e12 - mu1 * mu2
    gg = s12 / (s11 + 1e-10)
    sv = s22 - gg * s12
    gg[flat], sv[flat] = 0.0, s22[flat]
    gg[s22 <= 1e-10], sv[s22 <= 1e-10] = 0.0, 0.0
    neg = gg < 0
    sv[neg], gg[neg] = s22[neg], 0.0
    assert flat.any() and (s22 <= 1e-10).any() and neg.any()
    np.testing.assert_array_equal(got, 1.0 + gg * gg * s11 / (np.maximum(sv, 1e-10) + 2.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ssimulacra2_maps_are_numpy_bit_for_bit(dtype):
    x, y, mu1, mu2, s11, s22, s12 = _moments(np.random.default_rng(5), (30, 45), dtype)
    x, y, mu1, mu2, s11, s22, s12 = (a / dtype(255) for a in (x, y, mu1, mu2, s11, s22, s12))
    got = ssimulacra2_maps(x, mu1, s11, y, mu2, s22, s12, 0.0009)
    num_s = 2.0 * (s12 - mu1 * mu2) + 0.0009
    denom_s = (s11 - mu1 * mu1) + (s22 - mu2 * mu2) + 0.0009
    diff = mu1 - mu2
    err = np.maximum(1.0 - (1.0 - diff * diff) * num_s / denom_s, 0.0)
    ratio = (1.0 + np.abs(y - mu2)) / (1.0 + np.abs(x - mu1)) - 1.0
    maps = np.stack([err, np.maximum(ratio, 0.0), np.maximum(-ratio, 0.0)])
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[:3], maps)
    np.testing.assert_array_equal(got[3:], (maps * maps) * (maps * maps))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["ssim", "ssimulacra2", "asymmetric"])
def test_filter_terms_equals_filtering_the_stack(dtype, kernel):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (37, 52)).astype(dtype)
    y = rng.integers(0, 256, (37, 52)).astype(dtype)
    g = KERNELS[kernel]
    for step, pad in ((1, 0), (2, 0), (1, len(g) // 2)):
        got = filter_terms(x, y, ("yy", "xy", "y", "x", "xx"), g, step, pad)
        want = filter_valid(np.stack([y * y, x * y, y, x, x * x]), g, step, pad)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="2-D float32 or float64"):
        filter_terms(x, y.astype(np.float64 if dtype == np.float32 else np.float32), ("x",), g)
