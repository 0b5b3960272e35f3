"""Issue 14 encoder options of msroi.codec.semantic: table families (8-bit, libjpeg
scaling), table-relative distortion weights with activity masking, progressive output
(lossless rewrite of the same coefficients, budget applied to the progressive file)."""

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

from msroi.codec import dct, jpeg
from msroi.codec.progressive import best_script, rewrite, scan_script
from msroi.codec.semantic import MOZJPEG_MASKING, encode_semantic, frequency_weights, masking_weights
from msroi.errors import MsroiError
from tests.conftest import require_tool


def _photo():
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[96:288, 128:384])


def _djpeg(data: bytes) -> np.ndarray:
    out = subprocess.run([require_tool("djpeg"), "-ppm"], input=data, capture_output=True, check=True).stdout
    return np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))


def _sof(data: bytes) -> int:
    i = 2
    while i < len(data):
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return marker
        i += 2 + length
    raise AssertionError("no SOF")


def test_table_families_scale_like_libjpeg_and_stay_8_bit():
    assert np.array_equal(dct.quality_tables(50), dct.quality_tables(50, "annexk"))
    assert np.array_equal(dct.quality_tables(50, "robidoux")[0], np.minimum(dct.ROBIDOUX, 255))
    for q in (1, 10, 30, 50, 75, 90, 100):
        t = dct.quality_tables(q, "robidoux")
        assert t.min() >= 1 and t.max() <= 255 and np.array_equal(t[0], t[1])
    assert dct.quality_tables(75, "robidoux")[0, 0, 0] == 8  # (16 * 50 + 50) // 100
    with pytest.raises(ValueError):
        dct.quality_tables(50, "nope")


def test_table_weights_are_one_step_per_frequency():
    wl, wc = frequency_weights("table", "robidoux")
    t = dct.ROBIDOUX.astype(float)
    assert np.allclose(wl * t * t, (wl * t * t)[0, 0]) and np.allclose(wc, wl)
    coefs = dct.image_coefficients(_photo())[0]
    m = masking_weights(coefs, MOZJPEG_MASKING)
    assert m.shape == coefs.shape[:2] and np.all((m > 0) & (m <= 1))
    assert np.all(masking_weights(coefs, 0.0) == 1)
    with pytest.raises(MsroiError):
        frequency_weights("blur", "annexk")


@pytest.mark.parametrize("kw", [dict(tables="robidoux", distortion="table", masking=MOZJPEG_MASKING),
                                dict(tables="auto", distortion="table"),
                                dict(tables="robidoux", distortion="table", progressive=True)])
def test_options_fit_the_budget_and_decode(kw):
    rgb = _photo()
    budget = len(jpeg.encode(rgb, 50, jpeg.EncoderOptions(optimize=True)))
    h, w = rgb.shape[:2]
    sal = np.zeros((h, w))
    sal[40:120, 60:180] = 1.0
    data, info = encode_semantic(rgb, sal, budget, **kw)
    assert info["fits"] and len(data) <= budget and info["bytes"] == len(data)
    assert len(data) >= 0.97 * budget
    assert info["table_family"] in dct.TABLE_FAMILIES
    assert _sof(data) == (0xC2 if kw.get("progressive") else 0xC0)
    pil = jpeg.decode(data)
    assert pil.shape == rgb.shape
    assert np.array_equal(_djpeg(data), pil) or np.abs(_djpeg(data).astype(int) - pil).max() <= 2


def test_progressive_decodes_to_the_sequential_pixels():
    require_tool("jpegtran")
    rgb = _photo()
    seq, _ = encode_semantic(rgb, np.ones(rgb.shape[:2]), 12000, tables="robidoux", distortion="table")
    script, prog = best_script(seq)
    assert _sof(prog) == 0xC2 and _sof(seq) == 0xC0
    assert np.array_equal(jpeg.decode(prog), jpeg.decode(seq))
    assert np.array_equal(_djpeg(prog), _djpeg(seq))
    for s in (scan_script(), scan_script(8, 1, 2)):
        assert np.array_equal(jpeg.decode(rewrite(seq, s)), jpeg.decode(seq))


def test_bad_options_are_refused():
    rgb = _photo()
    with pytest.raises(MsroiError):
        encode_semantic(rgb, np.ones(rgb.shape[:2]), 10000, tables="klein")
    with pytest.raises(MsroiError):
        encode_semantic(rgb, np.ones(rgb.shape[:2]), 10000, distortion="ssim")


def test_dc_trellis_is_the_exact_optimum_over_its_candidates():
    import itertools

    from msroi.codec.trellis import _dc_trellis, dc_order

    rng = np.random.default_rng(3)
    x = rng.normal(0, 6, 6)
    scale = rng.uniform(0.5, 2.0, 6)
    hl = np.array([2.0, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    order = np.array([0, 1, 2, 3, 4, 5])
    bits = lambda v: sum(hl[int(abs(d)).bit_length()] + int(abs(d)).bit_length()  # noqa: E731
                         for d in np.diff(np.concatenate([[0], v])))
    for lam in (0.0, 0.7, 5.0):
        out, counts = np.empty(6, np.int64), np.zeros(12, np.int64)
        dist, b = _dc_trellis(x, scale, order, lam, hl, out, counts)
        r = np.floor(x + 0.5).astype(int)
        best = min(itertools.product((-1, 0, 1), repeat=6),
                   key=lambda d: np.sum((x - (r + d)) ** 2 * scale) + lam * bits(r + np.array(d)))
        want = r + np.array(best)
        cost = lambda v: np.sum((x - v) ** 2 * scale) + lam * bits(v)  # noqa: E731
        assert cost(out) == pytest.approx(cost(want))
        assert b == pytest.approx(bits(out)) and dist == pytest.approx(np.sum((x - out) ** 2 * scale))
        sizes = [int(abs(d)).bit_length() for d in np.diff(np.concatenate([[0], out]))]
        assert list(counts) == [sizes.count(s) for s in range(12)]
        if lam == 0.0:
            assert np.array_equal(out, r)
    # luma of 4:2:0: MCU order, 2x2 blocks per MCU
    assert list(dc_order(2, 4, 2)) == [0, 1, 4, 5, 2, 3, 6, 7]


@pytest.mark.parametrize("quality, subsampling, progressive", [(60, "4:2:0", False), (94, "4:4:4", False),
                                                                (94, "4:4:4", True), (100, "4:4:4", False)])
def test_standard_jpeg_of_noise_at_any_quality(quality, subsampling, progressive):
    # noise codes to more bytes than pixels at high qualities; Pillow's optimising writer
    # had room for 1 byte per pixel below quality 95 and 2 above, and failed beyond
    rgb = np.random.default_rng(quality).integers(0, 256, (400, 300, 3), dtype=np.uint8)  # more than 64 KiB of pixels
    options = jpeg.EncoderOptions(subsampling=subsampling, optimize=True, progressive=progressive)
    data = jpeg.encode(rgb, quality, options)
    if quality >= 94:
        assert len(data) > rgb.shape[0] * rgb.shape[1]
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (300, 400) and (im.info.get("progressive", 0) == 1) == progressive
    from PIL import ImageFile

    assert ImageFile.MAXBLOCK == 65536  # Pillow's own setting is back
