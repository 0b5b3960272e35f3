"""Glue: decode every input image once and record which are usable."""
import sys
from contextlib import redirect_stderr

from msroi.pipeline.inputs import check_images

with open(snakemake.log[0], "w") as log, redirect_stderr(log):
    table = check_images(snakemake.params.images, snakemake.output[0], snakemake.params.max_pixels)
for row in table[~table["ok"]].itertuples():
    print(f"msroi: skipping {row.path}: {row.error}", file=sys.stderr)
