"""The bundled sample photos: permissively licensed photos that ship inside installed packages.

Nothing is downloaded; each photo is copied byte for byte from the package that carries it.
Licences: scikit-image data (astronaut: NASA, public domain; chelsea, coffee: CC0 by Stefan
van der Walt and Rachel Michelle Tolley; motorcycle_left: Middlebury stereo 2014, free to use
with citation; rocket: NASA, public domain), scikit-learn `load_sample_images` (china, flower:
CC BY 2.0 / public domain per scikit-learn's docs), matplotlib `grace_hopper.jpg` (public domain,
US Navy).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from msroi.errors import MsroiError
from msroi.files import atomic_path

#: Hand-drawn boxes around the main object(s) of each sample photo (CSV image,x0,y0,x1,y1 in
#: pixels of the photo as exported): the region for ROI metrics, drawn independently of any map.
SAMPLE_BOXES = Path(__file__).parent / "resources" / "sample_boxes.csv"

# name -> (package, path inside the package)
SAMPLES = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def sample_path(name: str) -> Path:
    """Path of the installed file for sample ``name``; raises MsroiError if it is unknown or missing."""
    if name not in SAMPLES:
        raise MsroiError(f"unknown sample photo {name!r}; known: {', '.join(SAMPLES)}")
    package, rel = SAMPLES[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise MsroiError(f"sample photo {name!r} needs the package {package!r}, which is not installed")
    path = Path(spec.origin).parent / rel
    if not path.is_file():
        raise MsroiError(f"sample photo {name!r} not found at {path}")
    return path


def export_sample(name: str, out_path) -> Path:
    """Copy sample ``name`` to ``out_path`` atomically; returns the written path."""
    src = sample_path(name)
    with atomic_path(out_path) as tmp:
        shutil.copyfile(src, tmp)
    return Path(out_path)
