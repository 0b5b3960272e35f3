"""Scoring stage: metrics per output, the reference sweep, and the aggregated tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from msroi import files, settings
from msroi.codec import jpeg
from msroi.codec.jpeg import EncoderOptions
from msroi.errors import MsroiError
from msroi.files import write_csv
from msroi.saliency import priors


def score_records(image_path, records_csv, out_csv, roi_path="", max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Score every output listed in ``records_csv`` (all of one image) against the image.

    Returns (and writes to ``out_csv``) the records joined with bytes, bpp and all metrics,
    plus ROI metrics when ``roi_path`` gives a region for this image (and ``roi_fraction``,
    the ROI's mean weight: the share of the frame a mask covers); one row per output.
    """
    from msroi.quality.metrics import all_metrics

    ref = files.read_image(image_path, max_pixels)
    records = pd.read_csv(records_csv, keep_default_na=False)
    image_id = str(records["image"].iloc[0]) if len(records) else ""
    roi = load_image_roi(roi_path, image_id, ref.shape[:2]) if len(records) else None
    boxes = image_boxes(roi_path, image_id) if roi is not None else None
    h, w = ref.shape[:2]
    roi_fraction = float(roi.mean()) if roi is not None else float("nan")
    rows = []
    for rec in records.to_dict("records"):
        data = Path(rec["output"]).read_bytes()
        rows.append({**rec, "bytes": len(data), "bpp": 8.0 * len(data) / (h * w), "roi_fraction": roi_fraction,
                     **all_metrics(ref, jpeg.decode(data), roi, boxes=boxes)})
    df = pd.DataFrame(rows)
    write_csv(out_csv, df)
    return df


def image_boxes(roi_path, image_id: str) -> list | None:
    """The ROI boxes of one image when ``roi_path`` is a boxes file (CSV/JSON), else None
    (a mask ROI is then scored on its bounding box)."""
    from msroi.quality.roi import BOX_SUFFIXES, read_boxes

    if not roi_path or Path(roi_path).suffix.lower() not in BOX_SUFFIXES:
        return None
    return read_boxes(roi_path).get(image_id) or None


def load_image_roi(roi_path, image_id: str, shape) -> np.ndarray | None:
    """The evaluation ROI of one image, as weights in [0, 1] at ``shape``, or None.

    ``roi_path`` is a boxes file (CSV/JSON with boxes per image) or a directory of masks /
    weight maps named ``{image_id}.png`` (or ``.npy``). None when it is empty or has no
    region for this image.
    """
    if not roi_path:
        return None
    from msroi.quality.roi import boxes_for, load_roi, read_boxes

    roi_path = Path(roi_path)
    if roi_path.is_dir():
        found = files.find_by_stem(roi_path, image_id, priors.MAP_SUFFIXES)
        return load_roi(found, shape) if found else None
    if roi_path.suffix.lower() in (".csv", ".json"):
        boxes = read_boxes(roi_path)  # a bad file raises, naming it
        try:
            if not boxes_for(boxes, image_id):
                return None
        except MsroiError:  # the file has no entry for this image
            return None
    return load_roi(roi_path, shape, image=image_id)


def sweep_image(image_path, out_csv, image_id: str, options: EncoderOptions = EncoderOptions(), roi_path="",
                qualities=range(1, 101), max_pixels: int = files.DEFAULT_MAX_PIXELS, encoder: str = "jpeg",
                records=(), known=None, tolerance: float = settings.SWEEP_TOLERANCE) -> pd.DataFrame:
    """The reference curve of one image for ``encoder`` (``jpeg`` or ``mozjpeg``, see
    :func:`msroi.quality.rd.reference_encoder`), scored with every metric (and ROI metrics
    when a ROI is configured): with ``records`` (CSV files listing the outputs of this image),
    the qualities :func:`msroi.quality.rd.bracket_qualities` chooses for their byte counts
    with ``tolerance``; otherwise every quality in ``qualities``.
    ``known``: the score CSV of this encoder's own outputs (scored at their base qualities,
    not scored again). Byte counts include the metadata every output of the image carries
    (its ICC profile), so that outputs and the curve are compared as the files they are.
    Writes and returns columns ``image``, ``encoder``, ``q``, ``bytes`` and the metrics."""
    from msroi.pipeline.compress import read_for_output
    from msroi.quality.rd import reference_encoder, standard_sweep, sweep_for_bytes

    rgb, meta = read_for_output(image_path, max_pixels)
    roi = load_image_roi(roi_path, image_id, rgb.shape[:2])
    extra = len(files.metadata_segments(meta))
    boxes = image_boxes(roi_path, image_id) if roi is not None else None
    encode = reference_encoder(encoder, options)
    if records:
        targets = pd.concat([pd.read_csv(p, usecols=["bytes"]) for p in records])["bytes"] - extra
        scored = None
        if known:
            scored = pd.read_csv(known)
            scored = scored[scored["method"] == encoder].rename(columns={"base_quality": "q"})
            scored = scored[["q", "bytes", *metric_columns(scored)]].assign(bytes=lambda d: d["bytes"] - extra)
        df = sweep_for_bytes(rgb, encode, targets, roi=roi, boxes=boxes, known=scored, tolerance=tolerance)
    else:
        df = standard_sweep(rgb, encode, qualities, roi=roi, boxes=boxes)
    df["bytes"] += extra
    df.insert(0, "encoder", encoder)
    df.insert(0, "image", image_id)
    write_csv(out_csv, df)
    return df


