"""Development set: the semantic encoder at equal bytes with each map (issue 19, docs/research.md "Maps").

Per dev image and Pillow quality 30/60: budget = the Pillow file's bytes; PSNR-HVS-M (luma) on
the dev boxes (ROI) and the whole image for Pillow and encode_semantic with each map.
Run: PYTHONPATH=. python research/exp_map_encoder.py
"""
import sys
from pathlib import Path
_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT / 'research')); sys.path.insert(0, str(_ROOT / 'benchmarks'))
import warnings; warnings.filterwarnings("ignore")
import numpy as np
from common import scores, block_weights, pillow_jpeg
from bench_map_lift import read_boxes, box_mask, DEV_DIR
from msroi.codec.semantic import encode_semantic
from msroi.saliency import maps
from msroi.saliency.priors import center_map
from msroi.files import read_image
clf = maps.load_classifier('default')
boxes = read_boxes(DEV_DIR / 'boxes.csv')
variants = {'uniform': None, 'centre': 'c', 'paper': dict(method='paper'), 'msroi': {}, 'msroi g3 c.75': dict(gamma=3.0, centre=0.75)}
rows = []
for name in sorted(boxes):
    a = read_image(DEV_DIR / f'{name}.png'); h, w = (a.shape[0]//16)*16, (a.shape[1]//16)*16; a = np.ascontiguousarray(a[:h,:w])
    roi = block_weights(box_mask(boxes[name], (h, w)))
    for q in (30, 60):
        budget = len(pillow_jpeg(a, q))
        ref = scores(a, pillow_jpeg(a, q), roi)
        out = [name, q, budget, round(ref['roi_hvsm'], 2), round(ref['hvsm'], 2)]
        for v, kw in variants.items():
            if kw is None: m = np.ones((h, w))
            elif kw == 'c': m = center_map((h, w))
            else: m = maps.msroi_map(clf, a, **kw)[0]
            data, info = encode_semantic(a, m, budget)
            s = scores(a, data, roi)
            out += [round(s['roi_hvsm'], 2), round(s['hvsm'], 2)]
        rows.append(out); print(*out, flush=True)
r = np.array([x[3:] for x in rows], float)
print('mean (pillow roi, whole), then per variant (roi, whole):', list(zip(['pillow'] + list(variants), np.round(r.mean(0)[0::2], 3), np.round(r.mean(0)[1::2], 3))))
