"""What every benchmark shares: the test photo at a given size and a median timer."""

from __future__ import annotations

import statistics
import time

import numpy as np
from PIL import Image


def photo(width: int = 768, height: int = 512) -> np.ndarray:
    """scikit-image's coffee photo (lossless, 600x400) resized with Lanczos to ``width`` x ``height``."""
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.LANCZOS))


def median_time(fn, repeats: int = 5) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``fn()``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
