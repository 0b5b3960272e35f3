# Shared helpers: the input images, the settings grid and output names.
# Rules' threads/mem_mb/runtime (minutes) were measured on the 512x512 and 427x640 sample
# photos on a 2-core VM: peak RSS of the job's script plus ~260 MB for the two Snakemake
# processes of a SLURM job, and the longest job time with a margin.
import pandas as pd

from msroi.codec.jpeg import EncoderOptions
from msroi.errors import MsroiError
from msroi.files import scan_directory
from msroi.samples import SAMPLE_BOXES, sample_path
from msroi.pipeline.inputs import image_ids

RESULTS = "results"

if config["semantic"]["enabled"]:
    from msroi.codec.semantic import check_options

    try:
        check_options(EncoderOptions(**config["encoder"]))
    except MsroiError as e:
        raise WorkflowError(f"config encoder: {e} (or set semantic.enabled: false)")


def _input_images():
    """(id -> image path, [(path, why skipped)] for every other entry of the directory)."""
    if config["images"]:
        used, skipped = scan_directory(config["images"])
        return image_ids(used), [[str(p), why] for p, why in skipped]
    return {
        name: f"{RESULTS}/samples/{name}{sample_path(name).suffix}"
        for name in config["samples"]
    }, []


IMAGES, SKIPPED = _input_images()
# ROI for ROI metrics: the configured file, else the hand-drawn boxes of the bundled samples
# when running on them (msroi/resources/sample_boxes.csv), else none.
ROI = config["roi"] or ("" if config["images"] else str(SAMPLE_BOXES))
if not IMAGES:
    raise WorkflowError(f"no images found in {config['images']!r}")

SELECTIONS = config["compress"]["selection"]
BASE_QUALITIES = config["compress"]["base_quality"]
THRESHOLDS = config["compress"]["threshold_pct"]
ENCODER = config["encoder"]


def fmt(x):
    """A number as it appears in file names: 1 -> '1', 0.5 -> '0.5'."""
    return f"{x:g}"


def image_path(wildcards):
    return IMAGES[wildcards.image]


def good_images(wildcards=None):
    """Ids of the images that decoded (the check_images checkpoint's table)."""
    table = pd.read_csv(checkpoints.check_images.get().output[0])
    return table.loc[table["ok"], "id"].tolist()


def jpeg_outputs(method, variant, image):
    """The JPEGs one job writes: one per base quality (x threshold for the original method)."""
    base = f"{RESULTS}/compressed/{method}/{variant}/{image}"
    if method == "original":
        return [
            f"{base}/q{q}_t{fmt(t)}.jpg" for q in BASE_QUALITIES for t in THRESHOLDS
        ]
    return [f"{base}/q{q}.jpg" for q in BASE_QUALITIES]


def records_path(method, variant, image):
    return f"{RESULTS}/records/{method}/{variant}/{image}.csv"


def variants(method):
    """The variants of a method that the config asks for (map source x settings)."""
    if method == "original":
        return [
            f"{source}-sel{sel}"
            for source in config["map_sources"]
            for sel in SELECTIONS
        ]
    if method == "semantic":
        return list(config["map_sources"])
    return ["standard"]


def methods():
    """The methods the config asks for; standard JPEG (the reference) always."""
    return (
        ["jpeg"]
        + (["jpegli"] if config["jpegli"] else [])
        + (["semantic"] if config["semantic"]["enabled"] else [])
        + (["original"] if config["compress"]["enabled"] else [])
    )


def classifier(wildcards):
    if config["model"]["source"] == "file":
        return config["model"]["path"]
    if config["model"]["source"] == "train":
        return rules.train.output.model
    return rules.default_model.output.model


def map_input(wildcards):
    # the msroi maps come from one batch job (one TensorFlow start) writing a directory
    if wildcards.source == "msroi":
        return f"{RESULTS}/maps/msroi"
    return f"{RESULTS}/maps/{wildcards.source}/{wildcards.image}.png"


def all_scores(wildcards):
    return [
        f"{RESULTS}/scores/{method}/{variant}/{image}.csv"
        for image in good_images()
        for method in methods()
        for variant in variants(method)
    ]


def all_sweeps(wildcards):
    return [f"{RESULTS}/sweep/{image}.csv" for image in good_images()]


wildcard_constraints:
    image=r"[^/]+",
    source=r"[a-z]+",
    sel=r"[1-6]",
    method=r"[a-z]+",
    variant=r"[a-z0-9-]+",
