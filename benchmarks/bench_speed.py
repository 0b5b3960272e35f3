"""Speed and memory of the semantic encoder against mozjpeg.

Run: python benchmarks/bench_speed.py [repeats] [--sizes 0.4,4,24] [--no-rss] [--no-cold]

Prints, for the coffee photo resized to about 0.4, 4 and 24 megapixels:
- the semantic encode (``encode_semantic`` at the bytes of Pillow q50 (optimised Huffman)
  with the base quality and that file as ``msroi compress`` passes them: table choice,
  trellis, rate control, writing; map and budget excluded) on one thread
  (``MSROI_THREADS=1``),
  median wall and CPU seconds, seconds per megapixel, and the ratio to mozjpeg 4.0.3's
  encode (jpeglib, quality 50, its defaults: trellis, optimised Huffman) of the same
  image measured in the same run;
- the same encode with all cores and the speed-up over one thread (same bytes);
- the peak RSS of ``msroi compress --prior center`` in a subprocess, in bytes per pixel;
- the whole-process cold start of ``msroi compress --prior center`` on 768x512;
- and a summary against issue 15's targets (encode <= 3x mozjpeg's CPU time at every
  size, CPU s/MP within +-30% of their mean, <= 60 B/px, cold start <= 1.0 s).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from common import photo

SIZES = {0.4: (768, 512), 4: (2560, 1600), 24: (6000, 4000)}


def mozjpeg_encode(rgb, path):
    import jpeglib

    with jpeglib.version("mozjpeg403"):
        jpeglib.from_spatial(np.ascontiguousarray(rgb)).write_spatial(path, qt=50)


def centre_map(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-(((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2) / (2 * 0.35 ** 2))


def timed(fn, repeats):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def encode_rows(sizes, repeats):
    from msroi.codec import jpeg
    from msroi.codec.semantic import encode_semantic

    tmp = tempfile.mkdtemp(prefix="msroi-bench-")
    encode_semantic(photo(64, 64), centre_map(64, 64), 2000)  # numba cache load
    rows = []
    for mp in sizes:
        w, h = SIZES[mp]
        rgb = photo(w, h)
        smap = centre_map(h, w)
        baseline = jpeg.encode(rgb, 50, jpeg.EncoderOptions(optimize=True))
        budget = len(baseline)
        reps = repeats if mp < 10 else max(1, repeats // 2)
        mw, mc, _ = timed(lambda: mozjpeg_encode(rgb, os.path.join(tmp, "m.jpg")), reps)
        def semantic():
            return encode_semantic(rgb, smap, budget, base_quality_hint=50, base_data=baseline)

        os.environ["MSROI_THREADS"] = "1"
        sw, sc, (d1, info) = timed(semantic, reps)
        os.environ.pop("MSROI_THREADS")
        pw, pc, (d2, _) = timed(semantic, reps)
        mpx = w * h / 1e6
        rows.append(dict(mp=mp, sw=sw, sc=sc, mw=mw, mc=mc, pw=pw, same=d1 == d2, size=len(d1), budget=budget))
        print(f"{w}x{h} ({mpx:.1f} MP): semantic 1 thread {sw:.2f} s wall / {sc:.2f} s CPU "
              f"({sc / mpx:.3f} CPU s/MP), mozjpeg {mw:.3f} s / {mc:.3f} s CPU -> "
              f"ratio {sw / mw:.1f}x wall, {sc / mc:.1f}x CPU; all cores {pw:.2f} s wall "
              f"(speed-up {sw / pw:.2f}x, same bytes: {d1 == d2}); {len(d1)} B <= {budget} B, "
              f"Qt {info['table_quality']}, {info['encodes']} real encodes", flush=True)
    return rows


def peak_rss(mp):
    w, h = SIZES[mp]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.png")
        Image.fromarray(photo(w, h)).save(src, compress_level=1)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "msroi.cli", "compress", "--prior", "center", src,
                        "-o", os.path.join(tmp, "out.jpg"), "--max-pixels", str(w * h)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    note = "" if rss > before * 1024 else " (a larger child ran before: bound only)"
    print(f"msroi compress {w}x{h}: {wall:.1f} s wall, peak RSS {rss / 2**20:.0f} MiB = "
          f"{rss / (w * h):.0f} B/px{note}", flush=True)
    return None if note else rss / (w * h)


def cold_start(repeats):
    w, h = SIZES[0.4]
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.png")
        Image.fromarray(photo(w, h)).save(src)
        cmd = [sys.executable, "-m", "msroi.cli", "compress", "--prior", "center", src, "-o", os.path.join(tmp, "o.jpg")]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numba, numpy, PIL.Image"], check=True)
        floor = time.perf_counter() - t
    print(f"cold start msroi compress 768x512: median {statistics.median(times):.2f} s wall "
          f"(python + import numpy, numba, PIL alone: {floor:.2f} s)", flush=True)
    return statistics.median(times)


def main():
    args = sys.argv[1:]
    repeats = int(args[0]) if args and args[0].isdigit() else 3
    sizes = [0.4, 4, 24]
    if "--sizes" in args:
        sizes = [float(x) if float(x) != int(float(x)) else int(float(x)) for x in args[args.index("--sizes") + 1].split(",")]
    print(f"machine load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    rows = encode_rows(sizes, repeats)
    per_mp = [r["sc"] / (SIZES[r["mp"]][0] * SIZES[r["mp"]][1] / 1e6) for r in rows]
    print(f"CPU s/MP spread: {min(per_mp):.3f}..{max(per_mp):.3f} (max/min {max(per_mp) / min(per_mp):.2f})")
    rss = {mp: peak_rss(mp) for mp in sorted(sizes, reverse=True)} if "--no-rss" not in args else {}
    cold = cold_start(repeats) if "--no-cold" not in args else None
    mean = statistics.mean(per_mp)
    print("targets (issue 15):")
    for r in rows:
        ratio = r["sc"] / r["mc"]
        print(f"  encode {r['mp']} MP: {ratio:.1f}x mozjpeg's CPU time (<= 3x: {'met' if ratio <= 3 else 'not met'})")
    spread = max(abs(x / mean - 1) for x in per_mp)
    print(f"  CPU s/MP within +-{spread:.0%} of the mean (<= 30%: {'met' if spread <= 0.3 else 'not met'})")
    for mp, b in rss.items():
        if b is None:  # a bound only
            continue
        print(f"  peak RSS {mp} MP: {b:.0f} B/px (<= 60: {'met' if b <= 60 else 'not met'})")
    if cold is not None:
        print(f"  cold start: {cold:.2f} s (<= 1.0 s: {'met' if cold <= 1.0 else 'not met'})")


if __name__ == "__main__":
    main()
