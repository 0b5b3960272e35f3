# Production (mode: compress, see config/compress.yaml): map and compress every input image
# into one output tree with one method and target, and write a per-image table. Images go in
# chunks of `production.chunk_size` (one job and one classifier load per chunk); an image
# that cannot be compressed is a row with its error, never a failed job. The JPEGs are
# written by the chunk jobs into `production.output`; the chunk CSVs are what Snakemake tracks.
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


rule production_chunk:
    input:
        images=lambda wildcards: [s for s, _ in production_chunk(wildcards)],
        model=production_model,
    output:
        f"{RESULTS}/production/chunks/{{chunk}}.csv",
    log:
        f"{RESULTS}/logs/production/{{chunk}}.log",
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wildcards: 15 + 2 * len(production_chunk(wildcards)),
    params:
        pairs=production_chunk,
        settings=production_settings,
    script:
        "../scripts/production.py"


rule production:
    input:
        production_chunks,
    output:
        PRODUCTION_TABLE,
    log:
        f"{RESULTS}/logs/production.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/production_table.py"
