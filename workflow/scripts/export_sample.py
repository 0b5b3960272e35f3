"""Glue: copy one bundled sample photo into the results tree."""

from msroi.pipeline.joblog import job_log
from msroi.samples import export_sample

with job_log(snakemake.log[0]):
    export_sample(snakemake.params.name, snakemake.output[0])
