"""Glue: train the classifier on the manifest; writes the .keras model and its JSON metadata."""
from contextlib import redirect_stderr, redirect_stdout

from msroi.training.train import train

with open(snakemake.log[0], "w") as log, redirect_stderr(log), redirect_stdout(log):
    train(snakemake.input[0], snakemake.output.model, **snakemake.params.settings)