#: Columns that identify a setting; everything numeric outside them is summarised.
SETTING_COLUMNS = ["method", "map_source", "selection", "base_quality", "threshold_pct"]


#: Columns of a row that are neither settings nor measurements.
_NOT_SUMMARISED = {"image", "output", "width", "height", "fits_budget", "optimize", "progressive", "subsampling",
                   "ratio", "smooth", "metadata_bytes", "roi_fraction"}


#: The reference encoders every setting is compared with: libjpeg-turbo and mozjpeg.
REFERENCES = ("jpeg", "mozjpeg")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns of ``df`` (whole image, then ``roi_``), in the order of
    :data:`msroi.quality.metrics.METRICS`."""
    from msroi.quality.metrics import METRIC_NAMES

    return [p + m for p in ("", "roi_") for m in METRIC_NAMES if p + m in df.columns]


def delta_column(reference: str, column: str) -> str:
    """Name of the equal-bytes difference column: ``delta_<m>`` against libjpeg-turbo,
    ``delta_<reference>_<m>`` against another reference."""
    return f"delta_{column}" if reference == "jpeg" else f"delta_{reference}_{column}"


def add_equal_bytes(metrics: pd.DataFrame, sweeps: dict[str, dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Add, for every row, reference (``sweeps``: encoder -> image -> sweep) and metric m,
    ``<encoder>_<m>`` (the reference's m at exactly the row's byte count) and
    :func:`delta_column` (row minus that)."""
    from msroi.quality.rd import at_equal_bytes

    out = metrics.copy()
    for encoder, per_image in sweeps.items():
        if not per_image:
            continue
        names = [m for m in metric_columns(next(iter(per_image.values()))) if m in metrics.columns]
        for m in names:
            eq = np.full(len(metrics), np.nan)
            for image, rows in metrics.groupby("image").indices.items():
                if image in per_image:  # one interpolation per image and metric, at all its byte counts
                    eq[rows] = at_equal_bytes(per_image[image], metrics["bytes"].to_numpy()[rows], m)
            out[f"{encoder}_{m}"] = eq
            out[delta_column(encoder, m)] = out[m].to_numpy(dtype=float) - eq
    return out


#: The semantic method with a uniform map: the same encoder as the semantic method, without
#: semantics. Semantic settings are also compared with it, so that the semantic part of the
#: gain is not an encoder gain in disguise.
SAME_ENCODER = "semantic uniform"


