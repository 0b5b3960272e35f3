# Compression: standard JPEG baselines per image, and the original MSROI method per
# image x map source x selection model over every base quality and threshold.


rule baseline:
    input:
        image=image_path,
    output:
        baseline_outputs("{image}"),
    log:
        f"{RESULTS}/logs/baseline/{{image}}.log",
    params:
        qualities=BASE_QUALITIES,
        encoder=ENCODER,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/baseline.py"


def map_input(wildcards):
    # the msroi maps come from one batch job (one TensorFlow start) writing a directory
    if wildcards.source == "msroi":
        return f"{RESULTS}/maps/msroi"
    return f"{RESULTS}/maps/{wildcards.source}/{wildcards.image}.png"


rule compress:
    input:
        image=image_path,
        maps=map_input,
    output:
        jpegs=compressed_outputs("{source}", "{image}", "{sel}"),
        records=f"{RESULTS}/records/{{source}}/{{image}}/sel{{sel}}.csv",
    log:
        f"{RESULTS}/logs/compress/{{source}}/{{image}}/sel{{sel}}.log",
    params:
        map_file=lambda wildcards: f"{RESULTS}/maps/{wildcards.source}/{wildcards.image}.png",
        settings=[[q, t] for q in BASE_QUALITIES for t in THRESHOLDS],
        encoder=ENCODER,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/compress.py"
