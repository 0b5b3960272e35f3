"""Map stage: prior maps and user map files as 16-bit PNGs (the msroi maps live in msroi.saliency.maps)."""

from __future__ import annotations

from pathlib import Path


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
