"""Glue: manifest CSV of a class-folder dataset with its held-out split."""
from contextlib import redirect_stderr

from msroi.training.dataset import prepare_manifest

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    prepare_manifest(snakemake.input[0], snakemake.output[0], holdout=snakemake.params.holdout, seed=snakemake.params.seed)
