"""Shared helpers for the allocation research scripts (images, boxes, metrics, baselines)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
NAMES = ["astronaut", "chelsea", "coffee", "motorcycle_left", "rocket", "china", "flower"]


def load(name: str) -> np.ndarray:
    """RGB uint8, sides cropped to multiples of 16."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_images
        d = load_sample_images()
        idx = [Path(f).stem for f in d.filenames].index(name)
        a = d.images[idx]
    elif name == "motorcycle_left":
        import skimage.data
        a = skimage.data.stereo_motorcycle()[0]
    else:
        import skimage.data
        a = getattr(skimage.data, name)()
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    a = a[..., :3].astype(np.uint8)
    h, w = (a.shape[0] // 16) * 16, (a.shape[1] // 16) * 16
    return np.ascontiguousarray(a[:h, :w])


def boxes() -> dict[str, list[tuple[int, int, int, int]]]:
    out: dict[str, list] = {}
    with open(HERE / "boxes.csv") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["image"], []).append(tuple(int(r[k]) for k in ("x0", "y0", "x1", "y1")))
    return out


def box_mask(shape, bxs) -> np.ndarray:
    m = np.zeros(shape[:2], bool)
    for x0, y0, x1, y1 in bxs:
        m[y0:y1, x0:x1] = True
    return m


def luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.float64)


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def hvsm_tiles(ref_rgb, dist_rgb) -> np.ndarray:
    """Per-8x8-block PSNR-HVS-M MSE (row-major block order), luma in [0,1]."""
    from psnr_hvsm.numpy import hvs_hvsm_mse_tiles
    a = luma(ref_rgb) / 255.0
    b = luma(dist_rgb) / 255.0
    _, m = hvs_hvsm_mse_tiles(a, b)
    return np.asarray(m).reshape(-1)


def block_weights(mask: np.ndarray) -> np.ndarray:
    """Fraction of each 8x8 block inside the mask; blocks fully inside get 1."""
    h, w = mask.shape
    f = mask.reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3)).reshape(-1)
    return (f >= 1.0).astype(float)


def psnr_from_mse(m):
    return 10 * np.log10(1.0 / max(float(m), 1e-12))


def scores(ref, data: bytes, roi_blocks: np.ndarray) -> dict:
    dist = decode(data)
    t = hvsm_tiles(ref, dist)
    y0, y1 = luma(ref), luma(dist)
    mse = np.mean((y0 - y1) ** 2)
    return {
        "bytes": len(data),
        "hvsm": psnr_from_mse(t.mean()),
        "roi_hvsm": psnr_from_mse((t * roi_blocks).sum() / roi_blocks.sum()),
        "bg_hvsm": psnr_from_mse((t * (1 - roi_blocks)).sum() / (1 - roi_blocks).sum()),
        "psnr": 10 * np.log10(255.0 ** 2 / max(mse, 1e-12)),
    }


def pillow_jpeg(rgb, q, optimize=True, progressive=False) -> bytes:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, format="JPEG", quality=int(q), subsampling=2, optimize=optimize,
                              progressive=progressive)
    return b.getvalue()


def jpegli_jpeg(rgb, q) -> bytes:
    import pyjpegli
    return pyjpegli.encode(np.ascontiguousarray(rgb).tobytes(), rgb.shape[1], rgb.shape[0], quality=int(q))


def box_map(shape, bxs, sigma=16.0) -> np.ndarray:
    """Smooth steering map from the boxes: blurred box mask, scaled to max 1."""
    from scipy.ndimage import gaussian_filter
    m = gaussian_filter(box_mask(shape, bxs).astype(float), sigma, mode="nearest")
    return m / m.max()


def centre_map(shape) -> np.ndarray:
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    d2 = ((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2
    return np.exp(-d2 / (2 * 0.35 ** 2))


class Curve:
    """A standard-encoder rate curve over Q 1..100: metric vs log(bytes), PCHIP."""

    def __init__(self, ref, roi_blocks, enc=pillow_jpeg, qs=range(1, 101)):
        from scipy.interpolate import PchipInterpolator
        rows = [scores(ref, enc(ref, q), roi_blocks) for q in qs]
        rows.sort(key=lambda r: r["bytes"])
        xs, keep = [], []
        for r in rows:
            if not xs or r["bytes"] > xs[-1]:
                xs.append(r["bytes"]); keep.append(r)
        self.rows = keep
        self.lx = np.log(np.array(xs, float))
        self.f = {k: PchipInterpolator(self.lx, [r[k] for r in keep]) for k in ("hvsm", "roi_hvsm", "bg_hvsm", "psnr")}
        self.inv = {k: PchipInterpolator(*np.unique(np.array([[r[k] for r in keep], self.lx]).T, axis=0).T)
                    for k in ("roi_hvsm",)}

    def at(self, nbytes, key):
        return float(self.f[key](np.log(nbytes)))


def bd_rate(curve_a_bytes, curve_a_metric, curve_b_bytes, curve_b_metric):
    """Bjontegaard delta rate of B against A (percent), PCHIP on log-rate vs metric."""
    from scipy.interpolate import PchipInterpolator
    la, lb = np.log(curve_a_bytes), np.log(curve_b_bytes)
    ma, mb = np.asarray(curve_a_metric), np.asarray(curve_b_metric)
    lo, hi = max(ma.min(), mb.min()), min(ma.max(), mb.max())
    ia, ib = np.argsort(ma), np.argsort(mb)
    fa = PchipInterpolator(ma[ia], la[ia]); fb = PchipInterpolator(mb[ib], lb[ib])
    xs = np.linspace(lo, hi, 200)
    diff = np.trapezoid(fb(xs) - fa(xs), xs) / (hi - lo)
    return (np.exp(diff) - 1) * 100


def jpeglib_spatial(rgb, q, version="mozjpeg403", flags=("+TRELLIS_QUANT", "+TRELLIS_QUANT_DC", "+OPTIMIZE_CODING", "-PROGRESSIVE_MODE")) -> bytes:
    import os, tempfile
    import jpeglib
    jpeglib.version.set(version)
    fd, tmp = tempfile.mkstemp(suffix=".jpg"); os.close(fd)
    try:
        im = jpeglib.from_spatial(np.ascontiguousarray(rgb))
        im.write_spatial(tmp, qt=int(q), flags=list(flags))
        return open(tmp, "rb").read()
    finally:
        os.unlink(tmp)
