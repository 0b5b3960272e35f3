# Helpers of the production mode (workflow/rules/production.smk): the (image, output JPEG)
# pairs, their chunks and the settings handed to msroi.pipeline.batch.
from msroi.errors import MsroiError
from msroi.pipeline.batch import plan

PRODUCTION = config["production"]
PRODUCTION_TABLE = f"{PRODUCTION['output'].rstrip('/')}.csv"
_PRODUCTION_PAIRS = []


def production_pairs():
    """(image, output JPEG) pairs: the images tree mirrored, or the bundled samples."""
    if not _PRODUCTION_PAIRS:
        try:
            if config["images"]:
                pairs = plan(
                    [config["images"]], PRODUCTION["output"], PRODUCTION["recursive"]
                )
            else:
                pairs = plan(list(IMAGES.values()), PRODUCTION["output"])
        except MsroiError as e:
            raise WorkflowError(f"production: {e}")
        _PRODUCTION_PAIRS.extend((str(s), str(d)) for s, d in pairs)
    return _PRODUCTION_PAIRS


def production_chunk(wildcards):
    n = PRODUCTION["chunk_size"]
    i = int(wildcards.chunk)
    return production_pairs()[i * n : (i + 1) * n]


def production_chunks(wildcards):
    n = -(-len(production_pairs()) // PRODUCTION["chunk_size"])
    return [f"{RESULTS}/production/chunks/{i}.csv" for i in range(n)]


def production_model(wildcards):
    return classifier(wildcards) if PRODUCTION["map_source"] == "msroi" else []


def production_settings(wildcards, input):
    source = PRODUCTION["map_source"]
    return {
        "method": PRODUCTION["method"],
        "selection": PRODUCTION["selection"],
        "ratio": config["semantic"]["ratio"],
        "smooth": config["semantic"]["smooth"],
        "options": ENCODER,
        "target": {
            k: PRODUCTION[k]
            for k in ("quality", "size", "bpp", "max_quality", "threshold_pct")
        },
        "prior": source if source in ("center", "uniform") else None,
        "center_sigma": config["center_sigma"],
        "map_dir": config["maps_dir"] if source == "file" else None,
        "model": str(input.model) if source == "msroi" else "default",
        "short_side": config["model"]["short_side"],
        "top_k": config["model"]["top_k"],
        "last_weight": config["model"]["last_weight"],
        "max_pixels": config["max_pixels"],
    }
