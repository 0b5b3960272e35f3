"""The compiled JPEG writer (msroi.codec.writer): byte for byte libjpeg-turbo's transcoder
(jpeglib) on random levels, partial MCUs and extreme values; decodable; refuses what a
baseline file cannot hold."""

import io
import os
import tempfile

import numpy as np
import pytest
from PIL import Image

from msroi.codec import dct, writer


def _libjpeg(levels, tables, h, w):
    """The file libjpeg-turbo writes (jpeglib, optimised Huffman), ids renumbered as dct does."""
    import jpeglib

    by, bx, my, mx = -(-h // 8), -(-w // 8), -(-h // 16), -(-w // 16)
    y, cb, cr = (np.ascontiguousarray(c[:sh[0], :sh[1]]) for c, sh in zip(levels, ((by, bx), (my, mx), (my, mx))))
    with jpeglib.version("turbo210"):
        img = jpeglib.from_dct(Y=y, Cb=cb, Cr=cr, qt=np.asarray(tables, np.uint16), quant_tbl_no=[0, 1, 1])
        img.height, img.width = h, w
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "o.jpg")
            img.write_dct(path, flags=["+OPTIMIZE_CODING"])
            with open(path, "rb") as f:
                return dct._jfif_component_ids(f.read())


def _levels(rng, h, w, scale):
    my, mx = -(-h // 16), -(-w // 16)

    def one(shape):
        a = rng.laplace(0, scale / 4, shape) * (rng.random(shape) < rng.random())
        a = np.clip(np.rint(a), -1023, 1023).astype(np.int16)
        a[..., 0, 0] = rng.integers(-1023, 1024, shape[:2])
        return a
    return one((2 * my, 2 * mx, 8, 8)), one((my, mx, 8, 8)), one((my, mx, 8, 8))


@pytest.mark.parametrize("seed", range(6))
def test_same_bytes_as_libjpeg(seed):
    rng = np.random.default_rng(seed)
    for k in range(12):
        h, w = (int(v) for v in rng.integers(9, 140, 2))
        levels = _levels(rng, h, w, [0.5, 3, 40, 1023][k % 4])  # long zero runs (ZRL) .. 10-bit levels
        tables = dct.quality_tables(int(rng.integers(1, 101)), ["annexk", "robidoux"][k % 2])
        ref = _libjpeg(levels, tables, h, w)
        assert writer.encode_baseline(levels, tables, h, w) == ref, (seed, k, h, w)
        zz = tuple(c.reshape(-1, 64)[:, writer.ZIGZAG] for c in levels)
        assert writer.encode_zigzag(zz, levels[0].shape[1], tables, h, w) == ref


def test_write_jpeg_uses_it_and_decodes():
    rng = np.random.default_rng(7)
    levels = _levels(rng, 45, 61, 3)
    tables = dct.quality_tables(60)
    data = dct.write_jpeg(levels, tables, 45, 61, in_range=True)
    assert data == writer.encode_baseline(levels, tables, 45, 61)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert im.size == (61, 45) and im.mode == "RGB"


def test_refuses_what_baseline_cannot_hold():
    rng = np.random.default_rng(3)
    y, cb, cr = _levels(rng, 32, 32, 3)
    y[0, 0, 0, 0], y[0, 1, 0, 0] = -1500, 1500  # a DC difference of 3000 needs 12 bits
    with pytest.raises(ValueError, match="baseline"):
        writer.encode_baseline((y, cb, cr), dct.quality_tables(50), 32, 32)
    with pytest.raises(ValueError, match="1..255"):
        writer.encode_baseline(_levels(rng, 32, 32, 3), np.zeros((2, 8, 8), np.int64), 32, 32)
    with pytest.raises(ValueError, match="cover"):
        writer.encode_baseline((y, cb[:1], cr), dct.quality_tables(50), 32, 32)
