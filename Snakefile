# msroi: semantic perceptual JPEG compression as a batch pipeline.
# Run: snakemake --workflow-profile workflow/profiles/default
# (settings in config/config.yaml, documented in config/README.md).
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/maps.smk"
include: "workflow/rules/compress.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "results/inputs.csv",
        "results/metrics.csv",
        "results/summary.csv",
        "results/bdrate.csv",
        "results/eval/rd.csv",
    default_target: True
