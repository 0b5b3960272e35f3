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
from msroi.quality.rd import bracket_qualities, reference_encoder, sweep_for_bytes
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


def main(tolerance: float = settings.SWEEP_TOLERANCE):
    rgb = mosaic()
    roi = np.zeros(rgb.shape[:2])
    box = (700, 200, 1800, 1400)
    roi[box[1]:box[3], box[0]:box[2]] = 1.0
    print(f"photo {rgb.shape[1]}x{rgb.shape[0]}, ROI box {box}, sweep tolerance {tolerance}")
    t = time.perf_counter()
    dist = jpeg.decode(jpeg.encode(rgb, 50))
    all_metrics(rgb, dist, roi, boxes=[box])
    per_pair = time.perf_counter() - t
    print(f"all metrics (whole + ROI) of one pair: {per_pair:.1f} s")
    encoders = {name: reference_encoder(name, jpeg.EncoderOptions(optimize=True)) for name in ("jpeg", "mozjpeg")}
    base = {name: {q: len(enc(rgb, q)) for q in BASE_QUALITIES} for name, enc in encoders.items()}
    targets = [int(b * 0.998) for b in base["jpeg"].values()] + [b for sizes in base.values() for b in sizes.values()]
    total = 0.0
    for name, enc in encoders.items():
        t = time.perf_counter()
        # the reference's own outputs at the base qualities are scored by the workflow's score rule
        known = {q: base[name][q] for q in BASE_QUALITIES}
        qualities = bracket_qualities(lambda q: len(enc(rgb, q)), targets, known=known, tolerance=tolerance)
        t_sizes = time.perf_counter() - t
        scored = pd.DataFrame([{"q": q, "bytes": b} for q, b in known.items()])
        t = time.perf_counter()
        df = sweep_for_bytes(rgb, enc, targets, roi=roi, boxes=[box], known=scored, tolerance=tolerance)
        dt = time.perf_counter() - t
        total += dt
        print(f"{name}: {len(targets)} target sizes -> {len(qualities)} new qualities to score {qualities}, "
              f"sizes by bisection {t_sizes:.1f} s; sweep {dt:.1f} s ({len(df)} rows)")
    print(f"both references: {total:.1f} s (target <= 60 s); Q1..100 with every metric would take about "
          f"{2 * 100 * per_pair:.0f} s")


if __name__ == "__main__":
    import sys

    main(*(float(a) for a in sys.argv[1:2]))
