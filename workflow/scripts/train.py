"""Glue: train the classifier on the manifest; writes the .keras model and its JSON metadata."""

from msroi.pipeline.joblog import job_log
from msroi.training.train import train

with job_log(snakemake.log[0], stdout=True):
    train(snakemake.input[0], snakemake.output.model, **snakemake.params.settings)
