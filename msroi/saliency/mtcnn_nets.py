"""MTCNN's three networks in NumPy, with the weights of the ``mtcnn`` 1.0.0 wheel (no TensorFlow).

Plain functions on (N, H, W, C) float32 arrays: convolution as im2col and one matrix
product, PReLU, max-pooling, dense layers. Each network takes its list of weight arrays in
the order the wheel stores them (the Keras layers' ``get_weights`` order).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_WEIGHTS: dict[str, list[np.ndarray]] = {}


def weights_dir() -> Path:
    """Folder of the installed mtcnn wheel's weight files; MsroiError if the wheel or its weights are missing."""
    from msroi.errors import MsroiError

    spec = importlib.util.find_spec("mtcnn")  # finds the package without importing it (it imports TensorFlow)
    folder = Path(spec.origin).parent / "assets" / "weights" if spec and spec.origin else None
    if folder is None or not all((folder / f"{n}.lz4").is_file() for n in ("pnet", "rnet", "onet")):
        raise MsroiError("face detection needs the MTCNN weights of the 'mtcnn' package; install mtcnn==1.0.0 or pass faces=False")
    return folder


def load_weights() -> dict[str, list[np.ndarray]]:
    """The three networks' weights ``{"pnet": [...], "rnet": [...], "onet": [...]}``, read once per process."""
    if not _WEIGHTS:
        from msroi.saliency.joblib_arrays import load_arrays

        folder = weights_dir()
        _WEIGHTS.update({n: [np.asarray(a, np.float32) for a in load_arrays(folder / f"{n}.lz4")] for n in ("pnet", "rnet", "onet")})
    return _WEIGHTS


# ------------------------------------------------------------------------ layers


def conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid, stride-1 convolution of (N, H, W, C) by a (kh, kw, C, out) kernel."""
    kh, kw, c, out = kernel.shape
    n, h, w, _ = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, ho, wo, C, kh, kw)
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw * c)  # copy with C innermost
    y = cols @ kernel.reshape(kh * kw * c, out)
    return (y + bias).reshape(n, ho, wo, out)


def prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Parametric ReLU: ``x`` where positive, ``alpha * x`` elsewhere (alpha per channel)."""
    return np.where(x > 0, x, x * alpha.reshape(-1))


def max_pool(x: np.ndarray, size: int, stride: int, same: bool) -> np.ndarray:
    """Max-pooling of (N, H, W, C); ``same`` pads as TensorFlow's "same" does (ceil(H / stride) windows)."""
    if same:
        n, h, w, c = x.shape
        pad_h = max((-(-h // stride) - 1) * stride + size - h, 0)
        pad_w = max((-(-w // stride) - 1) * stride + size - w, 0)
        ph, pw = pad_h // 2, pad_w // 2
        x = np.pad(x, ((0, 0), (ph, pad_h - ph), (pw, pad_w - pw), (0, 0)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    return win.max(axis=(4, 5))


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Fully connected layer: (N, in) @ (in, out) + bias."""
    return x @ kernel + bias


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------ networks


def pnet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """P-Net on (N, H, W, 3): box offsets (N, h, w, 4) and face probability (N, h, w) per 12-pixel window, stride 2."""
    x = max_pool(prelu(conv(x, w[0], w[1]), w[2]), 2, 2, same=True)
    x = prelu(conv(x, w[3], w[4]), w[5])
    x = prelu(conv(x, w[6], w[7]), w[8])
    return conv(x, w[9], w[10]), softmax(conv(x, w[11], w[12]))[..., 1]


def _flatten_wh(x: np.ndarray) -> np.ndarray:
    # the package's R-Net and O-Net swap height and width before flattening; their dense weights expect it
    return x.transpose(0, 2, 1, 3).reshape(len(x), -1)


def rnet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """R-Net on (N, 24, 24, 3): box offsets (N, 4) and face probability (N,)."""
    x = max_pool(prelu(conv(x, w[0], w[1]), w[2]), 3, 2, same=True)
    x = max_pool(prelu(conv(x, w[3], w[4]), w[5]), 3, 2, same=False)
    x = prelu(conv(x, w[6], w[7]), w[8])
    x = prelu(dense(_flatten_wh(x), w[9], w[10]), w[11])
    return dense(x, w[12], w[13]), softmax(dense(x, w[14], w[15]))[:, 1]


def onet(x: np.ndarray, w: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """O-Net on (N, 48, 48, 3): box offsets (N, 4) and face probability (N,) (its landmarks are not computed)."""
    x = max_pool(prelu(conv(x, w[0], w[1]), w[2]), 3, 2, same=True)
    x = max_pool(prelu(conv(x, w[3], w[4]), w[5]), 3, 2, same=False)
    x = max_pool(prelu(conv(x, w[6], w[7]), w[8]), 2, 2, same=True)
    x = prelu(conv(x, w[9], w[10]), w[11])
    x = prelu(dense(_flatten_wh(x), w[12], w[13]), w[14])
    return dense(x, w[15], w[16]), softmax(dense(x, w[19], w[20]))[:, 1]
