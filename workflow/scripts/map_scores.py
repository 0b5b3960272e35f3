"""Glue: lift, AUC and pointing game of every map source on the evaluation boxes."""

from msroi.pipeline.joblog import job_log
from msroi.pipeline.maps import score_maps

with job_log(snakemake.log[0]):
    score_maps(snakemake.params.images, snakemake.params.maps, snakemake.params.roi, snakemake.output[0],
               snakemake.params.max_pixels)
