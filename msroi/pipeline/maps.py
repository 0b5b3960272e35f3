"""Map stage: prior maps and user map files as 16-bit PNGs (the msroi maps live in
msroi.saliency.maps), and how well every map finds the evaluation boxes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from msroi import files, settings
from msroi.saliency import priors


def make_prior_map(image_path, source: str, out_path, max_pixels: int = files.DEFAULT_MAX_PIXELS, sigma: float = settings.CENTER_SIGMA) -> Path:
    """Write the ``source`` prior map ('uniform'/'center') at the image's size as a 16-bit PNG."""
    rgb = files.read_image(image_path, max_pixels)
    m = priors.prior_map(source, rgb.shape[:2], sigma)
    files.save_map(out_path, m)
    return Path(out_path)


def copy_user_map(image_path, maps_dir, stem: str, out_path, max_pixels: int = files.DEFAULT_MAX_PIXELS) -> Path:
    """Write the user's map for ``stem`` from ``maps_dir``, resized to the image, as a 16-bit PNG."""
    rgb = files.read_image(image_path, max_pixels)
    files.save_map(out_path, priors.file_map(maps_dir, stem, rgb.shape[:2]))
    return Path(out_path)


def score_maps(images: dict, maps: dict, rois: dict, out_csv, max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Lift, AUC and pointing game of every map against the evaluation ROI, as a CSV.

    Takes ``images`` {image id: evaluation original}, ``maps`` {map source: directory of
    ``{image id}.png`` maps} and ``rois`` {image id: ROI file or directory, as for
    :func:`msroi.pipeline.score.load_image_roi`}; writes and returns one row per source and
    image with a ROI (``source, image, roi_fraction, lift, auc, pointing``; see
    :mod:`msroi.quality.map_scores`). Images without a ROI, or whose ROI covers the whole
    frame, have no row.
    """
    from PIL import Image

    from msroi.pipeline.score import load_image_roi
    from msroi.quality.map_scores import score_map

    rows = []
    for image, original in images.items():
        with Image.open(original) as im:
            shape = (im.height, im.width)
        roi = load_image_roi(rois.get(image, ""), image, shape)
        if roi is None or roi.all():
            continue
        for source, directory in maps.items():
            m = files.read_map(Path(directory) / f"{image}.png", shape, max_pixels)
            rows.append({"source": source, "image": image, **score_map(m, roi > 0)})
    table = pd.DataFrame(rows, columns=["source", "image", "roi_fraction", "lift", "auc", "pointing"])
    files.write_csv(out_csv, table)
    return table
