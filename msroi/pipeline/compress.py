"""Compression stage: every method at every configured base quality for one image."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from msroi import files
from msroi.codec import jpeg, original, rate
from msroi.codec.jpeg import EncoderOptions
from msroi.files import write_csv


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
    max_pixels: int = files.DEFAULT_MAX_PIXELS,
) -> pd.DataFrame:
    """Run the original compression for one image, map and selection model over many
    ``(base_quality, threshold_pct)`` settings, sharing the quality ladder.

    Writes each output JPEG to the matching ``out_paths`` entry and one record per output
    (tagged with ``image_id`` and the map ``source``) to ``records_csv``; returns the records.
    """
    if len(settings) != len(out_paths):
        raise ValueError("one output path per setting is needed")
    rgb = files.read_image(image_path, max_pixels)
    sal = files.read_map(map_path, rgb.shape[:2])
    ladder = original.quality_ladder(rgb, options, np.unique(original.selection_levels(sal, selection)))
    records = []
    for (bq, t), out in zip(settings, out_paths):
        data, _, rec = original.compress_original(rgb, sal, selection, bq, t, options, ladder=ladder)
        if not rec["fits_budget"]:
            print(f"msroi: {image_path}: no quality fits the budget of {rec['budget_bytes']} bytes "
                  f"(base Q{bq}, +{t}%); wrote Q1 at {rec['bytes']} bytes, flagged fits_budget=False", file=sys.stderr)
        files.write_bytes(out, data)
        records.append({"image": image_id, "map_source": source, **rec, "output": str(out)})
    return _write_records(records_csv, records)



def compress_semantic_settings(image_path, map_path, qualities: list[int], out_paths: list, records_csv,
                               image_id: str, source: str, options: EncoderOptions = EncoderOptions(optimize=True),
                               threshold_pct: float = 0.0, ratio: float = 6.0, smooth: float = 64.0,
                               max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Run the semantic method (:func:`msroi.codec.semantic.encode_semantic`) for one image and map at
    the budget of each base quality (standard JPEG with ``options`` at that quality, plus
    ``threshold_pct``). Writes the JPEGs and their records; returns the records."""
    from msroi.codec.semantic import encode_semantic

    rgb = files.read_image(image_path, max_pixels)
    sal = files.read_map(map_path, rgb.shape[:2])
    records = []
    for bq, out in zip(qualities, out_paths):
        base = len(jpeg.encode(rgb, bq, options))
        budget = rate.budget_bytes(base, threshold_pct)
        data, info = encode_semantic(rgb, sal, budget, ratio=ratio, smooth=smooth)
        print(f"msroi: {image_id} base Q{bq}: {len(data)} of {budget} bytes, table Q{info['table_quality']}, "
              f"{info['seconds']:.2f} s", file=sys.stderr)  # timings go to the job log, not the tables
        if not info["fits"]:
            print(f"msroi: {image_path}: no setting fits the budget of {budget} bytes (base Q{bq}); "
                  f"wrote {len(data)} bytes, flagged fits_budget=False", file=sys.stderr)
        files.write_bytes(out, data)
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
                   max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Encode the image with a standard encoder at each quality: ``jpeg`` (libjpeg-turbo via
    Pillow with ``options``: the comparison baselines), ``mozjpeg`` (its defaults, progressive
    or its sequential form as ``options.progressive``) or ``jpegli`` (pyjpegli, 4:2:0, its own
    defaults). Writes the JPEGs and their records; returns the records."""
    encode = {"jpeg": lambda rgb, q: jpeg.encode(rgb, q, options), "jpegli": jpeg.encode_jpegli,
              "mozjpeg": lambda rgb, q: jpeg.encode_mozjpeg(rgb, q, options.progressive)}[encoder_name]
    writer = {"jpeg": options.as_dict(), "jpegli": {"subsampling": "4:2:0"},
              "mozjpeg": {"subsampling": "4:2:0", "optimize": True, "progressive": options.progressive}}[encoder_name]
    rgb = files.read_image(image_path, max_pixels)
    records = []
    for q, out in zip(qualities, out_paths):
        data = encode(rgb, q)
        files.write_bytes(out, data)
        records.append({"image": image_id, "map_source": "none", "method": encoder_name, "selection": 0,
                        "base_quality": q, "threshold_pct": 0.0, "bytes": len(data), "final_quality": q,
                        "fits_budget": True, "width": rgb.shape[1], "height": rgb.shape[0], **writer,
                        "output": str(out)})
    return _write_records(records_csv, records)
