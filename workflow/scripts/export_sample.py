"""Glue: copy one bundled sample photo into the results tree."""
from contextlib import redirect_stderr

from msroi.samples import export_sample

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    export_sample(snakemake.params.name, snakemake.output[0])
