"""How well maps find the main objects: lift and pointing game on hand-drawn boxes, and time.

Usage: python benchmarks/bench_map_lift.py [--set samples|dev|both] [--repeat 5] [--cache DIR]

For every map source (the production ``msroi`` map, the paper's rank-combined map, the
centre prior, and the ``msroi`` map without each of its parts) prints one row per image set:

- lift = (share of the map's mass inside the boxes) / (share of the image area they cover);
  1 is a uniform map, higher is better (a map that is zero outside the boxes scores
  1 / box area share);
- pointing game: is the map's maximum inside a box (count over the images);
- AUC: the probability that a pixel in a box ranks above a pixel outside (0.5 = chance);
  unlike lift it ignores the map's values, only their order, which is all the semantic
  encoder's default "rank" calibration uses: a power (gamma) raises lift, not AUC;
- the production map's time per 768 x 512 photo after load (median of ``--repeat`` calls
  after one warm-up call), wall clock on a shared CPU.

Image sets: ``samples`` = the eight bundled samples with ``msroi/resources/sample_boxes.csv``
(the TEST set: report, never tune); ``dev`` = ``research/mapdev`` (photos from Debian
wallpaper packages, boxes drawn for this benchmark: the set every weight was chosen on).
Targets: on the samples, mean lift >= 2.5, >= the centre prior's on 7 of 8,
>= 1.2 on each; pointing game 8/8; <= 0.3 s per 768 x 512 photo.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from msroi.quality.map_scores import auc, lift, pointing  # noqa: F401  (research scripts import them from here)

ROOT = Path(__file__).resolve().parents[1]
DEV_DIR = ROOT / "research" / "mapdev"

#: name -> keyword arguments of msroi_map (None: the centre prior, no network).
SOURCES = {
    "msroi": {},
    "paper (old msroi)": {"method": "paper"},
    "centre prior": None,
    "msroi before 2026-12-02": {"scales": (224, 320), "blur_sigma": 0.0, "gamma": 2.0, "centre": 0.5},
    "msroi before 2026-12-03": {"scales": (192, 320), "blur_sigma": 0.04, "gamma": 4.0, "centre": 0.5},
    "msroi, no faces": {"faces": False},
    "msroi, no centre": {"centre": 0.0},
    "msroi, no blur": {"blur_sigma": 0.0},
    "msroi, gamma 2": {"gamma": 2.0},
    "msroi, gamma 1": {"gamma": 1.0},
    "msroi, CNN only": {"faces": False, "centre": 0.0, "gamma": 1.0, "blur_sigma": 0.0},
    "msroi, CNN, 1 scale": {"faces": False, "centre": 0.0, "gamma": 1.0, "blur_sigma": 0.0, "scales": (448,)},
}


def read_boxes(path) -> dict[str, list[tuple[int, int, int, int]]]:
    """Boxes CSV (``image,x0,y0,x1,y1``, several rows per image allowed) -> {image: [boxes]}."""
    boxes: dict[str, list] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            boxes.setdefault(row["image"], []).append(tuple(int(row[k]) for k in ("x0", "y0", "x1", "y1")))
    return boxes


def box_mask(boxes, shape) -> np.ndarray:
    """Union of ``boxes`` as a boolean (H, W) mask."""
    mask = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0) : y1, max(0, x0) : x1] = True
    return mask


def image_sets(which: str) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """{set name: [(image name, rgb, box mask)]} for ``samples``, ``dev`` or ``both``."""
    from msroi.files import read_image
    from msroi.samples import SAMPLE_BOXES, SAMPLES, sample_path

    out = {}
    if which in ("samples", "both"):
        boxes = read_boxes(SAMPLE_BOXES)
        rows = []
        for name in SAMPLES:
            rgb = read_image(sample_path(name))
            rows.append((name, rgb, box_mask(boxes[name], rgb.shape[:2])))
        out["samples"] = rows
    if which in ("dev", "both"):
        boxes = read_boxes(DEV_DIR / "boxes.csv")
        rows = []
        for name in sorted(boxes):
            rgb = read_image(DEV_DIR / f"{name}.png")
            rows.append((name, rgb, box_mask(boxes[name], rgb.shape[:2])))
        out["dev"] = rows
    return out


def make_map(classifier, rgb, kwargs):
    from msroi.saliency import maps
    from msroi.saliency.priors import center_map

    if kwargs is None:
        return center_map(rgb.shape[:2])
    return maps.msroi_map(classifier, rgb, **kwargs)[0]


def main(argv=None) -> dict:
    """Run the benchmark; takes CLI arguments, returns {set: {source: {image: lift, ...}}}."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("samples", "dev", "both"), default="samples")
    ap.add_argument("--repeat", type=int, default=5, help="timed map calls (median reported); 0 skips timing")
    ap.add_argument("--cache", default=None, help="model cache directory (default: the user cache)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)

    from msroi.saliency.maps import load_classifier

    classifier = load_classifier("default", cache_dir=args.cache)
    results: dict = {}
    for set_name, rows in image_sets(args.set).items():
        names = [n for n, _, _ in rows]
        short = [n[:9] for n in names]
        print(f"\n{set_name}: lift (mass share in boxes / area share), pointing game")
        print(f"{'source':26s} " + " ".join(f"{n:>9s}" for n in short) + "      mean  min  >=centre  pointing  AUC")
        table = {}
        for source, kwargs in SOURCES.items():
            lifts, aucs, hits = [], [], 0
            for _, rgb, mask in rows:
                m = make_map(classifier, rgb, kwargs)
                lifts.append(lift(m, mask))
                aucs.append(auc(m, mask))
                hits += pointing(m, mask)
            table[source] = {
                "lift": dict(zip(names, lifts)),
                "mean": float(np.mean(lifts)),
                "auc": dict(zip(names, aucs)),
                "mean_auc": float(np.mean(aucs)),
                "pointing": hits,
            }
        centre = table["centre prior"]["lift"]
        for source, row in table.items():
            lifts = list(row["lift"].values())
            beats = sum(row["lift"][n] >= centre[n] - 1e-9 for n in names)
            row["beats_centre"] = beats
            print(
                f"{source:26s} "
                + " ".join(f"{v:9.2f}" for v in lifts)
                + f"  {np.mean(lifts):8.2f} {min(lifts):4.2f}  {beats:4d}/{len(names)}  {row['pointing']:4d}/{len(names)}  {row['mean_auc']:.3f}"
            )
        results[set_name] = table
    if args.repeat > 0:
        from skimage import data

        rgb = np.asarray(Image.fromarray(data.chelsea()).resize((768, 512), Image.BILINEAR))
        timing = {}
        for source in ("msroi", "msroi, no faces", "paper (old msroi)"):
            make_map(classifier, rgb, SOURCES[source])  # warm-up: traces the graph for this shape
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                make_map(classifier, rgb, SOURCES[source])
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            timing[source] = {"wall_s": statistics.median(times), "cpu_s": statistics.median(cpu)}
        print(
            f"\ntime per 768 x 512 photo after load (median of {args.repeat}; wall clock and CPU time of all"
            f" threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):"
        )
        for source, t in timing.items():
            print(f"  {source:22s} {t['wall_s']:.3f} s wall, {t['cpu_s']:.3f} s CPU")
        results["time_768x512_s"] = timing
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
