"""Tests of the saliency-driven DCT-domain allocation (msroi.codec.semantic, msroi.codec.dct)."""

import io

import numpy as np
import pytest
from PIL import Image

from msroi.codec import dct
from msroi.codec.semantic import block_weights, encode_semantic
from msroi.errors import MsroiError


def _photo(h=192, w=256):
    import skimage.data
    a = skimage.data.astronaut()[:h, 128:128 + w]
    return np.ascontiguousarray(a)


def _pillow(rgb, q):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=q, subsampling=2, optimize=True)
    return b.getvalue()


def _decode(data):
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        return np.asarray(im.convert("RGB")), im


def _luma(rgb):
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(float)


def _sof_markers(data):
    """Start-of-frame markers in the header (scan up to the first SOS)."""
    out, i = [], 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF
        m = data[i + 1]
        n = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            out.append(m)
        if m == 0xDA:
            break
        i += 2 + n
    return out


def _box_map(h, w, box):
    m = np.zeros((h, w))
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 1.0
    return m


def test_quality_tables_match_libjpeg():
    rgb = _photo(64, 64)
    for q in (10, 50, 90):
        with Image.open(io.BytesIO(_pillow(rgb, q))) as im:
            qt = im.quantization
        ours = dct.quality_tables(q)
        for k in (0, 1):
            natural = np.array(qt[k])  # Pillow >= 8 lists tables in natural order
            assert np.array_equal(natural.reshape(8, 8), ours[k])


def test_plain_dct_encode_is_close_to_libjpeg():
    rgb = _photo()
    tables = dct.quality_tables(75)
    c = dct.image_coefficients(rgb)
    data = dct.write_jpeg((np.rint(c[0] / tables[0]), np.rint(c[1] / tables[1]), np.rint(c[2] / tables[1])),
                          tables, *rgb.shape[:2])
    ref = _pillow(rgb, 75)
    assert abs(len(data) - len(ref)) < 0.03 * len(ref)
    out, _ = _decode(data)
    mse = np.mean((_luma(out) - _luma(rgb)) ** 2)
    mse_ref = np.mean((_luma(_decode(ref)[0]) - _luma(rgb)) ** 2)
    assert mse < 1.1 * mse_ref


