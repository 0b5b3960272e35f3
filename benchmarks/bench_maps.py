"""Benchmark the default classifier (the NumPy EfficientNet-Lite0): weights folding, cached
load, and per-image map time.

Usage: python benchmarks/bench_maps.py [--repeat 7] [--cache DIR] [--cold N] [--big]

Prints one line per figure and a JSON summary: ``import_map_path_s`` (importing the map
code and the NumPy network: no TensorFlow, which the run checks), ``fold_s`` (reading the
torch weights and writing the folded ``.npz`` into an empty cache), ``load_cached_s``
(target under 3 s), map of a 768 x 512 photo (median, after load and one warm-up call;
target under 0.3 s); with ``--cold N``, the median wall time of N whole ``msroi map``
processes on one 768 x 512 photo (Python's start, imports, model load, faces and file
writing included; target 4 s); with ``--big``, the map of a 24 MP (6000 x 4000) photo
after load and warm-up, in a fresh process: seconds (target 1.5) and the peak RSS it adds
over the loaded model and the image, in bytes per pixel (target 40). The machine's load
average is printed too: the figures are wall-clock times on a shared 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import photo


def main(argv=None) -> dict:
    """Run the benchmark; takes CLI arguments, returns the figures (seconds) as a dict."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed map calls (median reported)")
    ap.add_argument("--cache", default=None, help="model cache directory (default: a fresh temporary one)")
    ap.add_argument("--cold", type=int, default=0, help="also time N whole `msroi map` processes (768 x 512)")
    ap.add_argument("--big", action="store_true", help="also map a 24 MP photo in a fresh process (time, B/px)")
    ap.add_argument("--big-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.big_child:
        return _big_child(args.big_child)

    out = {"loadavg_1min": os.getloadavg()[0]}
    t = time.perf_counter()
    from msroi.saliency import faces  # noqa: F401  (imported by the first map otherwise)
    from msroi.saliency.maps import load_classifier, msroi_map
    from msroi.saliency.networks import efficientnet_lite0_numpy as lite0_np

    out["import_map_path_s"] = time.perf_counter() - t

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        if args.cache is None:
            t = time.perf_counter()
            lite0_np.load_default(cache)  # an empty cache: read the torch weights, fold, write the .npz
            out["fold_s"] = time.perf_counter() - t

        t = time.perf_counter()
        classifier = load_classifier("default", cache_dir=cache)
        out["load_cached_s"] = time.perf_counter() - t

    rgb = photo()
    t = time.perf_counter()
    msroi_map(classifier, rgb)
    out["first_map_s"] = time.perf_counter() - t  # includes the face detector's first load
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        msroi_map(classifier, rgb)
        times.append(time.perf_counter() - t)
    out["map_768x512_median_s"] = statistics.median(times)
    out["map_768x512_min_s"] = min(times)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"})
    out["tensorflow_imported"] = float(bool(heavy))  # 0: the map path never imported it
    if heavy:
        print(f"warning: the map path imported {', '.join(heavy)}", file=sys.stderr)
    if args.cold or args.big:
        with tempfile.TemporaryDirectory() as tmp:
            lite0_np.load_default(tmp)  # the cache the processes below load from
            if args.cold:
                out["cold_map_768x512_median_s"] = _cold(tmp, args.cold)
            if args.big:
                out["map_24mp_s"], out["map_24mp_bytes_per_px"] = _big(tmp)
    out["loadavg_1min_end"] = os.getloadavg()[0]
    for key, value in out.items():
        print(f"{key:24s} {value:.3f}")
    print(json.dumps({k: round(v, 4) for k, v in out.items()}))
    return out


def _cold(cache: str, n: int) -> float:
    """Median wall seconds of ``msroi map`` on one 768 x 512 photo, whole process."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.png")
        Image.fromarray(photo()).save(src)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "msroi.cli", "map", src, "-o", os.path.join(tmp, "m.png"), "-q",
                            "--cache", cache], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _big(cache: str) -> tuple[float, float]:
    """(seconds, added peak bytes per pixel) of a 24 MP map, from a fresh process."""
    res = subprocess.run([sys.executable, __file__, "--big-child", cache], check=True, capture_output=True, text=True)
    seconds, per_px = json.loads(res.stdout.strip().splitlines()[-1])
    return seconds, per_px


def _big_child(cache: str) -> None:
    from msroi.saliency.maps import load_classifier, msroi_map

    classifier = load_classifier("default", cache_dir=cache)
    msroi_map(classifier, photo())  # warm-up
    rgb = photo(6000, 4000)
    import threading

    def resident() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

    # the process' peak so far (model load, tracing) may be above what the map adds to
    # the resident size, so the resident size is sampled while the map runs
    before, peak, done = resident(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t = time.perf_counter()
    msroi_map(classifier, rgb)
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    after = max(peak[0], resident())
    print(json.dumps([seconds, (after - before) / rgb.shape[0] / rgb.shape[1]]))


if __name__ == "__main__":
    main()
