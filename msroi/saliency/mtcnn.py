"""MTCNN face detection in NumPy, with the weights of the ``mtcnn`` 1.0.0 wheel (no TensorFlow).

MTCNN (Zhang et al., IEEE SPL 2016) is a cascade of three small networks. P-Net slides over
an image pyramid and proposes boxes; R-Net (24x24 crops) and O-Net (48x48 crops) rescore and
refine them. This module follows the stages as the ``mtcnn`` 1.0.0 package runs them, so
its detections match the package's: pixels normalised to ``(v - 127.5) / 128``; pyramid
scales ``0.6 * 0.709**k`` (the first makes a 20-pixel face P-Net's 12-pixel window), resized
by area averaging; P-Net proposals over 0.6 suppressed per scale at IoU 0.5, then across
scales at 0.7, squared; R-Net keeps crops over 0.7 (IoU 0.7, squared); O-Net keeps those over
0.8 (suppressed at 0.7 of the smaller box). Crops are bilinear with zero (mid-grey) outside
the image. The package's suppression keeps a box unless any higher-scored box overlaps it,
suppressed or not; this does the same.

The networks and their weights are in :mod:`msroi.saliency.mtcnn_nets`.
"""

from __future__ import annotations

import numpy as np

from msroi.saliency.mtcnn_nets import load_weights, onet, pnet, rnet

#: Stage parameters of the mtcnn 1.0.0 package (its defaults).
MIN_FACE_SIZE = 20
PNET_CELL = 12
SCALE_FACTOR = 0.709
THRESHOLDS = (0.6, 0.7, 0.8)
NMS_PNET_SCALE, NMS_PNET_ALL, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7


# ------------------------------------------------------------------------ image operations


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    # (n_out, n_in): how much of each input pixel falls in each output pixel (TensorFlow's "area" resize)
    scale = np.float32(n_in / n_out)
    lo = np.arange(n_out, dtype=np.float32) * scale
    hi = np.arange(1, n_out + 1, dtype=np.float32) * scale
    i = np.arange(n_in + 1, dtype=np.float32)
    m = np.clip(np.minimum(i[None, :] + 1, hi[:, None]) - np.maximum(i[None, :], lo[:, None]), 0, None)
    m[:, n_in - 1] += m[:, n_in]  # float rounding can reach past the last pixel: it counts as the last
    return m[:, :n_in] / scale


def resize_area(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) float image resized to (height, width) by area averaging (a downscale)."""
    h, w = img.shape[:2]
    cols = np.matmul(_area_weights(w, width), img)  # (H, width, C)
    return np.matmul(_area_weights(h, height), cols.transpose(1, 0, 2)).transpose(1, 0, 2)


def crop_patches(img: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, C) bilinear crops of ``img`` at ``boxes`` (x0, y0, x1, y1 in pixels); 0 outside the image.

    Sampled like TensorFlow's ``crop_and_resize`` given the box divided by the image size:
    the crop's first and last samples fall on ``x0 / W * (W - 1)`` and ``x1 / W * (W - 1)``.
    """
    h, w = img.shape[:2]
    t = np.arange(size, dtype=np.float32) / np.float32(size - 1)

    def axis(a0, a1, n):
        a0, a1 = (np.float32(n - 1) * (v / n).astype(np.float32) for v in (a0, a1))
        pos = a0[:, None] + t[None, :] * (a1 - a0)[:, None]  # (N, size)
        inside = (pos >= 0) & (pos <= n - 1)
        pos = np.clip(pos, 0, n - 1)
        first = np.floor(pos).astype(np.intp)
        return first, np.minimum(first + 1, n - 1), (pos - first)[..., None], inside

    y0, y1, fy, in_y = axis(boxes[:, 1], boxes[:, 3], h)
    x0, x1, fx, in_x = axis(boxes[:, 0], boxes[:, 2], w)
    top = img[y0[:, :, None], x0[:, None, :]] * (1 - fx[:, None]) + img[y0[:, :, None], x1[:, None, :]] * fx[:, None]
    bottom = img[y1[:, :, None], x0[:, None, :]] * (1 - fx[:, None]) + img[y1[:, :, None], x1[:, None, :]] * fx[:, None]
    out = top * (1 - fy[:, :, None]) + bottom * fy[:, :, None]
    return np.where((in_y[:, :, None] & in_x[:, None, :])[..., None], out, 0).astype(np.float32)


# ------------------------------------------------------------------------ boxes (rows: x0, y0, x1, y1, score)


def by_score(boxes: np.ndarray) -> np.ndarray:
    """Rows sorted by score, highest first (ties in the package's order)."""
    return boxes[np.argsort(boxes[:, 4])[::-1]]


