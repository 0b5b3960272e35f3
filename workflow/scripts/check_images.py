"""Glue: decode every input image once and record what was done with every input entry."""
import sys

from msroi.pipeline.inputs import check_images
from msroi.pipeline.joblog import job_log

with job_log(snakemake.log[0]):
    table = check_images(snakemake.params.images, snakemake.output[0], snakemake.params.max_pixels,
                         skipped=snakemake.params.skipped)
for row in table[~table["ok"]].itertuples():
    print(f"msroi: skipping {row.path}: {row.error}", file=sys.stderr)
