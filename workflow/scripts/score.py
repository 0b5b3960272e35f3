"""Glue: metrics for every output of one job."""

from msroi.pipeline.joblog import job_log
from msroi.pipeline.score import score_records

with job_log(snakemake.log[0]):
    score_records(snakemake.input.image, snakemake.input.records, snakemake.output[0],
                  snakemake.params.roi, snakemake.params.max_pixels)
