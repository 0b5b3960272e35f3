# Saliency maps per image and source, saved as 16-bit PNGs at the image's size.


rule prior_map:
    input:
        image=image_path,
    output:
        f"{RESULTS}/maps/{{source}}/{{image}}.png",
    log:
        f"{RESULTS}/logs/prior_map/{{source}}/{{image}}.log",
    params:
        max_pixels=config["max_pixels"],
        sigma=config["center_sigma"],
    wildcard_constraints:
        source="center|uniform",
    script:
        "../scripts/prior_map.py"


rule file_map:
    input:
        image=image_path,
    output:
        f"{RESULTS}/maps/file/{{image}}.png",
    log:
        f"{RESULTS}/logs/file_map/{{image}}.log",
    params:
        maps_dir=config["maps_dir"],
        max_pixels=config["max_pixels"],
    script:
        "../scripts/file_map.py"
