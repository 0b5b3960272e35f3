"""Tests of msroi.quality.rd: standard sweep, equal-bytes interpolation, BD-rate, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from skimage import data

from msroi.codec import jpeg
from msroi.codec.jpeg import EncoderOptions
from msroi.quality import rd as E
from msroi.errors import MsroiError
from msroi.quality.metrics import all_metrics


@pytest.fixture(scope="module")
def astro():
    return data.astronaut()


@pytest.fixture(scope="module")
def sweep(astro):
    return E.standard_sweep(astro, EncoderOptions(optimize=False), metrics=["psnr", "psnrhvs"])


def test_sweep_table(sweep):
    assert list(sweep.columns) == ["q", "bytes", "psnr", "psnrhvs"]
    assert list(sweep.q) == list(range(1, 101))
    assert sweep.bytes.is_monotonic_increasing
    assert sweep.psnr.iloc[-1] > sweep.psnr.iloc[0] + 10


def test_sweep_with_callable_and_options(astro):
    calls = []

    def enc(rgb, q):
        calls.append(q)
        return jpeg.encode(rgb, q, EncoderOptions(subsampling="4:4:4"))

    a = E.standard_sweep(astro, enc, qualities=[30, 60], metrics=["psnr"])
    b = E.standard_sweep(astro, EncoderOptions(subsampling="4:4:4"), qualities=[30, 60], metrics=["psnr"])
    assert calls == [30, 60]
    pd.testing.assert_frame_equal(a, b)
    c = E.standard_sweep(astro, qualities=[30, 60], metrics=["psnr"])
    assert (c.bytes.values != b.bytes.values).all()


def test_sweep_full_metrics_and_roi(astro):
    roi = np.zeros(astro.shape[:2])
    roi[100:300, 150:350] = 1
    df = E.standard_sweep(astro, qualities=[50], roi=roi)
    assert {"psnr", "ssim", "msssim", "vifp", "psnrhvs", "psnrhvsm", "psnr_rgb", "roi_psnr", "roi_vifp"} <= set(
        df.columns
    )


@pytest.mark.parametrize("q", [12, 37, 50, 75, 93])
def test_standard_jpeg_scores_zero_at_equal_bytes(astro, sweep, q):
    data_ = jpeg.encode(astro, q, EncoderOptions(optimize=False))  # as the sweep
    vals = all_metrics(astro, jpeg.decode(data_), metrics=["psnr", "psnrhvs"])
    d = E.delta_at_equal_bytes(sweep, len(data_), vals)
    assert abs(d["delta_psnr"]) < 0.02
    assert abs(d["delta_psnrhvs"]) < 0.02


def test_at_equal_bytes_range_and_arrays(sweep):
    lo, hi = sweep.bytes.min(), sweep.bytes.max()
    assert np.isnan(E.at_equal_bytes(sweep, lo - 1, "psnr"))
    assert np.isnan(E.at_equal_bytes(sweep, hi + 1, "psnr"))
    assert E.at_equal_bytes(sweep, lo, "psnr") == pytest.approx(sweep.psnr.iloc[0])
    mid = np.array([12000, 20000, 40000])
    vals = E.at_equal_bytes(sweep, mid, "psnr")
    assert vals.shape == (3,) and np.all(np.diff(vals) > 0)
    with pytest.raises(MsroiError):
        E.at_equal_bytes(sweep, 20000, "vifp")


def test_at_equal_bytes_duplicates_and_monotone():
    df = pd.DataFrame({"q": [1, 2, 3, 4, 5], "bytes": [100, 100, 200, 400, 800], "psnr": [20, 22, 25, 30, np.inf]})
    # duplicated 100 bytes averaged to 21; inf dropped -> range ends at 400 bytes
    assert E.at_equal_bytes(df, 100, "psnr") == pytest.approx(21.0)
    assert np.isnan(E.at_equal_bytes(df, 600, "psnr"))
    x = np.geomspace(100, 400, 50)
    y = E.at_equal_bytes(df, x, "psnr")
    assert np.all(np.diff(y) >= 0) and y.min() >= 21 and y.max() <= 30  # PCHIP keeps monotone data monotone
    # linear in log(bytes) is reproduced exactly
    lin = pd.DataFrame({"bytes": [100, 200, 400, 800], "m": [1.0, 2.0, 3.0, 4.0]})
    assert E.at_equal_bytes(lin, 100 * 2**1.5, "m") == pytest.approx(2.5)


def test_bd_rate_synthetic():
    rate = np.array([1000.0, 2000, 4000, 8000])
    dist = np.array([30.0, 33, 36, 39])
    assert E.bd_rate(rate, dist, rate, dist) == pytest.approx(0.0, abs=1e-12)
    assert E.bd_rate(rate, dist, 0.9 * rate, dist) == pytest.approx(-10.0, abs=1e-9)
    assert E.bd_rate(rate, dist, 1.25 * rate, dist) == pytest.approx(25.0, abs=1e-9)
    # B's curve shifted up by 1 dB with a constant slope of 3 dB per doubling: 2^(-1/3) rate
    assert E.bd_rate(rate, dist, rate, dist + 1) == pytest.approx(100 * (2 ** (-1 / 3) - 1), abs=1e-9)
    assert np.isnan(E.bd_rate(rate, dist, rate, dist + 20))  # no overlap
    assert np.isnan(E.bd_rate(rate[:1], dist[:1], rate, dist))
    with pytest.raises(MsroiError):
        E.bd_rate(rate, dist[:3], rate, dist)


def test_bd_rate_jpeg(astro, sweep):
    base = sweep[(sweep.q >= 30) & (sweep.q <= 90)]
    assert E.bd_rate(base.bytes, base.psnr, base.bytes, base.psnr) == pytest.approx(0.0, abs=1e-9)
    opt = E.standard_sweep(astro, EncoderOptions(optimize=True), qualities=range(30, 91, 10), metrics=["psnr"])
    plain = sweep[sweep.q.isin(opt.q)]
    # Huffman optimisation changes only the entropy coding: same pixels, fewer bytes
    np.testing.assert_allclose(opt.psnr.values, plain.psnr.values)
    bd = E.bd_rate(plain.bytes, plain.psnr, opt.bytes, opt.psnr)
    assert -15 < bd < 0


def test_mean_ci():
    v = [1.0, 2.0, 4.0, 7.0, np.nan]
    m, lo, hi = E.mean_ci(v)
    ref = stats.t.interval(0.95, 3, loc=3.5, scale=stats.sem([1, 2, 4, 7]))
    assert m == pytest.approx(3.5)
    assert (lo, hi) == pytest.approx(ref)
    m1, lo1, hi1 = E.mean_ci([2.0])
    assert m1 == 2.0 and np.isnan(lo1) and np.isnan(hi1)
    assert all(np.isnan(E.mean_ci([])))