@pytest.mark.parametrize("shape", [(192, 256), (37, 53), (120, 200)])
def test_output_is_baseline_jpeg_within_budget(shape):
    rgb = _photo(*shape)
    h, w = shape
    smap = _box_map(h, w, (h // 4, 3 * h // 4, w // 4, 3 * w // 4))
    budget = len(_pillow(rgb, 50))
    data, info = encode_semantic(rgb, smap, budget)
    assert info["fits"] and len(data) <= budget and info["bytes"] == len(data)
    assert len(data) >= 0.9 * budget  # the budget is used, not wasted
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    assert _sof_markers(data) == [0xC0]  # baseline sequential, Huffman
    out, im = _decode(data)
    assert out.shape == rgb.shape
    assert im.layer == [(1, 2, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]  # JFIF ids, 4:2:0


def test_deterministic():
    rgb = _photo()
    smap = np.linspace(0, 1, rgb.shape[1])[None, :].repeat(rgb.shape[0], 0)
    budget = len(_pillow(rgb, 40))
    a, ia = encode_semantic(rgb, smap, budget)
    b, ib = encode_semantic(rgb.copy(), smap.copy(), budget)
    assert a == b and ia["lam"] == ib["lam"]


def test_salient_region_gains_over_uniform_map_at_equal_budget():
    rgb = _photo(256, 256)
    h, w = rgb.shape[:2]
    box = (64, 192, 64, 192)
    smap = _box_map(h, w, box)
    budget = len(_pillow(rgb, 50))
    sem, _ = encode_semantic(rgb, smap, budget)
    strong, _ = encode_semantic(rgb, smap, budget, ratio=16.0)
    uni, _ = encode_semantic(rgb, np.ones((h, w)), budget)
    y0, y1, x0, x1 = box
    ref = _luma(rgb)[y0:y1, x0:x1]

    def roi_psnr(data):
        """PSNR-HVS-M over the 8x8 blocks of the box (the paper's perceptual metric)."""
        from psnr_hvsm.numpy import hvs_hvsm_mse_tiles
        out = _luma(_decode(data)[0])[y0:y1, x0:x1]
        _, tiles = hvs_hvsm_mse_tiles(ref / 255.0, out / 255.0)
        return 10 * np.log10(1.0 / np.mean(tiles))

    assert len(sem) <= budget and len(uni) <= budget and len(strong) <= budget
    assert roi_psnr(sem) > roi_psnr(uni) + 0.5
    assert roi_psnr(strong) > roi_psnr(sem)


def test_budget_too_small_is_reported():
    rgb = _photo()
    data, info = encode_semantic(rgb, np.ones(rgb.shape[:2]), 200)
    assert not info["fits"]
    assert len(data) > 200
    _decode(data)


def test_large_budget_keeps_full_precision():
    rgb = _photo(64, 64)
    data, info = encode_semantic(rgb, np.ones((64, 64)), 10 ** 7)
    assert info["fits"] and info["lam"] == 0.0 and info["table_quality"] == 100


def test_bad_inputs():
    rgb = _photo(64, 64)
    with pytest.raises(MsroiError):
        encode_semantic(rgb, np.ones((32, 32)), 5000)
    with pytest.raises(MsroiError):
        encode_semantic(rgb, np.full((64, 64), np.nan), 5000)
    with pytest.raises(MsroiError):
        encode_semantic(rgb.astype(float), np.ones((64, 64)), 5000)
    with pytest.raises(MsroiError):
        encode_semantic(rgb, np.ones((64, 64)), 0)


def test_block_weights():
    m = np.zeros((16, 32))
    m[:, 16:] = 1.0
    w = block_weights(m, 8, (16, 32), ratio=4.0)
    assert w.shape == (2, 4)
    assert np.allclose(w[:, :2], 1.0) and np.allclose(w[:, 2:], 4.0)
    r = block_weights(m, 8, (16, 32), ratio=4.0, calibrate="rank")
    assert np.allclose(r[:, :2], r[0, 0]) and np.all(r[:, 2:] > r[:, :2])


@pytest.mark.parametrize("shape", [(75, 113), (37, 53), (120, 200), (17, 250)])
def test_output_content_is_right_for_sizes_that_are_not_whole_mcus(shape):
    # regression: coefficient arrays padded to whole MCUs were misread row by row
    from skimage import data

    from msroi.codec import jpeg
    from msroi.quality import metrics
    from msroi.saliency import priors

    rgb = np.ascontiguousarray(data.astronaut()[: shape[0], : shape[1]])
    std = jpeg.encode(rgb, 50, jpeg.EncoderOptions(optimize=True))
    out, info = encode_semantic(rgb, priors.center_map(shape), len(std))
    y = metrics.luma(rgb)
    assert info["fits"] and len(out) <= len(std)
    assert metrics.psnr(y, metrics.luma(jpeg.decode(out))) > metrics.psnr(y, metrics.luma(jpeg.decode(std))) - 1.0


def test_coefficients_match_libjpeg_at_high_quality(tmp_path):
    # libjpeg codes integer (fixed-point) YCbCr; coding float luma instead cost 0.7 dB
    # PSNR-HVS-M at q90, so the plain path must reproduce libjpeg's quantised levels.
    import jpeglib

    rgb = _photo()
    path = tmp_path / "ref.jpg"
    path.write_bytes(_pillow(rgb, 90))
    ref = jpeglib.read_dct(str(path))
    tables = dct.quality_tables(90)
    c = dct.image_coefficients(rgb)
    for ours, theirs, t in ((c[0], ref.Y, tables[0]), (c[1], ref.Cb, tables[1]), (c[2], ref.Cr, tables[1])):
        lv = np.rint(ours[:theirs.shape[0], :theirs.shape[1]] / t)
        assert np.mean(lv != theirs) < 0.01


def test_planning_samples_mcus_by_size():
    from msroi.codec.semantic import _plan_stride

    assert [_plan_stride(n) for n in (100_000, 199_999, 200_000, 393_216, 1_999_999, 2_000_000, 24_000_000)] == \
        [(1, 1), (1, 1), (2, 2), (2, 2), (2, 2), (4, 1), (4, 1)]


def test_planning_sample_is_a_grid_of_whole_mcus():
    from msroi.codec.semantic import _sample_mcus

    rng = np.random.default_rng(0)
    y, c = rng.normal(size=(10, 14, 8, 8)), rng.normal(size=(5, 7, 8, 8))
    w = (rng.random((10, 14)), rng.random((5, 7)), rng.random((5, 7)))
    (sy, sb, sr), (wy, wb, wr), frac = _sample_mcus((y, c, c + 1), w, 2, 2)
    assert sy.shape == (6, 8, 8, 8) and sb.shape == sr.shape == (3, 4, 8, 8) and frac == 12 / 35
    # MCU (1, 2) of the sample is MCU (2, 4) of the image: luma blocks 4..5 x 8..9, chroma (2, 4)
    assert np.array_equal(sy[2:4, 4:6], y[4:6, 8:10]) and np.array_equal(sb[1, 2], c[2, 4])
    assert np.array_equal(sr[1, 2], c[2, 4] + 1) and np.array_equal(wy[2:4, 4:6], w[0][4:6, 8:10])
    assert wb[1, 2] == w[1][2, 4] and wr[1, 2] == w[2][2, 4]


def test_sampled_planning_fits_the_budget():
    import skimage.data

    rgb = skimage.data.coffee()  # 400 x 600: the table quality is planned on a quarter of the MCUs
    smap = _box_map(400, 600, (100, 300, 150, 450))
    budget = len(_pillow(rgb, 60))
    data, info = encode_semantic(rgb, smap, budget)
    assert info["fits"] and 0.99 * budget <= len(data) <= budget
    assert _decode(data)[0].shape == rgb.shape


def test_dc_bytes_are_the_writers_dc_codes():
    # the final search counts the DC codes itself; they must be what the file will hold
    from msroi.codec import dct, writer
    from msroi.codec.semantic import _dc_bytes, _trellis_components, frequency_weights

    rgb = _photo()[:96, :128]
    coefs = dct.image_coefficients(rgb)
    comps = _trellis_components(coefs, dct.quality_tables(60), [np.ones(c.shape[:2]) for c in coefs],
                                frequency_weights("hybrid", "robidoux"))
    comps[0].dc_trellis(50.0, 2)  # levels other than plain rounding
    levels = []
    for c in comps:
        zz = np.zeros((len(c.dc), 64), np.int16)
        zz[:, 0] = c.dc
        levels.append(zz)
    dc_freq, ac_freq = np.zeros((2, 12), np.int64), np.zeros((2, 256), np.int64)
    magnitude_bits = writer._gather(*levels, comps[0].shape[1], 12, 16, dc_freq, ac_freq)
    code_bits = sum(int(np.sum(f * writer._codes(*writer._optimal_lengths(f), 12)[1])) for f in dc_freq)
    assert _dc_bytes(comps) == (code_bits + magnitude_bits) / 8


def test_final_search_counts_the_files_entropy_coded_bytes():
    # the final search predicts the file from its exact bit count; a write must confirm it
    from msroi.codec import dct
    from msroi.codec.semantic import (_file_model, _header_bytes, _real, _trellis_components,
                                      frequency_weights)

    rgb = _photo()[:96, :128]
    coefs = dct.image_coefficients(rgb)
    tables = dct.quality_tables(60)
    comps = _trellis_components(coefs, tables, [np.ones(c.shape[:2]) for c in coefs],
                                frequency_weights("hybrid", "robidoux"))
    for lam in (0.0, 40.0, 400.0):
        runs, bits, _ = _file_model(comps, lam, dc_trellis=True)
        data = _real(comps, runs, tables, 96, 128)
        scan = data[_header_bytes(data) - 2:-2].replace(b"\xff\x00", b"\xff")  # unstuffed, EOI off
        assert len(scan) == -(-int(bits) // 8), lam  # padded to whole bytes


def test_both_table_families_up_to_quality_100():
    # "auto" tries the standard's tables too, uncapped: a plan at quality 100 (libjpeg's
    # scale 0) must not break the next plan's lambda prediction
    rgb = _photo()[:64, :96]
    budget = len(_pillow(rgb, 95))
    data, info = encode_semantic(rgb, np.ones(rgb.shape[:2]), budget, tables="auto")
    assert info["fits"] and len(data) <= budget and _decode(data)[0].shape == rgb.shape
