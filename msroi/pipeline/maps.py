"""Map stage: prior maps and user map files as 16-bit PNGs (the msroi maps live in msroi.saliency.maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from msroi import files, settings
from msroi.saliency import priors


def make_prior_map(image_path, source: str, out_path, max_pixels: int = files.DEFAULT_MAX_PIXELS, sigma: float = settings.CENTER_SIGMA) -> Path:
    """Write the ``source`` prior map ('uniform'/'center') at the image's size as a 16-bit PNG."""
    rgb = files.read_image(image_path, max_pixels)
    m = priors.prior_map(source, rgb.shape[:2], sigma)
    save_map_png(out_path, m)
    return Path(out_path)



def copy_user_map(image_path, maps_dir, stem: str, out_path, max_pixels: int = files.DEFAULT_MAX_PIXELS) -> Path:
    """Write the user's map for ``stem`` from ``maps_dir``, resized to the image, as a 16-bit PNG."""
    rgb = files.read_image(image_path, max_pixels)
    save_map_png(out_path, priors.file_map(maps_dir, stem, rgb.shape[:2]))
    return Path(out_path)



def save_map_png(path, m: np.ndarray) -> None:
    """Save a map in [0, 1] as a 16-bit greyscale PNG (values outside are clipped)."""
    files.save_png(path, np.rint(np.clip(m, 0.0, 1.0) * 65535.0).astype(np.uint16))
