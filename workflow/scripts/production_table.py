"""Glue: the per-image table of a production run from its chunk tables."""
from contextlib import redirect_stderr

from msroi.pipeline.batch import merge_tables

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    merge_tables(snakemake.input, snakemake.output[0])
