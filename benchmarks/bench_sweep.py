"""Benchmark of the reference sweeps of one 2560x1600 photo with every metric.

Run: ``python benchmarks/bench_sweep.py [tolerance]``. The photo is a 4 x 2 mosaic of the eight bundled
sample photos, each resized to 640 x 800 (JPEG sources first reduced by 2, as the workflow does).
The outputs to compare are those of the semantic method at base qualities 30..90 (just under
the standard JPEG's size) and the two references' own outputs; for libjpeg-turbo and mozjpeg
the script times what the workflow's sweep rule does: encode at the qualities bracketing every
output's byte count (sizes only, by bisection) and score those it needs beyond the reference's
own outputs (:data:`msroi.settings.SWEEP_TOLERANCE`, or the first argument), with every metric
and a ROI box (target: both references <= 60 s).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from PIL import Image

from msroi import files, settings
from msroi.codec import jpeg
from msroi.pipeline.originals import is_jpeg, reduce_image
from msroi.quality.metrics import all_metrics
from msroi.quality.rd import reference_encoder, sweep_for_bytes
from msroi.samples import SAMPLES, sample_path

BASE_QUALITIES = range(30, 91, 10)


def mosaic() -> np.ndarray:
    """The eight sample photos, 640 x 800 each, as one 2560 x 1600 RGB image."""
    tiles = []
    for name in SAMPLES:
        rgb = files.read_image(sample_path(name))
        if is_jpeg(sample_path(name)):
            rgb = reduce_image(rgb)
        tiles.append(np.asarray(Image.fromarray(rgb).resize((640, 800), Image.LANCZOS)))
    return np.vstack([np.hstack(tiles[:4]), np.hstack(tiles[4:])])


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished children (Butteraugli)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def sweep_one(name, rgb, roi, box, targets, known, tolerance):
    """One reference's sweep, as the workflow's sweep job runs it; returns (name, rows, new
    qualities, s, CPU s of the encodes, of the rest of this process, of Butteraugli)."""
    from msroi import lean

    lean.reuse_freed_memory()  # as the workflow's jobs do (msroi.pipeline.joblog)
    enc = reference_encoder(name, jpeg.EncoderOptions(optimize=True))
    encode_cpu = [0.0]

    def timed_encoder(image, q):
        t = time.process_time()
        try:
            return enc(image, q)
        finally:
            encode_cpu[0] += time.process_time() - t

    scored = pd.DataFrame([{"q": q, "bytes": b} for q, b in known.items()])
    t, (own, kids) = time.perf_counter(), _cpu()
    df = sweep_for_bytes(rgb, timed_encoder, targets, roi=roi, boxes=[box], known=scored, tolerance=tolerance)
    wall = time.perf_counter() - t
    own2, kids2 = _cpu()
    return (name, len(df), sorted(set(df["q"]) - set(known)), wall,
            encode_cpu[0], own2 - own - encode_cpu[0], kids2 - kids)


def main(tolerance: float = settings.SWEEP_TOLERANCE):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    rgb = mosaic()
    roi = np.zeros(rgb.shape[:2])
    box = (700, 200, 1800, 1400)
    roi[box[1]:box[3], box[0]:box[2]] = 1.0
    print(f"photo {rgb.shape[1]}x{rgb.shape[0]}, ROI box {box}, sweep tolerance {tolerance}")
    dist = jpeg.decode(jpeg.encode(rgb, 50))
    t, (own, kids) = time.perf_counter(), _cpu()
    all_metrics(rgb, dist, roi, boxes=[box])
    per_pair = time.perf_counter() - t
    own2, kids2 = _cpu()
    print(f"all metrics (whole + ROI) of one pair: {per_pair:.1f} s wall, CPU {own2 - own:.1f} s in Python "
          f"(reference side included) + {kids2 - kids:.1f} s Butteraugli")
    encoders = {name: reference_encoder(name, jpeg.EncoderOptions(optimize=True)) for name in ("jpeg", "mozjpeg")}
    # the references' own outputs at the base qualities are scored by the workflow's score rule
    base = {name: {q: len(enc(rgb, q)) for q in BASE_QUALITIES} for name, enc in encoders.items()}
    targets = [int(b * 0.998) for b in base["jpeg"].values()] + [b for sizes in base.values() for b in sizes.values()]
    t = time.perf_counter()
    # the workflow runs the two references' sweeps as two jobs, side by side on the two cores;
    # fresh processes like the jobs (forked ones would inherit the metrics' reference caches)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(sweep_one, name, rgb, roi, box, targets, base[name], tolerance) for name in encoders]
        total_cpu = 0.0
        for job in jobs:
            name, rows, new, dt, enc_cpu, metrics_cpu, butter_cpu = job.result()
            total_cpu += enc_cpu + metrics_cpu + butter_cpu
            print(f"{name}: {len(targets)} target sizes -> {len(new)} new qualities {new} "
                  f"(bisection encodes and scoring) {dt:.1f} s, {rows} rows; CPU s: encodes {enc_cpu:.1f}, "
                  f"decodes and metrics in Python {metrics_cpu:.1f} ({metrics_cpu / len(new):.2f} per pair), "
                  f"Butteraugli tool {butter_cpu:.1f} ({butter_cpu / len(new):.2f} per pair)")
    wall = time.perf_counter() - t
    print(f"CPU of both sweeps: {total_cpu:.1f} s (on 2 cores at least {total_cpu / 2:.1f} s wall)")
    print(f"both references side by side: {wall:.1f} s wall (target <= 60 s); Q1..100 with every metric would "
          f"take about {2 * 100 * per_pair:.0f} s")


if __name__ == "__main__":
    import sys

    main(*(float(a) for a in sys.argv[1:2]))
