# Training the classifier (model.source: train): synthetic dataset (unless a dataset is
# configured) -> manifest with a held-out split -> trained .keras model + JSON metadata.


rule synthetic_dataset:
    output:
        directory(f"{RESULTS}/training/synthetic"),
    log:
        f"{RESULTS}/logs/synthetic_dataset.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        **config["training"]["synthetic"],
    script:
        "../scripts/synthetic_dataset.py"


rule prepare_training_data:
    input:
        config["training"]["dataset"] or rules.synthetic_dataset.output[0],
    output:
        f"{RESULTS}/training/manifest.csv",
    log:
        f"{RESULTS}/logs/prepare_training_data.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        holdout=config["training"]["holdout"],
        seed=config["training"]["seed"],
    script:
        "../scripts/prepare_training_data.py"


rule train:
    input:
        rules.prepare_training_data.output[0],
    output:
        model=f"{RESULTS}/model/trained.keras",
        metadata=f"{RESULTS}/model/trained.json",
    log:
        f"{RESULTS}/logs/train.log",
    conda:
        "../../environment.yml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=600,
    params:
        settings={
            k: v
            for k, v in config["training"].items()
            if k not in ("dataset", "synthetic", "holdout")
        },
    script:
        "../scripts/train.py"
