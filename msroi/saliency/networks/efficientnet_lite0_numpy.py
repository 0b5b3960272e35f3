"""The default classifier's forward pass in NumPy: EfficientNet-Lite0 without TensorFlow.

Inference only, float32, one image of any size: the same network as
:func:`msroi.saliency.networks.efficientnet_lite0.efficientnet_lite0` with the same torch
weights (read by :mod:`msroi.saliency.torch_pickle`), so the default map needs neither
TensorFlow nor Keras (``import tensorflow`` alone takes seconds). Each BatchNorm is folded
into the convolution before it once at load (``w * gamma / sqrt(var + eps)``, bias
``beta - mean * gamma / sqrt(var + eps)``); 1 x 1 convolutions are matrix products (BLAS),
depthwise convolutions sums of shifted slices (the "same" padding handled by clipping each
tap's slice, no padded copy), the stem an im2col product. Its outputs are the Keras model's
``[features, logits]`` (features after the head conv + BN + ReLU6; logits without the
classifier's bias, which is the metadata's ``logit_bias``), equal to within float32
rounding (``tests/saliency/test_lite0_numpy.py``: about 1e-5 of their range).

The folded weights are cached as ``efficientnet_lite0_imagenet.npz`` beside the Keras
cache (same directory, see :func:`~msroi.saliency.networks.efficientnet_lite0.cache_dir`),
written atomically; it records the source file's SHA-256 and :data:`FORMAT_VERSION` and is
rebuilt when either differs. Loading it takes a few hundredths of a second (most of it the
source's SHA-256), reading the torch pickle and folding 0.1-0.3 s.
"""

from __future__ import annotations

import contextlib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from msroi.errors import InputError
from msroi.files import atomic_path
from msroi.saliency.networks import efficientnet_lite0 as _lite0
from msroi.saliency.torch_pickle import load_state_dict

#: Bump when the folded format changes, so cached ``.npz`` files are rebuilt.
FORMAT_VERSION = 1
BN_EPSILON = 1e-3


