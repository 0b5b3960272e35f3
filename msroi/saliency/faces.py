"""Faces for the maps: MTCNN detections turned into Gaussian blobs.

ImageNet has no "person" class, so a classifier's CAMs light up an astronaut's collar or a
uniform's insignia, not the face people look at first. Faces are found by MTCNN (Zhang et
al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks",
IEEE SPL 2016), run in NumPy by :mod:`msroi.saliency.mtcnn` with the three small networks'
weights that ship inside the ``mtcnn`` 1.0.0 wheel (MIT licence; nothing is downloaded, and
TensorFlow is not imported). It reproduces that package's detections. Each face becomes a
Gaussian blob over its box, peak = detection confidence.

The detector runs on the photo downscaled so its long side is at most ``FACE_SIDE`` pixels
(about 0.1 s; MTCNN's smallest face is 20 px there, so faces smaller than about 6% of the
photo's long side are not looked for). Detections under ``MIN_CONFIDENCE`` are dropped: run
at full size on the development set (``research/mapdev``), MTCNN's one false face scored 0.80
and an illustrated face 0.89, while photographed faces score above 0.99.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from msroi.saliency import mtcnn

#: Long side (pixels) of the image the detector sees.
FACE_SIDE = 320
#: Detections below this confidence are ignored.
MIN_CONFIDENCE = 0.95
#: Blob standard deviation as a fraction of the face box's width / height: the box's edges
#: are at exp(-0.5 * 0.5**2 / 0.45**2) = 0.54 of the peak.
BLOB_SIGMA = 0.45
#: Blob peak relative to the map's maximum (1), times the detection confidence.
FACE_WEIGHT = 1.0
#: When a face is found, the object map is scaled to at most this before the faces are added,
#: so that a sure face is the map's top: eye-tracking studies find faces draw the first and
#: most fixations whatever else is in the photo (Cerf et al., NIPS 2007; Judd et al., ICCV
#: 2009). Set from that, not tuned (the development set has no photographed face).
OBJECTS_UNDER_FACES = 0.8

def detect_faces(rgb: np.ndarray, side: int = FACE_SIDE, min_confidence: float = MIN_CONFIDENCE) -> list[tuple]:
    """Faces in an (H, W, 3) uint8 photo: a list of ``(x0, y0, x1, y1, confidence)`` in photo pixels.

    Sorted by confidence, best first; empty for photos too small to hold a 20-pixel face.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    if min(sh, sw) < 24:
        return []
    small = rgb if scale == 1.0 else np.asarray(Image.fromarray(rgb).resize((sw, sh), Image.BILINEAR))
    found = mtcnn.detect(np.ascontiguousarray(small))
    faces = []
    for *box, conf in found.tolist():
        if conf < min_confidence:
            continue
        x, y, bw, bh = (v / scale for v in box)
        x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(w), x + bw), min(float(h), y + bh)
        if x1 > x0 and y1 > y0:
            faces.append((x0, y0, x1, y1, conf))
    return sorted(faces, key=lambda f: -f[4])


def face_map(shape: tuple[int, int], faces, sigma: float = BLOB_SIGMA, weight: float = FACE_WEIGHT) -> np.ndarray:
    """Gaussian blobs for ``faces`` (from :func:`detect_faces`) on an ``shape`` grid: float64, max of the blobs."""
    h, w = shape
    out = np.zeros((h, w), dtype=np.float64)
    y = np.arange(h) + 0.5
    x = np.arange(w) + 0.5
    for x0, y0, x1, y1, conf in faces:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        sx, sy = max(1.0, sigma * (x1 - x0)), max(1.0, sigma * (y1 - y0))
        blob = np.exp(-0.5 * ((y[:, None] - cy) / sy) ** 2) * np.exp(-0.5 * ((x[None, :] - cx) / sx) ** 2)
        out = np.maximum(out, weight * conf * blob)
    return out


def add_faces(m: np.ndarray, faces, under: float = OBJECTS_UNDER_FACES) -> np.ndarray:
    """A [0, 1] object map with ``faces`` (from :func:`detect_faces`) on top.

    No faces: ``m`` unchanged. Otherwise the maximum of ``under * m`` and the faces' blobs
    (:func:`face_map`), min-max normalised, so a sure face is the map's top.
    """
    if not faces:
        return m
    from msroi.saliency.cam import minmax

    return minmax(np.maximum(under * m, face_map(m.shape, faces)))
