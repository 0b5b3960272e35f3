"""Full evaluation: methods x images x base qualities; deltas at equal bytes, BD-rate.

Usage: exp_eval.py [names] ; writes research/results_eval.csv
"""
import sys, csv, time
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import warnings; warnings.filterwarnings("ignore")
from common import *
from msroi.codec.semantic import encode_semantic

BASES = (30, 40, 50, 60, 70, 80, 90)


def prefilter(a, smap, budget, sigma=2.0):
    """Direction 3, cheap alternative: blur the background (strength 1-map), then the
    highest Pillow quality that fits."""
    from scipy.ndimage import gaussian_filter
    bl = np.stack([gaussian_filter(a[..., i].astype(float), sigma) for i in range(3)], -1)
    m = smap[..., None]
    img = np.clip(np.rint(m * a + (1 - m) * bl), 0, 255).astype(np.uint8)
    best = None
    lo, hi = 1, 100
    while lo <= hi:
        mid = (lo + hi) // 2
        d = pillow_jpeg(img, mid)
        if len(d) <= budget:
            best, lo = d, mid + 1
        else:
            hi = mid - 1
    return best


METHODS = {
    "winner": lambda a, m, b: encode_semantic(a, m, b)[0],
    "winner-uniform": lambda a, m, b: encode_semantic(a, np.ones_like(m), b, ratio=1.0)[0],
    "winner-abs": lambda a, m, b: encode_semantic(a, m, b, calibrate="absolute")[0],
    "winner-r8": lambda a, m, b: encode_semantic(a, m, b, ratio=8.0)[0],
    "rdo-rank-r4": lambda a, m, b: encode_semantic(a, m, b, calibrate="rank", ratio=4.0)[0],
    "rdo-abs-r4": lambda a, m, b: encode_semantic(a, m, b, calibrate="absolute", ratio=4.0)[0],
    "rdo-rank-r8": lambda a, m, b: encode_semantic(a, m, b, calibrate="rank", ratio=8.0)[0],
    "rdo-uniform": lambda a, m, b: encode_semantic(a, np.ones_like(m), b, ratio=1.0)[0],
    "prefilter-s2": lambda a, m, b: prefilter(a, m, b, 2.0),
}

names = sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] else NAMES
methods = sys.argv[2].split(",") if len(sys.argv) > 2 else list(METHODS)
maps = sys.argv[3].split(",") if len(sys.argv) > 3 else ["box", "centre"]
out = HERE / (sys.argv[4] if len(sys.argv) > 4 else "results_eval.csv")
bx = boxes()
rows = []
for n in names:
    a = load(n)
    roi = block_weights(box_mask(a.shape, bx[n]))
    cur = Curve(a, roi)
    jl = Curve(a, roi, enc=jpegli_jpeg, qs=range(5, 101, 5))
    for mp in maps:
        smap = box_map(a.shape, bx[n]) if mp == "box" else centre_map(a.shape)
        for meth in methods:
            if mp == "centre" and meth in ("rdo-uniform", "winner-uniform"):
                continue
            for qb in BASES:
                budget = len(pillow_jpeg(a, qb))
                t = time.perf_counter()
                d = METHODS[meth](a, smap, budget)
                dt = time.perf_counter() - t
                if d is None:
                    continue
                s = scores(a, d, roi)
                r = dict(image=n, map=mp, method=meth, base_q=qb, budget=budget, seconds=round(dt, 3), **s)
                for k in ("hvsm", "roi_hvsm", "bg_hvsm", "psnr"):
                    r["d_" + k] = s[k] - cur.at(s["bytes"], k)
                r["d_roi_vs_jpegli"] = s["roi_hvsm"] - jl.at(s["bytes"], "roi_hvsm")
                r["d_hvsm_vs_jpegli"] = s["hvsm"] - jl.at(s["bytes"], "hvsm")
                rows.append(r)
            sel = [r for r in rows if r["image"] == n and r["map"] == mp and r["method"] == meth]
            bd = bd_rate([len(pillow_jpeg(a, q)) for q in BASES], [cur.at(len(pillow_jpeg(a, q)), "roi_hvsm") for q in BASES],
                         [r["bytes"] for r in sel], [r["roi_hvsm"] for r in sel])
            for r in sel:
                r["bd_rate_roi"] = bd
            q50 = [r for r in sel if r["base_q"] == 50][0]
            print(f"{n:15s} {mp:6s} {meth:13s} q50: dROI={q50['d_roi_hvsm']:+.2f} dAll={q50['d_hvsm']:+.2f} "
                  f"dPSNR={q50['d_psnr']:+.2f} vsJpegliROI={q50['d_roi_vs_jpegli']:+.2f} BD-ROI={bd:+.1f}% "
                  f"t={np.mean([r['seconds'] for r in sel]):.2f}", flush=True)
with open(out, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader(); w.writerows(rows)
