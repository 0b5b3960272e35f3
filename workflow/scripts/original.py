"""Glue: the original MSROI compression of one image and map over all selection models and settings."""

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.compress import compress_settings

with job_log(snakemake.log[0]):
    compress_settings(snakemake.input.image, snakemake.params.map_file,
                      [tuple(s) for s in snakemake.params.settings], snakemake.output.jpegs,
                      snakemake.output.records, snakemake.wildcards.image, snakemake.wildcards.source,
                      EncoderOptions(**snakemake.params.encoder), snakemake.params.max_pixels)
