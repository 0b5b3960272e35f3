"""Glue: take the user's map for one image from maps_dir."""
from contextlib import redirect_stderr

from msroi.pipeline.maps import copy_user_map

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    copy_user_map(snakemake.input.image, snakemake.params.maps_dir, snakemake.wildcards.image,
                  snakemake.output[0], snakemake.params.max_pixels)
