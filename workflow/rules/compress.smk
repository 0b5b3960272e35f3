# Compression: standard encoders per image (the baselines libjpeg-turbo and mozjpeg, and
# jpegli), and the original
# MSROI method per image x map source over every selection model, base quality and threshold.
# Every job writes its JPEGs and a records CSV (one row per JPEG) that the score rule reads.


rule standard:
    input:
        image=original_path,
    output:
        jpegs=jpeg_outputs("{method}", "standard", "{image}"),
        records=records_path("{method}", "standard", "{image}"),
    log:
        f"{RESULTS}/logs/standard/{{method}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/standard/{{method}}/{{image}}.tsv"
    wildcard_constraints:
        method="jpeg|jpegli|mozjpeg",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        qualities=BASE_QUALITIES,
        encoder=ENCODER,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/standard.py"


rule original:
    input:
        image=original_path,
        maps=map_input,
    output:
        jpegs=jpeg_outputs("original", "{source}", "{image}"),
        records=records_path("original", "{source}", "{image}"),
    log:
        f"{RESULTS}/logs/original/{{source}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/original/{{source}}/{{image}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        map_file=lambda wildcards: f"{RESULTS}/maps/{wildcards.source}/{wildcards.image}.png",
        settings=[list(s) for s in ORIGINAL_SETTINGS],
        encoder=ENCODER,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/original.py"


rule semantic:
    input:
        image=original_path,
        maps=map_input,
    output:
        jpegs=jpeg_outputs("semantic", "{source}", "{image}"),
        records=records_path("semantic", "{source}", "{image}"),
    log:
        f"{RESULTS}/logs/semantic/{{source}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/semantic/{{source}}/{{image}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        map_file=lambda wildcards: f"{RESULTS}/maps/{wildcards.source}/{wildcards.image}.png",
        qualities=BASE_QUALITIES,
        encoder=ENCODER,
        ratio=config["semantic"]["ratio"],
        smooth=config["semantic"]["smooth"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/semantic.py"
