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


rule compress:
    input:
        image=image_path,
        map=f"{RESULTS}/maps/{{source}}/{{image}}.png",
    output:
        jpegs=compressed_outputs("{source}", "{image}", "{sel}"),
        records=f"{RESULTS}/records/{{source}}/{{image}}/sel{{sel}}.csv",
    log:
        f"{RESULTS}/logs/compress/{{source}}/{{image}}/sel{{sel}}.log",
    params:
        settings=[[q, t] for q in BASE_QUALITIES for t in THRESHOLDS],
        encoder=ENCODER,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/compress.py"
