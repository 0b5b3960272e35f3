"""Benchmark: the compress step on a 768x512 photo.

Prints the median time of `compress_original` (selection model 3, base Q50, +1%), and its
ratio to (a) the ten encode+decode passes of the quality ladder it cannot avoid, measured in
the same run, and (b) a faithful per-pixel port of the original implementation's loop
(per-pixel, per-channel Python loop choosing from the ten decodes, then a linear scan of
qualities from 90 down writing each candidate to a temporary file), timed once.
Usage: python benchmarks/bench_compress.py [--repeats 7] [--skip-original]
"""

import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image

from msroi.codec import original
from msroi.codec import jpeg
from msroi.saliency import priors
from common import median_time, photo


def original_loop(rgb, sal, base_quality=50, threshold_pct=1.0):
    """The original's structure for selection model 3, ported: ladder through temporary
    files, the level recomputed for every pixel and channel by scanning the ten
    percentiles, then qualities tried from 90 down, each written to a file and measured."""
    h, w = sal.shape
    sal8 = np.rint(sal / sal.max() * 255).astype(np.uint8)  # the original read an 8-bit map
    with tempfile.TemporaryDirectory() as d:
        decodes = []
        for q in range(10, 101, 10):
            p = os.path.join(d, f"q{q}.jpg")
            Image.fromarray(rgb).save(p, quality=q)
            decodes.append(np.asarray(Image.open(p).convert("RGB")))
        out = decodes[-1].copy()
        percentiles = [np.percentile(sal8, j) for j in range(10, 101, 10)]
        level = 1
        for y in range(h):
            for x in range(w):
                for c in range(3):
                    v = sal8[y, x]
                    for n, edge in enumerate(percentiles):
                        if v < edge:
                            level = n + 1
                            break
                    level = min(max(level, 1), 9)
                    out[y, x, c] = decodes[level][y, x, c]
        base = os.path.join(d, "base.jpg")
        Image.fromarray(rgb).save(base, quality=base_quality)
        budget = os.path.getsize(base) * (1 + threshold_pct / 100)
        p = os.path.join(d, "out.jpg")
        for q in range(90, 20, -1):
            Image.fromarray(out).save(p, quality=q)
            if os.path.getsize(p) <= budget:
                break
        with open(p, "rb") as f:
            return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--skip-original", action="store_true")
    args = ap.parse_args()
    rgb = photo()
    sal = priors.center_map(rgb.shape[:2])
    t_ours = median_time(lambda: original.compress_original(rgb, sal, 3, 50, 1.0), args.repeats)
    t_ladder = median_time(lambda: [jpeg.decode(jpeg.encode(rgb, q)) for q in original.LADDER_QUALITIES], args.repeats)
    print(f"image 768x512; median of {args.repeats}")
    print(f"compress_original (model 3, Q50, +1%): {t_ours * 1e3:8.1f} ms")
    print(f"(a) ten encode+decode passes:          {t_ladder * 1e3:8.1f} ms   ratio ours/(a) = {t_ours / t_ladder:.2f}x (target <= 3x)")
    if not args.skip_original:
        t = time.perf_counter()
        original_loop(rgb, sal)
        t_orig = time.perf_counter() - t
        print(f"(b) per-pixel port of the original:    {t_orig * 1e3:8.1f} ms   speed-up (b)/ours = {t_orig / t_ours:.0f}x (target >= 500x)")


if __name__ == "__main__":
    main()
