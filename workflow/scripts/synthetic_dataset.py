"""Glue: the synthetic localisation dataset (class folders + boxes.csv, which training never reads)."""

from msroi.pipeline.joblog import job_log
from msroi.training.synthetic import make_synthetic_dataset

p = snakemake.params
with job_log(snakemake.log[0]):
    make_synthetic_dataset(snakemake.output[0], n_classes=p.classes, per_class=p.per_class, size=p.size, seed=p.seed)
