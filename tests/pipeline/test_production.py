"""The workflow's production mode, and the workflow run from a directory outside the checkout."""

import subprocess

import pandas as pd
import pytest
import yaml
from PIL import Image

from msroi.codec import jpeg

from tests.conftest import REPO
from tests.conftest import SNAKEMAKE
from tests.conftest import snakemake as run_snakemake

pytestmark = pytest.mark.slow

def snakemake(run_dir, *args, check=True):
    return run_snakemake(run_dir, *args, check=check, configfile=False)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    d = tmp_path_factory.mktemp("photos")
    (d / "trip").mkdir()
    Image.fromarray(data.chelsea()[::3, ::3]).save(d / "cat.png")
    Image.fromarray(data.coffee()[::5, ::5]).save(d / "my cup.jpg", quality=95)
    Image.fromarray(data.astronaut()[::6, ::6]).save(d / "trip" / "astronaut.png")
    (d / "trip" / "broken.jpg").write_bytes(b"not a photo")
    return d


def check_tree_and_table(run_dir, photos, table="results/compressed.csv", tree="results/compressed"):
    out = run_dir / tree
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "cat.jpg", "my cup.jpg", "trip/astronaut.jpg"]
    df = pd.read_csv(run_dir / table)
    df["error"] = df["error"].fillna("")
    assert len(df) == 4
    bad = df[df["image"].str.endswith("broken.jpg")].iloc[0]
    assert not bad["ok"] and "not an image" in bad["error"]
    good = df[df["ok"]]
    for row in good.itertuples():
        data = (run_dir / row.output).read_bytes()
        assert len(data) == row.bytes <= row.budget_bytes
        with Image.open(row.image) as im:
            assert jpeg.decode(data).shape == (im.height, im.width, 3)
    assert good["seconds"].gt(0).all() and good["final_quality"].between(1, 100).all()
    return df


def test_production_from_an_empty_directory_with_command_line_config(tmp_path, photos):
    """No config file in the run directory: the bundled default plus --config; msroi maps."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    snakemake(run_dir, "--config", f"images={photos}", "mode=compress")
    df = check_tree_and_table(run_dir, photos)
    assert set(df.loc[df["ok"], "map"]) == {"msroi:results/model/efficientnet_lite0_imagenet.npz"}
    assert set(df.loc[df["ok"], "target"]) == {"quality"}
    assert not (run_dir / "results/metrics.csv").exists() and not (run_dir / "results/sweep").exists()
    r = snakemake(run_dir, "--config", f"images={photos}", "mode=compress", "-n")
    assert "Nothing to be done" in r.stdout + r.stderr


def test_production_config_in_the_run_directory_is_used(tmp_path, photos):
    """RUN/config/config.yaml overrides the bundled config: chunks of 2 images, a size target."""
    run_dir = tmp_path / "run"
    (run_dir / "config").mkdir(parents=True)
    config = {"mode": "compress", "images": str(photos),
              "production": {"output": "out/photos", "map_source": "center", "size": "3k", "chunk_size": 2}}
    (run_dir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(run_dir)
    df = check_tree_and_table(run_dir, photos, table="out/photos.csv", tree="out/photos")
    assert sorted(p.name for p in (run_dir / "results/production/chunks").iterdir()) == ["0.csv", "1.csv"]
    good = df[df["ok"]]
    assert (good["bytes"] <= 3 * 1024).all() and set(good["map"]) == {"prior:center"}


def test_study_plans_from_an_empty_directory(tmp_path, photos):
    """The evaluation study from a directory without a config: the bundled default loads."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    r = snakemake(run_dir, "--config", f"images={photos}", "map_sources=[center]", "-n")
    out = r.stdout + r.stderr
    assert "check_images" in out and "not present" not in out
    assert "production" not in out


def test_production_config_is_validated(tmp_path, photos):
    run_dir = tmp_path / "run"
    (run_dir / "config").mkdir(parents=True)
    (run_dir / "config" / "config.yaml").write_text(yaml.safe_dump(
        {"mode": "compress", "images": str(photos), "production": {"size": "lots"}}))
    r = snakemake(run_dir, "-n", check=False)
    assert r.returncode != 0 and "size" in r.stderr + r.stdout and "lots" in r.stderr + r.stdout


def test_slurm_profile_plans_from_an_empty_directory(tmp_path, photos):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(run_dir), "--workflow-profile",
           str(REPO / "workflow/profiles/slurm"), "--config", f"images={photos}", "mode=compress", "-n"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=run_dir)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "production_chunk" in r.stdout + r.stderr
