"""Issue 14: the semantic encoder against mozjpeg on the development set (research/devset).

For each dev photo and base quality Q in 30, 50, 70, 90: libjpeg-turbo (Pillow, Annex K,
optimised Huffman, 4:2:0) sets the budget; mozjpeg 4.0.3 (jpeglib, defaults: its tables,
trellis, progressive) and the same coefficients written sequential (jpegtran -optimize);
our variants at the budget with a uniform map, a centre prior and (optionally) the box
itself as the map. Metrics whole-image and in the hand-drawn box: SSIMULACRA2,
Butteraugli 3-norm (optional, slower), PSNR-HVS-M, SSIM. BD-rates (PCHIP, mean over
photos) against mozjpeg, mode-matched (sequential variants vs mozjpeg sequential).

Run: PYTHONPATH=. python research/exp_encoder.py [--butteraugli] [--variants a,b] [--maps uniform,centre]
Rows are cached in research/results_encoder/rows.csv (re-runs only compute what is missing).
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
DEV = HERE / "devset"
OUT = HERE / "results_encoder"
QS = (30, 50, 70, 90)

#: Our variants: keyword arguments of encode_semantic (ratio comes from the map kind).
VARIANTS = {
    "v0_annexk_csf": dict(tables="annexk", distortion="csf"),
    "v1_rob_csf": dict(tables="robidoux", distortion="csf"),
    "v2_rob_table": dict(tables="robidoux", distortion="table"),
    "v3_rob_table_mask": dict(tables="robidoux", distortion="table", masking="moz"),
    "v4_rob_mse": dict(tables="robidoux", distortion="mse"),
    "v6_annexk_table": dict(tables="annexk", distortion="table"),
    "v7_rob_table_prog": dict(tables="robidoux", distortion="table", progressive=True),
    "v11_rob_hybrid_prog": dict(tables="robidoux", distortion="hybrid", progressive=True),
    "v12_rob_table_prog_r12": dict(tables="robidoux", distortion="table", progressive=True, ratio=12.0),
    "v13_rob_table_prog_r24": dict(tables="robidoux", distortion="table", progressive=True, ratio=24.0),
    "v14_rob_table_prog_r10": dict(tables="robidoux", distortion="table", progressive=True, ratio=10.0),
    "v15_rob_table_prog_c2": dict(tables="robidoux", distortion="table", progressive=True, chroma_weight=2.0),
    "v16_rob_table_prog_c05": dict(tables="robidoux", distortion="table", progressive=True, chroma_weight=0.5),
    "v17_rob_table_prog_dc": dict(tables="robidoux", distortion="table", progressive=True, dc_trellis=True),
    "v18_rob_hybrid70_prog_dc": dict(tables="robidoux", distortion="hybrid", csf_share=0.7, progressive=True,
                                     dc_trellis=True),
    "v19_rob_hybrid30_prog_dc": dict(tables="robidoux", distortion="hybrid", csf_share=0.3, progressive=True,
                                     dc_trellis=True),
    "v20_rob_hybrid70_dc": dict(tables="robidoux", distortion="hybrid", csf_share=0.7, dc_trellis=True),
    "v21_rob_table_dc": dict(tables="robidoux", distortion="table", dc_trellis=True),
}

#: Variants that differ only with a map: their uniform-map reference.
SHARE_BASE = {"v12_rob_table_prog_r12": "v7_rob_table_prog", "v13_rob_table_prog_r24": "v7_rob_table_prog",
              "v14_rob_table_prog_r10": "v7_rob_table_prog"}


def load_dev():
    imgs = {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in sorted(DEV.glob("*.png"))}
    boxes = {}
    with open(DEV / "boxes.csv") as f:
        for r in csv.DictReader(f):
            boxes.setdefault(r["image"], []).append(tuple(int(r[k]) for k in ("x0", "y0", "x1", "y1")))
    return imgs, boxes


def turbo(rgb, q):
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=q, subsampling=2, optimize=True)
    return b.getvalue()


def mozjpeg(rgb, q):
    import jpeglib
    jpeglib.version.set("mozjpeg403")
    fd, tmp = tempfile.mkstemp(suffix=".jpg")
    os.close(fd)
    try:
        im = jpeglib.from_spatial(np.ascontiguousarray(rgb))
        im.write_spatial(tmp, qt=int(q))
        return open(tmp, "rb").read()
    finally:
        os.unlink(tmp)


def sequential(data):
    """The same coefficients written sequential with optimised Huffman tables (lossless)."""
    return subprocess.run(["jpegtran", "-optimize", "-copy", "none"], input=data,
                          capture_output=True, check=True).stdout


def decode(data):
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def metrics(ref, dec, bxs, butter):
    from msroi.quality import metrics as M
    from msroi.quality.roi import roi_from_boxes
    from msroi.quality.ssimulacra2 import ssimulacra2, ssimulacra2_roi
    roi = roi_from_boxes(bxs, ref.shape[:2])
    ly, ld = M.luma(ref), M.luma(dec)
    out = dict(s2=ssimulacra2(ref, dec), s2_roi=ssimulacra2_roi(ref, dec, bxs),
               hvsm=M.psnr_hvsm(ly, ld), hvsm_roi=M.psnr_hvsm(ly, ld, roi),
               ssim=M.ssim(ly, ld), ssim_roi=M.ssim(ly, ld, roi))
    if butter:
        from msroi.quality.butteraugli import butteraugli, butteraugli_roi
        out["ba"] = butteraugli(ref, dec)[1]
        out["ba_roi"] = butteraugli_roi(ref, dec, bxs)[1]
    return out


def make_map(kind, shape, bxs):
    from msroi.saliency.priors import center_map
    if kind == "uniform":
        return np.ones(shape)
    if kind == "centre":
        return center_map(shape)
    if kind == "box":
        from msroi.quality.roi import roi_from_boxes
        return roi_from_boxes(bxs, shape)
    raise ValueError(kind)


FIELDS = ["image", "encoder", "map", "q", "bytes", "budget", "seconds", "table", "s2", "s2_roi",
          "hvsm", "hvsm_roi", "ssim", "ssim_roi", "ba", "ba_roi"]


def read_rows():
    p = OUT / "rows.csv"
    if not p.exists():
        return []
    with open(p) as f:
        return list(csv.DictReader(f))


def run(variants, maps, butter, images=None):
    from msroi.codec.semantic import MOZJPEG_MASKING, encode_semantic
    OUT.mkdir(exist_ok=True)
    imgs, boxes = load_dev()
    rows = read_rows()
    done = {(r["image"], r["encoder"], r["map"], r["q"]) for r in rows
            if (not butter) or r.get("ba") not in (None, "")}
    have = {(r["image"], r["encoder"], r["map"], r["q"]): r for r in rows}
    for name, rgb in imgs.items():
        if images and name not in images:
            continue
        bxs = boxes[name]
        for q in QS:
            base = turbo(rgb, q)
            budget = len(base)
            jobs = [("turbo", "-", lambda: (base, {})),
                    ("moz_prog", "-", lambda: (mozjpeg(rgb, q), {})),
                    ("moz_seq", "-", lambda: (sequential(mozjpeg(rgb, q)), {}))]
            for v in variants:
                for mk in maps:
                    kw = dict(VARIANTS[v])
                    if kw.get("masking") == "moz":
                        kw["masking"] = MOZJPEG_MASKING
                    ratio = 1.0 if mk == "uniform" else kw.pop("ratio", 6.0)
                    kw.pop("ratio", None)

                    def job(kw=kw, mk=mk, ratio=ratio):
                        return encode_semantic(rgb, make_map(mk, rgb.shape[:2], bxs), budget,
                                               ratio=ratio, **kw)
                    jobs.append((v, mk, job))
            for enc, mk, fn in jobs:
                key = (name, enc, mk, str(q))
                if key in done:
                    continue
                t = time.perf_counter()
                data, info = fn()
                sec = time.perf_counter() - t
                assert enc.startswith(("turbo", "moz")) or len(data) <= budget, (key, len(data), budget)
                row = dict(image=name, encoder=enc, map=mk, q=q, bytes=len(data), budget=budget,
                           seconds=round(sec, 3),
                           table=f"{info.get('table_family', '')}{info.get('table_quality', '')}")
                row.update({k: round(float(v), 5) for k, v in metrics(rgb, decode(data), bxs, butter).items()})
                have[key] = row
                print(key, row["bytes"], row["table"], f"s2={row['s2']:.2f} roi={row['s2_roi']:.2f}",
                      f"{sec:.2f}s", flush=True)
                with open(OUT / "rows.csv", "w", newline="") as f:
                    w = csv.DictWriter(f, FIELDS)
                    w.writeheader()
                    for r in have.values():
                        w.writerow({k: r.get(k, "") for k in FIELDS})


def summarise(out=sys.stdout):
    from msroi.quality.rd import bd_rate
    rows = read_rows()
    by = {}
    for r in rows:
        by.setdefault((r["encoder"], r["map"]), {}).setdefault(r["image"], []).append(r)
    ref_seq = {im: v for im, v in by.get(("moz_seq", "-"), {}).items()}
    ref_prog = {im: v for im, v in by.get(("moz_prog", "-"), {}).items()}
    mets = [("s2", 1), ("s2_roi", 1), ("ba", -1), ("ba_roi", -1), ("hvsm", 1), ("hvsm_roi", 1),
            ("ssim", 1), ("ssim_roi", 1)]
    print("BD-rate % vs mozjpeg, mode-matched (encoders named *prog* vs mozjpeg progressive, the others "
          "vs mozjpeg's coefficients written sequential); "
          "mean over photos (n)", file=out)
    print(f"{'encoder':24s} {'map':8s} " + " ".join(f"{m:>9s}" for m, _ in mets), file=out)
    for (enc, mk), per in sorted(by.items()):
        ref = ref_prog if "prog" in enc else ref_seq
        vals = []
        for m, sgn in mets:
            bds = []
            for im, rs in per.items():
                if im not in ref:
                    continue
                a = [x for x in ref[im] if x.get(m) not in ("", None)]
                b = [x for x in rs if x.get(m) not in ("", None)]
                if len(a) < 2 or len(b) < 2:
                    continue
                bd = bd_rate([float(x["bytes"]) for x in a], [sgn * float(x[m]) for x in a],
                             [float(x["bytes"]) for x in b], [sgn * float(x[m]) for x in b])
                if np.isfinite(bd):
                    bds.append(bd)
            vals.append(f"{np.mean(bds):+8.2f}%" if bds else f"{'-':>9s}")
        n = len(per)
        print(f"{enc:24s} {mk:8s} " + " ".join(vals) + f"  (n={n})", file=out)


def self_share(out=sys.stdout, small=0.40):
    """Map's own share: ROI SSIMULACRA2 BD-rate of each variant with a map vs the same
    variant with the uniform map, on photos whose box covers < ``small`` of the frame."""
    from msroi.quality.rd import bd_rate
    imgs, boxes = load_dev()
    rows = read_rows()
    by = {}
    for r in rows:
        by.setdefault((r["encoder"], r["map"]), {}).setdefault(r["image"], []).append(r)
    print(f"\nMap's own share: ROI / whole SSIMULACRA2 BD-rate vs the same encoder, uniform map "
          f"(photos with box < {small:.0%} of frame)", file=out)
    for (enc, mk), per in sorted(by.items()):
        base = SHARE_BASE.get(enc, enc)
        if mk in ("-", "uniform") or (base, "uniform") not in by:
            continue
        uni = by[(base, "uniform")]
        res = {}
        for m in ("s2_roi", "s2"):
            bds = []
            for im, rs in per.items():
                frac = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes[im]) / np.prod(imgs[im].shape[:2])
                if frac >= small or im not in uni:
                    continue
                bds.append(bd_rate([float(x["bytes"]) for x in uni[im]], [float(x[m]) for x in uni[im]],
                                   [float(x["bytes"]) for x in rs], [float(x[m]) for x in rs]))
            res[m] = np.nanmean(bds) if bds else float("nan")
        print(f"  {enc:24s} {mk:8s} roi {res['s2_roi']:+.2f}%  whole {res['s2']:+.2f}%", file=out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="v0_annexk_csf")
    ap.add_argument("--maps", default="uniform")
    ap.add_argument("--images", default="")
    ap.add_argument("--butteraugli", action="store_true")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args()
    if not a.summary_only:
        run([v for v in a.variants.split(",") if v], a.maps.split(","), a.butteraugli,
            [i for i in a.images.split(",") if i] or None)
    summarise()
    self_share()


def equal_bytes(variant, mk, progressive=True, out=sys.stdout):
    """Target 4: per photo and base quality, ROI SSIMULACRA2 of ``variant`` with map ``mk``
    against mozjpeg rate-controlled to the same budget (its highest quality whose file
    fits), and whether ours rises with the base quality."""
    from msroi.quality.ssimulacra2 import ssimulacra2_roi
    imgs, boxes = load_dev()
    rows = {(r["image"], r["q"]): r for r in read_rows() if r["encoder"] == variant and r["map"] == mk}
    lines, wins, total, mono = [], 0, 0, True
    for name, rgb in imgs.items():
        prev = -1e9
        for q in QS:
            r = rows.get((name, str(q)))
            if r is None:
                continue
            budget = int(r["budget"])
            lo, hi, best = 1, 100, None
            enc = mozjpeg if progressive else (lambda x, k: sequential(mozjpeg(x, k)))
            while lo <= hi:
                mid = (lo + hi) // 2
                d = enc(rgb, mid)
                if len(d) <= budget:
                    best, lo = (mid, d), mid + 1
                else:
                    hi = mid - 1
            moz = ssimulacra2_roi(rgb, decode(best[1]), boxes[name])
            ours = float(r["s2_roi"])
            total += 1
            wins += ours >= moz
            mono &= ours > prev
            prev = ours
            lines.append(f"{name},{q},{budget},{r['bytes']},{ours:.3f},{best[0]},{len(best[1])},{moz:.3f},{ours - moz:+.3f}")
    print(f"\nEqual bytes (target 4): {variant} map={mk} vs mozjpeg at its highest Q within the budget: "
          f"ours >= mozjpeg in ROI SSIMULACRA2 at {wins}/{total} points; monotone in Q: {mono}", file=out)
    print("image,q,budget,our_bytes,our_s2_roi,moz_q,moz_bytes,moz_s2_roi,diff", file=out)
    for ln in lines:
        print(ln, file=out)
