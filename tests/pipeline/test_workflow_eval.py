"""End to end: the evaluation protocol in the workflow (JPEG inputs downscaled, mozjpeg as a
reference with the perceptual metrics)."""

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.conftest import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory):
    from skimage import data

    wd = tmp_path_factory.mktemp("wf_eval")
    (wd / "images").mkdir()
    cat = np.ascontiguousarray(data.chelsea()[::2, ::2])  # 150 x 226
    cup = np.ascontiguousarray(data.coffee()[::2, ::2])  # 200 x 300
    Image.fromarray(cat).save(wd / "images" / "cat.png")
    Image.fromarray(cup).save(wd / "images" / "cup.jpg", quality=95)
    (wd / "boxes.csv").write_text("image,x0,y0,x1,y1\ncat,50,25,186,145\ncup,84,8,212,152\n")
    config = {"images": "images", "roi": "boxes.csv", "map_sources": ["uniform", "center"], "jpegli": False,
              "base_quality": [50, 70], "original": {"selection": [3], "threshold_pct": [1]}}
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(wd)
    return wd, {"cat": cat, "cup": cup}


def test_a_jpeg_input_is_downscaled_before_use_and_a_png_is_not(eval_run):
    wd, sources = eval_run
    originals = wd / "results" / "originals"
    cat = np.asarray(Image.open(originals / "cat.png"))
    cup = np.asarray(Image.open(originals / "cup.png"))
    assert np.array_equal(cat, sources["cat"])
    assert cup.shape == (100, 150, 3)
    boxes = {r.image: (r.x0, r.y0, r.x1, r.y1) for r in
             pd.concat([pd.read_csv(originals / f"{i}_roi.csv") for i in ("cat", "cup")]).itertuples()}
    assert boxes == {"cat": (50, 25, 186, 145), "cup": (42, 4, 106, 76)}
    # maps, compressed files and metrics all see the evaluation original
    assert np.asarray(Image.open(wd / "results/maps/center/cup.png")).shape == (100, 150)
    metrics = pd.read_csv(wd / "results/metrics.csv")
    sizes = metrics.groupby("image")[["width", "height"]].agg(["min", "max"])
    assert sizes.loc["cup"].tolist() == [150, 150, 100, 100] and sizes.loc["cat"].tolist() == [226, 226, 150, 150]
    for path in metrics.loc[metrics["image"] == "cup", "output"]:
        assert Image.open(wd / path).size == (150, 100)


def test_bdrate_has_rows_against_mozjpeg_with_perceptual_metrics(eval_run):
    wd, _ = eval_run
    bd = pd.read_csv(wd / "results/bdrate.csv")
    assert {"jpeg", "mozjpeg", "semantic uniform"} <= set(bd["reference"])
    vs_moz = bd[bd["reference"] == "mozjpeg"]
    assert sorted(vs_moz["method"] + "/" + vs_moz["map_source"]) == [
        "jpeg/none", "original/center", "original/uniform", "semantic/center", "semantic/uniform"]
    for column in ("bdrate_ssimulacra2", "bdrate_butteraugli_3norm", "bdrate_butteraugli_max", "bdrate_roi_ssimulacra2"):
        assert column in bd.columns
    assert vs_moz["bdrate_ssimulacra2"].notna().all()
    # libjpeg-turbo needs more bytes than mozjpeg for the same SSIMULACRA2
    assert vs_moz.loc[vs_moz["method"] == "jpeg", "bdrate_ssimulacra2"].iloc[0] > 0
    metrics = pd.read_csv(wd / "results/metrics.csv")
    moz = metrics[metrics["method"] == "mozjpeg"]
    assert len(moz) == 4 and moz["delta_mozjpeg_ssimulacra2"].abs().max() < 1e-6
    assert metrics[["delta_mozjpeg_butteraugli_3norm", "delta_roi_ssimulacra2"]].notna().all().all()


def test_reference_sweeps_score_only_the_bracketing_qualities(eval_run):
    wd, _ = eval_run
    metrics = pd.read_csv(wd / "results/metrics.csv")
    for encoder in ("jpeg", "mozjpeg"):
        for image in ("cat", "cup"):
            sweep = pd.read_csv(wd / f"results/sweep/{encoder}/{image}.csv")
            assert (sweep["encoder"] == encoder).all() and len(sweep) <= 2 * (metrics["image"] == image).sum()
            sizes = metrics.loc[metrics["image"] == image, "bytes"]
            assert sweep["bytes"].min() <= sizes.min() and sweep["bytes"].max() >= sizes.max()
