"""Glue: write a prior map (uniform or centre) for one image."""
from contextlib import redirect_stderr

from msroi.pipeline.maps import make_prior_map

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    make_prior_map(snakemake.input.image, snakemake.wildcards.source, snakemake.output[0],
                   snakemake.params.max_pixels, snakemake.params.sigma)
