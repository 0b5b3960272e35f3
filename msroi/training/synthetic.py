"""A synthetic weakly-labelled dataset with known object boxes, for testing localisation.

Each class is one shape drawn with one texture (class 1: disk with stripes, class 2:
square with checks, ...), in two random colours, at a random position, scale and rotation
on a background cropped from the natural photos and textures that ship with scikit-image
(grass, brick, gravel, moon, coffee, ...). Images are written as class folders
``NNN.name/`` (the Caltech-256 layout) plus ``boxes.csv`` with each object's tight box;
training reads only the folders and labels, never the boxes.

Objects lie fully inside the image; 70% are placed so that they do not cover the image
centre (the rest uniformly), so a centre-prior map scores far below one that finds them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

from msroi.errors import MsroiError
from msroi.files import atomic_path, save_png

SHAPES = ("disk", "square", "triangle", "cross", "ring", "star", "crescent", "ell")
TEXTURES = ("stripes", "checks", "dots", "plain", "rings", "grid", "waves", "blotches")

_BACKGROUNDS = ("grass", "brick", "gravel", "moon", "camera", "coffee", "chelsea",
                "astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "coins")


def class_names(n_classes: int) -> list[str]:
    """Names of the first ``n_classes`` synthetic classes, e.g. ``disk_stripes``."""
    if not 2 <= n_classes <= len(SHAPES):
        raise MsroiError(f"synthetic data has 2..{len(SHAPES)} classes, got {n_classes}")
    return [f"{s}_{t}" for s, t in zip(SHAPES[:n_classes], TEXTURES[:n_classes])]


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of a shape in unit object coordinates (radius 1 around the centre)."""
    r = np.hypot(u, v)
    if shape == "disk":
        return r <= 1.0
    if shape == "square":
        return np.maximum(abs(u), abs(v)) <= 0.8
    if shape == "triangle":
        return (v <= 0.6) & (v >= -1.0 + np.sqrt(3.0) * abs(u))
    if shape == "cross":
        return ((abs(u) <= 0.32) & (abs(v) <= 0.95)) | ((abs(v) <= 0.32) & (abs(u) <= 0.95))
    if shape == "ring":
        return (r <= 1.0) & (r >= 0.55)
    if shape == "star":
        phi = np.arctan2(v, u)
        return r <= 0.4 + 0.6 * ((1.0 + np.cos(5.0 * phi)) / 2.0) ** 2
    if shape == "crescent":
        return (r <= 1.0) & (np.hypot(u - 0.5, v) > 0.75)
    if shape == "ell":
        return (np.maximum(abs(u), abs(v)) <= 0.9) & ~((u > -0.3) & (v < 0.3))
    raise ValueError(shape)


