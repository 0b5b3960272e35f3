"""Tests of msroi.quality.metrics and msroi.quality.roi against external oracles and invariants."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msroi.pipeline.score import compare_files
from msroi.quality import metrics as M
from msroi.quality import roi as R
from msroi.errors import InputError, MsroiError

ORACLE = Path(os.environ.get("MSROI_ORACLE_DIR", "/work/shared/oracle"))
VQMT = ORACLE / "vqmt"
IQA = ORACLE / "iqa-calibration"

needs_vqmt = pytest.mark.skipif(
    not (VQMT / "reference.csv").is_file(),
    reason=f"VQMT oracle not found at {VQMT} (set MSROI_ORACLE_DIR to the folder holding vqmt/)",
)
needs_iqa = pytest.mark.skipif(
    not (IQA / "reference.csv").is_file(),
    reason=f"TID2013 calibration oracle not found at {IQA} (set MSROI_ORACLE_DIR to the folder holding iqa-calibration/)",
)

# Tolerances from oracle/vqmt/README.md (double precision vs VQMT's float32 printout).
VQMT_TOL = {"psnr": 1e-5, "ssim": 1e-5, "msssim": 1e-5, "vifp": 1e-5, "psnrhvs": 5e-3, "psnrhvsm": 2e-4}
LUMA_NAMES = ("psnr", "ssim", "msssim", "vifp", "psnrhvs", "psnrhvsm")


def _vqmt_rows():
    if not (VQMT / "reference.csv").is_file():
        return []
    return list(pd.read_csv(VQMT / "reference.csv").itertuples(index=False))


def _grey(path):
    return np.asarray(Image.open(path))


def _jpeg(rgb, q, **kw):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.fixture(scope="module")
def astro():
    return data.astronaut()


@pytest.fixture(scope="module")
def astro_q50(astro):
    return _jpeg(astro, 50)


# ------------------------------------------------------------------ VQMT oracle


@needs_vqmt
@pytest.mark.parametrize("row", _vqmt_rows(), ids=lambda r: f"{r.image}_{r.distorted}")
def test_matches_vqmt(row):
    ref = _grey(VQMT / f"{row.image}_ref.png")
    dist = _grey(VQMT / f"{row.image}_{row.distorted}.png")
    assert ref.shape == (row.height, row.width)
    got = M.all_metrics(ref, dist)
    assert set(got) == set(LUMA_NAMES)
    for name in LUMA_NAMES:
        assert abs(got[name] - getattr(row, name)) <= VQMT_TOL[name], name
    # the standalone functions give the same values
    assert M.psnr(ref, dist) == pytest.approx(got["psnr"], abs=1e-12)
    assert M.ssim(ref, dist) == pytest.approx(got["ssim"], abs=1e-12)
    assert M.msssim(ref, dist) == pytest.approx(got["msssim"], abs=1e-12)
    assert M.vifp(ref, dist) == pytest.approx(got["vifp"], abs=1e-12)
    assert M.psnr_hvs(ref, dist) == pytest.approx(got["psnrhvs"], abs=1e-12)
    assert M.psnr_hvsm(ref, dist) == pytest.approx(got["psnrhvsm"], abs=1e-12)


@needs_vqmt
def test_luma_rule_matches_oracle_pngs():
    # The oracle's luma was made from skimage photos cropped to multiples of 16 at the top-left.
    for name, rgb in (("astronaut", data.astronaut()), ("coffee", data.coffee())):
        ref = _grey(VQMT / f"{name}_ref.png")
        h, w = ref.shape
        np.testing.assert_array_equal(M.luma(rgb[:h, :w]), ref)


def test_luma_rounds_ties_up():
    # (0, 0, 25) -> 2.85 -> 3; white and black stay in range
    rgb = np.array([[[0, 0, 25], [255, 255, 255], [0, 0, 0], [1, 1, 1]]], dtype=np.uint8)
    np.testing.assert_array_equal(M.luma(rgb), [[3, 255, 0, 1]])
    # all RGB triples with an exact .5 tie round up (differs from numpy's round-half-even)
    r, g, b = np.meshgrid(np.arange(0, 256, 5), np.arange(0, 256, 3), np.arange(0, 256, 7), indexing="ij")
    num = 299 * r + 587 * g + 114 * b
    tie = (num % 1000) == 500
    assert tie.any()
    rgb = np.stack([r[tie], g[tie], b[tie]], axis=-1)[None].astype(np.uint8)
    np.testing.assert_array_equal(M.luma(rgb)[0], num[tie] // 1000 + 1)


# ----------------------------------------------------------- TID2013 MATLAB oracle


def _iqa_rows():
    if not (IQA / "reference.csv").is_file():
        return []
    return list(pd.read_csv(IQA / "reference.csv").itertuples(index=False))


@needs_iqa
@pytest.mark.parametrize("row", _iqa_rows(), ids=lambda r: r.image)
def test_matches_matlab_originals(row):
    ref = np.asarray(Image.open(IQA / "ref" / f"{row.image}.bmp").convert("RGB"))
    dist = np.asarray(Image.open(IQA / "dist" / f"{row.image}.bmp").convert("RGB"))
    # within one unit of the last printed digit (PSNR 2 decimals, the others 4)
    assert abs(M.psnr_rgb(ref, dist) - row.psnr_rgb) <= 0.01 + 1e-9
    ga, gb = M.luma_matlab(ref), M.luma_matlab(dist)
    assert abs(M.ssim(ga, gb) - row.ssim_gray) <= 1e-4 + 1e-12
    # The published "original msssim.m" values are its weighted-sum combination.
    assert abs(M.msssim(ga, gb, weighting="wtd_sum") - row.ms_ssim_gray) <= 1e-4 + 1e-12


def test_luma_matlab_formula():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [255, 255, 255]]], dtype=np.uint8)
    expect = np.floor(rgb @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]) + 0.5)
    np.testing.assert_array_equal(M.luma_matlab(rgb), expect.astype(np.uint8))
    assert M.luma_matlab(rgb)[0, 4] == 255


# ------------------------------------------------------------ library agreement


def test_psnr_and_ssim_agree_with_scikit_image(astro, astro_q50):
    a, b = M.luma(astro), M.luma(astro_q50)
    assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert M.psnr_rgb(astro, astro_q50) == pytest.approx(
        peak_signal_noise_ratio(astro, astro_q50, data_range=255), abs=1e-10
    )
    sk = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert M.ssim(a, b) == pytest.approx(sk, abs=1e-12)
    # all_metrics takes SSIM from MS-SSIM's first level, as VQMT does: same value
    assert M.all_metrics(astro, astro_q50)["ssim"] == pytest.approx(sk, abs=1e-10)


def test_psnr_hvs_agrees_with_psnr_hvsm_package(astro, astro_q50):
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):
        from psnr_hvsm.numpy import psnr_hvs_hvsm as lib

    a, b = M.luma(astro).astype(float), M.luma(astro_q50).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        hvs, hvsm = lib(a / 255.0, b / 255.0)
    ours = M.psnr_hvs_hvsm(a, b)
    assert ours[0] == pytest.approx(float(hvs), abs=1e-9)
    assert ours[1] == pytest.approx(float(hvsm), abs=1e-9)


def test_psnr_hvs_crops_to_multiple_of_8(astro, astro_q50):
    a, b = M.luma(astro)[:205, :301], M.luma(astro_q50)[:205, :301]
    assert M.psnr_hvs_hvsm(a, b) == M.psnr_hvs_hvsm(a[:200, :296], b[:200, :296])
    assert np.isnan(M.psnr_hvs(a[:7, :50], b[:7, :50]))


# ---------------------------------------------------------------- invariants


def test_identical_images_give_ideal_values(astro):
    got = M.all_metrics(astro, astro)
    assert got["psnr"] == np.inf and got["psnr_rgb"] == np.inf
    assert got["ssim"] == 1.0 and got["msssim"] == 1.0
    assert got["vifp"] == pytest.approx(1.0, abs=1e-9)  # g = s12/(s11 + 1e-10)
    assert got["psnrhvs"] == M.HVS_CAP and got["psnrhvsm"] == M.HVS_CAP


def test_metrics_increase_with_jpeg_quality(astro):
    roi = R.roi_from_boxes([(150, 50, 350, 300)], astro.shape[:2])
    rows = [M.all_metrics(astro, _jpeg(astro, q), roi) for q in (5, 20, 40, 60, 80, 95)]
    for name in rows[0]:
        values = [r[name] for r in rows]
        rising = 1 if M.METRIC[M.metric_name(name)].higher_is_better else -1
        assert all(rising * np.diff(values) > 0), (name, values)


def test_different_sizes_raise(astro):
    small = astro[:-8]
    with pytest.raises(MsroiError, match="differ in size"):
        M.all_metrics(astro, small)
    for f in (M.psnr, M.ssim, M.msssim, M.vifp, M.psnr_hvs_hvsm):
        with pytest.raises(MsroiError, match="differ in size"):
            f(M.luma(astro), M.luma(small))
    with pytest.raises(MsroiError):
        M.all_metrics(astro, astro, roi=np.ones((10, 10)))


def test_small_images_give_nan_not_crash(astro, astro_q50):
    # MS-SSIM needs the level-5 image >= 11 pixels: min side >= 161
    a, b = M.luma(astro), M.luma(astro_q50)
    assert np.isnan(M.msssim(a[:160, :300], b[:160, :300]))
    assert np.isfinite(M.msssim(a[:161, :300], b[:161, :300]))
    # VIF-P needs the 3x3 window to fit at scale 4: min side >= 41
    assert np.isnan(M.vifp(a[:40, :100], b[:40, :100]))
    got = M.all_metrics(astro[:41, :41], astro_q50[:41, :41])
    assert np.isnan(got["msssim"]) and np.isfinite(got["ssim"]) and np.isfinite(got["vifp"])
    got = M.all_metrics(astro[:9, :9], astro_q50[:9, :9])
    assert np.isnan(got["ssim"]) and np.isnan(got["vifp"]) and np.isfinite(got["psnrhvs"])
    got = M.all_metrics(astro[:5, :5], astro_q50[:5, :5])
    assert np.isnan(got["psnrhvs"]) and np.isfinite(got["psnr"])


def test_msssim_weightings(astro, astro_q50):
    a, b = M.luma(astro), M.luma(astro_q50)
    v, p, s = (M.msssim(a, b, weighting=w) for w in ("vqmt", "product", "wtd_sum"))
    assert v < p  # level 5 with exponent 1 instead of 0.1333 (mssim_5 < 1)
    assert len({v, p, s}) == 3
    with pytest.raises(MsroiError):
        M.msssim(a, b, weighting="mean")


def test_flat_reference_vifp_is_nan():
    flat = np.full((64, 64), 128, np.uint8)
    noisy = flat + np.random.default_rng(0).integers(0, 3, flat.shape).astype(np.uint8)
    assert np.isnan(M.vifp(flat, noisy))


# ----------------------------------------------------------------------- ROI


def test_full_roi_equals_whole_image(astro, astro_q50):
    got = M.all_metrics(astro, astro_q50, roi=np.full(astro.shape[:2], 0.3))
    for name in M.METRIC_NAMES:
        assert got["roi_" + name] == pytest.approx(got[name], rel=1e-12), name


def test_roi_psnr_and_hvs_equal_crop(astro, astro_q50):
    a, b = M.luma(astro), M.luma(astro_q50)
    box = (96, 40, 320, 200)  # multiples of 8: whole 8x8 blocks
    roi = R.roi_from_boxes([box], a.shape)
    x0, y0, x1, y1 = box
    assert M.psnr(a, b, roi) == pytest.approx(M.psnr(a[y0:y1, x0:x1], b[y0:y1, x0:x1]), abs=1e-10)
    assert M.psnr_rgb(astro, astro_q50, roi) == pytest.approx(
        M.psnr_rgb(astro[y0:y1, x0:x1], astro_q50[y0:y1, x0:x1]), abs=1e-10
    )
    got, crop = M.psnr_hvs_hvsm(a, b, roi), M.psnr_hvs_hvsm(a[y0:y1, x0:x1], b[y0:y1, x0:x1])
    assert got == pytest.approx(crop, abs=1e-10)


def test_roi_ssim_is_mean_of_map_at_window_centres(astro, astro_q50):
    a, b = M.luma(astro), M.luma(astro_q50)
    _, smap = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, full=True
    )
    roi = R.roi_from_boxes([(100, 100, 200, 180)], a.shape)
    valid = np.zeros(a.shape, bool)
    valid[5:-5, 5:-5] = True
    inside = valid & (roi > 0)
    assert M.ssim(a, b, roi) == pytest.approx(smap[inside].mean(), abs=1e-12)


def test_roi_weights_are_scale_invariant_and_local(astro, astro_q50):
    a, b = M.luma(astro), M.luma(astro_q50)
    roi = R.roi_from_boxes([(200, 100, 400, 400)], a.shape)
    for f in (M.psnr, M.ssim, M.msssim, M.vifp, M.psnr_hvs, M.psnr_hvsm):
        assert f(a, b, roi) == pytest.approx(f(a, b, 0.5 * roi), rel=1e-12)
    # damage outside the ROI leaves the ROI PSNR unchanged
    b2 = b.copy()
    b2[:50, :50] = 0
    assert M.psnr(a, b2, roi) == M.psnr(a, b, roi)
    with pytest.raises(MsroiError):
        M.psnr(a, b, roi * 2)


def test_zero_roi_gives_nan(astro, astro_q50):
    got = M.all_metrics(astro, astro_q50, roi=np.zeros(astro.shape[:2]))
    assert all(np.isnan(got["roi_" + n]) for n in M.METRIC_NAMES)


def test_boxes_files(tmp_path):
    csv_path = tmp_path / "boxes.csv"
    csv_path.write_text("image,x0,y0,x1,y1\nphoto.png,2,1,5,3\nphoto.png,8,8,20,20\nother,0,0,1,1\n")
    json_path = tmp_path / "boxes.json"
    json_path.write_text(json.dumps({"photo": [[2, 1, 5, 3], [8, 8, 20, 20]]}))
    a = R.load_roi(csv_path, (10, 10), image="dir/photo.png")
    b = R.load_roi(json_path, (10, 10), image="photo.png")
    np.testing.assert_array_equal(a, b)
    expect = np.zeros((10, 10))
    expect[1:3, 2:5] = 1
    expect[8:, 8:] = 1
    np.testing.assert_array_equal(a, expect)
    with pytest.raises(MsroiError, match="no boxes"):
        R.load_roi(csv_path, (10, 10), image="missing.png")
    with pytest.raises(MsroiError):
        R.load_roi(csv_path, (10, 10))
    bad = tmp_path / "bad.csv"
    bad.write_text("name,a,b\nx,1,2\n")
    with pytest.raises(InputError, match="bad.csv"):
        R.read_boxes(bad)
    with pytest.raises(MsroiError):
        R.roi_from_boxes([(5, 5, 5, 9)], (10, 10))
    outside = tmp_path / "out.json"
    outside.write_text(json.dumps({"p": [[50, 50, 60, 60]]}))
    with pytest.raises(InputError, match="empty"):
        R.load_roi(outside, (10, 10), image="p")


def test_mask_and_weight_files(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:20] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    roi = R.load_roi(tmp_path / "mask.png", (40, 60))  # auto: two values incl. 0 -> mask
    assert set(np.unique(roi)) == {0.0, 1.0}
    assert roi.sum() == 4 * mask.astype(bool).sum()  # nearest-neighbour x2
    weights = np.tile(np.linspace(0, 255, 30).astype(np.uint8), (20, 1))
    Image.fromarray(weights).save(tmp_path / "w.png")
    w = R.load_roi(tmp_path / "w.png", (20, 30))
    np.testing.assert_allclose(w, weights / 255.0)
    w2 = R.load_roi(tmp_path / "w.png", (40, 60))
    assert w2.shape == (40, 60) and w2.min() >= 0 and w2.max() <= 1
    np.save(tmp_path / "w.npy", np.full((4, 4), 1.5))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        R.load_roi(tmp_path / "w.npy", (8, 8))
    with pytest.raises(InputError, match="no such"):
        R.load_roi(tmp_path / "none.png", (8, 8))


def test_compare_files(tmp_path, astro, astro_q50):
    Image.fromarray(astro).save(tmp_path / "ref.png")
    Image.fromarray(astro_q50).save(tmp_path / "out.png")
    (tmp_path / "b.json").write_text(json.dumps({"ref": [[100, 100, 300, 300]]}))
    got = compare_files(tmp_path / "ref.png", tmp_path / "out.png", roi=tmp_path / "b.json")
    direct = M.all_metrics(astro, astro_q50, R.roi_from_boxes([(100, 100, 300, 300)], astro.shape[:2]))
    assert got == pytest.approx(direct)
    Image.fromarray(astro[:100]).save(tmp_path / "small.png")
    with pytest.raises(InputError, match="small.png"):
        compare_files(tmp_path / "ref.png", tmp_path / "small.png")
