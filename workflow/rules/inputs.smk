# Input images: export the bundled sample photos, decode every input once and record which
# ones are usable (bad files are reported and skipped, not fatal), then make each usable
# input's evaluation original (a JPEG input downscaled by 2) and its scaled ROI boxes.


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


rule evaluation_original:
    input:
        image=image_path,
    output:
        image=f"{RESULTS}/originals/{{image}}.png",
        boxes=f"{RESULTS}/originals/{{image}}_roi.csv",
    log:
        f"{RESULTS}/logs/evaluation_original/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluation_original/{{image}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        roi=ROI,
        downscale_jpeg=config["evaluation"]["downscale_jpeg"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/evaluation_original.py"
