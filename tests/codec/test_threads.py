"""The encoder's output does not depend on its thread count (``MSROI_THREADS``)."""

from __future__ import annotations

import numpy as np
from skimage import data

from msroi.codec import threads
from msroi.codec.semantic import encode_semantic
from msroi.codec.trellis import CHUNK


def test_one_and_two_threads_give_the_same_bytes(monkeypatch):
    rgb = np.tile(data.astronaut(), (1, 2, 1))[:480, :704]  # 5280 luma blocks: 3 chunks
    assert rgb.shape[0] * rgb.shape[1] // 64 > 2 * CHUNK
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    smap = np.exp(-(((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2) * 8)
    out = {}
    for n in ("1", "2"):
        monkeypatch.setenv("MSROI_THREADS", n)
        assert threads.count() == int(n)
        out[n] = encode_semantic(rgb, smap, 30000)
    assert out["1"][0] == out["2"][0]
    assert out["1"][1]["lam"] == out["2"][1]["lam"]


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("MSROI_THREADS", "3")
    assert threads.count() == 3
    monkeypatch.setenv("MSROI_THREADS", "0")
    assert threads.count() == 1
    monkeypatch.delenv("MSROI_THREADS")
    assert threads.count() >= 1
