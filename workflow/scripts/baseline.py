"""Glue: standard JPEG baselines of one image at every base quality."""
from contextlib import redirect_stderr

from msroi.encoder import EncoderOptions
from msroi.stages import write_baselines

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    write_baselines(snakemake.input.image, snakemake.params.qualities, snakemake.output,
                    EncoderOptions(**snakemake.params.encoder), snakemake.params.max_pixels)
