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
from msroi.pipeline.originals import roi_for_original
from msroi.pipeline.score import REFERENCES

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
if not IMAGES and config["mode"] == "study":
    raise WorkflowError(f"no images found in {config['images']!r}")

SELECTIONS = config["original"]["selection"]
BASE_QUALITIES = config["base_quality"]
THRESHOLDS = config["original"]["threshold_pct"]
# the original method's (selection model, base quality, threshold) settings, one job per map source
ORIGINAL_SETTINGS = [
    (s, q, t) for s in SELECTIONS for q in BASE_QUALITIES for t in THRESHOLDS
]
ENCODER = config["encoder"]


def fmt(x):
    """A number as it appears in file names: 1 -> '1', 0.5 -> '0.5'."""
    return f"{x:g}"


def image_path(wildcards):
    return IMAGES[wildcards.image]


def original_path(wildcards):
    """The evaluation original of an image (a JPEG input downscaled, see rule evaluation_original)."""
    return f"{RESULTS}/originals/{wildcards.image}.png"


def roi_of(image):
    """The ROI of an evaluation original: its scaled boxes, a mask directory, or ''."""
    return roi_for_original(ROI, f"{RESULTS}/originals/{image}_roi.csv")


def image_roi(wildcards):
    return roi_of(wildcards.image)


def good_images(wildcards=None):
    """Ids of the images that decoded (the check_images checkpoint's table)."""
    table = pd.read_csv(checkpoints.check_images.get().output[0])
    return table.loc[table["ok"], "id"].tolist()


def jpeg_outputs(method, variant, image):
    """The JPEGs one job writes: one per base quality (x selection model x threshold for the
    original method, whose job covers every selection model of one map source)."""
    base = f"{RESULTS}/compressed/{method}/{variant}/{image}"
    if method == "original":
        return [f"{base}/sel{s}_q{q}_t{fmt(t)}.jpg" for s, q, t in ORIGINAL_SETTINGS]
    return [f"{base}/q{q}.jpg" for q in BASE_QUALITIES]


def records_path(method, variant, image):
    return f"{RESULTS}/records/{method}/{variant}/{image}.csv"


def variants(method):
    """The variants of a method that the config asks for (map source x settings)."""
    if method in ("original", "semantic"):
        return list(config["map_sources"])
    return ["standard"]


def methods():
    """The methods the config asks for; the references (libjpeg-turbo, mozjpeg) always."""
    return (
        ["jpeg", "mozjpeg"]
        + (["jpegli"] if config["jpegli"] else [])
        + (["semantic"] if config["semantic"]["enabled"] else [])
        + (["original"] if config["original"]["enabled"] else [])
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


def image_records(wildcards):
    """The records of every output of one image (their byte counts set the sweeps' qualities)."""
    return [
        records_path(method, variant, wildcards.image)
        for method in methods()
        for variant in variants(method)
    ]


def all_sweeps(wildcards):
    return [
        f"{RESULTS}/sweep/{encoder}/{image}.csv"
        for image in good_images()
        for encoder in REFERENCES
    ]


wildcard_constraints:
    image=r"[^/]+",
    source=r"[a-z]+",
    method=r"[a-z]+",
    variant=r"[a-z0-9-]+",
    encoder=r"jpeg|mozjpeg",


def map_files(wildcards):
    """Every map the study uses: the msroi maps' directory, the other sources' files."""
    out = []
    for source in config["map_sources"]:
        if source == "msroi":
            out.append(f"{RESULTS}/maps/msroi")
        else:
            out += [f"{RESULTS}/maps/{source}/{image}.png" for image in good_images()]
    return out
