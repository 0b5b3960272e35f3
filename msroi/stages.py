"""The pipeline's stages as functions over paths (called by the CLI and the workflow's scripts).

Each stage reads plain files (images, PNG/NPY maps, JPEGs, CSVs), writes its outputs
atomically and returns what it wrote; nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import io as _io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import compress, encoder, io, priors
from .encoder import EncoderOptions
from .errors import MsroiError

_UNSAFE = re.compile(r"[^\w.+-]+", re.UNICODE)


def image_ids(paths) -> dict[str, Path]:
    """Map each input image to a unique id usable as a file name.

    The id is the file's stem with runs of characters other than letters, digits, ``.``,
    ``_``, ``+``, ``-`` replaced by ``_`` (so spaces and shell metacharacters never reach a
    path, and no id contains a path separator); when two inputs share an id (``a.png``,
    ``a.jpg``) each gets its suffix appended (``a_png``, ``a_jpg``). Returns id -> path,
    sorted by id.
    """
    paths = [Path(p) for p in paths]

    def clean(s: str) -> str:
        s = _UNSAFE.sub("_", s).strip("._") or "image"
        return s

    stems = [clean(p.stem) for p in paths]
    ids = {}
    for p, s in zip(paths, stems):
        key = s if stems.count(s) == 1 else clean(f"{p.stem}_{p.suffix.lstrip('.')}")
        n, base = 2, key
        while key in ids:
            key, n = f"{base}_{n}", n + 1
        ids[key] = p
    return dict(sorted(ids.items()))


def check_images(images: dict[str, Path], out_csv, max_pixels: int = io.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Decode every image once; write a table (id, path, ok, width, height, error) to ``out_csv``.

    Bad files do not raise: each is reported on stderr in one line and recorded with
    ok=False, so the rest of the pipeline runs on the good ones.
    """
    rows = []
    for i, (key, path) in enumerate(images.items(), 1):
        try:
            rgb = io.read_image(path, max_pixels)
            rows.append({"id": key, "path": str(path), "ok": True, "width": rgb.shape[1], "height": rgb.shape[0], "error": ""})
        except MsroiError as e:
            print(f"msroi: skipping {e}", file=sys.stderr)
            rows.append({"id": key, "path": str(path), "ok": False, "width": 0, "height": 0, "error": e.problem if hasattr(e, "problem") else str(e)})
        print(f"[{i}/{len(images)}] checked {path}", file=sys.stderr)
    df = pd.DataFrame(rows, columns=["id", "path", "ok", "width", "height", "error"])
    write_csv(out_csv, df)
    return df


def write_csv(path, df: pd.DataFrame) -> None:
    """Write a DataFrame as CSV atomically (no index)."""
    buf = _io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    io.write_text(path, buf.getvalue())


def make_prior_map(image_path, source: str, out_path, max_pixels: int = io.DEFAULT_MAX_PIXELS, sigma: float = 0.25) -> Path:
    """Write the ``source`` prior map ('uniform'/'center') at the image's size as a 16-bit PNG."""
    rgb = io.read_image(image_path, max_pixels)
    m = priors.prior_map(source, rgb.shape[:2], sigma)
    save_map_png(out_path, m)
    return Path(out_path)


def copy_user_map(image_path, maps_dir, stem: str, out_path, max_pixels: int = io.DEFAULT_MAX_PIXELS) -> Path:
    """Write the user's map for ``stem`` from ``maps_dir``, resized to the image, as a 16-bit PNG."""
    rgb = io.read_image(image_path, max_pixels)
    save_map_png(out_path, priors.file_map(maps_dir, stem, rgb.shape[:2]))
    return Path(out_path)


def save_map_png(path, m: np.ndarray) -> None:
    """Save a map in [0, 1] as a 16-bit greyscale PNG (values outside are clipped)."""
    io.save_png(path, np.rint(np.clip(m, 0.0, 1.0) * 65535.0).astype(np.uint16))


def compress_settings(
    image_path,
    map_path,
    selection: int,
    settings: list[tuple[int, float]],
    out_paths: list,
    records_csv,
    image_id: str,
    source: str,
    options: EncoderOptions = EncoderOptions(),
    max_pixels: int = io.DEFAULT_MAX_PIXELS,
) -> pd.DataFrame:
    """Run the original compression for one image, map and selection model over many
    ``(base_quality, threshold_pct)`` settings, sharing the quality ladder.

    Writes each output JPEG to the matching ``out_paths`` entry and one record per output
    (tagged with ``image_id`` and the map ``source``) to ``records_csv``; returns the records.
    """
    if len(settings) != len(out_paths):
        raise ValueError("one output path per setting is needed")
    rgb = io.read_image(image_path, max_pixels)
    sal = io.read_map(map_path, rgb.shape[:2])
    ladder = compress.quality_ladder(rgb, options, np.unique(compress.selection_levels(sal, selection)))
    records = []
    for (bq, t), out in zip(settings, out_paths):
        data, _, rec = compress.compress_original(rgb, sal, selection, bq, t, options, ladder=ladder)
        if not rec["fits_budget"]:
            print(f"msroi: {image_path}: no quality fits the budget of {rec['budget_bytes']} bytes "
                  f"(base Q{bq}, +{t}%); wrote Q1 at {rec['bytes']} bytes, flagged fits_budget=False", file=sys.stderr)
        io.write_bytes(out, data)
        records.append({"image": image_id, "map_source": source, **rec, "output": str(out)})
    return _write_records(records_csv, records)


