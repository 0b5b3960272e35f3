"""The trellis quantiser (msroi.codec.trellis): exact optimum of its cost, plain rounding at
lambda 0, a rate model that predicts the file, and a real gain over libjpeg."""

import itertools

import numpy as np
import pytest

from msroi.codec import dct
from msroi.codec import jpeg
from msroi.quality import metrics
from msroi.codec.semantic import CSF_WEIGHT, encode_semantic
from msroi.codec.trellis import ZIGZAG, Trellis, code_lengths


def _size(v):
    return int(v).bit_length()


def _block_cost(levels, a, scale, lam, lengths):
    """Distortion + lam * bits of one block's AC magnitudes (zigzag), counted directly
    from the baseline coding rules: (run, size) codes, ZRL per 16 zeros, EOB."""
    hl, eob, zrl = lengths
    dist = float(np.sum((a[1:] - levels[1:]) ** 2 * scale[1:]))
    bits, last = 0.0, 0
    for k in range(1, 64):
        if levels[k]:
            run = k - last - 1
            bits += (run // 16) * zrl + hl[run % 16, _size(levels[k])] + _size(levels[k])
            last = k
    if last < 63:
        bits += eob
    return dist + lam * bits


def test_zigzag_is_the_jpeg_scan():
    assert list(ZIGZAG[:10]) == [0, 1, 8, 16, 9, 2, 3, 10, 17, 24]
    assert sorted(ZIGZAG) == list(range(64)) and ZIGZAG[-1] == 63


@pytest.mark.parametrize("seed", range(6))
def test_trellis_finds_the_exact_optimum_of_its_cost(seed):
    rng = np.random.default_rng(seed)
    coefs = np.zeros((1, 1, 8, 8))
    flat = coefs.reshape(64)
    positions = rng.choice(np.arange(1, 64), size=4, replace=False)
    flat[ZIGZAG[positions]] = rng.uniform(0.6, 9.0, 4) * rng.choice([-1, 1], 4)
    table = np.ones((8, 8), dtype=np.int64)
    t = Trellis(coefs, table, np.ones((1, 1)), CSF_WEIGHT)
    rng_counts = rng.integers(1, 50, 258)
    t.lengths = code_lengths(rng_counts)
    for lam in (0.3, 2.0, 8.0):
        mags, bits, _, _ = t.run(lam)
        got = _block_cost(mags[0], t.a[0], t.scale[0], lam, t.lengths)
        # brute force over every combination of levels 0..ceil(|x|) at the non-zero positions
        choices = [range(0, int(np.ceil(t.a[0, k])) + 1) for k in sorted(positions)]
        best = np.inf
        for combo in itertools.product(*choices):
            lv = np.zeros(64, dtype=np.int64)
            lv[sorted(positions)] = combo
            best = min(best, _block_cost(lv, t.a[0], t.scale[0], lam, t.lengths))
        assert got == pytest.approx(best, rel=1e-9, abs=1e-9)


def _photo():
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:256, :384])


def test_lambda_zero_is_plain_rounding():
    rgb = _photo()
    coefs = dct.image_coefficients(rgb)
    tables = dct.quality_tables(60)
    t = Trellis(coefs[0], tables[0], np.ones(coefs[0].shape[:2]), CSF_WEIGHT)
    mags, *_ = t.run(0.0)
    assert np.array_equal(t.levels(mags), np.rint(coefs[0] / tables[0]).astype(np.int64))


def test_rate_model_predicts_the_file_size():
    # bits counted by the trellis with code lengths from its own symbols, plus the
    # non-AC overhead of the lambda-0 file, must predict the real optimised-Huffman file.
    rgb = _photo()
    coefs = dct.image_coefficients(rgb)
    tables = dct.quality_tables(70)
    comps = [Trellis(c, tables[min(i, 1)], np.ones(c.shape[:2]), np.ones((8, 8))) for i, c in enumerate(coefs)]

    def encode(lam):
        runs = [c.run(lam) for c in comps]
        data = dct.write_jpeg(tuple(c.levels(r[0]) for c, r in zip(comps, runs)), tables, *rgb.shape[:2])
        return runs, data

    runs0, data0 = encode(0.0)
    overhead = len(data0) - sum(r[1] for r in runs0) / 8
    runs, data = encode(30.0)
    for c, r in zip(comps, runs):
        c.lengths = code_lengths(r[2])
    runs, data = encode(30.0)
    predicted = overhead + sum(r[1] for r in runs) / 8
    assert len(data) < 0.9 * len(data0)
    assert predicted == pytest.approx(len(data), rel=0.03)


def test_uniform_map_beats_libjpeg_at_equal_bytes():
    # the encoder gain users get even without a map, at or below the bytes of standard
    # JPEG (libjpeg-turbo, optimised Huffman) at q50, on SSIMULACRA2 and PSNR-HVS-M: the
    # default (Robidoux tables, hybrid weights), the table-relative weighting
    # (best on SSIMULACRA2) and the former CSF weighting on Annex K tables
    from msroi.quality.ssimulacra2 import ssimulacra2

    rgb = _photo()
    std = jpeg.encode(rgb, 50, jpeg.EncoderOptions(optimize=True))
    y = metrics.luma(rgb)

    def gains(data):
        dec = jpeg.decode(data)
        return (ssimulacra2(rgb, dec) - ssimulacra2(rgb, jpeg.decode(std)),
                metrics.psnr_hvsm(y, metrics.luma(dec)) - metrics.psnr_hvsm(y, metrics.luma(jpeg.decode(std))))

    ours, info = encode_semantic(rgb, np.ones(rgb.shape[:2]), len(std), ratio=1.0)
    assert info["fits"] and len(ours) <= len(std)
    s2, hvsm = gains(ours)
    assert s2 > 1.2 and hvsm > 0.5
    table, info = encode_semantic(rgb, np.ones(rgb.shape[:2]), len(std), ratio=1.0, distortion="table")
    assert info["fits"] and len(table) <= len(std)
    assert gains(table)[0] > 2.0
    csf, info = encode_semantic(rgb, np.ones(rgb.shape[:2]), len(std), ratio=1.0, tables="annexk",
                                distortion="csf")
    assert info["fits"] and len(csf) <= len(std)
    assert gains(csf)[1] > 0.3
