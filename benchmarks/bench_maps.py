"""Benchmark the default classifier: conversion, cached load, and per-image map time.

Usage: python benchmarks/bench_maps.py [--repeat 7] [--cache DIR]

Prints one line per figure and a JSON summary. Targets: load of the cached
``.keras`` under 3 s, map of a 768 x 512 photo under 0.3 s (median, after load and one
warm-up call). The machine's load average is printed too: the figures are wall-clock
times on a shared 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


from common import photo


def main(argv=None) -> dict:
    """Run the benchmark; takes CLI arguments, returns the figures (seconds) as a dict."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed map calls (median reported)")
    ap.add_argument("--cache", default=None, help="model cache directory (default: a fresh temporary one)")
    args = ap.parse_args(argv)

    out = {"loadavg_1min": os.getloadavg()[0]}
    t = time.perf_counter()
    import tensorflow  # noqa: F401  (import time reported separately from model load)

    out["import_tensorflow_s"] = time.perf_counter() - t


    from msroi.saliency.networks import efficientnet_lite0 as effnet
    from msroi.saliency.maps import load_classifier, msroi_map

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        t = time.perf_counter()
        effnet.convert(out_dir=cache)
        out["convert_s"] = time.perf_counter() - t

        t = time.perf_counter()
        classifier = load_classifier("default", cache_dir=cache)
        out["load_cached_s"] = time.perf_counter() - t

    rgb = photo()
    t = time.perf_counter()
    msroi_map(classifier, rgb)
    out["first_map_s"] = time.perf_counter() - t  # includes tracing the forward graph
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        msroi_map(classifier, rgb)
        times.append(time.perf_counter() - t)
    out["map_768x512_median_s"] = statistics.median(times)
    out["map_768x512_min_s"] = min(times)
    out["loadavg_1min_end"] = os.getloadavg()[0]
    for key, value in out.items():
        print(f"{key:24s} {value:.3f}")
    print(json.dumps({k: round(v, 4) for k, v in out.items()}))
    return out


if __name__ == "__main__":
    main()