def suppress(boxes: np.ndarray, threshold: float, over_min: bool = False) -> np.ndarray:
    """Non-maximum suppression of score-sorted ``boxes``, as the mtcnn package does it.

    A box is dropped when any higher-scored box (kept or not) overlaps it by more than
    ``threshold``: intersection over union, or over the smaller area with ``over_min``.
    """
    if len(boxes) < 2:
        return boxes
    x0, y0, x1, y1 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x1 - x0) * (y1 - y0)
    iw = np.maximum(0, np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :]))
    ih = np.maximum(0, np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :]))
    inter = iw * ih
    if over_min:
        denom = np.minimum(area[:, None], area[None, :])
    else:
        denom = area[:, None] + area[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        overlap = inter / denom
    beaten = np.triu(overlap > threshold, k=1).any(axis=0)
    return boxes[~beaten]


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares (side = the longer side) about their centres."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] += (w - side) / 2
    out[:, 1] += (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by a network's offsets, given in units of the box's size (+1, as the package counts it)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
    out[:, :4] += offsets * np.stack([w, h, w, h], axis=1)
    return out


# ------------------------------------------------------------------------ the cascade


def pyramid_scales(height: int, width: int, min_face_size: int = MIN_FACE_SIZE) -> np.ndarray:
    """P-Net's image scales for a photo, largest first (the package's count and factors)."""
    count = round(-(np.log(min(height, width) / PNET_CELL) / np.log(SCALE_FACTOR) + 1))
    return (PNET_CELL / min_face_size) * SCALE_FACTOR ** np.arange(max(count, 0))


def _proposals(img: np.ndarray, weights, threshold: float, min_face_size: int) -> np.ndarray:
    h, w = img.shape[:2]
    found = []
    for s in pyramid_scales(h, w, min_face_size):
        sh, sw = int(h * s), int(w * s)
        if min(sh, sw) < PNET_CELL:
            continue
        offsets, prob = pnet(resize_area(img, sh, sw)[None], weights)
        ys, xs = np.nonzero(prob[0] > threshold)
        # the package's window spans pixels 2i + 1 .. 2i + 12 and offsets are in units of 11
        d = offsets[0, ys, xs].astype(np.float64) * (PNET_CELL - 1)
        x0, y0 = xs * 2.0 + 1, ys * 2.0 + 1
        x1, y1 = x0 + PNET_CELL - 1, y0 + PNET_CELL - 1
        cells = np.stack([x0 + d[:, 0], y0 + d[:, 1], x1 + d[:, 2], y1 + d[:, 3]], axis=1) / s
        boxes = by_score(np.column_stack([cells, prob[0, ys, xs]]))
        found.append(suppress(boxes, NMS_PNET_SCALE))
    boxes = np.concatenate(found) if found else np.empty((0, 5))
    return square(suppress(by_score(boxes), NMS_PNET_ALL))


def _stage(img, boxes, net, weights, size, threshold):
    offsets, prob = net(crop_patches(img, boxes, size), weights)
    boxes = refine(np.column_stack([boxes[:, :4], prob]), offsets)
    return by_score(boxes[boxes[:, 4] > threshold])


def detect(rgb: np.ndarray, thresholds=THRESHOLDS, min_face_size: int = MIN_FACE_SIZE) -> np.ndarray:
    """Faces in an (H, W, 3) uint8 image, as the mtcnn package reports them.

    Returns a (k, 5) float array of rows ``(x, y, width, height, confidence)``, best first;
    the box is clipped to the image (x, y within ``[0, W - 1]``, ``[0, H - 1]``) and its four
    numbers rounded to integers, as the package does. ``thresholds`` are the P-, R- and
    O-Net confidence cut-offs.
    """
    from threadpoolctl import threadpool_limits

    # the products here are small: BLAS threads cost more than they give, and on a busy machine
    # (parallel workflow jobs) they make a detection several times slower
    with threadpool_limits(1, user_api="blas"):
        return _detect(rgb, thresholds, min_face_size)


def _detect(rgb, thresholds, min_face_size):
    weights = load_weights()
    img = (np.asarray(rgb, np.float32) - 127.5) / 128
    h, w = img.shape[:2]
    boxes = _proposals(img, weights["pnet"], thresholds[0], min_face_size)
    if len(boxes):
        boxes = square(suppress(_stage(img, boxes, rnet, weights["rnet"], 24, thresholds[1]), NMS_RNET))
    if len(boxes):
        boxes = suppress(_stage(img, boxes, onet, weights["onet"], 48, thresholds[2]), NMS_ONET, over_min=True)
    x0, x1 = (np.clip(boxes[:, i], 0, w - 1) for i in (0, 2))
    y0, y1 = (np.clip(boxes[:, i], 0, h - 1) for i in (1, 3))
    xywh = np.round(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1))
    return np.column_stack([xywh, boxes[:, 4]])
