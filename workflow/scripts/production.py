"""Glue: compress one chunk of images into the output tree and write its table."""
from contextlib import redirect_stderr

from msroi.pipeline.batch import compress_chunk

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    compress_chunk(snakemake.params.pairs, snakemake.params.settings, snakemake.output[0])
