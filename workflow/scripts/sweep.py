"""Glue: standard JPEG at Q1..100 for one image, every metric (the equal-bytes reference curve)."""

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.score import sweep_image

with job_log(snakemake.log[0]):
    sweep_image(snakemake.input.image, snakemake.output[0], snakemake.wildcards.image,
                EncoderOptions(**snakemake.params.encoder), snakemake.params.roi,
                max_pixels=snakemake.params.max_pixels)
