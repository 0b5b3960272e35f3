"""Glue: one reference encoder's curve for one image, at the qualities needed to read it off at every output's size."""

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.score import sweep_image

with job_log(snakemake.log[0]):
    sweep_image(snakemake.input.image, snakemake.output[0], snakemake.wildcards.image,
                EncoderOptions(**snakemake.params.encoder), snakemake.params.roi,
                max_pixels=snakemake.params.max_pixels, encoder=snakemake.wildcards.encoder,
                records=snakemake.input.records, known=snakemake.input.known,
                tolerance=snakemake.params.tolerance)
