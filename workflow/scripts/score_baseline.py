"""Glue: metrics for the standard JPEG baselines of one image."""
from contextlib import redirect_stderr

from msroi.encoder import EncoderOptions
from msroi.stages import score_baselines

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    score_baselines(snakemake.input.image, snakemake.input.jpegs, snakemake.params.qualities,
                    snakemake.output[0], snakemake.wildcards.image,
                    EncoderOptions(**snakemake.params.encoder), roi_path=snakemake.params.roi,
                    max_pixels=snakemake.params.max_pixels)
