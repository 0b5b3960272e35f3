"""Glue: the semantic method for one image and map at every base quality's budget."""

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.compress import compress_semantic_settings

with job_log(snakemake.log[0]):
    compress_semantic_settings(snakemake.input.image, snakemake.params.map_file, snakemake.params.qualities,
                               snakemake.output.jpegs, snakemake.output.records, snakemake.wildcards.image,
                               snakemake.wildcards.source, EncoderOptions(**snakemake.params.encoder),
                               ratio=snakemake.params.ratio, smooth=snakemake.params.smooth,
                               max_pixels=snakemake.params.max_pixels)
