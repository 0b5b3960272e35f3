"""Glue: standard JPEG (or jpegli) of one image at every base quality, with records."""

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.compress import write_standard

with job_log(snakemake.log[0]):
    write_standard(snakemake.input.image, snakemake.params.qualities, snakemake.output.jpegs,
                   snakemake.output.records, snakemake.wildcards.image, snakemake.wildcards.method,
                   EncoderOptions(**snakemake.params.encoder), snakemake.params.max_pixels)
