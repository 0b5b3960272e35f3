# Production (mode: compress, see config/compress.yaml): map and compress every input image
# into one output tree with one method and target, and write a per-image table. Images go in
# chunks of `production.chunk_size` (one job and one classifier load per chunk); an image
# that cannot be compressed is a row with its error, never a failed job. The JPEGs are
# written by the chunk jobs into `production.output`; the chunk CSVs are what Snakemake tracks.


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
