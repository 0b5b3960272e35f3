"""Speed and memory of the semantic encoder against mozjpeg.

Run: python benchmarks/bench_speed.py [repeats] [--sizes 0.4,4,24] [--no-tiled] [--no-rss] [--no-cold]

Prints, for the coffee photo (600x400) resized to about 0.4, 4 and 24 megapixels, and for
its 768x512 version tiled 1x1, 3x3 and 8x8 (0.4, 3.5 and 25 MP of the same content):
- the semantic encode (``encode_semantic`` at the bytes of Pillow q50 (optimised Huffman)
  with the base quality and that file as ``msroi compress`` passes them: table choice,
  trellis, rate control, writing; map and budget excluded) on one thread
  (``MSROI_THREADS=1``), with glibc's malloc keeping freed memory as ``msroi compress``
  sets it (:func:`msroi.lean.reuse_freed_memory`),
  median wall and CPU seconds, seconds per megapixel, and the ratio to mozjpeg 4.0.3's
  encode (jpeglib, quality 50, its defaults: trellis, optimised Huffman) of the same
  image measured in the same run;
- the same encode with all cores and the speed-up over one thread (same bytes);
- both encoders' seconds per megapixel across the sizes and their spread. The resized
  photos get smoother as they grow (upscaled coffee: about half the bytes per pixel at
  4 MP), which makes large images cheaper per pixel for any encoder; the tiled series
  keeps the content per pixel fixed, so its spread is the cost's growth with pixels;
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


def resized(mp):
    """The coffee photo (600x400) resized to about ``mp`` megapixels: the larger, the
    smoother (fewer coefficients per pixel to code)."""
    w, h = SIZES[mp]
    return f"{w}x{h} resized", photo(w, h)


def tiled(mp):
    """The 768x512 photo tiled to about ``mp`` megapixels: the same content per pixel at
    every size, so the seconds per megapixel show how the cost grows with pixels alone."""
    k = {0.4: 1, 4: 3, 24: 8}[mp]
    rgb = np.tile(photo(*SIZES[0.4]), (k, k, 1))
    return f"{rgb.shape[1]}x{rgb.shape[0]} tiled {k}x{k}", rgb


def encode_rows(sizes, repeats, make=resized):
    from msroi.codec import jpeg
    from msroi.codec.semantic import encode_semantic

    tmp = tempfile.mkdtemp(prefix="msroi-bench-")
    encode_semantic(photo(64, 64), centre_map(64, 64), 2000)  # numba cache load
    rows = []
    for mp in sizes:
        label, rgb = make(mp)
        h, w = rgb.shape[:2]
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
        rows.append(dict(mp=mp, mpx=mpx, sw=sw, sc=sc, mw=mw, mc=mc, pw=pw, same=d1 == d2, size=len(d1),
                         budget=budget))
        print(f"{label} ({mpx:.1f} MP, {len(d1) / (w * h):.3f} B/px): semantic 1 thread {sw:.2f} s wall / "
              f"{sc:.2f} s CPU ({sc / mpx:.3f} CPU s/MP), mozjpeg {mw:.3f} s / {mc:.3f} s CPU "
              f"({mc / mpx:.3f} CPU s/MP) -> ratio {sw / mw:.1f}x wall, {sc / mc:.1f}x CPU; all cores "
              f"{pw:.2f} s wall (speed-up {sw / pw:.2f}x, same bytes: {d1 == d2}); {len(d1)} B <= {budget} B, "
              f"Qt {info['table_quality']}, {info['encodes']} real encodes", flush=True)
    return rows


def spread(values):
    """Largest relative distance of ``values`` from their mean."""
    mean = statistics.mean(values)
    return max(abs(x / mean - 1) for x in values)


def linearity(rows, label):
    """Print the seconds per megapixel of both encoders and their spreads; return ours."""
    ours = [r["sc"] / r["mpx"] for r in rows]
    moz = [r["mc"] / r["mpx"] for r in rows]
    print(f"{label}: CPU s/MP msroi {' / '.join(f'{x:.3f}' for x in ours)} (within +-{spread(ours):.0%} of "
          f"the mean), mozjpeg {' / '.join(f'{x:.3f}' for x in moz)} (+-{spread(moz):.0%})", flush=True)
    return spread(ours)


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
    # first, while this process is small: a child's peak RSS counts the parent's pages it
    # was forked with until it executes
    rss = {mp: peak_rss(mp) for mp in sorted(sizes, reverse=True)} if "--no-rss" not in args else {}
    from msroi import lean

    lean.reuse_freed_memory()  # as in msroi compress and the workflow's jobs (and for mozjpeg's buffers too)
    rows = encode_rows(sizes, repeats)
    lin_resized = linearity(rows, "resized")
    lin_tiled = None
    if "--no-tiled" not in args and len(sizes) > 1:
        lin_tiled = linearity(encode_rows(sizes, repeats, tiled), "tiled (same content)")
    cold = cold_start(repeats) if "--no-cold" not in args else None
    print("targets (issue 15):")
    for r in rows:
        ratio = r["sc"] / r["mc"]
        print(f"  encode {r['mp']} MP: {ratio:.1f}x mozjpeg's CPU time (<= 3x: {'met' if ratio <= 3 else 'not met'})")
    if lin_tiled is not None:
        print(f"  cost linear in pixels, same content (tiled): CPU s/MP within +-{lin_tiled:.0%} of the mean "
              f"(<= 30%: {'met' if lin_tiled <= 0.3 else 'not met'})")
    print(f"  resized photos (the larger, the smoother): within +-{lin_resized:.0%} "
          f"(<= 30%: {'met' if lin_resized <= 0.3 else 'not met'})")
    for mp, b in rss.items():
        if b is None:  # a bound only
            continue
        print(f"  peak RSS {mp} MP: {b:.0f} B/px (<= 60: {'met' if b <= 60 else 'not met'})")
    if cold is not None:
        print(f"  cold start: {cold:.2f} s (<= 1.0 s: {'met' if cold <= 1.0 else 'not met'})")


if __name__ == "__main__":
    main()
