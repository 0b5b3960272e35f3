"""Benchmark of msroi.codec.semantic.encode_semantic on a 768x512 photo (map excluded).

Run: python benchmarks/bench_allocate.py [repeats]
Prints the first call's time (it loads the compiled trellis from numba's cache, or
compiles it), then per budget (the bytes of Pillow q30/q50/q70/q90) the median wall time
per encode, the number of real encodes and the ratio to one Pillow encode measured in the
same run. Target: under 1 s per photo.
"""

import io
import statistics
import sys
import time

import numpy as np
from PIL import Image

from common import photo


def pillow(rgb, q):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=q, subsampling=2, optimize=True)
    return b.getvalue()


def main(repeats: int = 3) -> None:
    from msroi.codec.semantic import encode_semantic

    rgb = photo()
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    smap = np.exp(-(((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2) / (2 * 0.35 ** 2))
    t = time.perf_counter()
    encode_semantic(rgb, smap, len(pillow(rgb, 50)))
    print(f"first call (numba cache load or compile): {time.perf_counter() - t:.2f} s")
    for q in (30, 50, 70, 90):
        budget = len(pillow(rgb, q))
        times, info = [], None
        for _ in range(repeats):
            t = time.perf_counter()
            data, info = encode_semantic(rgb, smap, budget)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(10):
            pillow(rgb, q)
        tp = (time.perf_counter() - t) / 10
        print(f"768x512 budget=q{q} ({budget} B): median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}), {info['encodes']} encodes, out {len(data)} B, "
              f"Qt={info['table_quality']}; Pillow encode {tp * 1000:.1f} ms "
              f"({statistics.median(times) / tp:.0f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
