"""Glue: take the user's map for one image from maps_dir."""

from msroi.pipeline.joblog import job_log
from msroi.pipeline.maps import copy_user_map

with job_log(snakemake.log[0]):
    copy_user_map(snakemake.input.image, snakemake.params.maps_dir, snakemake.wildcards.image,
                  snakemake.output[0], snakemake.params.max_pixels)