def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (before, after) of an axis of ``n`` for kernel ``k``, stride ``s``."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def fold_state_dict(state: dict, source="state dict") -> dict[str, np.ndarray]:
    """Fold an EfficientNet-Lite0 torch state dict into NumPy inference weights.

    Takes ``{name: ndarray}`` (as :func:`msroi.saliency.torch_pickle.load_state_dict` gives);
    returns float32 arrays named ``stem_w`` (27, 32) in (dy, dx, channel) row order,
    ``stem_b``; per block ``i``: ``b{i}_expand_w`` (C_in, C) and ``_b`` (blocks that
    expand), ``b{i}_dw_w`` (k, k, C), ``b{i}_dw_b``, ``b{i}_project_w`` (C, C_out),
    ``b{i}_project_b``; ``head_w`` (320, 1280), ``head_b``; ``gap_w`` (1280, 1000) and
    ``logit_bias`` (1000,). Raises :class:`InputError` (naming ``source``) on a missing,
    unused or mis-shaped tensor.
    """
    used = set()

    def take(key, shape=None):
        if key not in state:
            raise InputError(source, f"tensor {key} missing")
        value = np.asarray(state[key], dtype=np.float32)
        if shape is not None and value.shape != tuple(shape):
            raise InputError(source, f"tensor {key} has shape {value.shape}, expected {tuple(shape)}")
        used.add(key)
        return value

    def bn(prefix, n):
        gamma, beta, mean, var = (take(f"{prefix}.{s}", (n,)).astype(np.float64)
                                  for s in ("weight", "bias", "running_mean", "running_var"))
        used.add(f"{prefix}.num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPSILON)
        return scale, beta - mean * scale

    def conv(conv_key, bn_key, cout, cin, k):
        w = take(f"{conv_key}.weight", (cout, cin, k, k)).astype(np.float64)  # torch (out, in, kh, kw)
        scale, bias = bn(bn_key, cout)
        w = w.transpose(2, 3, 1, 0) * scale  # (kh, kw, in, out)
        return w.reshape(k * k * cin, cout).astype(np.float32), bias.astype(np.float32)

    out = {}
    out["stem_w"], out["stem_b"] = conv("_conv_stem", "_bn0", 32, 3, 3)
    c_in, index = 32, 0
    for kernel, _stride, expand, c_out, repeats in _lite0.STAGES:
        for _ in range(repeats):
            p, c = f"_blocks.{index}", c_in * expand
            if expand != 1:
                out[f"b{index}_expand_w"], out[f"b{index}_expand_b"] = conv(f"{p}._expand_conv", f"{p}._bn0", c, c_in, 1)
            w = take(f"{p}._depthwise_conv.weight", (c, 1, kernel, kernel)).astype(np.float64)
            scale, bias = bn(f"{p}._bn1", c)
            out[f"b{index}_dw_w"] = (w[:, 0].transpose(1, 2, 0) * scale).astype(np.float32)
            out[f"b{index}_dw_b"] = bias.astype(np.float32)
            out[f"b{index}_project_w"], out[f"b{index}_project_b"] = conv(
                f"{p}._project_conv", f"{p}._bn2", c_out, c, 1)
            c_in, index = c_out, index + 1
    out["head_w"], out["head_b"] = conv("_conv_head", "_bn1", _lite0.FEATURE_CHANNELS, c_in, 1)
    out["gap_w"] = np.ascontiguousarray(take("_fc.weight", (1000, _lite0.FEATURE_CHANNELS)).T)
    out["logit_bias"] = take("_fc.bias", (1000,))
    unused = sorted(set(state) - used)
    if unused:
        raise InputError(source, f"{len(unused)} tensors not used by EfficientNet-Lite0, e.g. {unused[0]}")
    return out


def _blocks():
    """(index, kernel, stride, expands, residual) of each of the 16 blocks."""
    rows, c_in, index = [], 32, 0
    for kernel, first_stride, expand, c_out, repeats in _lite0.STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            rows.append((index, kernel, stride, expand != 1, stride == 1 and c_in == c_out))
            c_in, index = c_out, index + 1
    return tuple(rows)


def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """``x @ w + b`` (+ ReLU6) of (N, C) rows: a 1 x 1 convolution of N pixels."""
    y = x @ w
    y += b
    if relu:
        np.clip(y, 0.0, 6.0, out=y)
    return y


def _pointwise(x: np.ndarray, w: np.ndarray, b: np.ndarray, relu: bool) -> np.ndarray:
    """1 x 1 convolution (+ bias, optional ReLU6) of (H, W, C) as one matrix product."""
    h, wd, c = x.shape
    return _dense(x.reshape(h * wd, c), w, b, relu).reshape(h, wd, w.shape[1])


def _taps(n: int, k: int, s: int):
    """Per kernel offset d: (first output, output count, first input) along an axis of ``n``."""
    pb, _ = _same_pad(n, k, s)
    no = -(-n // s)
    out = []
    for d in range(k):
        o0 = max(0, -(-(pb - d) // s))  # first o with o * s + d - pb >= 0
        o1 = min(no - 1, (n - 1 - d + pb) // s)  # last o with o * s + d - pb <= n - 1
        out.append((o0, max(0, o1 - o0 + 1), o0 * s + d - pb))
    return no, out


#: Output rows of a depthwise convolution are done in blocks of about this many bytes, so
#: a block's accumulator and the input rows it reads stay in the CPU's L2 cache.
BLOCK_BYTES = 256 * 1024


def _phases(x: np.ndarray, stride: int) -> list[np.ndarray]:
    """The ``stride`` x ``stride`` polyphase parts of (H, W, C): ``x[py::s, px::s]``, row-major."""
    return [x[py::stride, px::stride] for py in range(stride) for px in range(stride)]


def _depthwise(phases, h: int, wd: int, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise k x k convolution, "same" padding, + bias, ReLU6, of an (H, W, C) float32 map.

    The map comes as its polyphase parts (:func:`_phases`; the map itself for stride 1), each
    C-contiguous, so that every tap's input is a 2-D slice whose rows are contiguous runs of
    (columns x channels) values: the products run over long contiguous rows, with the tap's
    weights tiled along the row.
    """
    c = w.shape[2]
    k = w.shape[0]
    ho, rows = _taps(h, k, stride)
    wo, cols = _taps(wd, k, stride)
    flat = [p.reshape(p.shape[0], p.shape[1] * p.shape[2]) for p in phases]
    tiled = np.tile(w.reshape(k, k, 1, c), (1, 1, wo, 1)).reshape(k, k, wo * c)
    out = np.empty((ho, wo * c), np.float32)
    out[...] = np.tile(b, wo)
    block = max(1, min(ho, BLOCK_BYTES // (4 * wo * c)))
    tmp = np.empty((block, wo * c), np.float32)
    for r0 in range(0, ho, block):
        r1 = min(ho, r0 + block)
        for dy, (oy, ny, iy) in enumerate(rows):
            a, e = max(oy, r0), min(oy + ny, r1)
            if e <= a:
                continue
            for dx, (ox, nx, ix) in enumerate(cols):
                if not nx:
                    continue
                src = flat[(iy % stride) * stride + ix % stride]
                ry, cx = iy // stride + a - oy, (ix // stride) * c
                t = tmp[: e - a, : nx * c]
                np.multiply(src[ry : ry + e - a, cx : cx + nx * c], tiled[dy, dx, : nx * c], out=t)
                acc = out[a:e, ox * c : (ox + nx) * c]
                acc += t
    np.clip(out, 0.0, 6.0, out=out)
    return out.reshape(ho, wo, c)


def _stem(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 3 x 3 stride-2 stem (+ bias, ReLU6) as an im2col product; ``x`` (H, W, 3) preprocessed."""
    h, wd, c = x.shape
    (pt, pbm), (pl, pr) = _same_pad(h, 3, 2), _same_pad(wd, 3, 2)
    xp = np.pad(x, ((pt, pbm), (pl, pr), (0, 0)))
    ho, wo = -(-h // 2), -(-wd // 2)
    cols = np.empty((ho, wo, 9 * c), np.float32)
    for dy in range(3):
        for dx in range(3):
            j = (dy * 3 + dx) * c
            cols[:, :, j : j + c] = xp[dy : dy + 2 * ho - 1 : 2, dx : dx + 2 * wo - 1 : 2]
    y = cols.reshape(ho * wo, 9 * c) @ w
    y += b
    np.clip(y, 0.0, 6.0, out=y)
    return y.reshape(ho, wo, w.shape[1])


class Lite0:
    """EfficientNet-Lite0 inference in NumPy: ``net(x)`` -> ``(features, logits)``.

    Takes the folded weights of :func:`fold_state_dict`. ``x`` is one RGB image (H, W, 3)
    float32 in [0, 1] (H, W at least 1); ``features`` is (ceil(H/32), ceil(W/32), 1280)
    float32, ``logits`` (1000,) float64 without the classifier's bias (``gap_w`` =
    :attr:`kernel`, bias = :attr:`logit_bias`).
    """

    def __init__(self, weights: dict):
        self.w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
        self.kernel = self.w["gap_w"]
        self.logit_bias = self.w["logit_bias"]
        self.blocks = _blocks()

    def features(self, x: np.ndarray) -> np.ndarray:
        """The last conv features (h, w, 1280) of one (H, W, 3) float32 image in [0, 1]."""
        w = self.w
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != 3 or min(x.shape[:2]) < 1:
            raise ValueError(f"expected an (H, W, 3) image, got shape {x.shape}")
        # the model's Rescaling layer: x * 255/128 - 127/128, both exact in float32
        x = x * np.float32(255.0 / 128.0) + np.float32(-127.0 / 128.0)
        x = _stem(x, w["stem_w"], w["stem_b"])
        for i, _kernel, stride, expands, residual in self.blocks:
            h, wd = x.shape[:2]
            parts = _phases(x, stride) if stride > 1 else [x]
            if expands:  # 1 x 1: split the narrow input into phases, not the wide expansion
                rows = [p.shape[0] * p.shape[1] for p in parts]
                flat = parts[0].reshape(rows[0], parts[0].shape[2]) if len(parts) == 1 else np.concatenate(
                    [p.reshape(n, p.shape[2]) for p, n in zip(parts, rows)])
                y = _dense(flat, w[f"b{i}_expand_w"], w[f"b{i}_expand_b"], True)
                ends = np.cumsum(rows)[:-1]
                parts = [q.reshape(p.shape[0], p.shape[1], y.shape[1]) for p, q in zip(parts, np.split(y, ends))]
            else:
                parts = [np.ascontiguousarray(p) for p in parts]
            y = _depthwise(parts, h, wd, w[f"b{i}_dw_w"], w[f"b{i}_dw_b"], stride)
            y = _pointwise(y, w[f"b{i}_project_w"], w[f"b{i}_project_b"], False)
            if residual:
                y += x
            x = y
        return _pointwise(x, w["head_w"], w["head_b"], True)

    def _one(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = self.features(x)
        pooled = f.reshape(-1, f.shape[2]).mean(axis=0, dtype=np.float64)
        return f, pooled @ self.kernel.astype(np.float64)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(features, logits)`` of one (H, W, 3) float32 image in [0, 1]."""
        return self.many([x])[0]

    def many(self, xs, threads: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(features, logits)`` of each image of ``xs``, on up to ``threads`` threads.

        BLAS runs single-threaded meanwhile: the matrix products here are small, and
        OpenBLAS' threads spin against other busy processes (ten times slower on a loaded
        2-core machine); the images' threads share the cores instead. Results do not depend
        on the number of threads.
        """
        xs = list(xs)
        threads = max(1, min(threads, len(xs)))
        with blas_threads(1):
            if threads == 1:
                return [self._one(x) for x in xs]
            # largest first, so the threads finish together
            order = sorted(range(len(xs)), key=lambda i: -xs[i].shape[0] * xs[i].shape[1])
            with ThreadPoolExecutor(threads) as pool:
                done = dict(zip(order, pool.map(self._one, [xs[i] for i in order])))
            return [done[i] for i in range(len(xs))]


_BLAS = []


def blas_threads(n: int):
    """A context in which BLAS uses ``n`` threads (threadpoolctl; a no-op without it)."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS.append(ThreadpoolController())
        except Exception:  # not installed or no BLAS found: leave BLAS as it is
            _BLAS.append(None)
    ctl = _BLAS[0]
    return ctl.limit(limits=n, user_api="blas") if ctl is not None else contextlib.nullcontext()


def weight_shapes() -> dict[str, tuple]:
    """Name -> shape of every array :func:`fold_state_dict` returns."""
    shapes = {"stem_w": (27, 32), "stem_b": (32,)}
    c_in, index = 32, 0
    for kernel, _stride, expand, c_out, repeats in _lite0.STAGES:
        for _ in range(repeats):
            c = c_in * expand
            if expand != 1:
                shapes.update({f"b{index}_expand_w": (c_in, c), f"b{index}_expand_b": (c,)})
            shapes.update({f"b{index}_dw_w": (kernel, kernel, c), f"b{index}_dw_b": (c,),
                           f"b{index}_project_w": (c, c_out), f"b{index}_project_b": (c_out,)})
            c_in, index = c_out, index + 1
    n = _lite0.FEATURE_CHANNELS
    shapes.update({"head_w": (c_in, n), "head_b": (n,), "gap_w": (n, 1000), "logit_bias": (1000,)})
    return shapes


def _read_cache(path: Path, sha256: str) -> dict | None:
    """The folded weights in ``path`` when it is a complete cache of this source and format, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format_version"]) != FORMAT_VERSION or str(z["source_sha256"]) != sha256:
                return None
            shapes = weight_shapes()
            weights = {k: z[k] for k in shapes}
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile):
        return None
    if any(v.dtype != np.float32 or v.shape != shapes[k] for k, v in weights.items()):
        return None
    return weights


def load_default(cache=None) -> tuple[Lite0, dict]:
    """The default classifier as ``(Lite0, metadata)``, without TensorFlow.

    Takes an optional cache directory (see :func:`~msroi.saliency.networks.efficientnet_lite0.cache_dir`).
    Reads the folded weights from ``DEFAULT_NAME.npz`` there when it names the installed
    source's SHA-256 and :data:`FORMAT_VERSION`; otherwise reads the torch weights, folds
    them and writes that file atomically. The metadata is the Keras cache's ``.json``
    content (:func:`~msroi.saliency.networks.efficientnet_lite0.default_metadata`).
    """
    source = _lite0.source_weights_path()
    sha256 = _lite0._sha256(source)
    path = _lite0.cache_dir(cache) / f"{_lite0.DEFAULT_NAME}.npz"
    weights = _read_cache(path, sha256) if path.is_file() else None
    if weights is None:
        weights = fold_state_dict(load_state_dict(source), source)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, format_version=np.int64(FORMAT_VERSION), source_sha256=np.str_(sha256), **weights)
    return Lite0(weights), _lite0.default_metadata(source, weights["logit_bias"], sha256)
