"""Glue: convert the bundled EfficientNet-Lite0 weights to the Keras model once."""
from pathlib import Path

from msroi.pipeline.joblog import job_log
from msroi.saliency.networks.efficientnet_lite0 import convert

with job_log(snakemake.log[0]):
    convert(out_dir=Path(snakemake.output.model).parent, name=Path(snakemake.output.model).stem)
