"""Glue: one tidy metrics table and a per-setting summary."""
from contextlib import redirect_stderr

from msroi.stages import aggregate

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    aggregate(snakemake.input, snakemake.output.metrics, snakemake.output.summary)
