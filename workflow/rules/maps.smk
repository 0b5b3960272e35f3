# Saliency maps per image and source, saved as 16-bit PNGs at the image's size.


rule prior_map:
    input:
        image=original_path,
    output:
        f"{RESULTS}/maps/{{source}}/{{image}}.png",
    log:
        f"{RESULTS}/logs/prior_map/{{source}}/{{image}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/prior_map/{{source}}/{{image}}.tsv"
    wildcard_constraints:
        source="center|uniform",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        max_pixels=config["max_pixels"],
        sigma=config["center_sigma"],
    script:
        "../scripts/prior_map.py"


rule file_map:
    input:
        image=original_path,
    output:
        f"{RESULTS}/maps/file/{{image}}.png",
    log:
        f"{RESULTS}/logs/file_map/{{image}}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        maps_dir=config["maps_dir"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/file_map.py"


rule default_model:
    output:
        model=f"{RESULTS}/model/efficientnet_lite0_imagenet.npz",
    log:
        f"{RESULTS}/logs/default_model.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../scripts/default_model.py"


rule msroi_maps:
    input:
        model=classifier,
        images=lambda wildcards: [
            f"{RESULTS}/originals/{image}.png" for image in good_images()
        ],
    output:
        directory(f"{RESULTS}/maps/msroi"),
    log:
        f"{RESULTS}/logs/msroi_maps.log",
    benchmark:
        f"{RESULTS}/benchmarks/msroi_maps.tsv"
    conda:
        "../../environment.yml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, input: 30 + len(input.images),
    params:
        ids=lambda wildcards: good_images(),
        top_k=config["model"]["top_k"],
        short_side=config["model"]["short_side"],
        last_weight=config["model"]["last_weight"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/msroi_maps.py"
