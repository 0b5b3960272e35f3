"""Benchmark of msroi.quality.metrics and msroi.quality.rd on one 768x512 photo.

Run: ``python benchmarks/bench_metrics.py [--repeat N] [--no-sweep]``. Prints the median
time of :func:`msroi.quality.metrics.all_metrics` (target: under 0.5 s), a per-metric breakdown
(each metric alone through ``all_metrics(metrics=[name])``), the ROI overhead, and the
time of one 100-quality equal-bytes sweep with all metrics and with PSNR only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import median_time, photo
from msroi.codec.jpeg import decode, encode
from msroi.quality.rd import standard_sweep
from msroi.quality.metrics import METRIC_NAMES, all_metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-sweep", action="store_true", help="skip the 100-quality sweeps")
    args = ap.parse_args()

    rgb = photo()
    dist = decode(encode(rgb, 50))
    roi = np.zeros(rgb.shape[:2])
    roi[100:400, 200:600] = 1.0
    all_metrics(rgb, dist)  # warm-up (lazy imports)

    t_all = median_time(lambda: all_metrics(rgb, dist), args.repeat)
    print(f"all_metrics, 768x512 pair: median {t_all * 1000:.0f} ms over {args.repeat} runs (target < 500 ms)")
    for name in METRIC_NAMES:
        t = median_time(lambda: all_metrics(rgb, dist, metrics=[name]), args.repeat)
        print(f"  {name:9s} alone: {t * 1000:6.1f} ms")
    t_roi = median_time(lambda: all_metrics(rgb, dist, roi=roi), args.repeat)
    print(f"all_metrics with ROI (whole + roi_*): median {t_roi * 1000:.0f} ms")
    t_enc = median_time(lambda: decode(encode(rgb, 50)), args.repeat)
    print(f"Pillow JPEG encode + decode q50: {t_enc * 1000:.1f} ms")

    if not args.no_sweep:
        t = time.perf_counter()
        standard_sweep(rgb, metrics=["psnr"])
        print(f"standard_sweep Q=1..100, PSNR only: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        standard_sweep(rgb)
        print(f"standard_sweep Q=1..100, all metrics: {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
