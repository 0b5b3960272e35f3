"""Glue: convert the bundled EfficientNet-Lite0 weights to the Keras model once."""
from contextlib import redirect_stderr
from pathlib import Path

from msroi.saliency.networks.efficientnet_lite0 import convert

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    convert(out_dir=Path(snakemake.output.model).parent, name=Path(snakemake.output.model).stem)
