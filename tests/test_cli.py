"""The `msroi` command line: results, JSON records and one-line errors."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from msroi.codec import jpeg


from tests.conftest import run_cli as run


@pytest.fixture()
def image(tmp_path, small_photo):
    p = tmp_path / "cat photo.png"
    Image.fromarray(small_photo).save(p)
    return p


def test_compress_with_map_writes_output_baseline_and_json(tmp_path, image, small_photo):
    m = tmp_path / "map.npy"
    np.save(m, np.random.default_rng(0).random((20, 30)))
    out, base = tmp_path / "out.jpg", tmp_path / "base.jpg"
    r = run("compress", image, "--map", m, "-o", out, "--baseline", base, "--method", "original", "--selection", "6",
            "--threshold-pct", "0", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["bytes"] == out.stat().st_size <= rec["budget_bytes"] == base.stat().st_size
    assert rec["selection"] == 6 and rec["threshold_pct"] == 0
    assert jpeg.decode(out.read_bytes()).shape == small_photo.shape


def test_default_method_is_semantic_and_never_larger_than_the_baseline(tmp_path, image, small_photo):
    out, base = tmp_path / "out.jpg", tmp_path / "base.jpg"
    r = run("compress", image, "--prior", "center", "-o", out, "--baseline", base, "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["method"] == "semantic" and rec["threshold_pct"] == 0 and rec["fits_budget"]
    assert out.stat().st_size == rec["bytes"] <= base.stat().st_size == rec["base_bytes"]
    assert jpeg.decode(out.read_bytes()).shape == small_photo.shape


def test_bad_image_one_line_error_and_no_output(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    out = tmp_path / "out.jpg"
    r = run("compress", bad, "--prior", "center", "-o", out)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.jpg"]


def test_map_with_nan_is_refused(tmp_path, image):
    m = tmp_path / "nan.npy"
    np.save(m, np.full((4, 4), np.nan))
    r = run("compress", image, "--map", m, "-o", tmp_path / "o.jpg")
    assert r.returncode == 2 and "NaN" in r.stderr and str(m) in r.stderr
    assert not (tmp_path / "o.jpg").exists()


def test_unreachable_budget_writes_nothing(tmp_path):
    # noise at base Q1 with 0% slack: the Q70 mosaic re-encoded even at Q1 is larger
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    p = tmp_path / "noise.png"
    Image.fromarray(noise).save(p)
    out = tmp_path / "o.jpg"
    r = run("compress", p, "--prior", "uniform", "-o", out, "--base-quality", "1", "--threshold-pct", "0", "--method", "original", "--selection", "1")
    assert r.returncode == 2
    assert "no JPEG fits the budget" in r.stderr and str(p) in r.stderr
    assert not out.exists()


def test_output_may_not_overwrite_input(image):
    r = run("compress", image, "--prior", "center", "-o", image)
    assert r.returncode == 2 and "overwrite" in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = run("--debug", "compress", tmp_path / "missing.png", "--prior", "center", "-o", tmp_path / "o.jpg")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_samples_export(tmp_path):
    r = run("samples", "chelsea", "rocket", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chelsea.png", "rocket.jpg"]


def test_metrics_command_prints_every_metric_as_json(tmp_path, image, small_photo):
    d = tmp_path / "d.jpg"
    d.write_bytes(jpeg.encode(small_photo, 30))
    r = run("metrics", image, d, "--json")
    assert r.returncode == 0, r.stderr
    values = json.loads(r.stdout)
    assert {"psnr", "ssim", "msssim", "vifp", "psnrhvs", "psnrhvsm", "psnr_rgb"} <= set(values)
    assert 20 < values["psnr"] < 45
    same = json.loads(run("metrics", image, image, "--json").stdout)
    assert same["psnr"] is None and same["ssim"] == 1.0  # identical: PSNR infinite, printed as null


def test_metrics_command_refuses_different_sizes(tmp_path, image, small_photo):
    other = tmp_path / "other.png"
    Image.fromarray(small_photo[:-8]).save(other)
    r = run("metrics", image, other)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_make_synthetic_prepare_dataset_and_train_commands(tmp_path):
    data, model = tmp_path / "data", tmp_path / "net.keras"
    assert run("make-synthetic", data, "--classes", "2", "--per-class", "5", "--size", "32").returncode == 0
    r = run("prepare-dataset", data, "-o", tmp_path / "manifest.csv", "--holdout", "last:1")
    assert r.returncode == 0, r.stderr
    manifest = (tmp_path / "manifest.csv").read_text().splitlines()
    assert manifest[0].startswith("path,label,label_name,split") and len(manifest) == 11
    r = run("train", "--dataset", tmp_path / "manifest.csv", "-o", model, "--backbone", "small", "--epochs", "1",
            "--batch-size", "4", "--input-size", "32", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["epochs_run"] == 1
    assert model.is_file() and json.loads(model.with_suffix(".json").read_text())["classes"]


def test_train_on_a_missing_dataset_is_one_line(tmp_path):
    r = run("train", "--dataset", tmp_path / "nope", "-o", tmp_path / "m.keras", "--epochs", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "nope" in r.stderr


def test_command_ends_with_its_output_flushed_and_its_exit_code(tmp_path, small_photo):
    # the command leaves without tearing the interpreter down; what it printed into a pipe
    # and its exit code must survive that, for the console script as for `python -m`
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(np.ascontiguousarray(small_photo[:, i:])).save(src / f"p{i}.png")
    (src / "bad.png").write_bytes(b"not a png")
    script = shutil.which("msroi", path=str(Path(sys.executable).parent))
    commands = [[sys.executable, "-m", "msroi.cli"]] + ([[script]] if script else [])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered stdout
    for k, cmd in enumerate(commands):
        one = tmp_path / f"one{k}.jpg"
        r = subprocess.run(cmd + ["compress", str(src / "p0.png"), "--prior", "center", "-o", str(one), "--json"],
                           capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0 and json.loads(r.stdout)["bytes"] == one.stat().st_size, r.stderr
        r = subprocess.run(cmd + ["samples"], capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0 and "grace_hopper" in r.stdout, r.stderr
        out = tmp_path / f"out{k}"
        r = subprocess.run(cmd + ["compress", str(src), "--prior", "center", "-o", str(out)], capture_output=True,
                           text=True, timeout=300, env=env)
        assert r.returncode == 2, r.stderr
        assert "bad.png" in r.stderr and "3 of 4 images compressed, 1 failed" in r.stderr
        assert sorted(p.name for p in out.iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]
        assert all(jpeg.decode((out / f"p{i}.jpg").read_bytes()).shape[:2] == (150, 226 - i) for i in range(3))
