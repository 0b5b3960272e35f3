"""Defaults and allowed ranges of every numeric setting, in one place.

The CLI's options, the workflow's schema (``workflow/schemas/config.schema.yaml``; a test
checks that its defaults and bounds equal these) and the code's keyword defaults all read
these constants.
"""

from __future__ import annotations

import math

#: Memory a single job may use, and what the semantic encoder needs per pixel: measured
#: 60 bytes per pixel peak RSS for ``msroi compress`` on a 6000 x 4000 photo (1.44 GB;
#: ``benchmarks/bench_speed.py``), rounded up to 64 for other maps and inputs
#: (the encoder before its compiled kernels needed 320 to 390 bytes per pixel).
MEMORY_BUDGET_BYTES = 8 * 2**30
SEMANTIC_BYTES_PER_PIXEL = 64

#: Default upper bound on width x height: the largest image whose semantic encode stays
#: within the memory budget at the worst measured bytes per pixel, rounded down to a
#: million (8 GiB / 64 B = 134 million pixels). Also a decompression-bomb guard (Pillow
#: refuses more than 179 million pixels on its own).
MAX_PIXELS = (MEMORY_BUDGET_BYTES // SEMANTIC_BYTES_PER_PIXEL) // 1_000_000 * 1_000_000
#: The largest ``max_pixels`` anyone may ask for (Pillow's own bomb limit is 2 x 89.5 M).
MAX_PIXELS_RANGE = (1, 1_000_000_000)

#: Semantic method.
RATIO = 6.0
RATIO_RANGE = (1.0, 1000.0)
SMOOTH = 64.0
SMOOTH_RANGE = (0.0, 1024.0)

#: Compression grid.
BASE_QUALITY = 50
BASE_QUALITY_RANGE = (1, 100)
THRESHOLD_PCT_RANGE = (0.0, 1000.0)
OPTIMIZE = True

#: The map network.
TOP_K = 5
TOP_K_RANGE = (1, 1000)
SHORT_SIDE = 448
SHORT_SIDE_RANGE = (32, 2048)
LAST_WEIGHT = 1.2
LAST_WEIGHT_RANGE = (0.01, 100.0)

#: Reference sweep: a target byte count needs no new reference point when a scored one is
#: within this relative difference of log bytes (research/exp_sweep_tolerance.py measures
#: what it costs in interpolation error on the development photos).
SWEEP_TOLERANCE = 0.01
SWEEP_TOLERANCE_RANGE = (0.0, 0.2)

#: Centre prior (fraction of each side).
CENTER_SIGMA = 0.25
CENTER_SIGMA_RANGE = (0.01, 10.0)


def check_range(name: str, value, bounds: tuple) -> str | None:
    """Return a one-line problem if ``value`` is not a finite number in ``bounds``
    (inclusive), else None."""
    lo, hi = bounds
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{name} must be a number in [{lo:g}, {hi:g}], got {value!r}"
    if not math.isfinite(v) or not lo <= v <= hi:
        return f"{name} must be a finite number in [{lo:g}, {hi:g}], got {value}"
    return None
