"""Equal-bytes comparison with a reference encoder, Bjontegaard delta rate, confidence intervals.

Protocol (``docs/metrics.md``): encode the image with the reference encoder (libjpeg-turbo
or mozjpeg, :func:`reference_encoder`) at the qualities whose files bracket the byte
counts of the outputs under test (:func:`bracket_qualities`: file sizes only, found by
bisection; metrics only at the bracketing qualities), interpolate each metric against
log(bytes) with a monotone piecewise cubic (PCHIP), and read off the reference's value at
the byte count of the output under test (:func:`at_equal_bytes`,
:func:`delta_at_equal_bytes`). Over several rate points, :func:`bd_rate` gives the
Bjontegaard delta rate with piecewise cubic interpolation; it compares rates at equal
metric values, so it holds for metrics that fall with quality (Butteraugli) as for those
that rise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from msroi.codec import jpeg
from msroi.codec.jpeg import EncoderOptions
from msroi.errors import MsroiError
from msroi.quality.metrics import METRIC_NAMES, all_metrics

def reference_encoder(name: str, options: EncoderOptions | None = None) -> Callable[[np.ndarray, int], bytes]:
    """``(rgb, q) -> JPEG bytes`` of a reference encoder: ``"jpeg"`` (libjpeg-turbo via Pillow
    with ``options``) or ``"mozjpeg"`` (:func:`msroi.codec.jpeg.encode_mozjpeg`, progressive
    when ``options.progressive``, otherwise its sequential form)."""
    options = options or EncoderOptions()
    if name == "jpeg":
        return lambda rgb, q: jpeg.encode(rgb, q, options)
    if name == "mozjpeg":
        return lambda rgb, q: jpeg.encode_mozjpeg(rgb, q, progressive=options.progressive)
    raise MsroiError(f"unknown reference encoder {name!r} (use 'jpeg' or 'mozjpeg')")


def bracket_qualities(size_at: Callable[[int], int], targets, lo: int = 1, hi: int = 100, known=(),
                      tolerance: float = 0.0) -> list[int]:
    """The qualities to score so that every target byte count can be read off a curve.

    ``size_at(q)`` gives the file size at quality q (called at most once per quality; sizes
    are taken to grow with q); ``known`` maps qualities already scored to their sizes. A
    target already bracketed by chosen qualities, one of them within ``tolerance`` of it
    (relative difference of log bytes), needs nothing. Otherwise a search over ``lo..hi``
    (narrowed by every size seen so far, each step interpolating on log size) finds the
    largest q with ``size_at(q) <= t`` and q + 1; the target ends up bracketed by chosen
    qualities (``lo`` alone below the smallest file, ``hi`` alone above the largest) and,
    when no chosen quality is within ``tolerance``, the nearer of q and q + 1 is chosen
    too; ``tolerance=0`` chooses both. Returns the sorted qualities to score that are not
    in ``known``.
    """
    sizes: dict[int, int] = {int(q): int(b) for q, b in dict(known).items()}
    chosen = set(sizes)

    def size(q):
        if q not in sizes:
            sizes[q] = size_at(q)
        return sizes[q]

    def near(t, qs):
        return any(abs(np.log(sizes[q] / t)) <= tolerance for q in qs)

    for t in sorted({int(t) for t in targets}):
        if t <= 0:
            continue
        if tolerance > 0 and near(t, chosen) and any(sizes[q] <= t for q in chosen) \
                and any(sizes[q] > t for q in chosen):
            continue  # already covered: no encode needed
        # the ends are encoded only when the sizes seen so far do not bracket t
        if not any(v <= t for v in sizes.values()) and size(lo) > t:
            chosen.add(lo)
            continue
        if not any(v > t for v in sizes.values()) and size(hi) <= t:
            chosen.add(hi)
            continue
        a = max(q for q, b in sizes.items() if b <= t)
        b = min(q for q, b in sizes.items() if b > t)
        while b - a > 1:
            # interpolation on log size (usually lands next to the answer), kept strictly inside
            la, lb = np.log(max(sizes[a], 1)), np.log(sizes[b])
            guess = a + (np.log(t) - la) / (lb - la) * (b - a) if lb > la else (a + b) / 2
            m = min(max(int(round(guess)), a + 1), b - 1)
            a, b = (m, b) if size(m) <= t else (a, m)
        if tolerance <= 0:
            chosen |= {a, b}
            continue
        if not any(q <= a for q in chosen):
            chosen.add(a)
        if not any(q >= b for q in chosen):
            chosen.add(b)
        if not near(t, chosen):
            chosen.add(min((a, b), key=lambda q: abs(np.log(sizes[q] / t))))
    return sorted(chosen - set(dict(known)))


def sweep_for_bytes(rgb, encode: Callable[[np.ndarray, int], bytes], targets, roi=None, boxes=None, metrics=None,
                    known=None, tolerance: float = 0.0):
    """The reference curve an equal-bytes comparison needs: ``encode`` at the qualities that
    :func:`bracket_qualities` chooses for the byte counts in ``targets`` (with
    ``tolerance``), scored like :func:`standard_sweep` (same columns); each quality is
    encoded once. ``known``: rows already scored with the same encoder (columns ``q``,
    ``bytes`` and the metrics, e.g. its outputs at the base qualities), reused instead of
    encoded and scored again; the returned curve holds them and the new rows."""
    import pandas as pd

    rgb = np.asarray(rgb, dtype=np.uint8)
    known = known if known is not None else pd.DataFrame(columns=["q", "bytes"])
    known_size = dict(zip(known["q"].astype(int), known["bytes"].astype(int)))
    files: dict[int, bytes] = {}

    def encoded(image, q):
        if q not in files:
            files[q] = encode(image, q)
        return files[q]

    qualities = bracket_qualities(lambda q: len(encoded(rgb, q)), targets, known=known_size, tolerance=tolerance)
    new = standard_sweep(rgb, encoded, qualities, roi=roi, metrics=metrics, boxes=boxes)
    return pd.concat([new, known], ignore_index=True).sort_values("q", kind="stable").reset_index(drop=True)


def standard_sweep(
    rgb,
    encode: Callable[[np.ndarray, int], bytes] | EncoderOptions | None = None,
    qualities: Iterable[int] = range(1, 101),
    roi=None,
    metrics=None,
    boxes=None,
):
    """Encode ``rgb`` at every quality, decode, and score each decode against ``rgb``.

    Takes the original ``(H, W, 3)`` uint8 image; ``encode`` is either a callable
    ``(rgb, q) -> JPEG bytes`` or :class:`msroi.codec.jpeg.EncoderOptions` for the standard
    encoder (None: its defaults); ``qualities``; an optional ROI weight map (and its
    ``boxes``) and an optional subset of metric names (see
    :func:`msroi.quality.metrics.all_metrics`; fewer metrics, faster sweep). Returns a
    pandas DataFrame with columns ``q``, ``bytes`` and one per metric, one row per quality,
    in the order given.
    """
    import pandas as pd

    rgb = np.asarray(rgb, dtype=np.uint8)
    if encode is None or isinstance(encode, EncoderOptions):
        encode = reference_encoder("jpeg", encode)
    rows = []
    for q in qualities:
        data = encode(rgb, int(q))
        dec = jpeg.decode(data)
        rows.append({"q": int(q), "bytes": len(data),
                     **all_metrics(rgb, dec, roi=roi, metrics=metrics, boxes=boxes)})
    return pd.DataFrame(rows)


def _curve(x, y):
    """Sort by x, drop non-finite points, average y over repeated x; returns arrays."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    ux, inv = np.unique(x, return_inverse=True)
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    return ux, uy


