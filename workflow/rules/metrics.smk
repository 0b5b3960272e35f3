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
        max_pixels=config["max_pixels"],
    script:
        "../scripts/score_baseline.py"


def all_scores(wildcards):
    images = good_images()
    return [f"{RESULTS}/scores/jpeg/{image}.csv" for image in images] + [
        f"{RESULTS}/scores/{source}/{image}/sel{sel}.csv"
        for source in config["map_sources"]
        for image in images
        for sel in SELECTIONS
    ]


rule aggregate:
    input:
        all_scores,
    output:
        metrics=f"{RESULTS}/metrics.csv",
        summary=f"{RESULTS}/summary.csv",
    log:
        f"{RESULTS}/logs/aggregate.log",
    script:
        "../scripts/aggregate.py"
