# msroi: semantic perceptual JPEG compression as a batch pipeline.
# Run: snakemake --workflow-profile workflow/profiles/default (keep-going, rerun-incomplete)
# (settings in config/config.yaml, documented in config/README.md). From any directory:
# snakemake -s CHECKOUT/Snakefile --directory RUN; RUN/config/config.yaml is used when it
# exists, else the bundled default next to this file.
import os
import sys

from snakemake.utils import min_version, validate

# the msroi package next to this file, whether or not it is installed (e.g. with --sdm conda,
# where the jobs' environments come from environment.yml and import it through
# workflow/scripts/msroi, a link to it)
sys.path.insert(0, workflow.basedir)

min_version("9.0")


CONFIGFILE = "config/config.yaml"
if not os.path.exists(CONFIGFILE):
    CONFIGFILE = os.path.join(workflow.basedir, CONFIGFILE)


configfile: CONFIGFILE


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/maps.smk"
include: "workflow/rules/compress.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/study.smk"
include: "workflow/rules/production_common.smk"
include: "workflow/rules/production.smk"


STUDY_TARGETS = [
    "results/inputs.csv",
    "results/metrics.csv",
    "results/summary.csv",
    "results/bdrate.csv",
    "results/eval/rd.csv",
    "results/map_scores.csv",
]


rule all:
    default_target: True
    input:
        PRODUCTION_TABLE if config["mode"] == "compress" else STUDY_TARGETS,