def at_equal_bytes(sweep_df, nbytes, metric: str):
    """Value of ``metric`` of the swept encoder at ``nbytes`` bytes.

    PCHIP (scipy ``PchipInterpolator``, monotone piecewise cubic) through the points
    (log(bytes), metric) of ``sweep_df`` (from :func:`standard_sweep`). Rows with a
    non-finite metric (e.g. PSNR ``inf``) are dropped; rows with the same byte count
    are averaged into one point. Returns a float (or an array for array ``nbytes``);
    NaN outside the swept byte range, or with fewer than two distinct byte counts.
    """
    from scipy.interpolate import PchipInterpolator

    if metric not in sweep_df.columns:
        raise MsroiError(f"metric {metric!r} is not in the sweep (columns: {', '.join(map(str, sweep_df.columns))})")
    bytes_ = np.asarray(sweep_df["bytes"], dtype=np.float64)
    if np.any(bytes_ <= 0):
        raise MsroiError("byte counts must be positive")
    x, y = _curve(np.log(bytes_), sweep_df[metric])
    q = np.log(np.asarray(nbytes, dtype=np.float64))
    if len(x) < 2:
        out = np.full(q.shape, np.nan)
    else:
        out = PchipInterpolator(x, y, extrapolate=False)(q)
    return float(out) if out.ndim == 0 else out


