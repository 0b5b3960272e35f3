# msroi: semantic perceptual JPEG compression as a batch pipeline.
# Run: snakemake --workflow-profile workflow/profiles/default (keep-going, rerun-incomplete)
# (settings in config/config.yaml, documented in config/README.md).
import sys

from snakemake.utils import min_version, validate

# the msroi package next to this file, whether or not it is installed (e.g. with --sdm conda,
# where the jobs' environments come from environment.yml and import it through
# workflow/scripts/msroi, a link to it)
sys.path.insert(0, workflow.basedir)

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/maps.smk"
include: "workflow/rules/compress.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/study.smk"


rule all:
    default_target: True
    input:
        "results/inputs.csv",
        "results/metrics.csv",
        "results/summary.csv",
        "results/bdrate.csv",
        "results/eval/rd.csv",
