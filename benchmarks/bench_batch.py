"""`msroi compress DIR -o OUT` (msroi maps, semantic method, Q50 budget) on 20 (``--images``)
photos of 768x512, in images per second, against mozjpeg 4.0.3 (jpeglib) at Q50 on the same files in
the same run. msroi's time is the whole command: Python start-up, one model
load per worker, map and encode per image. With several ``--jobs`` values it prints each
rate relative to ``-j 1``'s; it also times ``-j 1`` pinned to one CPU (``sched_setaffinity``: the
one-core rate, since an unpinned ``-j 1`` still uses a second core for the map's threads) and
prints the default's rate relative to it (the many-core target: >= 1.7x on two cores for 100
photos).

    python benchmarks/bench_batch.py [--jobs N ...] [--images N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import photo  # noqa: E402

SIZE = (768, 512)


def photos(out: Path, n: int = 20) -> list[Path]:
    """Write ``n`` 768x512 PNGs: the bundled samples resized (Lanczos), their mirror images,
    and crops of the coffee photo; returns their paths."""
    from msroi.files import read_image
    from msroi.samples import SAMPLES, sample_path

    images = []
    for name in SAMPLES:
        rgb = np.asarray(Image.fromarray(read_image(sample_path(name))).resize(SIZE, Image.Resampling.LANCZOS))
        images += [(name, rgb), (f"{name}_flip", rgb[:, ::-1])]
    big = photo(1152, 768)
    offsets = [(0, 0), (256, 384), (0, 384), (256, 0)]
    offsets += [(y, x) for y in range(0, 257, 32) for x in range(0, 385, 32) if (y, x) not in offsets]
    for i, (y, x) in enumerate(offsets[:max(n - len(images), 0)]):
        images.append((f"coffee_crop{i}", big[y:y + SIZE[1], x:x + SIZE[0]]))
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rgb in images[:n]:
        p = out / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(rgb)).save(p)
        paths.append(p)
    return paths


def time_msroi(src: Path, out: Path, jobs: int | None, one_cpu: bool = False) -> float:
    """Wall seconds of ``msroi compress src -o out -q`` (``-j jobs`` when given; pinned to the
    first CPU this process may use when ``one_cpu``)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "msroi.cli", "compress", str(src), "-o", str(out), "-q"]
    cmd += ["-j", str(jobs)] if jobs else []
    cpu = min(os.sched_getaffinity(0))
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if one_cpu else None
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, preexec_fn=pin)
    return time.perf_counter() - t


def time_mozjpeg(paths: list[Path], out: Path, quality: int = 50) -> float:
    """Wall seconds to read every PNG and write it with mozjpeg 4.0.3 at ``quality``."""
    import jpeglib

    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with jpeglib.version("mozjpeg403"):
        for p in paths:
            rgb = np.asarray(Image.open(p).convert("RGB"))
            jpeglib.from_spatial(rgb).write_spatial(str(out / f"{p.stem}.jpg"), qt=quality)
    return time.perf_counter() - t


def total_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="*", default=[0, 1], help="msroi -j values (0 = its default)")
    parser.add_argument("--images", type=int, default=20, help="number of photos (up to 128)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = photos(tmp / "in", args.images)
        n = len(paths)
        moz = time_mozjpeg(paths, tmp / "mozjpeg")
        print(f"{n} photos {SIZE[0]}x{SIZE[1]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(f"mozjpeg 4.0.3 Q50: {moz:.2f} s, {n / moz:.1f} images/s, {total_bytes(tmp / 'mozjpeg')} bytes")
        one = None
        for jobs in args.jobs:
            s = time_msroi(tmp / "in", tmp / "msroi", jobs or None)
            label = f"-j {jobs}" if jobs else "default -j"
            one = s if jobs == 1 else one
            print(f"msroi compress ({label}), msroi maps, Q50 budget: {s:.1f} s, {n / s:.2f} images/s, "
                  f"{total_bytes(tmp / 'msroi')} bytes; mozjpeg is {s / moz:.0f}x faster "
                  f"(msroi/mozjpeg images/s ratio {moz / s:.4f})")
        if one:
            print(f"rate relative to -j 1: {one / s:.2f}x for the last run ({label})")
        pinned = time_msroi(tmp / "in", tmp / "msroi", 1, one_cpu=True)
        default = time_msroi(tmp / "in", tmp / "msroi", None)
        print(f"one core (-j 1 pinned to one CPU): {pinned:.1f} s, {n / pinned:.2f} images/s; default -j on "
              f"{len(os.sched_getaffinity(0))} cores right after: {default:.1f} s -> {pinned / default:.2f}x the one-core rate")


if __name__ == "__main__":
    main()
