"""Glue: MSROI maps, overlays and top-k classes for every good image, model loaded once."""
from pathlib import Path

from msroi.errors import MsroiError
from msroi.pipeline.joblog import job_log
from msroi.saliency.maps import map_images

out = Path(snakemake.output[0])
ids = snakemake.params.ids
with job_log(snakemake.log[0]):
    statuses = map_images(
        snakemake.input.images,
        model=snakemake.input.model,
        short_side=snakemake.params.short_side,
        top_k=snakemake.params.top_k,
        last_weight=snakemake.params.last_weight,
        map_paths=[out / f"{i}.png" for i in ids],
        overlay_paths=[out / f"{i}_overlay.png" for i in ids],
        json_paths=[out / f"{i}.json" for i in ids],
        max_pixels=snakemake.params.max_pixels,
    )
    failed = [s for s in statuses if not s["ok"]]
    if failed:
        raise MsroiError(f"{len(failed)} images failed to map: " + "; ".join(s["error"] for s in failed))
