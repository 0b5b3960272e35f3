# Metrics: one row per output (compressed and baseline); per image and reference encoder, the
# reference curve at the qualities bracketing every output's size; aggregated into tidy tables.


rule score:
    input:
        image=original_path,
        records=records_path("{method}", "{variant}", "{image}"),
        jpegs=lambda wildcards: jpeg_outputs(
            wildcards.method, wildcards.variant, wildcards.image
        ),
    output:
        f"{RESULTS}/scores/{{method}}/{{variant}}/{{image}}.csv",
    log:
        f"{RESULTS}/logs/score/{{method}}/{{variant}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score/{{method}}/{{variant}}/{{image}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        roi=image_roi,
        max_pixels=config["max_pixels"],
    script:
        "../scripts/score.py"


rule sweep:
    input:
        image=original_path,
        records=image_records,
        known=f"{RESULTS}/scores/{{encoder}}/standard/{{image}}.csv",
    output:
        f"{RESULTS}/sweep/{{encoder}}/{{image}}.csv",
    log:
        f"{RESULTS}/logs/sweep/{{encoder}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sweep/{{encoder}}/{{image}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        encoder=ENCODER,
        roi=image_roi,
        tolerance=config["evaluation"]["sweep_tolerance"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/sweep.py"


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
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../scripts/aggregate.py"
