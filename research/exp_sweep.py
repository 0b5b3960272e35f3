"""Sweep encode_semantic options at the bytes of Pillow q<base> (default 50)."""
import sys, time, json, argparse
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import warnings; warnings.filterwarnings("ignore")
from common import *
from msroi.codec.semantic import encode_semantic

p = argparse.ArgumentParser()
p.add_argument("--names", default="astronaut,coffee,flower")
p.add_argument("--base", type=int, default=50)
p.add_argument("--offsets", default="5,10,15")
p.add_argument("--ratios", default="1,4,16")
p.add_argument("--map", default="box")
p.add_argument("--extra", default="{}")
args = p.parse_args()
extra = json.loads(args.extra)
bx = boxes()
for n in args.names.split(","):
    a = load(n)
    roi = block_weights(box_mask(a.shape, bx[n]))
    cur = Curve(a, roi)
    budget = len(pillow_jpeg(a, args.base))
    smap = box_map(a.shape, bx[n]) if args.map == "box" else centre_map(a.shape)
    for off in map(int, args.offsets.split(",")):
        for r in map(float, args.ratios.split(",")):
            d, info = encode_semantic(a, smap, budget, quality_offset=off, ratio=r, **extra)
            s = scores(a, d, roi)
            print(f"{n:10s} base={args.base} off={off} r={r:4.0f} Qt={info['table_quality']} bytes={s['bytes']}/{budget} "
                  f"dROI={s['roi_hvsm']-cur.at(s['bytes'],'roi_hvsm'):+.2f} dAll={s['hvsm']-cur.at(s['bytes'],'hvsm'):+.2f} "
                  f"dBG={s['bg_hvsm']-cur.at(s['bytes'],'bg_hvsm'):+.2f} dPSNR={s['psnr']-cur.at(s['bytes'],'psnr'):+.2f} "
                  f"t={info['seconds']:.2f} enc={info['encodes']}", flush=True)