def compress_semantic_settings(image_path, map_path, qualities: list[int], out_paths: list, records_csv,
                               image_id: str, source: str, options: EncoderOptions = EncoderOptions(optimize=True),
                               threshold_pct: float = 0.0, ratio: float = 6.0, smooth: float = 64.0,
                               max_pixels: int = io.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Run the semantic method (:func:`msroi.allocate.encode_semantic`) for one image and map at
    the budget of each base quality (standard JPEG with ``options`` at that quality, plus
    ``threshold_pct``). Writes the JPEGs and their records; returns the records."""
    from .allocate import encode_semantic

    rgb = io.read_image(image_path, max_pixels)
    sal = io.read_map(map_path, rgb.shape[:2])
    records = []
    for bq, out in zip(qualities, out_paths):
        base = len(encoder.encode(rgb, bq, options))
        budget = compress.budget_bytes(base, threshold_pct)
        data, info = encode_semantic(rgb, sal, budget, ratio=ratio, smooth=smooth)
        print(f"msroi: {image_id} base Q{bq}: {len(data)} of {budget} bytes, table Q{info['table_quality']}, "
              f"{info['seconds']:.2f} s", file=sys.stderr)  # timings go to the job log, not the tables
        if not info["fits"]:
            print(f"msroi: {image_path}: no setting fits the budget of {budget} bytes (base Q{bq}); "
                  f"wrote {len(data)} bytes, flagged fits_budget=False", file=sys.stderr)
        io.write_bytes(out, data)
        records.append({"image": image_id, "map_source": source, "method": "semantic", "selection": 0,
                        "base_quality": bq, "threshold_pct": threshold_pct, "bytes": len(data),
                        "final_quality": info["table_quality"], "base_bytes": base, "budget_bytes": budget,
                        "fits_budget": bool(info["fits"]), "width": rgb.shape[1], "height": rgb.shape[0],
                        "subsampling": "4:2:0", "optimize": True, "progressive": False, "output": str(out)})
    return _write_records(records_csv, records)


def _write_records(records_csv, records: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    write_csv(records_csv, df)
    return df


def write_standard(image_path, qualities: list[int], out_paths: list, records_csv, image_id: str,
                   encoder_name: str = "jpeg", options: EncoderOptions = EncoderOptions(),
                   max_pixels: int = io.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Encode the image with a standard encoder at each quality: ``jpeg`` (libjpeg-turbo via
    Pillow with ``options``: the comparison baselines) or ``jpegli`` (pyjpegli, 4:2:0, its own
    defaults). Writes the JPEGs and their records; returns the records."""
    rgb = io.read_image(image_path, max_pixels)
    records = []
    for q, out in zip(qualities, out_paths):
        data = encoder.encode(rgb, q, options) if encoder_name == "jpeg" else encoder.encode_jpegli(rgb, q)
        io.write_bytes(out, data)
        records.append({"image": image_id, "map_source": "none", "method": encoder_name, "selection": 0,
                        "base_quality": q, "threshold_pct": 0.0, "bytes": len(data), "final_quality": q,
                        "fits_budget": True, "width": rgb.shape[1], "height": rgb.shape[0],
                        **(options.as_dict() if encoder_name == "jpeg" else {"subsampling": "4:2:0"}),
                        "output": str(out)})
    return _write_records(records_csv, records)


def score_records(image_path, records_csv, out_csv, roi_path="", max_pixels: int = io.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Score every output listed in ``records_csv`` (all of one image) against the image.

    Returns (and writes to ``out_csv``) the records joined with bytes, bpp and all metrics,
    plus ROI metrics when ``roi_path`` gives a region for this image; one row per output.
    """
    from .metrics import all_metrics

    ref = io.read_image(image_path, max_pixels)
    records = pd.read_csv(records_csv, keep_default_na=False)
    roi = load_image_roi(roi_path, str(records["image"].iloc[0]), ref.shape[:2]) if len(records) else None
    h, w = ref.shape[:2]
    rows = []
    for rec in records.to_dict("records"):
        data = Path(rec["output"]).read_bytes()
        rows.append({**rec, "bytes": len(data), "bpp": 8.0 * len(data) / (h * w),
                     **all_metrics(ref, encoder.decode(data), roi)})
    df = pd.DataFrame(rows)
    write_csv(out_csv, df)
    return df


def load_image_roi(roi_path, image_id: str, shape) -> np.ndarray | None:
    """The evaluation ROI of one image, as weights in [0, 1] at ``shape``, or None.

    ``roi_path`` is a boxes file (CSV/JSON with boxes per image) or a directory of masks /
    weight maps named ``{image_id}.png`` (or ``.npy``). None when it is empty or has no
    region for this image.
    """
    if not roi_path:
        return None
    from .roi import boxes_for, load_roi, read_boxes

    roi_path = Path(roi_path)
    if roi_path.is_dir():
        found = [roi_path / f"{image_id}{s}" for s in priors.MAP_SUFFIXES if (roi_path / f"{image_id}{s}").is_file()]
        return load_roi(found[0], shape) if found else None
    if roi_path.suffix.lower() in (".csv", ".json") and not boxes_for(read_boxes(roi_path), image_id):
        return None
    return load_roi(roi_path, shape, image=image_id)


def sweep_image(image_path, out_csv, image_id: str, options: EncoderOptions = EncoderOptions(), roi_path="",
                qualities=range(1, 101), max_pixels: int = io.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Standard JPEG of one image at every quality in ``qualities``, scored with every metric
    (and ROI metrics when a ROI is configured): the curve outputs are compared with at equal bytes."""
    from .evaluate import standard_sweep

    rgb = io.read_image(image_path, max_pixels)
    roi = load_image_roi(roi_path, image_id, rgb.shape[:2])
    df = standard_sweep(rgb, options, qualities, roi=roi)
    df.insert(0, "image", image_id)
    write_csv(out_csv, df)
    return df


#: Columns that identify a setting; everything numeric outside them is summarised.
SETTING_COLUMNS = ["method", "map_source", "selection", "base_quality", "threshold_pct"]
#: Columns of a row that are neither settings nor measurements.
_NOT_SUMMARISED = {"image", "output", "width", "height", "fits_budget", "optimize", "progressive", "subsampling"}


def add_equal_bytes(metrics: pd.DataFrame, sweeps: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Add, for every row and metric m, ``jpeg_<m>`` (standard JPEG's m at exactly the row's
    byte count, from the image's sweep) and ``delta_<m>`` (row minus that)."""
    from .evaluate import at_equal_bytes

    names = [c for c in next(iter(sweeps.values())).columns if c not in ("image", "q", "bytes")]
    out = metrics.copy()
    for m in names:
        eq = np.full(len(metrics), np.nan)
        for image, rows in metrics.groupby("image").indices.items():
            if image in sweeps:  # one interpolation per image and metric, at all its byte counts
                eq[rows] = at_equal_bytes(sweeps[image], metrics["bytes"].to_numpy()[rows], m)
        out[f"jpeg_{m}"] = eq
        out[f"delta_{m}"] = out[m].to_numpy(dtype=float) - eq
    return out


#: The semantic method with a uniform map: the same encoder as the semantic method, without
#: semantics. Semantic settings are also compared with it, so that the semantic part of the
#: gain is not an encoder gain in disguise.
SAME_ENCODER = "semantic uniform"


def bd_rates(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per image and setting (all but the base quality), the BD-rate in percent over the
    configured base qualities, for every metric, against ``reference``: "jpeg" (the
    standard JPEG baselines) for every setting, and :data:`SAME_ENCODER` for the semantic
    method with other maps (when the uniform map was run)."""
    from .evaluate import bd_rate

    names = [c[len("delta_"):] for c in metrics.columns if c.startswith("delta_")] or [
        c for c in ("psnr", "ssim", "msssim", "vifp", "psnrhvs", "psnrhvsm") if c in metrics.columns]
    keys = ["method", "map_source", "selection", "threshold_pct"]
    rows = []
    for image, per_image in metrics.groupby("image"):
        refs = {"jpeg": per_image[per_image["method"] == "jpeg"]}
        uniform = per_image[(per_image["method"] == "semantic") & (per_image["map_source"] == "uniform")]
        for setting, g in per_image[per_image["method"] != "jpeg"].groupby(keys, dropna=False):
            pairs = [("jpeg", refs["jpeg"])]
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
    from .evaluate import mean_ci

    rows = []
    for key, g in df.groupby(by, dropna=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["n_images"] = g["image"].nunique()
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
    given), ``summary_csv`` (per setting: means over images, 95% intervals for the deltas,
    size relative to the baseline) and ``bdrate_csv`` (per setting: mean BD-rate per metric
    with 95% intervals). Returns the three tables."""
    frames = [pd.read_csv(p) for p in score_csvs]
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if metrics.empty:
        raise MsroiError("no scores to aggregate: every input image was rejected (see results/inputs.csv)")
    base = metrics[metrics["method"] == "jpeg"].set_index(["image", "base_quality"])["bytes"]
    key = pd.MultiIndex.from_frame(metrics[["image", "base_quality"]])
    metrics["bytes_vs_base"] = metrics["bytes"].to_numpy() / base.reindex(key).to_numpy() - 1.0
    sweeps = {}
    for p in sweep_csvs:
        df = pd.read_csv(p)
        sweeps[str(df["image"].iloc[0])] = df
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
