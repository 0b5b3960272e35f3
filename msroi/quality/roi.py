"""Regions of interest for ROI metrics: masks, weight maps and boxes -> weight map in [0, 1].

A ROI is an ``(H, W)`` float64 array in [0, 1] at the image size; :mod:`msroi.quality.metrics`
pools each metric with these weights (a 0/1 ROI restricts the metric to the region).
Three sources:

- a **mask** image: any image Pillow reads; pixels whose grey value is nonzero are in
  (1), zero pixels are out (0). A mask of another size is resized nearest-neighbour.
- a **weight map**: a greyscale image (8-bit values / 255, 16-bit / 65535, float "F"
  as given) or a float ``.npy``; values must lie in [0, 1]. Any size; resized bilinearly
  to the image (:func:`msroi.files.read_map`).
- a **boxes** file: CSV with header ``image,x0,y0,x1,y1`` (one box per row, pixels) or
  JSON ``{"image": [[x0, y0, x1, y1], ...], ...}``. ``image`` is the image's file name or
  its stem. A box covers columns ``x0 <= x < x1`` and rows ``y0 <= y < y1`` (the
  convention of Python slices and Pillow's crop box), clipped to the image; several
  boxes are united.

The ROI for evaluating a method must come from outside that method (hand-drawn boxes,
for example); nothing here defaults to, or derives a ROI from, the map under test.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from msroi.errors import InputError, MsroiError

ROI_KINDS = ("auto", "mask", "weights", "boxes")
BOX_SUFFIXES = (".csv", ".json")


def roi_from_boxes(boxes, shape) -> np.ndarray:
    """Binary ROI (float64 0/1, ``shape`` = (H, W)) covering the union of pixel boxes.

    Each box is ``(x0, y0, x1, y1)``: columns ``x0..x1-1`` and rows ``y0..y1-1``,
    clipped to the image. Raises :class:`MsroiError` for a box with ``x1 <= x0`` or
    ``y1 <= y0``.
    """
    h, w = int(shape[0]), int(shape[1])
    roi = np.zeros((h, w), dtype=np.float64)
    for box in boxes:
        if len(box) != 4:
            raise MsroiError(f"a box needs 4 numbers x0,y0,x1,y1, got {list(box)}")
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        if x1 <= x0 or y1 <= y0:
            raise MsroiError(f"empty box {list(box)}: need x0 < x1 and y0 < y1")
        roi[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)] = 1.0
    return roi


def read_boxes(path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Read a boxes file (CSV ``image,x0,y0,x1,y1`` or JSON ``{image: [[x0,y0,x1,y1]...]}``).

    Returns ``{image name: [boxes]}``. Raises :class:`InputError` naming the file for a
    missing file, a bad header, or non-numeric coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such boxes file")
    out: dict[str, list] = {}
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise InputError(path, 'JSON boxes must be an object {"image": [[x0, y0, x1, y1], ...]}')
            for name, boxes in data.items():
                out[str(name)] = [tuple(float(v) for v in b) for b in boxes]
                if any(len(b) != 4 for b in out[str(name)]):
                    raise InputError(path, f"image {name!r}: every box needs 4 numbers x0,y0,x1,y1")
        else:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                need = {"image", "x0", "y0", "x1", "y1"}
                if reader.fieldnames is None or not need <= {c.strip() for c in reader.fieldnames}:
                    raise InputError(path, f"CSV header must contain image,x0,y0,x1,y1 (got {reader.fieldnames})")
                for line, row in enumerate(reader, start=2):
                    row = {k.strip(): v for k, v in row.items() if k is not None}
                    try:
                        box = tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1"))
                    except (TypeError, ValueError):
                        raise InputError(path, f"line {line}: coordinates must be numbers") from None
                    out.setdefault(row["image"].strip(), []).append(box)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot parse boxes ({e})") from None
    except RecursionError:
        raise InputError(path, "cannot parse boxes (nested too deeply)") from None
    except (TypeError, ValueError) as e:
        raise InputError(path, f"bad box ({e})") from None
    for name, boxes in out.items():
        if not all(np.isfinite(v) for b in boxes for v in b):
            raise InputError(path, f"image {name!r}: box coordinates must be finite numbers")
    return out


def boxes_for(boxes: dict, image: str) -> list:
    """The boxes of ``image`` (file name or path) from :func:`read_boxes`' result.

    Looks up the exact file name first, then its stem. Raises :class:`MsroiError` if the
    image has no entry (an image with no region is an error, not an empty ROI).
    """
    name = Path(image).name
    for key in (name, Path(name).stem):
        if key in boxes:
            return boxes[key]
    raise MsroiError(f"no boxes for image {name!r} (keys are file names or stems)")


def _read_pixels(path: Path, what: str) -> np.ndarray:
    """The pixel array of an image file; an unreadable file is an InputError naming it."""
    from msroi.files import open_checked

    with open_checked(path, what=what) as im:
        return np.asarray(im)


def roi_from_mask(mask, shape) -> np.ndarray:
    """Binary ROI from a mask array or image path: nonzero = in (1.0), zero = out (0.0).

    An RGB mask counts a pixel as in if any channel is nonzero. Resized to ``shape``
    (H, W) nearest-neighbour if needed. Returns float64 (H, W).
    """
    if isinstance(mask, (str, Path)):
        path = Path(mask)
        if not path.is_file():
            raise InputError(path, "no such mask file")
        m = _read_pixels(path, "mask")
    else:
        m = np.asarray(mask)
    if m.ndim == 3:
        m = np.any(m != 0, axis=2)
    if m.ndim != 2:
        raise MsroiError(f"a mask must be 2-D, got shape {m.shape}")
    binary = m != 0
    if binary.shape != tuple(shape):
        from PIL import Image

        im = Image.fromarray(binary.astype(np.uint8) * 255)
        binary = np.asarray(im.resize((shape[1], shape[0]), Image.NEAREST)) != 0
    return binary.astype(np.float64)


def roi_from_weights(weights, shape) -> np.ndarray:
    """ROI weights from a float array or a map file (PNG/grey image or ``.npy``).

    Files go through :func:`msroi.files.read_map` (8-bit / 255, 16-bit / 65535, ``.npy`` as
    given; bilinear resize to ``shape``); arrays of another size are resized bilinearly.
    Values must lie in [0, 1] (checked after reading, before resizing); bilinear resizing
    keeps them there. Returns float64 (H, W).
    """
    from msroi.files import read_map, resize_map

    if isinstance(weights, (str, Path)):
        raw = read_map(weights)
        where = str(weights)
    else:
        raw = np.asarray(weights, dtype=np.float64)
        where = "weight map"
        if raw.ndim != 2 or not np.all(np.isfinite(raw)):
            raise MsroiError("a weight map must be a finite 2-D array")
    if raw.min() < 0 or raw.max() > 1:
        msg = f"weights must lie in [0, 1], got {raw.min():g}..{raw.max():g}"
        raise InputError(where, msg) if where != "weight map" else MsroiError(msg)
    m = raw if raw.shape == tuple(shape) else resize_map(raw, shape)
    return np.clip(m, 0.0, 1.0)


def _guess_kind(path: Path) -> str:
    if path.suffix.lower() in BOX_SUFFIXES:
        return "boxes"
    if path.suffix.lower() == ".npy":
        return "weights"
    values = np.unique(_read_pixels(path, "ROI image"))
    return "mask" if values.size <= 2 and values.min() == 0 else "weights"


def load_roi(path, shape, image: str | None = None, kind: str = "auto") -> np.ndarray:
    """Load a ROI file as float64 weights in [0, 1] of ``shape`` (H, W).

    ``kind`` is ``"mask"``, ``"weights"``, ``"boxes"`` or ``"auto"``: ``.csv``/``.json``
    are boxes, ``.npy`` is weights, and an image with at most two distinct values, one of
    them 0, is a mask; any other image is a weight map. ``image`` (file name or stem) picks
    the boxes of one image from a boxes file and is required for boxes. Raises
    :class:`InputError` / :class:`MsroiError`. A ROI of zero total weight is refused.
    """
    path = Path(path)
    if kind not in ROI_KINDS:
        raise MsroiError(f"unknown ROI kind {kind!r}; use one of {', '.join(ROI_KINDS)}")
    if not path.is_file():
        raise InputError(path, "no such ROI file")
    if kind == "auto":
        kind = _guess_kind(path)
    if kind == "boxes":
        if image is None:
            raise MsroiError(f"{path}: a boxes file needs the image name to pick its boxes")
        roi = roi_from_boxes(boxes_for(read_boxes(path), image), shape)
    elif kind == "mask":
        roi = roi_from_mask(path, shape)
    else:
        roi = roi_from_weights(path, shape)
    if not roi.any():
        raise InputError(path, "the region of interest is empty at this image size")
    return roi
