"""Glue: write a prior map (uniform or centre) for one image."""

from msroi.pipeline.joblog import job_log
from msroi.pipeline.maps import make_prior_map

with job_log(snakemake.log[0]):
    make_prior_map(snakemake.input.image, snakemake.wildcards.source, snakemake.output[0],
                   snakemake.params.max_pixels, snakemake.params.sigma)
