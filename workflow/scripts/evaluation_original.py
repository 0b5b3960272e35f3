"""Glue: the evaluation original of one input (a JPEG downscaled by 2) and its scaled ROI boxes."""
from contextlib import redirect_stderr

from msroi.pipeline.originals import prepare_original

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    prepare_original(snakemake.input.image, snakemake.output.image, snakemake.output.boxes,
                     snakemake.wildcards.image, snakemake.params.roi, snakemake.params.downscale_jpeg,
                     snakemake.params.max_pixels)
