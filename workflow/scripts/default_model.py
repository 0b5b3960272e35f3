"""Glue: fold the bundled EfficientNet-Lite0 weights into the NumPy model's cache once."""
from pathlib import Path

from msroi.pipeline.joblog import job_log
from msroi.saliency.networks.efficientnet_lite0_numpy import load_default

with job_log(snakemake.log[0]):
    load_default(Path(snakemake.output.model).parent)
