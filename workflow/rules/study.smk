# The study: labelled tables, rate-distortion plots, per-image deltas, map gallery and ROI
# crops, all from the aggregated CSVs; registered for `snakemake --report`.


rule study:
    input:
        inputs=f"{RESULTS}/inputs.csv",
        metrics=f"{RESULTS}/metrics.csv",
        summary=f"{RESULTS}/summary.csv",
        bdrate=f"{RESULTS}/bdrate.csv",
        maps=(f"{RESULTS}/maps/msroi" if "msroi" in config["map_sources"] else []),
    output:
        rd=report(
            f"{RESULTS}/eval/rd.csv", caption="../report/rd_csv.rst", category="Tables"
        ),
        equal_bytes=report(
            f"{RESULTS}/eval/equal_bytes.csv",
            caption="../report/equal_bytes.rst",
            category="Tables",
        ),
        bdrate=report(
            f"{RESULTS}/eval/bdrate.csv",
            caption="../report/bdrate.rst",
            category="Tables",
        ),
        rd_plot=report(
            f"{RESULTS}/eval/rd.png", caption="../report/rd.rst", category="Plots"
        ),
        deltas=report(
            f"{RESULTS}/eval/deltas.png",
            caption="../report/deltas.rst",
            category="Plots",
        ),
        figures=report(
            directory(f"{RESULTS}/eval/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/study.log",
    benchmark:
        f"{RESULTS}/benchmarks/study.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        images=lambda wildcards: {
            image: f"{RESULTS}/originals/{image}.png" for image in good_images()
        },
        roi=lambda wildcards: [roi_of(image) for image in good_images()],
        encoder=ENCODER,
    script:
        "../scripts/study.py"


rule map_scores:
    input:
        maps=map_files,
        images=lambda wildcards: [
            f"{RESULTS}/originals/{image}.png" for image in good_images()
        ],
    output:
        report(
            f"{RESULTS}/map_scores.csv",
            caption="../report/map_scores.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/map_scores.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        images=lambda wildcards: {
            image: f"{RESULTS}/originals/{image}.png" for image in good_images()
        },
        maps={source: f"{RESULTS}/maps/{source}" for source in config["map_sources"]},
        roi=lambda wildcards: {image: roi_of(image) for image in good_images()},
        max_pixels=config["max_pixels"],
    script:
        "../scripts/map_scores.py"
