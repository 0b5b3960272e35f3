"""Tests of the compiled separable filter and of the luma metrics' reference cache."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate1d
from skimage import data

from msroi.quality import metrics as M
from msroi.quality._kernels import filter_valid
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
