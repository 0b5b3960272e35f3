"""Semantic-method variants on the 8 bundled samples with the CNN (msroi) maps.

ROI = the hand-drawn sample boxes (msroi/resources/sample_boxes.csv); baseline = Pillow
4:2:0 optimised Huffman, Q 1..100 (cached). Deltas at equal bytes, BD-rate over BASES.

Usage: exp_msroi.py MAPDIR VARIANT[,VARIANT...] [BASES]
  MAPDIR: output of `msroi map results/samples -o MAPDIR`
  VARIANT: name=k:v;k:v  (encode_semantic keyword arguments), e.g. r8=ratio:8
"""
import sys, pickle, time
from multiprocessing import Pool
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import warnings; warnings.filterwarnings("ignore")
from common import *
from msroi.codec.semantic import encode_semantic
from PIL import Image

CACHE = Path("/tmp/exp")
SAMPLES = HERE.parent / "results" / "samples"


def sample(name):
    a = np.asarray(Image.open(next(SAMPLES.glob(name + ".*"))).convert("RGB"))
    h, w = (a.shape[0] // 16) * 16, (a.shape[1] // 16) * 16
    return np.ascontiguousarray(a[:h, :w])


def sample_boxes():
    out = {}
    with open(HERE.parent / "msroi/resources/sample_boxes.csv") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["image"], []).append(tuple(int(r[k]) for k in ("x0", "y0", "x1", "y1")))
    return out


def parse(v):
    name, _, args = v.partition("=")
    kw = {}
    for kv in filter(None, args.split(";")):
        k, val = kv.split(":")
        try:
            val = float(val) if "." in val else int(val)
        except ValueError:
            pass
        kw[k] = val
    return name, kw


def run(job):
    name, mapdir, variants, bases = job
    a = sample(name)
    roi = block_weights(box_mask(a.shape, sample_boxes()[name]))
    cp = CACHE / f"curve-{name}.pkl"
    if cp.exists():
        cur = pickle.loads(cp.read_bytes())
    else:
        cur = Curve(a, roi)
        cp.write_bytes(pickle.dumps(cur))
    m = np.asarray(Image.open(Path(mapdir) / f"{name}.png"), dtype=np.float64)
    m = m[:a.shape[0], :a.shape[1]] / (65535.0 if m.max() > 255 else 255.0)
    rows = []
    for v in variants:
        vname, kw = parse(v)
        smap = np.ones_like(m) if kw.pop("uniform", 0) else m
        blend = kw.pop("blend", 0)
        if blend:
            from msroi.saliency.priors import center_map
            c = center_map(m.shape)
            smap = (1 - blend) * m + blend * c if blend > 0 else m * c
        if kw.pop("boxmap", 0):
            smap = box_map(a.shape, sample_boxes()[name])
        for qb in bases:
            budget = len(pillow_jpeg(a, qb))
            t = time.perf_counter()
            d, info = encode_semantic(a, smap, budget, **kw)
            s = scores(a, d, roi)
            r = dict(image=name, variant=vname, base_q=qb, seconds=time.perf_counter() - t,
                     over=len(d) > budget, **s)
            for k in ("hvsm", "roi_hvsm", "psnr"):
                r["d_" + k] = s[k] - cur.at(s["bytes"], k)
            rows.append(r)
        sel = [r for r in rows if r["variant"] == vname]
        bd = bd_rate([len(pillow_jpeg(a, q)) for q in bases],
                     [cur.at(len(pillow_jpeg(a, q)), "roi_hvsm") for q in bases],
                     [r["bytes"] for r in sel], [r["roi_hvsm"] for r in sel])
        for r in sel:
            r["bd_roi"] = bd
    return rows


if __name__ == "__main__":
    import pandas as pd
    mapdir, variants = sys.argv[1], sys.argv[2].split(",")
    bases = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [30, 50, 70, 90]
    names = ["astronaut", "chelsea", "china", "coffee", "flower", "grace_hopper", "motorcycle", "rocket"]
    with Pool(2) as p:
        rows = sum(p.map(run, [(n, mapdir, variants, bases) for n in names]), [])
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    piv = df.pivot_table(index="variant", columns="base_q", values=["d_roi_hvsm", "d_hvsm"], aggfunc="mean")
    print(piv.round(2).to_string())
    agg = df.groupby("variant").agg(bd_roi=("bd_roi", "mean"), bd_worst=("bd_roi", "max"), sec=("seconds", "median"),
                                    over=("over", "sum"))
    q50 = df[df.base_q == 50].groupby("variant").agg(roi50_min=("d_roi_hvsm", "min"), whole50_min=("d_hvsm", "min"))
    print(agg.join(q50).round(2).to_string())
    df.to_csv(CACHE / ("exp-" + "_".join(parse(v)[0] for v in variants)[:80] + ".csv"), index=False)
