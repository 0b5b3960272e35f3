"""Glue: one tidy metrics table with equal-bytes deltas, a per-setting summary, BD-rates."""

from msroi.pipeline.joblog import job_log
from msroi.pipeline.score import aggregate

with job_log(snakemake.log[0]):
    aggregate(snakemake.input.scores, snakemake.output.metrics, snakemake.output.summary,
              snakemake.input.sweeps, snakemake.output.bdrate)
