"""Glue: metrics for every output of one job."""
from contextlib import redirect_stderr

from msroi.pipeline.score import score_records

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    score_records(snakemake.input.image, snakemake.input.records, snakemake.output[0],
                  snakemake.params.roi, snakemake.params.max_pixels)
