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


def sweep_one(name, rgb, roi, box, targets, known, tolerance):
    """One reference's sweep, as the workflow's sweep job runs it; returns (name, rows, new qualities, s)."""
    from msroi import lean

    lean.reuse_freed_memory()  # as the workflow's jobs do (msroi.pipeline.joblog)
    enc = reference_encoder(name, jpeg.EncoderOptions(optimize=True))
    scored = pd.DataFrame([{"q": q, "bytes": b} for q, b in known.items()])
    t = time.perf_counter()
    df = sweep_for_bytes(rgb, enc, targets, roi=roi, boxes=[box], known=scored, tolerance=tolerance)
    return name, len(df), sorted(set(df["q"]) - set(known)), time.perf_counter() - t


def main(tolerance: float = settings.SWEEP_TOLERANCE):
    from concurrent.futures import ProcessPoolExecutor

    rgb = mosaic()
    roi = np.zeros(rgb.shape[:2])
    box = (700, 200, 1800, 1400)
    roi[box[1]:box[3], box[0]:box[2]] = 1.0
    print(f"photo {rgb.shape[1]}x{rgb.shape[0]}, ROI box {box}, sweep tolerance {tolerance}")
    dist = jpeg.decode(jpeg.encode(rgb, 50))
    t = time.perf_counter()
    all_metrics(rgb, dist, roi, boxes=[box])
    per_pair = time.perf_counter() - t
    print(f"all metrics (whole + ROI) of one pair: {per_pair:.1f} s")
    encoders = {name: reference_encoder(name, jpeg.EncoderOptions(optimize=True)) for name in ("jpeg", "mozjpeg")}
    # the references' own outputs at the base qualities are scored by the workflow's score rule
    base = {name: {q: len(enc(rgb, q)) for q in BASE_QUALITIES} for name, enc in encoders.items()}
    targets = [int(b * 0.998) for b in base["jpeg"].values()] + [b for sizes in base.values() for b in sizes.values()]
    t = time.perf_counter()
    # the workflow runs the two references' sweeps as two jobs, side by side on the two cores
    with ProcessPoolExecutor(2) as pool:
        jobs = [pool.submit(sweep_one, name, rgb, roi, box, targets, base[name], tolerance) for name in encoders]
        for job in jobs:
            name, rows, new, dt = job.result()
            print(f"{name}: {len(targets)} target sizes -> {len(new)} new qualities {new} "
                  f"(bisection encodes and scoring) {dt:.1f} s, {rows} rows")
    wall = time.perf_counter() - t
    print(f"both references side by side: {wall:.1f} s wall (target <= 60 s); Q1..100 with every metric would "
          f"take about {2 * 100 * per_pair:.0f} s")


if __name__ == "__main__":
    import sys

    main(*(float(a) for a in sys.argv[1:2]))
