"""Compression stage: every method at every configured base quality for one image."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from msroi import files, settings
from msroi.codec import jpeg, original
from msroi.codec.jpeg import EncoderOptions
from msroi.files import write_csv


def compress_settings(
    image_path,
    map_path,
    settings: list[tuple[int, int, float]],
    out_paths: list,
    records_csv,
    image_id: str,
    source: str,
    options: EncoderOptions = EncoderOptions(),
    max_pixels: int = files.DEFAULT_MAX_PIXELS,
) -> pd.DataFrame:
    """Run the original compression for one image and map over many ``(selection_model,
    base_quality, threshold_pct)`` settings, sharing the quality ladder.

    Writes each output JPEG to the matching ``out_paths`` entry and one record per output
    (tagged with ``image_id`` and the map ``source``) to ``records_csv``; returns the records.
    """
    if len(settings) != len(out_paths):
        raise ValueError("one output path per setting is needed")
    rgb, meta = read_for_output(image_path, max_pixels)
    sal = files.read_map(map_path, rgb.shape[:2])
    selections = sorted({int(s[0]) for s in settings})
    levels = np.unique(np.concatenate([np.unique(original.selection_levels(sal, s)) for s in selections]))
    ladder = original.quality_ladder(rgb, options, levels)
    records = []
    for (selection, bq, t), out in zip(settings, out_paths):
        data, _, rec = original.compress_original(rgb, sal, selection, bq, t, options, ladder=ladder, metadata=meta)
        if not rec.fits_budget:
            print(f"msroi: {image_path}: no quality fits the budget of {rec.budget_bytes} bytes "
                  f"(base Q{bq}, +{t}%); wrote Q1 at {rec.bytes} bytes, flagged fits_budget=False", file=sys.stderr)
        files.write_bytes(out, data)
        records.append({"image": image_id, "map_source": source, **rec.as_dict(), "output": str(out)})
    return _write_records(records_csv, records)


def compress_semantic_settings(image_path, map_path, qualities: list[int], out_paths: list, records_csv,
                               image_id: str, source: str, options: EncoderOptions = EncoderOptions(optimize=True),
                               threshold_pct: float = 0.0, ratio: float = settings.RATIO,
                               smooth: float = settings.SMOOTH,
                               max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Run the semantic method (:func:`msroi.codec.semantic.compress_semantic`) for one image
    and map at the budget of each base quality. Writes the JPEGs and their records; returns
    the records."""
    from msroi.codec.semantic import check_options, compress_semantic

    check_options(options)
    rgb, meta = read_for_output(image_path, max_pixels)
    sal = files.read_map(map_path, rgb.shape[:2])
    records = []
    for bq, out in zip(qualities, out_paths):
        data, _, rec = compress_semantic(rgb, sal, bq, threshold_pct, ratio, smooth, options, metadata=meta)
        print(f"msroi: {image_id} base Q{bq}: {rec.bytes} of {rec.budget_bytes} bytes, table Q{rec.final_quality}",
              file=sys.stderr)
        if not rec.fits_budget:
            print(f"msroi: {image_path}: no setting fits the budget of {rec.budget_bytes} bytes (base Q{bq}); "
                  f"wrote {rec.bytes} bytes, flagged fits_budget=False", file=sys.stderr)
        files.write_bytes(out, data)
        records.append({"image": image_id, "map_source": source, **rec.as_dict(), "output": str(out)})
    return _write_records(records_csv, records)


def read_for_output(image_path, max_pixels: int = files.DEFAULT_MAX_PIXELS):
    """The image and the metadata the workflow's JPEGs carry: its ICC profile only (the
    colours need it; EXIF is left out of measured files). Returns ``(rgb, ImageMetadata)``."""
    rgb, meta = files.read_image(image_path, max_pixels, with_metadata=True)
    return rgb, meta.stripped()


def _write_records(records_csv, records: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    write_csv(records_csv, df)
    return df


def write_standard(image_path, qualities: list[int], out_paths: list, records_csv, image_id: str,
                   encoder_name: str = "jpeg", options: EncoderOptions = EncoderOptions(),
                   max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Encode the image with a standard encoder at each quality (:func:`msroi.codec.jpeg.encode_standard`:
    ``jpeg`` with ``options``, the comparison baselines; ``mozjpeg``, progressive or its
    sequential form as ``options.progressive``; or ``jpegli``). Writes the JPEGs and
    their records; returns the records."""
    rgb, meta = read_for_output(image_path, max_pixels)
    records = []
    for q, out in zip(qualities, out_paths):
        data, rec = jpeg.encode_standard(rgb, q, encoder_name, options, metadata=meta)
        files.write_bytes(out, data)
        records.append({"image": image_id, "map_source": "none", **rec.as_dict(), "output": str(out)})
    return _write_records(records_csv, records)
