# Metrics: one row per output (compressed and baseline), aggregated into tidy tables.


rule score:
    input:
        image=image_path,
        records=f"{RESULTS}/records/{{source}}/{{image}}/sel{{sel}}.csv",
        jpegs=compressed_outputs("{source}", "{image}", "{sel}"),
    output:
        f"{RESULTS}/scores/{{source}}/{{image}}/sel{{sel}}.csv",
    log:
        f"{RESULTS}/logs/score/{{source}}/{{image}}/sel{{sel}}.log",
    params:
        roi=config["roi"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/score.py"


rule score_baseline:
    input:
        image=image_path,
        jpegs=baseline_outputs("{image}"),
    output:
        f"{RESULTS}/scores/jpeg/{{image}}.csv",
    log:
        f"{RESULTS}/logs/score_baseline/{{image}}.log",
    params:
        qualities=BASE_QUALITIES,
        encoder=ENCODER,
        roi=config["roi"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/score_baseline.py"


rule sweep:
    input:
        image=image_path,
    output:
        f"{RESULTS}/sweep/{{image}}.csv",
    log:
        f"{RESULTS}/logs/sweep/{{image}}.log",
    params:
        encoder=ENCODER,
        roi=config["roi"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/sweep.py"


def all_scores(wildcards):
    images = good_images()
    return [f"{RESULTS}/scores/jpeg/{image}.csv" for image in images] + [
        f"{RESULTS}/scores/{source}/{image}/sel{sel}.csv"
        for source in config["map_sources"]
        for image in images
        for sel in SELECTIONS
    ]


def all_sweeps(wildcards):
    return [f"{RESULTS}/sweep/{image}.csv" for image in good_images()]


rule aggregate:
    input:
        scores=all_scores,
        sweeps=all_sweeps,
    output:
        metrics=f"{RESULTS}/metrics.csv",
        summary=f"{RESULTS}/summary.csv",
        bdrate=f"{RESULTS}/bdrate.csv",
    log:
        f"{RESULTS}/logs/aggregate.log",
    script:
        "../scripts/aggregate.py"