def _texture(texture: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pattern in [0, 1] (0 = first colour, 1 = second) in object coordinates."""
    p = 0.55  # period in object radii
    if texture == "stripes":
        return (np.sin(2 * np.pi * u / p) > 0).astype(float)
    if texture == "checks":
        return ((np.floor(u / p) + np.floor(v / p)) % 2).astype(float)
    if texture == "dots":
        return (np.hypot(u % p - p / 2, v % p - p / 2) < p / 3).astype(float)
    if texture == "plain":
        return 0.15 * (0.5 + 0.5 * u)
    if texture == "rings":
        return (np.sin(2 * np.pi * np.hypot(u, v) / p) > 0).astype(float)
    if texture == "grid":
        return ((u % p < p / 4) | (v % p < p / 4)).astype(float)
    if texture == "waves":
        return (np.sin(2 * np.pi * (v + 0.15 * np.sin(2 * np.pi * u / p)) / p) > 0).astype(float)
    if texture == "blotches":
        noise = rng.random((8, 8))
        iu = np.clip(((u + 1) / 2 * 7).round().astype(int), 0, 7)
        iv = np.clip(((v + 1) / 2 * 7).round().astype(int), 0, 7)
        return (noise[iv, iu] > 0.5).astype(float)
    raise ValueError(texture)


def _load_backgrounds() -> list[np.ndarray]:
    import skimage.data

    out = []
    for name in _BACKGROUNDS:
        a = getattr(skimage.data, name)()
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        out.append(np.asarray(a[..., :3], dtype=np.uint8))
    return out


def _background(sources, size: int, rng: np.random.Generator) -> np.ndarray:
    src = sources[rng.integers(len(sources))]
    h, w = src.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(h, w))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = Image.fromarray(src[y:y + side, x:x + side]).resize((size, size), Image.BILINEAR)
    bg = np.asarray(crop, dtype=np.float64)
    tint = rng.uniform(0.6, 1.2, size=3)
    contrast = rng.uniform(0.4, 0.8)  # softened so that the object is the most salient thing
    mean = bg.mean(axis=(0, 1))
    return np.clip((mean + contrast * (bg - mean)) * tint, 0, 255)


def render_example(label: int, size: int, sources, rng: np.random.Generator, off_centre: float = 0.7):
    """Draw one image of class ``label``; returns ``(uint8 image (size, size, 3), box)``.

    The box is ``(x0, y0, x1, y1)`` in pixels, x1/y1 exclusive, around the object's pixels.
    With probability ``off_centre`` the object is placed so that it does not cover the image
    centre; otherwise its position is uniform.
    """
    shape, texture = SHAPES[label], TEXTURES[label]
    img = _background(sources, size, rng)
    radius = rng.uniform(0.15, 0.25) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    for _ in range(100):  # mostly off-centre: with probability off_centre, keep the centre uncovered
        if rng.random() >= off_centre or max(abs(cx - size / 2), abs(cy - size / 2)) > radius:
            break
        cx, cy = rng.uniform(radius, size - radius, size=2)
    theta = rng.uniform(-np.pi, np.pi) if shape not in ("square", "ell") else rng.uniform(-0.35, 0.35)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = (xx - cx) / radius, (yy - cy) / radius
    u = np.cos(theta) * dx + np.sin(theta) * dy
    v = -np.sin(theta) * dx + np.cos(theta) * dy
    mask = _shape_mask(shape, u, v)
    if not mask.any():  # cannot happen for the radii above; guards the box below
        raise MsroiError("synthetic object has no pixels")
    colour_a = rng.uniform(0, 255, size=3)
    colour_b = 255 - colour_a * rng.uniform(0.3, 0.7)
    t = _texture(texture, u, v, rng)[..., None]
    obj = (1 - t) * colour_a + t * colour_b + rng.normal(0, 6, size=img.shape)
    img = np.where(mask[..., None], obj, img)
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return np.clip(img, 0, 255).round().astype(np.uint8), box


def make_synthetic_dataset(out_dir, n_classes: int = 4, per_class: int = 80, size: int = 96,
                           seed: int = 0) -> dict:
    """Write the synthetic dataset.

    Takes an output directory, the number of classes (2..8), images per class, the square
    image side and a seed. Writes ``out_dir/NNN.name/name_XXXX.png`` and
    ``out_dir/boxes.csv`` (path relative to out_dir, x0, y0, x1, y1). Deterministic for the
    same arguments. Returns ``{"classes", "n_images", "boxes_csv"}``.
    """
    if per_class < 1 or size < 32:
        raise MsroiError(f"need per_class >= 1 and size >= 32, got {per_class} and {size}")
    names = class_names(n_classes)
    out_dir = Path(out_dir)
    sources = _load_backgrounds()
    rng = np.random.default_rng(seed)
    rows = []
    for label, name in enumerate(names):
        folder = out_dir / f"{label + 1:03d}.{name}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img, box = render_example(label, size, sources, rng)
            rel = f"{folder.name}/{name}_{i + 1:04d}.png"
            save_png(out_dir / rel, img)
            rows.append((rel, *box))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("path", "x0", "y0", "x1", "y1"))
    writer.writerows(rows)
    boxes_csv = out_dir / "boxes.csv"
    with atomic_path(boxes_csv) as tmp:
        tmp.write_text(buf.getvalue())
    return {"classes": names, "n_images": len(rows), "boxes_csv": str(boxes_csv)}
