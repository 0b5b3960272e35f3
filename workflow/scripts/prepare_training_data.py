"""Glue: manifest CSV of a class-folder dataset with its held-out split."""

from msroi.pipeline.joblog import job_log
from msroi.training.dataset import prepare_manifest

with job_log(snakemake.log[0]):
    prepare_manifest(snakemake.input[0], snakemake.output[0], holdout=snakemake.params.holdout, seed=snakemake.params.seed)
