"""MSROI maps for photos: load a classifier, map one image, or map a batch of files.

A map is made on the whole image at its own aspect ratio (never a centre crop): the image
is resized to a given short side (both sides rounded to multiples of 32, the network's total
stride, so the feature grid tiles the image exactly) and run through the fully convolutional
network; the top-k classes' CAMs from the last conv features and the ``gap_w`` kernel
(:mod:`msroi.saliency.cam`) are upsampled bilinearly to the image size and combined:

- ``method="msroi"`` (default): rectified CAMs weighted by the classes' softmax
  scores, at two scales (short sides 192 and 384 for the default 448), blurred, sharpened by
  a power (``gamma``), pulled gently to the centre (centre prior to the power ``centre``), and faces
  found by MTCNN added as Gaussian blobs on top (:mod:`msroi.saliency.faces`); every weight
  chosen on the development set ``research/mapdev`` (docs/research.md, "Maps");
- ``method="paper"``: the rank combination of Prakash et al. (DCC 2017) at one scale.

Classes are ranked and scored on the whole image resized to the model's training size
(``input_size`` in its metadata, e.g. 224 x 224, no crop): the view the classifier was
trained on, which gives the reference scores; larger inputs give right but much flatter
softmax scores. A ``logit_bias`` in the metadata (the default ImageNet model's) is added
to the logits before ranking; CAMs never use it (a per-class constant vanishes in min-max).

The default classifier runs in NumPy (:mod:`msroi.saliency.networks.efficientnet_lite0_numpy`),
so a default map never imports TensorFlow; a Keras model (``msroi train``) runs as one traced
graph for every input shape. Images above :data:`WORK_PIXELS` pixels get their map computed
on a grid of about that many pixels and upsampled once to their size (:func:`work_shape`).

Inference is deterministic: no dropout, single-threaded BLAS, and a map is the same whatever
the number of threads (:data:`THREADS`) it was computed on.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from msroi import settings
from msroi.errors import InputError, MsroiError
from msroi.files import read_image, resize_map, save_map, save_png, write_text
from msroi.saliency import cam
from msroi.saliency.networks.efficientnet_lite0_numpy import Lite0, blas_threads
from msroi.saliency.priors import center_map

STRIDE = 32
#: Overlay mix: 40% photo + 60% jet colormap.
OVERLAY_IMAGE_WEIGHT = 0.4

# Matplotlib's "jet" colormap as piecewise-linear breakpoints (x, value) per channel.
_JET = (
    ((0.0, 0.35, 0.66, 0.89, 1.0), (0.0, 0.0, 1.0, 1.0, 0.5)),
    ((0.0, 0.125, 0.375, 0.64, 0.91, 1.0), (0.0, 0.0, 1.0, 1.0, 0.0, 0.0)),
    ((0.0, 0.11, 0.34, 0.65, 1.0), (0.5, 1.0, 1.0, 0.0, 0.0)),
)


def load_classifier(path="default", cache_dir=None):
    """Load a classifier following the msroi model contract.

    Takes ``"default"`` (the ImageNet EfficientNet-Lite0 as a NumPy network, its folded
    weights cached once; see :mod:`msroi.saliency.networks.efficientnet_lite0_numpy`: no
    TensorFlow), the path of that cache file (``efficientnet_lite0_imagenet.npz``: the
    default model with its cache in that folder), or the path of a ``NAME.keras`` with its ``NAME.json`` beside it (loaded with
    Keras; the default model's Keras form is
    :func:`msroi.saliency.networks.efficientnet_lite0.default_model_path`); returns
    ``(model, metadata)``. Raises :class:`InputError` naming the file when either is missing
    or does not follow the contract.
    """
    if str(path) == "default":
        from msroi.saliency.networks.efficientnet_lite0_numpy import load_default

        return load_default(cache_dir)
    path = Path(path)
    if path.suffix == ".npz":
        from msroi.saliency.networks.efficientnet_lite0 import DEFAULT_NAME
        from msroi.saliency.networks.efficientnet_lite0_numpy import load_default

        if path.name != f"{DEFAULT_NAME}.npz":
            raise InputError(path, f"a .npz model must be the default model's folded weights ({DEFAULT_NAME}.npz)")
        return load_default(path.parent)
    meta_path = path.with_suffix(".json")
    if not path.is_file():
        raise InputError(path, "no such model file")
    if not meta_path.is_file():
        raise InputError(meta_path, "model metadata missing (expected beside the .keras file)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(meta_path, f"cannot read model metadata ({e})") from None
    from msroi import lean

    with lean.without("sklearn"):  # Keras' scikit-learn wrappers: a second of start-up, unused
        import keras

    from msroi.saliency.networks import paper as _registers_custom_layers  # noqa: F401  (trained models use msroi's layers)

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many types for a bad archive
        raise InputError(
            path, f"cannot load Keras model ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
        ) from None
    try:
        units = model.get_layer("gap_w").kernel.shape[1]
    except ValueError:
        raise InputError(path, "model has no 'gap_w' layer (not a GAP classifier)") from None
    if len(model.outputs) != 2:
        raise InputError(path, f"model has {len(model.outputs)} outputs, expected [features, logits]")
    classes = metadata.get("classes")
    if not isinstance(classes, list) or len(classes) != units:
        raise InputError(meta_path, f"'classes' must list {units} names (the gap_w units)")
    bias = metadata.get("logit_bias")
    if bias is not None and len(bias) != units:
        raise InputError(meta_path, f"'logit_bias' has {len(bias)} values, expected {units}")
    return model, metadata


class _Runner:
    """A model's forward pass over any (H, W, 3) input, plus its head.

    The default model (:class:`~msroi.saliency.networks.efficientnet_lite0_numpy.Lite0`) runs
    in NumPy; a Keras model as one tf.function over any (1, H, W, 3) input.
    """

    def __init__(self, model, metadata):
        self.metadata = metadata or {}
        if isinstance(model, Lite0):
            self.kernel = np.asarray(model.kernel, dtype=np.float64)
            self.forward, self.many = None, model.many
        else:
            import tensorflow as tf

            self.kernel = np.asarray(model.get_layer("gap_w").get_weights()[0], dtype=np.float64)
            spec = tf.TensorSpec((1, None, None, 3), tf.float32)
            self.forward = tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
            self.many = lambda xs, threads=1: [self._keras(x) for x in xs]
        n = self.kernel.shape[1]
        self.bias = np.asarray(self.metadata.get("logit_bias") or np.zeros(n), dtype=np.float64)
        self.classes = self.metadata.get("classes") or [f"class {i}" for i in range(n)]
        self.input_size = self.metadata.get("input_size")

    def _keras(self, x: np.ndarray):
        features, logits = self.forward(x[None])
        return np.asarray(features[0]), np.asarray(logits[0], dtype=np.float64)

    def __call__(self, x: np.ndarray):
        """``(features (h, w, C), logits float64)`` of one (H, W, 3) float32 image in [0, 1]."""
        return self.many([x])[0]


_RUNNERS: dict[int, tuple] = {}


def _runner(model, metadata) -> _Runner:
    key = (id(model), id(metadata))
    if key not in _RUNNERS:
        if len(_RUNNERS) >= 4:  # a few models per process at most; drop the oldest
            _RUNNERS.pop(next(iter(_RUNNERS)))
        _RUNNERS[key] = (model, metadata, _Runner(model, metadata))  # holds refs so ids stay unique
    return _RUNNERS[key][2]


def _network_size(h: int, w: int, short_side: int) -> tuple[int, int]:
    """(H', W'): short side ``short_side``, aspect kept, both multiples of STRIDE, long side capped."""
    scale = short_side / min(h, w)
    hh, ww = h * scale, w * scale
    cap = 4 * short_side
    if max(hh, ww) > cap:
        hh, ww = hh * cap / max(hh, ww), ww * cap / max(hh, ww)
    return max(STRIDE, int(round(hh / STRIDE)) * STRIDE), max(STRIDE, int(round(ww / STRIDE)) * STRIDE)


def _resized(rgb, h: int, w: int) -> np.ndarray:
    """The (H, W, 3) uint8 array or PIL image ``rgb`` resized bilinearly to (h, w), float32 in [0, 1]."""
    im = rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    return np.asarray(im.resize((w, h), Image.BILINEAR), dtype=np.float32) / np.float32(255.0)


#: Maps of images with more pixels are computed on a grid of about this many pixels (aspect
#: kept) and upsampled bilinearly to the image's size once at the end: the map is smooth at
#: that scale (its finest detail is the 32-pixel network stride at short side 320), and
#: every full-size step would cost time and memory (a 24 MP photo: seconds and gigabytes).
WORK_PIXELS = 1 << 20


def work_shape(h: int, w: int) -> tuple[int, int]:
    """The (h, w) grid a map of an h x w image is computed on: the image's own size up to
    :data:`WORK_PIXELS` pixels, else scaled down to about that many, aspect kept."""
    if h * w <= WORK_PIXELS:
        return h, w
    scale = (WORK_PIXELS / (h * w)) ** 0.5
    return max(1, round(h * scale)), max(1, round(w * scale))


def _to_size(m: np.ndarray, shape: tuple[int, int], pool=None) -> np.ndarray:
    """A [0, 1] map as float32 at ``shape``: upsampled bilinearly when its size differs, then
    min-max normalised again.

    The upsample is done in bands of rows (PIL's resize of a source box, which reads the
    source rows around the band as the whole resize would), each copied into the output
    while it is in the cache: no full-size temporary besides the output itself. With a
    thread ``pool``, the two halves of the bands run side by side (the same values).
    """
    h, w = shape
    if m.shape == (h, w):
        return m.astype(np.float32)
    src = Image.fromarray(np.asarray(m, dtype=np.float32), mode="F")
    out = np.empty((h, w), np.float32)
    band = max(1, (1 << 20) // (4 * w))
    sy = m.shape[0] / h
    starts = list(range(0, h, band))

    def fill(rows) -> tuple[float, float]:
        lo, hi = np.inf, -np.inf
        for r0 in rows:
            r1 = min(h, r0 + band)
            box = (0.0, r0 * sy, float(m.shape[1]), r1 * sy)
            part = np.asarray(src.resize((w, r1 - r0), Image.BILINEAR, box=box))
            out[r0:r1] = part
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
        return lo, hi

    halves = [starts[: len(starts) // 2], starts[len(starts) // 2 :]] if pool is not None else [starts]
    run = pool.map if pool is not None else map
    ranges = list(run(fill, halves))
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if not hi > lo:
        out[...] = 0.0
        return out

    def scale(rows):
        part = out[rows[0] : min(h, rows[-1] + band)] if rows else out[:0]
        part -= np.float32(lo)
        part /= np.float32(hi - lo)  # the maximum becomes exactly 1

    list(run(scale, halves))
    return out


#: Threads one map uses at most (and at most the usable cores): the face detector, the
#: network's input resizes, its passes and the final upsample run side by side. 1 in worker
#: processes that share the cores already. A map is the same whatever the number.
THREADS = 2


def _threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(THREADS, cores))


def _submit(pool, fn, *args) -> Future:
    """``fn(*args)`` on the thread pool, or at once without one; returns its Future."""
    if pool is not None:
        return pool.submit(fn, *args)
    job = Future()
    job.set_result(fn(*args))
    return job


#: Map methods: "msroi" (default: the sharpened, multi-scale map of :func:`msroi_map`) and
#: "paper" (the top-k CAMs combined by rank as in the paper, at one scale, nothing more).
METHODS = ("msroi", "paper")
#: Defaults of the "msroi" method, each chosen on the development set ``research/mapdev``
#: (never on the eight samples; figures and the selection rule in docs/research.md, "Maps"):
#: exponent applied to the [0, 1] CNN map, so its mass concentrates on the object; the
#: largest power whose information gain on the development boxes is no worse than the old
#: default's (power 2 without blur): sharper maps score higher lift but claim near-zero
#: density on parts of the objects;
GAMMA = 4.0
#: exponent of the Gaussian centre prior (sigma 0.25 of each side) multiplied in: 0.75 is a
#: centre prior of sigma 0.29, a gentle pull towards the middle, never a zero.
CENTRE = 0.75
#: standard deviation of the Gaussian blur of the CNN map (before the power), as a fraction
#: of the image diagonal: merges the separate peaks of one object's parts.
BLUR = 0.06
#: network short sides of the "msroi" method as fractions of ``short_side`` (192 and 384 at 448).
SCALE_FRACTIONS = ((3, 7), (6, 7))


def _scales(short_side: int) -> tuple[int, ...]:
    """Network short sides of the "msroi" method: 3/7 and 6/7 of ``short_side`` (192 and 384 at 448).

    Each rounded to a multiple of the stride (at least one stride). Chosen on the development
    set (docs/research.md, "Maps"): 192 + 384 finds the object's maximum on one more development
    photo than 192 + 320 (11 of 12) at an information gain and AUC no worse.
    """
    out = []
    for num, den in SCALE_FRACTIONS:
        s = max(STRIDE, round(short_side * num / den / STRIDE) * STRIDE)
        if s not in out:
            out.append(s)
    return tuple(out)


def multiscale_evidence(features, kernel, classes, weights, shape) -> np.ndarray:
    """The classes' evidence at several scales, at image size, in [0, 1].

    Takes a list of conv feature arrays ``(h_i, w_i, C)`` (one per network scale), the GAP
    kernel, the class indices and their weights (softmax scores), and the image's ``(H, W)``;
    per scale, the weighted rectified CAMs (:func:`cam.combine_weighted`) upsampled
    bilinearly and min-max normalised; returns their mean, min-max normalised.
    """
    m = np.zeros(shape)
    for f in features:
        roi = cam.combine_weighted(cam.class_activation_maps(f, kernel, classes), weights)
        m += cam.minmax(resize_map(roi, shape))
    return cam.minmax(m)


def blur(m: np.ndarray, sigma: float = BLUR) -> np.ndarray:
    """Gaussian blur of a map, ``sigma`` a fraction of its diagonal; returns it min-max normalised.

    Computed on the map downscaled 8 times (then upsampled bilinearly): the map is smooth at
    that scale and a full-size blur of sigma 37 px (a 768 x 512 photo) would cost 0.2 s.
    """
    from scipy.ndimage import gaussian_filter

    if not sigma:
        return m
    h, w = m.shape
    small = resize_map(m, (max(1, round(h / 8)), max(1, round(w / 8))))
    small = gaussian_filter(small, sigma * np.hypot(h, w) / 8, mode="nearest")
    return cam.minmax(resize_map(small, (h, w)))


def sharpen(m: np.ndarray, gamma: float = GAMMA, centre: float = CENTRE) -> np.ndarray:
    """``m ** gamma`` times the centre prior to the power ``centre`` (0 = none), min-max normalised."""
    m = cam.minmax(m) ** gamma
    if centre:
        m = m * center_map(m.shape) ** centre
    return cam.minmax(m)


def msroi_map(
    model,
    rgb,
    short_side: int = settings.SHORT_SIDE,
    top_k: int = settings.TOP_K,
    last_weight: float = settings.LAST_WEIGHT,
    metadata=None,
    *,
    method: str = "msroi",
    gamma: float = GAMMA,
    centre: float = CENTRE,
    blur_sigma: float = BLUR,
    scales=None,
    faces: bool = True,
    return_info: bool = False,
):
    """The MSROI map of one RGB image.

    Takes a contract model (or the ``(model, metadata)`` pair from :func:`load_classifier`),
    an (H, W, 3) uint8 array, the network input's short side, the number of ranked classes
    and the weight of the last-ranked CAM (``method="paper"`` only); returns ``(map, top)``:
    ``map`` float32 (H, W) in [0, 1], ``top`` a best-first list of ``(class index, name,
    softmax score)``. Without metadata, classes are named ``class N``, no logit bias is added
    and classes are ranked on the map pass itself.

    ``method="msroi"`` (default): the top-k classes' rectified CAMs weighted by their softmax
    scores at short sides 3/7 and 6/7 of ``short_side`` (192 and 384 at the default 448;
    :func:`multiscale_evidence`), blurred (:func:`blur`, sigma ``blur_sigma`` of the
    diagonal, 0 = none), raised to ``gamma`` and multiplied by the centre prior to the power
    ``centre`` (:func:`sharpen`), and, with ``faces``, the maximum of that (scaled to 0.8)
    and a Gaussian blob per detected face, peak = confidence
    (:func:`msroi.saliency.faces.add_faces`). ``scales`` overrides the network short sides
    (e.g. ``(192, 320)``, the previous default).
    ``method="paper"``: the paper's rank combination at ``short_side`` alone.
    With ``return_info`` returns ``(map, top, info)``, ``info`` a dict: ``method``,
    ``top1_score`` and ``topk_score`` (summed softmax of the top k: how sure the classifier
    is), ``faces`` (a list of ``[x0, y0, x1, y1, confidence]``), ``confidence`` (a strong
    map is near 1: the larger of the top-1 score and the best face's confidence).
    """
    if isinstance(model, tuple):
        model, metadata = model
    if method not in METHODS:
        raise MsroiError(f"unknown map method {method!r}; known: {', '.join(METHODS)}")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise MsroiError(f"msroi_map needs an (H, W, 3) uint8 image, got {rgb.dtype} {rgb.shape}")
    run = _runner(model, metadata)
    h, w = rgb.shape[:2]
    if method == "paper":
        scales = (short_side,)
    else:
        scales = tuple(int(s) for s in scales) if scales else _scales(short_side)
        if any(s < STRIDE for s in scales):
            raise MsroiError(f"map scales must be at least {STRIDE} pixels, got {scales}")
    distinct = list(dict.fromkeys(scales))
    sizes = [_network_size(h, w, s) for s in distinct]
    if run.input_size:
        sizes.append((int(run.input_size), int(run.input_size)))
    threads = _threads()
    with blas_threads(1), ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool:
        # side by side: the face detector, the resizes, the network passes, then the upsample
        face_job = None
        if method == "msroi" and faces:
            from msroi.saliency import faces as _faces

            face_job = _submit(pool, _faces.detect_faces, rgb)
        im = Image.fromarray(rgb)  # one copy for all resizes
        inputs = [job.result() for job in [_submit(pool, _resized, im, hh, ww) for hh, ww in sizes]]
        del im
        outs = run.many(inputs, threads)
        del inputs
        feats = {s: f for s, (f, _) in zip(distinct, outs)}
        logits = outs[-1][1]  # the input_size pass, else the last scale's
        z = logits + run.bias
        p = np.exp(z - z.max())
        p /= p.sum()
        ranked = cam.top_k_classes(z, min(top_k, z.size))
        found = []
        grid = work_shape(h, w)
        if method == "paper":
            roi = cam.combine_ranked(cam.class_activation_maps(feats[short_side], run.kernel, ranked), last_weight)
            m = cam.minmax(resize_map(roi, grid))
        else:
            m = multiscale_evidence([feats[s] for s in scales], run.kernel, ranked, p[ranked], grid)
            m = sharpen(blur(m, blur_sigma), gamma, centre)
            if face_job is not None:
                found = face_job.result()
                sy, sx = grid[0] / h, grid[1] / w  # boxes in photo pixels -> the grid's
                m = _faces.add_faces(m, [(f[0] * sx, f[1] * sy, f[2] * sx, f[3] * sy, *f[4:]) for f in found])
        top = [(int(c), str(run.classes[c]), float(p[c])) for c in ranked]
        m = _to_size(m, (h, w), pool)
    if not return_info:
        return m, top
    info = {
        "method": method,
        "top1_score": top[0][2] if top else 0.0,
        "topk_score": float(sum(s for _, _, s in top)),
        "faces": [[round(v, 1) for v in f[:4]] + [round(f[4], 4)] for f in found],
        "confidence": max([top[0][2] if top else 0.0] + [f[4] for f in found]),
    }
    return m, top, info


def jet(m) -> np.ndarray:
    """Jet colormap of a [0, 1] map: returns float64 (H, W, 3) in [0, 1]."""
    m = np.clip(np.asarray(m, dtype=np.float64), 0.0, 1.0)
    return np.stack([np.interp(m, xs, ys) for xs, ys in _JET], axis=-1)


def overlay(rgb, m) -> np.ndarray:
    """The map in jet colours over the photo: ``0.4 * photo + 0.6 * jet(map)``, uint8 RGB.

    Takes (H, W, 3) uint8 and a 2-D map (resized to the photo when its size differs).
    """
    rgb = np.asarray(rgb)
    m = np.asarray(m)
    if m.shape != rgb.shape[:2]:
        m = resize_map(m, rgb.shape[:2])
    mix = OVERLAY_IMAGE_WEIGHT * rgb.astype(np.float64) + (1.0 - OVERLAY_IMAGE_WEIGHT) * 255.0 * jet(m)
    return np.clip(np.rint(mix), 0, 255).astype(np.uint8)


def output_paths(paths, out_dir=None, map_paths=None, overlay_paths=None, json_paths=None):
    """The ``(map, overlay, json)`` paths :func:`map_images` writes for each image (overlay or
    json None when not written). Raises :class:`MsroiError` when two images would write one file."""
    n = len(paths)
    for name, given in (("map_paths", map_paths), ("overlay_paths", overlay_paths), ("json_paths", json_paths)):
        if given is not None and len(given) != n:
            raise MsroiError(f"{name} has {len(given)} entries for {n} images")
    if out_dir is None and map_paths is None:
        raise MsroiError("give out_dir or map_paths")
    rows = []
    for i, p in enumerate(paths):
        mp = Path(map_paths[i]) if map_paths is not None else Path(out_dir) / f"{Path(p).stem}.png"
        base = mp.with_suffix("")
        ov = overlay_paths[i] if overlay_paths is not None else base.parent / f"{base.name}_overlay.png"
        js = json_paths[i] if json_paths is not None else base.with_suffix(".json")
        rows.append((mp, None if ov is None else Path(ov), None if js is None else Path(js)))
    seen = {}
    for p, row in zip(paths, rows):
        for out in filter(None, row):
            if out in seen:
                why = "same file stem" if Path(p).stem == Path(seen[out]).stem else "one's map is named like the other's overlay"
                raise MsroiError(f"{p} and {seen[out]} would both write {out} ({why})")
            seen[out] = p
    return rows


def map_images(
    paths,
    out_dir=None,
    model="default",
    *,
    short_side: int = settings.SHORT_SIDE,
    top_k: int = settings.TOP_K,
    last_weight: float = settings.LAST_WEIGHT,
    map_paths=None,
    overlay_paths=None,
    json_paths=None,
    cache_dir=None,
    progress: bool = True,
    method: str = "msroi",
    gamma: float = GAMMA,
    centre: float = CENTRE,
    blur_sigma: float = BLUR,
    faces: bool = True,
    max_pixels: int = settings.MAX_PIXELS,
) -> list[dict]:
    """Map many images with the model loaded once.

    Takes image paths; an output directory (``<stem>.png`` 16-bit map, ``<stem>_overlay.png``,
    ``<stem>.json`` top-k classes) and/or per-image ``map_paths`` (``.png`` or ``.npy``;
    overlay and JSON then go beside each map unless ``overlay_paths``/``json_paths`` are
    given, ``None`` entries skipping that output); a model (``"default"``, a ``.keras``
    path, or a ``(model, metadata)`` pair), the :func:`msroi_map` settings and the pixel
    limit of the images (``max_pixels``). Refuses settings out of their ranges
    (:mod:`msroi.settings`) with :class:`MsroiError`. The JSON holds the top-k classes, the
    faces found and the map's ``confidence`` (see :func:`msroi_map`'s ``info``). Writes
    atomically, prints one progress line per image to stderr, reports a bad image in one
    line and carries on. Returns one dict per image: ``image``, ``ok``, ``error``, ``map``,
    ``overlay``, ``json``, ``top``.
    """
    for name, value, bounds in (("short_side", short_side, settings.SHORT_SIDE_RANGE),
                                ("top_k", top_k, settings.TOP_K_RANGE),
                                ("last_weight", last_weight, settings.LAST_WEIGHT_RANGE)):
        problem = settings.check_range(name, value, bounds)
        if problem:
            raise MsroiError(problem)
    paths = [Path(p) for p in paths]
    rows = output_paths(paths, out_dir, map_paths, overlay_paths, json_paths)
    model, metadata = model if isinstance(model, tuple) else load_classifier(model, cache_dir)
    status = []
    for i, (path, (mp, ov, js)) in enumerate(zip(paths, rows), start=1):
        t0 = time.perf_counter()
        entry = {
            "image": str(path),
            "ok": False,
            "error": None,
            "map": str(mp),
            "overlay": str(ov) if ov else None,
            "json": str(js) if js else None,
            "top": [],
        }
        try:
            rgb = read_image(path, max_pixels)
            m, top, *more = msroi_map(
                model,
                rgb,
                short_side,
                top_k,
                last_weight,
                metadata,
                method=method,
                gamma=gamma,
                centre=centre,
                blur_sigma=blur_sigma,
                faces=faces,
                return_info=True,
            )
            info = more[0] if more else {"faces": [], "confidence": None, "top1_score": None, "topk_score": None}
            save_map(mp, m)
            if ov is not None:
                save_png(ov, overlay(rgb, m))
            if js is not None:
                record = {
                    "image": path.name,
                    "width": int(rgb.shape[1]),
                    "height": int(rgb.shape[0]),
                    "backbone": metadata.get("backbone"),
                    "short_side": short_side,
                    "method": method,
                    **(
                        {"last_weight": last_weight}
                        if method == "paper"
                        else {"scales": list(_scales(short_side)), "gamma": gamma, "centre": centre, "blur": blur_sigma,
                              "face_detection": faces}
                    ),
                    "confidence": info["confidence"],
                    "top1_score": info["top1_score"],
                    "topk_score": info["topk_score"],
                    "faces": info["faces"],
                    "top_k": [{"index": c, "name": n, "score": s} for c, n, s in top],
                }
                write_text(js, json.dumps(record, indent=1) + "\n")
            entry.update(ok=True, top=top)
            if progress:
                c, n, s = top[0]
                nf = f", {len(info['faces'])} face(s)" if info["faces"] else ""
                print(
                    f"[{i}/{len(paths)}] {path.name}: {n} {s:.2f}{nf} ({time.perf_counter() - t0:.2f} s)",
                    file=sys.stderr,
                )
        except (MsroiError, OSError) as e:
            entry["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"[{i}/{len(paths)}] error: {entry['error']}", file=sys.stderr)
        status.append(entry)
    return status
