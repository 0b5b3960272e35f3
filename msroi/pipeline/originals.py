"""Evaluation originals: what maps, compression and metrics see instead of the input file.

A JPEG input is never evaluated at its own resolution: recompressing a JPEG lets an encoder
land on the source's 8x8 grid and quantisation tables and win at equal bytes for that reason
alone. So a JPEG input is downscaled by 2 with :meth:`PIL.Image.Image.reduce` (the mean of
each 2 x 2 block, an area filter without ringing; odd sides keep a last partial block) and
the result is the evaluation original; lossless inputs are used as they are. ROI boxes,
given in the input's pixels, are scaled with the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from msroi import files
from msroi.files import write_csv

#: The factor a JPEG input is reduced by.
JPEG_REDUCTION = 2


def is_jpeg(path) -> bool:
    """Whether the file at ``path`` is a JPEG (by content, not by name)."""
    with Image.open(path) as im:
        return im.format == "JPEG"


def reduce_image(rgb: np.ndarray, factor: int = JPEG_REDUCTION) -> np.ndarray:
    """``(H, W, 3)`` uint8 reduced by ``factor``: mean of each factor x factor block
    (Pillow's ``Image.reduce``; sides rounded up)."""
    return np.asarray(Image.fromarray(rgb).reduce(factor))


def scale_boxes(boxes, old_shape, new_shape) -> list[tuple[float, float, float, float]]:
    """Boxes ``(x0, y0, x1, y1)`` in pixels of an image of ``old_shape`` (H, W, ...) moved to
    the pixels of the same image resized to ``new_shape``."""
    sy, sx = new_shape[0] / old_shape[0], new_shape[1] / old_shape[1]
    return [(x0 * sx, y0 * sy, x1 * sx, y1 * sy) for x0, y0, x1, y1 in boxes]


def prepare_original(image_path, out_png, out_boxes_csv, image_id: str, roi_path="", downscale_jpeg: bool = True,
                     max_pixels: int = files.DEFAULT_MAX_PIXELS) -> dict:
    """Write the evaluation original of one input to ``out_png`` (a JPEG input reduced by
    :data:`JPEG_REDUCTION` when ``downscale_jpeg``, any other input as decoded; its ICC
    profile kept) and its ROI
    boxes, scaled alike, to ``out_boxes_csv`` (``image,x0,y0,x1,y1``; only the header when
    ``roi_path`` is not a boxes file or has no box for ``image_id``). Returns
    ``{"width", "height", "reduced"}``."""
    from msroi.pipeline.score import image_boxes

    rgb, meta = files.read_image(image_path, max_pixels, with_metadata=True)
    reduced = downscale_jpeg and is_jpeg(image_path)
    out = reduce_image(rgb) if reduced else rgb
    files.save_png(out_png, out, icc_profile=meta.icc_profile)  # the colours mean what they meant
    boxes = scale_boxes(image_boxes(roi_path, image_id) or [], rgb.shape, out.shape)
    write_csv(out_boxes_csv, pd.DataFrame([(image_id, *b) for b in boxes], columns=["image", "x0", "y0", "x1", "y1"]))
    return {"width": out.shape[1], "height": out.shape[0], "reduced": reduced}


def roi_for_original(roi_path, boxes_csv) -> str:
    """The ROI to score an evaluation original with: its scaled boxes file when the
    configured ROI is a boxes file, else the configured ROI (a directory of masks, resized to
    each image) or ``""``."""
    from msroi.quality.roi import BOX_SUFFIXES

    if roi_path and Path(roi_path).suffix.lower() in BOX_SUFFIXES:
        return str(boxes_csv)
    return str(roi_path or "")
