"""How few reference qualities an equal-bytes comparison can score (development set only).

For each development photo and reference encoder (libjpeg-turbo, mozjpeg): score every
quality 15..98 (the dense curve), then for each ``tolerance`` of
:func:`msroi.quality.rd.bracket_qualities` read the reference's metrics at target byte counts
off the curve through the base qualities (30..90 step 10) plus the chosen qualities, and
compare with the dense curve's values at the same byte counts. Targets: the other
reference's outputs at the base qualities, 0.2% under libjpeg-turbo's (where the
semantic encoder's outputs land), and 20 byte counts
log-uniform over the base range. Prints the points scored and the errors per metric.

Run: ``python research/exp_sweep_tolerance.py`` (about 10 min on 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from msroi import files
from msroi.codec.jpeg import EncoderOptions
from msroi.quality.rd import at_equal_bytes, bracket_qualities, reference_encoder, standard_sweep

DEV = Path(__file__).parent / "devset"
OUT = Path(__file__).parent / "results_sweep"  # the dense curves, kept to re-run the analysis
BASE = list(range(30, 91, 10))
METRICS = ["ssimulacra2", "butteraugli_3norm", "psnrhvsm", "ssim"]
TOLERANCES = [0.0, 0.01, 0.02, 0.03, 0.05, 0.08]


def main():
    rows = []
    rng = np.random.default_rng(0)
    for path in sorted(DEV.glob("*.png")):
        rgb = files.read_image(path)
        enc = {n: reference_encoder(n, EncoderOptions(optimize=True)) for n in ("jpeg", "mozjpeg")}
        dense = {}
        for n, e in enc.items():
            cache = OUT / f"{path.stem}_{n}.csv"
            if not cache.is_file():
                OUT.mkdir(exist_ok=True)
                standard_sweep(rgb, e, range(15, 99), metrics=METRICS).to_csv(cache, index=False)
            dense[n] = pd.read_csv(cache)
        base_sizes = {n: dense[n].set_index("q").loc[BASE, "bytes"] for n in dense}
        for name, curve in dense.items():
            other = "mozjpeg" if name == "jpeg" else "jpeg"
            lo, hi = base_sizes[name].min(), base_sizes[name].max()
            targets = list(base_sizes[other]) + [int(b * 0.998) for b in base_sizes["jpeg"]]
            targets += list(np.exp(rng.uniform(np.log(lo), np.log(hi), 20)).astype(int))
            sizes = dict(zip(curve["q"], curve["bytes"]))
            for tol in TOLERANCES:
                known = {q: sizes[q] for q in BASE}
                chosen = bracket_qualities(lambda q: sizes[q] if q in sizes else sys.exit(f"q {q} not swept"),
                                           targets, lo=15, hi=98, known=known, tolerance=tol)
                sub = curve[curve["q"].isin(BASE + chosen)]
                for m in METRICS:
                    est = at_equal_bytes(sub, np.array(targets, float), m)
                    true = at_equal_bytes(curve, np.array(targets, float), m)
                    err = np.abs(est - true)
                    worst = int(np.nanargmax(err))
                    rows.append({"image": path.stem, "reference": name, "tolerance": tol, "new_points": len(chosen),
                                 "metric": m, "max_err": np.nanmax(err), "mean_err": np.nanmean(err),
                                 "worst_target": targets[worst], "worst_q": curve["q"][curve["bytes"] >= targets[worst]].min()})
        print(path.stem, flush=True)
    df = pd.DataFrame(rows)
    pts = df.groupby(["tolerance", "reference"])["new_points"].mean().unstack()
    err = df.pivot_table(index="tolerance", columns="metric", values="max_err", aggfunc="max")
    mean = df.pivot_table(index="tolerance", columns="metric", values="mean_err", aggfunc="mean")
    print("new points scored per image (mean):\n", pts.round(1).to_string())
    print("max |error| over images, targets and references:\n", err.round(4).to_string())
    print("mean |error|:\n", mean.round(4).to_string())
    worst = df.loc[df.groupby(["tolerance", "metric"])["max_err"].idxmax()]
    print("where the largest errors are:\n", worst.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
