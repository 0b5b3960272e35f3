"""Glue: the study's tables and figures from the aggregated CSVs."""
from pathlib import Path

from msroi.pipeline.joblog import job_log
from msroi.codec.jpeg import EncoderOptions
from msroi.pipeline.study import make_study

with job_log(snakemake.log[0]):
    make_study(snakemake.input.metrics, snakemake.input.summary, snakemake.input.bdrate,
               Path(snakemake.output.rd).parent, snakemake.output.figures, snakemake.params.images,
               snakemake.input.maps or None, snakemake.params.roi,
               options=EncoderOptions(**snakemake.params.encoder))
