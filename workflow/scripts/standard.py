"""Glue: standard JPEG (or jpegli) of one image at every base quality, with records."""
from contextlib import redirect_stderr

from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.compress import write_standard

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    write_standard(snakemake.input.image, snakemake.params.qualities, snakemake.output.jpegs,
                   snakemake.output.records, snakemake.wildcards.image, snakemake.wildcards.method,
                   EncoderOptions(**snakemake.params.encoder), snakemake.params.max_pixels)
