"""Glue: the synthetic localisation dataset (class folders + boxes.csv, which training never reads)."""
from contextlib import redirect_stderr

from msroi.training.synthetic import make_synthetic_dataset

p = snakemake.params
with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    make_synthetic_dataset(snakemake.output[0], n_classes=p.classes, per_class=p.per_class, size=p.size, seed=p.seed)
