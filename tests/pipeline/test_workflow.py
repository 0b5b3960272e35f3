"""End to end: the Snakemake workflow on a directory of small images."""

import re

import pandas as pd
import pytest
import yaml
from PIL import Image


pytestmark = pytest.mark.slow

from tests.conftest import snakemake


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a (dry) run."""
    if "Job stats:" not in output:
        assert "Nothing to be done" in output, output[-2000:]
        return {}
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    counts.pop("total", None)
    return counts


def dry_run(workdir) -> str:
    r = snakemake(workdir, "-n")
    return r.stdout + r.stderr


def write_config(workdir, **overrides):
    config = {
        "images": "images",
        "map_sources": ["msroi", "center"],
        "base_quality": [50, 70], "original": {"selection": [3], "threshold_pct": [1]},
        **overrides,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, small_photo):
    from skimage import data

    wd = tmp_path_factory.mktemp("wf")
    images = wd / "images"
    images.mkdir()
    Image.fromarray(small_photo).save(images / "cat.png")
    Image.fromarray(data.coffee()[::6, ::6]).save(images / "my cup (1).jpg", quality=95)
    (images / "broken.jpg").write_bytes(b"this is not an image")
    write_config(wd)
    snakemake(wd)
    return wd


def test_pipeline_writes_one_row_per_output(run_dir):
    metrics = pd.read_csv(run_dir / "results/metrics.csv")
    assert sorted(metrics["image"].unique()) == ["cat", "my_cup_1"]
    # images x base qualities x (jpeg, mozjpeg, jpegli, original and semantic for msroi and center maps)
    assert len(metrics) == 2 * 2 * 7
    ours = metrics[metrics["method"].isin(["original", "semantic"])]
    assert sorted(ours["map_source"].unique()) == ["center", "msroi"]
    assert (ours["bytes"] <= ours["budget_bytes"]).all()
    # the author's size behaviour: the original exceeds the baseline by at most threshold_pct
    original = metrics[metrics["method"] == "original"]
    assert (original["bytes_vs_base"] <= original["threshold_pct"] / 100 + 1e-12).all()
    semantic = metrics[metrics["method"] == "semantic"]
    assert (semantic["bytes"] <= semantic["base_bytes"]).all()  # never larger than standard JPEG
    assert metrics[["psnr", "ssim", "psnrhvsm", "delta_psnr"]].notna().all().all()
    # a standard JPEG compared with its own curve at equal bytes differs by ~0
    jpeg = metrics[metrics["method"] == "jpeg"]
    assert jpeg["delta_psnr"].abs().max() < 0.02
    for path in metrics["output"]:
        assert (run_dir / path).is_file()
    summary = pd.read_csv(run_dir / "results/summary.csv")
    assert len(summary) == 14 and (summary["n_images"] == 2).all()
    bd = pd.read_csv(run_dir / "results/bdrate.csv")
    bd = bd[bd["reference"] == "jpeg"]
    assert sorted(bd["method"] + "/" + bd["map_source"]) == [
        "jpegli/none", "mozjpeg/none", "original/center", "original/msroi", "semantic/center", "semantic/msroi"]
    # NaN only where the two curves' quality ranges do not overlap (tiny images, two points)
    assert bd.loc[bd["method"] != "semantic", "bdrate_psnr"].notna().all()


def test_msroi_maps_overlays_and_classes_per_image(run_dir):
    from msroi.files import read_map

    maps = run_dir / "results/maps/msroi"
    # the JPEG input is mapped at half its size (its evaluation original)
    for image, shape in (("cat", (150, 226)), ("my_cup_1", (34, 50))):
        m = read_map(maps / f"{image}.png")
        assert m.shape == shape and m.max() == 1.0
        assert (maps / f"{image}_overlay.png").is_file() and (maps / f"{image}.json").is_file()


def test_bad_image_is_reported_and_the_others_finish(run_dir):
    inputs = pd.read_csv(run_dir / "results/inputs.csv", keep_default_na=False)
    bad = inputs[inputs["id"] == "broken"].iloc[0]
    assert not bad["ok"] and "not an image" in bad["error"]
    assert "broken.jpg: not an image" in (run_dir / "results/logs/check_images.log").read_text()


def test_changing_threshold_reruns_only_compression_and_downstream(run_dir):
    assert job_counts(dry_run(run_dir)) == {}, "a finished run should have nothing to do"
    write_config(run_dir, base_quality=[50, 70], original={"selection": [3], "threshold_pct": [5]})
    try:
        counts = job_counts(dry_run(run_dir))
    finally:
        write_config(run_dir)
    assert counts == {"original": 4, "score": 4, "sweep": 4, "aggregate": 1, "study": 1, "all": 1}


def test_invalid_config_names_the_key(tmp_path):
    write_config(tmp_path, original={"selection": [7]})
    r = snakemake(tmp_path, "-n", check=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "selection" in out and "7" in out


def test_trained_model_source_trains_then_maps(tmp_path, small_photo):
    """model.source: train runs synthetic data -> manifest -> training -> maps -> compression."""
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(small_photo).save(images / "cat.png")
    write_config(tmp_path, map_sources=["msroi"], jpegli=False, base_quality=[50], original={"enabled": False},
                 model={"source": "train"},
                 training={"synthetic": {"classes": 2, "per_class": 6, "size": 32}, "input_size": 32, "epochs": 1,
                           "batch_size": 4, "holdout": "last:2"})
    snakemake(tmp_path)
    meta = yaml.safe_load((tmp_path / "results/model/trained.json").read_text())
    assert len(meta["classes"]) == 2 and meta["backbone"] == "small"
    assert (tmp_path / "results/training/synthetic/boxes.csv").is_file()
    top = yaml.safe_load((tmp_path / "results/maps/msroi/cat.json").read_text())["top_k"]
    assert {t["name"] for t in top} <= set(meta["classes"]) and len(top) == 2  # the trained model's classes
    metrics = pd.read_csv(tmp_path / "results/metrics.csv")
    assert sorted(metrics["method"].unique()) == ["jpeg", "mozjpeg", "semantic"]


def test_html_report_builds_with_the_study(run_dir):
    snakemake(run_dir, "--report", str(run_dir / "report.html"))
    html = (run_dir / "report.html").read_text(errors="replace")
    assert "equal_bytes.csv" in html and "rd.png" in html