def bd_rates(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per image and setting (all but the base quality), the BD-rate in percent over the
    configured base qualities, for every metric, against ``reference``: each of
    :data:`REFERENCES` that was run (its outputs at the base qualities, in the same
    sequential/progressive mode as the baselines), and :data:`SAME_ENCODER` for the semantic
    method with other maps (when the uniform map was run)."""
    from msroi.quality.rd import bd_rate

    names = metric_columns(metrics)
    keys = ["method", "map_source", "selection", "threshold_pct"]
    rows = []
    for image, per_image in metrics.groupby("image"):
        refs = {r: per_image[per_image["method"] == r] for r in REFERENCES}
        uniform = per_image[(per_image["method"] == "semantic") & (per_image["map_source"] == "uniform")]
        for setting, g in per_image.groupby(keys, dropna=False):
            pairs = [(r, ref) for r, ref in refs.items() if len(ref) and r != setting[0]]
            if setting[0] == "semantic" and setting[1] != "uniform":
                same = uniform[uniform["threshold_pct"] == setting[3]]
                if len(same) >= 2:
                    pairs.append((SAME_ENCODER, same))
            for name, ref in pairs:
                row = {"image": image, **dict(zip(keys, setting)), "reference": name, "n_points": len(g)}
                for m in names:
                    row[f"bdrate_{m}"] = bd_rate(ref["bytes"], ref[m], g["bytes"], g[m])
                rows.append(row)
    return pd.DataFrame(rows)


def _with_ci(df: pd.DataFrame, by: list[str], columns: list[str]) -> pd.DataFrame:
    """Per group of ``by``: the number of images, and mean (with 95% interval for deltas and
    BD-rates) of each column over its finite values; ``n_skipped`` counts the non-finite
    values left out (NaN: metric not computable; inf: identical images), each reported on
    stderr by column."""
    import sys

    from msroi.quality.rd import mean_ci

    rows = []
    for key, g in df.groupby(by, dropna=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n_images"] = g["image"].nunique()
        skipped = {c: int((~np.isfinite(g[c].to_numpy(dtype=float))).sum()) for c in columns}
        row["n_skipped"] = sum(skipped.values())
        if row["n_skipped"]:
            counts = ", ".join(f"{c} {n}" for c, n in skipped.items() if n)
            print(f"msroi: {dict(zip(by, row.values()))}: non-finite values left out of the means: {counts}",
                  file=sys.stderr)
        for c in columns:
            mean, lo, hi = mean_ci(g[c])
            row[c] = mean
            if c.startswith(("delta_", "bdrate_")):
                row[f"{c}_ci_lo"], row[f"{c}_ci_hi"] = lo, hi
            if c == "bytes_vs_base":
                row[f"{c}_max"] = g[c].max()
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate(score_csvs, metrics_csv, summary_csv, sweep_csvs=(), bdrate_csv=None):
    """Concatenate per-job score tables into ``metrics_csv`` (one tidy row per output, with
    equal-bytes deltas against each image's standard-JPEG sweep when ``sweep_csvs`` are
    given: one CSV per image and reference encoder), ``summary_csv`` (per setting: means over
    images, 95% intervals for the deltas,
    size relative to the baseline) and ``bdrate_csv`` (per setting: mean BD-rate per metric
    with 95% intervals). Returns the three tables."""
    frames = [pd.read_csv(p) for p in score_csvs]
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if metrics.empty:
        raise MsroiError("no scores to aggregate: every input image was rejected (see results/inputs.csv)")
    base = metrics[metrics["method"] == "jpeg"].set_index(["image", "base_quality"])["bytes"]
    key = pd.MultiIndex.from_frame(metrics[["image", "base_quality"]])
    metrics["bytes_vs_base"] = metrics["bytes"].to_numpy() / base.reindex(key).to_numpy() - 1.0
    sweeps: dict[str, dict[str, pd.DataFrame]] = {}
    for p in sweep_csvs:
        df = pd.read_csv(p)
        encoder = str(df["encoder"].iloc[0]) if "encoder" in df.columns else "jpeg"
        sweeps.setdefault(encoder, {})[str(df["image"].iloc[0])] = df
    if sweeps:
        metrics = add_equal_bytes(metrics, sweeps)
    metrics = metrics.sort_values(SETTING_COLUMNS + ["image"], kind="stable").reset_index(drop=True)
    numeric = [c for c in metrics.columns if c not in SETTING_COLUMNS and c not in _NOT_SUMMARISED
               and pd.api.types.is_numeric_dtype(metrics[c])]
    summary = _with_ci(metrics, SETTING_COLUMNS, numeric)
    write_csv(metrics_csv, metrics)
    write_csv(summary_csv, summary)
    bd = bd_rates(metrics)
    bd_summary = _with_ci(bd, ["method", "map_source", "selection", "threshold_pct", "reference"],
                          [c for c in bd.columns if c.startswith("bdrate_")]) if not bd.empty else bd
    if bdrate_csv is not None:
        write_csv(bdrate_csv, bd_summary)
    return metrics, summary, bd_summary


def compare_files(reference, distorted, roi=None, roi_kind: str = "auto", metrics=None) -> dict[str, float]:
    """Metrics of two image files; what ``msroi metrics REFERENCE DISTORTED [--roi FILE]`` runs.

    Reads both with :func:`msroi.files.read_image`; ``roi`` is an optional path read by
    :func:`msroi.quality.roi.load_roi` at the reference's size (a boxes file is looked up by the
    reference's file name or stem). Returns :func:`msroi.quality.metrics.all_metrics`. Raises
    :class:`~msroi.errors.InputError` / :class:`MsroiError` with one-line messages.
    """
    from msroi.errors import InputError
    from msroi.files import read_image
    from msroi.quality.metrics import all_metrics

    a = read_image(reference)
    b = read_image(distorted)
    if a.shape != b.shape:
        raise InputError(distorted, f"is {b.shape[1]}x{b.shape[0]} but the reference {Path(reference).name} is "
                                    f"{a.shape[1]}x{a.shape[0]}")
    w = boxes = None
    if roi is not None:
        from msroi.quality.roi import BOX_SUFFIXES, boxes_for, load_roi, read_boxes

        w = load_roi(roi, a.shape[:2], image=Path(reference).name, kind=roi_kind)
        if roi_kind == "boxes" or (roi_kind == "auto" and Path(roi).suffix.lower() in BOX_SUFFIXES):
            boxes = boxes_for(read_boxes(roi), Path(reference).name)
    return all_metrics(a, b, w, metrics=metrics, boxes=boxes)
