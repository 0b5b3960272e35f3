"""Rate control: the byte budget and the highest standard-JPEG quality that fits it."""

from __future__ import annotations

import numpy as np

from msroi.codec import jpeg
from msroi.codec.jpeg import EncoderOptions


def fit_budget(rgb: np.ndarray, budget: int, options: EncoderOptions = EncoderOptions(), guess: int | None = None,
               known: dict[int, bytes] | None = None):
    """Highest JPEG quality whose file is <= ``budget`` bytes, by bisection over Q 1..100.

    ``guess``: a quality expected to be the answer (e.g. the base quality whose bytes made
    the budget); if it fits and ``guess + 1`` does not, it is returned after those two
    encodes, else the bisection runs as without it. ``known``: files already encoded with
    ``options``, by quality (not encoded again).

    Returns ``(quality, data, fits)``. Every claim is verified by an encode: the returned
    file is <= budget, and (unless Q = 100) the file at quality + 1 was encoded and is
    > budget. File size is not strictly monotone in Q, so a higher Q further up may fit
    too; the result is a verified local maximum, as the bisection does not assume more.
    When even Q1 is over budget, returns ``(1, data_at_q1, False)``.
    """
    cache: dict[int, bytes] = dict(known or {})

    def size(q: int) -> int:
        if q not in cache:
            cache[q] = jpeg.encode(rgb, q, options)
        return len(cache[q])

    if guess is not None and 1 <= int(guess) < 100:
        g = int(guess)
        if size(g) <= budget < size(g + 1):
            return g, cache[g], True
    if size(100) <= budget:
        return 100, cache[100], True
    if size(1) > budget:
        return 1, cache[1], False
    lo, hi = 1, 100  # invariant: size(lo) <= budget < size(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if size(mid) <= budget:
            lo = mid
        else:
            hi = mid
    if hi != lo + 1 or size(lo) > budget or size(hi) <= budget:  # pragma: no cover - invariant
        raise AssertionError("bisection invariant broken")
    return lo, cache[lo], True


def budget_bytes(baseline_bytes: int, threshold_pct: float) -> int:
    """The byte budget: ``floor(baseline_bytes * (1 + threshold_pct / 100))``."""
    return int(np.floor(baseline_bytes * (1.0 + threshold_pct / 100.0) + 1e-9))
