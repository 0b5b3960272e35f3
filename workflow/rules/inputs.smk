# Input images: export the bundled sample photos, then decode every input once and
# record which ones are usable (bad files are reported and skipped, not fatal).


rule export_sample:
    output:
        f"{RESULTS}/samples/{{filename}}",
    log:
        f"{RESULTS}/logs/export_sample/{{filename}}.log",
    wildcard_constraints:
        filename=r"[a-z_]+\.(png|jpg)",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        name=lambda wildcards: wildcards.filename.rsplit(".", 1)[0],
    script:
        "../scripts/export_sample.py"


checkpoint check_images:
    input:
        list(IMAGES.values()),
    output:
        f"{RESULTS}/inputs.csv",
    log:
        f"{RESULTS}/logs/check_images.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        images=IMAGES,
        skipped=SKIPPED,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/check_images.py"