def delta_at_equal_bytes(sweep_df, nbytes: int, values: Mapping[str, float]) -> dict[str, float]:
    """``values[m] - at_equal_bytes(sweep_df, nbytes, m)`` for every metric m in both.

    Takes the sweep of the standard encoder, the byte count of the output under test and
    its metric values (e.g. from :func:`msroi.quality.metrics.all_metrics`); returns
    ``{"delta_<m>": difference}`` (output minus reference: positive is better for metrics
    that rise with quality, negative for Butteraugli; see
    :data:`msroi.quality.metrics.METRICS`). NaN outside the sweep range.
    """
    return {
        f"delta_{m}": float(v) - at_equal_bytes(sweep_df, nbytes, m)
        for m, v in values.items()
        if m in sweep_df.columns and m not in ("q", "bytes")
    }


def bd_rate(rate_a, dist_a, rate_b, dist_b) -> float:
    """Bjontegaard delta rate of curve B against curve A, in percent.

    Each curve is its rates (bytes or bits, > 0) and distortion/quality values (e.g.
    PSNR, higher is better). As Bjontegaard (VCEG-M33, 2001) with the piecewise cubic
    variant (VCEG-AL22 / JCTVC practice): log(rate) is interpolated as a function of
    quality by PCHIP on each curve (points sorted by quality, repeated qualities
    averaged), both are integrated over the overlapping quality range only, and
    ``100 * (exp(mean(log rate_B - log rate_A)) - 1)`` is returned. Negative means B
    needs fewer bytes for the same quality. NaN if a curve has fewer than 2 distinct
    points or the ranges do not overlap.
    """
    from scipy.interpolate import PchipInterpolator

    curves = []
    for rate, dist in ((rate_a, dist_a), (rate_b, dist_b)):
        rate = np.asarray(rate, dtype=np.float64)
        dist = np.asarray(dist, dtype=np.float64)
        if rate.shape != dist.shape:
            raise MsroiError("each curve needs as many rates as quality values")
        if np.any(rate <= 0):
            raise MsroiError("rates must be positive")
        d, lr = _curve(dist, np.log(rate))
        if len(d) < 2:
            return float("nan")
        curves.append((d, lr))
    (da, la), (db, lb) = curves
    lo, hi = max(da[0], db[0]), min(da[-1], db[-1])
    if not hi > lo:
        return float("nan")
    ia = PchipInterpolator(da, la).integrate(lo, hi)
    ib = PchipInterpolator(db, lb).integrate(lo, hi)
    return float(100.0 * (np.exp((ib - ia) / (hi - lo)) - 1.0))


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval: returns ``(mean, lo, hi)``.

    ``mean +- t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof=1). Non-finite values (NaN: not computable; inf: PSNR of identical
    images) are dropped. With one value the interval is ``(nan, nan)``; with none,
    everything is NaN.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size == 1:
        return m, float("nan"), float("nan")
    from scipy.stats import t

    half = float(t.ppf(0.5 + confidence / 2.0, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


__all__ = [
    "METRIC_NAMES",
    "at_equal_bytes",
    "bd_rate",
    "bracket_qualities",
    "reference_encoder",
    "sweep_for_bytes",
    "delta_at_equal_bytes",
    "mean_ci",
    "standard_sweep",
]
