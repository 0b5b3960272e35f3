"""Glue: one tidy metrics table with equal-bytes deltas, a per-setting summary, BD-rates."""
from contextlib import redirect_stderr

from msroi.pipeline.score import aggregate

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    aggregate(snakemake.input.scores, snakemake.output.metrics, snakemake.output.summary,
              snakemake.input.sweeps, snakemake.output.bdrate)
