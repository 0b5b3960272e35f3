"""Glue: one reference encoder's curve for one image, at the qualities bracketing every output's size."""
from contextlib import redirect_stderr

from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.score import sweep_image

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    sweep_image(snakemake.input.image, snakemake.output[0], snakemake.wildcards.image,
                EncoderOptions(**snakemake.params.encoder), snakemake.params.roi,
                max_pixels=snakemake.params.max_pixels, encoder=snakemake.wildcards.encoder,
                records=snakemake.input.records, known=snakemake.input.known)
