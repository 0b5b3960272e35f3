"""Direction 2: the encoder underneath. Whole-image and ROI PSNR-HVS-M / PSNR of each
encoder at the bytes of Pillow q50 (optimised Huffman), from each encoder's own Q sweep."""
import sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
import warnings; warnings.filterwarnings("ignore")
from common import *
from msroi.codec import dct
from msroi.codec.semantic import encode_semantic

ENC = {
    "turbo": lambda a, q: pillow_jpeg(a, q, optimize=False),
    "turbo+prog": lambda a, q: pillow_jpeg(a, q, optimize=True, progressive=True),
    "moz-trellis": lambda a, q: jpeglib_spatial(a, q),
    "moz-trellis-prog": lambda a, q: jpeglib_spatial(a, q, flags=("+TRELLIS_QUANT", "+TRELLIS_QUANT_DC", "+OPTIMIZE_CODING", "+PROGRESSIVE_MODE")),
    "jpegli": jpegli_jpeg,
    "dct-plain": lambda a, q: dct.write_jpeg([np.rint(c / t) for c, t in zip(dct.image_coefficients(a), (lambda T: (T[0], T[1], T[1]))(dct.quality_tables(q)))], dct.quality_tables(q), a.shape[0], a.shape[1]),
}
names = sys.argv[1].split(",") if len(sys.argv) > 1 else NAMES
bx = boxes()
acc = {}
for n in names:
    a = load(n)
    roi = block_weights(box_mask(a.shape, bx[n]))
    base = Curve(a, roi)
    curves = {name: Curve(a, roi, enc=enc, qs=range(5, 101, 5)) for name, enc in ENC.items()}
    for qb in (30, 50, 80):
        budget = len(pillow_jpeg(a, qb))
        ref = {k: base.at(budget, k) for k in ("hvsm", "roi_hvsm", "psnr")}
        for name, c in curves.items():
            d = {k: c.at(budget, k) - ref[k] for k in ref}
            acc.setdefault((name, qb), []).append(d)
        # RDO with a uniform map (no semantics): an encoder gain too
        u = np.ones(a.shape[:2])
        data, info = encode_semantic(a, u, budget, ratio=1.0)
        s = scores(a, data, roi)
        acc.setdefault(("rdo-uniform", qb), []).append({k: s[k] - base.at(s["bytes"], k) for k in ref})
    print(n, "done", flush=True)
print("encoder, base q, mean delta at equal bytes vs Pillow/turbo optimised Huffman: hvsm, roi_hvsm, psnr")
for (name, qb), rows in sorted(acc.items(), key=lambda x: (x[0][1], x[0][0])):
    m = {k: np.mean([r[k] for r in rows]) for k in rows[0]}
    print(f"{name:18s} q{qb}: dHVSM={m['hvsm']:+.2f} dROI={m['roi_hvsm']:+.2f} dPSNR={m['psnr']:+.2f}")
