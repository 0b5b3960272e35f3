"""Map variants on the development set, computed from cached network passes (issue 19).

Usage: python research/exp_map_variants.py [--set dev|samples] [--cache /tmp/mapfeat] [--only NAME ...]

Runs the network once per image and scale (features of the last conv layer, the logits of
the 224 x 224 classification view) and MTCNN once per image, caches them (``--cache``), then
builds every variant below in NumPy with the same steps as :func:`msroi.saliency.maps.msroi_map`
and prints lift / pointing game / AUC as ``benchmarks/bench_map_lift.py`` does. The default
``--set dev`` is the development set ``research/mapdev``; ``samples`` (the TEST set) is for
reporting the chosen setting once, never for choosing.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_map_lift import auc, image_sets, lift, pointing  # noqa: E402

from msroi.files import resize_map  # noqa: E402
from msroi.saliency import cam  # noqa: E402
from msroi.saliency import faces as F  # noqa: E402
from msroi.saliency.priors import center_map  # noqa: E402

SCALES = (192, 224, 256, 320, 384, 448)


def build_cache(which: str, path: Path) -> list[dict]:
    """One dict per image: name, mask, shape, feats {scale: (h, w, C)}, logits, faces (conf >= 0.5)."""
    if path.is_file():
        return pickle.loads(path.read_bytes())
    from msroi.saliency import maps

    model, meta = maps.load_classifier("default")
    run = maps._runner(model, meta)
    out = []
    for name, rgb, mask in image_sets(which)[which]:
        h, w = rgb.shape[:2]
        feats = {s: run(maps._resized(rgb, *maps._network_size(h, w, s)))[0].astype(np.float32) for s in SCALES}
        _, logits = run(maps._resized(rgb, int(run.input_size), int(run.input_size)))
        found = F.detect_faces(rgb, min_confidence=0.5)
        out.append({"name": name, "mask": mask, "shape": (h, w), "feats": feats, "logits": logits + run.bias, "faces": found})
        print(f"cached {name}: {len(found)} face(s) {[round(f[4], 3) for f in found]}", file=sys.stderr)
    out_meta = {"kernel": run.kernel, "classes": run.classes}
    path.write_bytes(pickle.dumps((out, out_meta)))
    return out, out_meta


def softmax(z):
    p = np.exp(z - z.max())
    return p / p.sum()


def cnn_map(entry, kernel, scales=(224, 320), top_k=5, weighting="softmax", blur=0.0, combine="mean"):
    """Mean over ``scales`` of the min-max normalised class-evidence maps, at image size, in [0, 1].

    weighting: "softmax" (rectified CAMs weighted by softmax score: the default),
    "equal", "top1" (top class only), "gradcam-p" (Grad-CAM of the summed top-k softmax
    probability: channel weights sum_c p_c (w_c - sum_j p_j w_j), then ReLU).
    """
    h, w = entry["shape"]
    z = entry["logits"]
    p = softmax(z)
    ranked = cam.top_k_classes(z, top_k)
    m = np.zeros((h, w)) if combine == "mean" else np.ones((h, w))
    for s in scales:
        f = entry["feats"][s].astype(np.float64)
        if weighting == "gradcam-p":
            wbar = kernel @ p
            wts = kernel[:, ranked] @ p[ranked] - p[ranked].sum() * wbar
            roi = np.maximum(f @ wts, 0.0)
        else:
            cams = cam.class_activation_maps(f, kernel, ranked)
            if weighting == "normalised":  # each class's rectified CAM scaled to [0, 1] first
                cams = np.stack([cam.minmax(np.maximum(c, 0.0)) for c in cams])
            wt = {"softmax": p[ranked], "normalised": p[ranked], "sqrt": np.sqrt(p[ranked]),
                  "equal": np.ones(len(ranked)), "top1": np.eye(len(ranked))[0]}[weighting]
            roi = cam.combine_weighted(cams, wt)
        layer = cam.minmax(resize_map(roi, (h, w)))
        m = m * layer if combine == "product" and s != scales[0] else m + layer
    m = cam.minmax(m)
    if blur:
        m = cam.minmax(gaussian_filter(m, blur * np.hypot(h, w)))
    return m


def finish(entry, m, gamma=2.0, centre=0.5, suppress=None, floor=None, faces=True,
           under=F.OBJECTS_UNDER_FACES, face_sigma=F.BLOB_SIGMA, min_conf=F.MIN_CONFIDENCE):
    """Power, centre prior, background suppression and faces on a [0, 1] CNN map."""
    h, w = entry["shape"]
    if floor is not None:  # background suppression: values under the q-quantile -> 0
        q = np.quantile(m, floor)
        m = cam.minmax(np.maximum(m - q, 0.0))
    m = cam.minmax(m) ** gamma
    if suppress is not None:  # blend toward the centre prior when the classifier is unsure
        p = softmax(entry["logits"])
        conf = float(np.sort(p)[::-1][:5].sum()) if suppress == "top5" else float(p.max())
        m = conf * m + (1.0 - conf) * center_map((h, w)) ** 2
    if centre:
        m = cam.minmax(m * center_map((h, w)) ** centre)
    found = [f for f in entry["faces"] if f[4] >= min_conf]
    if faces and found:
        m = cam.minmax(np.maximum(under * m, F.face_map((h, w), found, sigma=face_sigma)))
    return m


def pixel_gain(m, mask) -> float:
    """Mean over box pixels of log2(map density / uniform density): the information gain
    (Kuemmerer et al., PNAS 2015) of the map about fixations spread uniformly over the boxes.

    Unlike lift (a ratio of means) it is a proper score: it peaks when the map is uniform on
    the boxes and zero elsewhere, and a sharper map that leaves part of a box near zero pays
    log(0)-like penalties, so it bounds a map's sharpness. Densities are floored at 1e-6 of
    the uniform one.
    """
    m = np.clip(np.asarray(m, dtype=np.float64), 0.0, None)
    d = m / m.mean()
    return float(np.mean(np.log2(np.maximum(d[mask], 1e-6))))


def evaluate(cache, kernel, cnn_kw, fin_kw, with_auc=False):
    lifts, hits, aucs, gains = [], 0, [], []
    cnn_cache = {}
    for e in cache:
        key = (e["name"], tuple(sorted((k, str(v)) for k, v in cnn_kw.items())))
        if key not in cnn_cache:
            cnn_cache[key] = cnn_map(e, kernel, **cnn_kw)
        m = finish(e, cnn_cache[key], **fin_kw)
        lifts.append(lift(m, e["mask"]))
        hits += pointing(m, e["mask"])
        gains.append(pixel_gain(m, e["mask"]))
        if with_auc:
            aucs.append(auc(m, e["mask"]))
    return lifts, hits, (float(np.mean(aucs)) if aucs else float("nan")), float(np.mean(gains))


def variants():
    """name -> (cnn kwargs, finish kwargs)."""
    v = {"centre prior": None, "default (224+320, softmax, top 5, gamma 2, centre .5)": ({}, {})}
    for g in (1, 1.5, 2, 2.5, 3, 4, 6):
        for c in (0, 0.5, 0.75, 1, 1.5):
            v[f"gamma {g}, centre {c}"] = ({}, {"gamma": g, "centre": c})
    for sc in ((224,), (320,), (192, 320), (224, 256, 320), (224, 320, 448), (192, 256, 320, 384), (224, 384), (256, 384)):
        v[f"scales {'+'.join(map(str, sc))}"] = ({"scales": sc}, {})
    for k in (1, 2, 3, 10):
        v[f"top {k}"] = ({"top_k": k}, {})
    for wt in ("equal", "top1", "gradcam-p"):
        v[f"weighting {wt}"] = ({"weighting": wt}, {})
    for b in (0.01, 0.02, 0.04):
        v[f"blur {b} of diagonal"] = ({"blur": b}, {})
    for fl in (0.25, 0.5, 0.75):
        v[f"floor at quantile {fl}"] = ({}, {"floor": fl})
    for s in ("top1", "top5"):
        v[f"low evidence -> centre ({s} score)"] = ({}, {"suppress": s})
    for u in (0.6, 1.0):
        v[f"objects under faces {u}"] = ({}, {"under": u})
    for fs in (0.3, 0.6):
        v[f"face blob sigma {fs}"] = ({}, {"face_sigma": fs})
    v["faces off"] = ({}, {"faces": False})
    v["faces from conf 0.8"] = ({}, {"min_conf": 0.8})
    return v


def pointing_variants():
    """Changes to the current default aimed at where the map's maximum falls (class weighting,
    scales, combination of scales), each alone."""
    base = {"scales": (192, 320), "blur": 0.04}
    fin = {"gamma": 4.0, "centre": 0.5}
    v = {"centre prior": None, "current default": (base, fin)}
    for wt in ("sqrt", "normalised", "equal"):
        v[f"weighting {wt}"] = ({**base, "weighting": wt}, fin)
    for k in (3, 10):
        v[f"top {k}"] = ({**base, "top_k": k}, fin)
    for sc in ((192, 320, 448), (256, 384), (320,), (192, 448), (192, 384), (224, 448), (256, 448), (224, 384)):
        v[f"scales {'+'.join(map(str, sc))}"] = ({**base, "scales": sc}, fin)
    v["scales multiplied"] = ({**base, "combine": "product"}, fin)
    v["blur 0.02"] = ({**base, "blur": 0.02}, fin)
    v["blur 0.06"] = ({**base, "blur": 0.06}, fin)
    v["centre 0.75"] = (base, {**fin, "centre": 0.75})
    return v


def pointing_grid():
    """Scale pairs that raised the development pointing game, crossed with blur, power and centre."""
    import itertools

    v = {"centre prior": None}
    for sc, bl, g, c in itertools.product(((192, 320), (192, 384), (192, 448), (256, 384)), (0.04, 0.06),
                                          (3, 3.5, 4), (0.5, 0.75)):
        v[f"{'+'.join(map(str, sc))} blur {bl} g {g} c {c}"] = ({"scales": sc, "blur": bl}, {"gamma": g, "centre": c})
    return v


def combos():
    """The grid of combined options (scales x class weighting x blur x face blob x gamma x centre)."""
    import itertools

    v = {}
    for sc, wt, bl, fs, g, c in itertools.product(((224, 320), (192, 320), (256, 384)), ("softmax", "equal"),
                                                 (0.0, 0.02, 0.04, 0.06), (0.45,), (2, 2.5, 3, 3.5, 4), (0.5, 0.75, 1)):
        name = f"{'+'.join(map(str, sc))} {wt[:4]} blur {bl} face {fs} g {g} c {c}"
        v[name] = ({"scales": sc, "weighting": wt, "blur": bl}, {"gamma": g, "centre": c, "face_sigma": fs})
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("dev", "samples"), default="dev")
    ap.add_argument("--cache", default="/tmp/mapfeat")
    ap.add_argument("--only", nargs="*", default=None, help="variant names to run (default: all)")
    ap.add_argument("--auc", action="store_true", help="also compute AUC (slower)")
    ap.add_argument("--grid", action="store_true", help="run the grid of combined options instead")
    ap.add_argument("--pointing", action="store_true", help="run the pointing-game variants instead")
    ap.add_argument("--pointing-grid", action="store_true", help="run the pointing-game grid instead")
    ap.add_argument("--json", default=None, help="write the table to this JSON file")
    args = ap.parse_args(argv)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    cache, meta = build_cache(args.set, Path(args.cache) / f"{args.set}.pkl")
    kernel = meta["kernel"]
    names = [e["name"] for e in cache]
    print("variant".ljust(52) + " ".join(f"{n[:7]:>7s}" for n in names) + "   mean  gmean   min ptg  >=ctr  AUC    gain")
    centre_lifts = [lift(center_map(e["shape"]), e["mask"]) for e in cache]
    table = {}
    grid = combos() if args.grid else pointing_grid() if args.pointing_grid else pointing_variants() if args.pointing else variants()
    for name, spec in grid.items():
        if args.only and name not in args.only and name != "centre prior":
            continue
        if spec is None:
            lifts = centre_lifts
            hits = sum(pointing(center_map(e["shape"]), e["mask"]) for e in cache)
            a = float(np.mean([auc(center_map(e["shape"]), e["mask"]) for e in cache])) if args.auc else float("nan")
            g = float(np.mean([pixel_gain(center_map(e["shape"]), e["mask"]) for e in cache]))
        else:
            lifts, hits, a, g = evaluate(cache, kernel, *spec, with_auc=args.auc)
        beats = sum(x >= c - 1e-9 for x, c in zip(lifts, centre_lifts))
        gmean = float(np.exp(np.mean(np.log(lifts))))
        table[name] = {"lift": dict(zip(names, lifts)), "mean": float(np.mean(lifts)), "gmean": gmean, "pointing": hits, "gain": g, "auc": a, "min": min(lifts)}
        print(name[:52].ljust(52) + " ".join(f"{x:7.2f}" for x in lifts)
              + f"  {np.mean(lifts):5.2f}  {gmean:5.2f}  {min(lifts):4.2f} {hits:2d}  {beats:2d}/{len(names)}  {a:.3f}  {g:5.2f}", flush=True)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return table


if __name__ == "__main__":
    main()
