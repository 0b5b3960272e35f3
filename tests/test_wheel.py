"""`pip install .` as a plain (non-editable) wheel gives a working `msroi` with its resources."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from msroi.codec import jpeg

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def sh(*cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{cmd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def build_wheel(tmp_path) -> Path:
    """The wheel of a clean copy of the sources (the checkout is left untouched)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "msroi", src / "msroi", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src]
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:  # no build backend reachable: use the one installed here
        sh(*cmd, "--no-build-isolation")
    (wheel,) = dist.glob("msroi-*.whl")
    return wheel


def fresh_venv(tmp_path) -> Path:
    """A new venv from the base interpreter that sees the shared venv's dependencies (a .pth
    line, so their own .pth files, such as an editable msroi, are not run) but not msroi."""
    env = tmp_path / "env"
    sh(Path(sys.base_prefix) / "bin" / "python3", "-m", "venv", env)
    site = Path(sysconfig.get_path("purelib"))
    (purelib,) = env.glob("lib/python3*/site-packages")
    (purelib / "shared_dependencies.pth").write_text(f"{site}\n")
    return env


def test_wheel_gives_a_working_msroi(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "msroi/resources/sample_boxes.csv" in names and "msroi/resources/imagenet_classes.txt" in names
    assert "msroi/pipeline/batch.py" in names and "msroi/saliency/networks/efficientnet_lite0.py" in names
    env = fresh_venv(tmp_path)
    sh(env / "bin/python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    work = tmp_path / "work"
    work.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = sh(env / "bin/python", "-c", "import msroi; print(msroi.__file__)", cwd=work, env=clean).stdout.strip()
    assert Path(where).is_relative_to(env), where  # the installed copy, not the checkout
    sh(env / "bin/python", "-c", "from msroi.samples import SAMPLE_BOXES; "
       "from msroi.saliency.networks.efficientnet_lite0 import imagenet_classes; "
       "assert SAMPLE_BOXES.is_file() and len(imagenet_classes()) == 1000", cwd=work, env=clean)
    sh(env / "bin/msroi", "samples", "chelsea", "-o", "photos", cwd=work, env=clean)
    sh(env / "bin/msroi", "compress", "photos/chelsea.png", "--prior", "center", "-o", "out.jpg", cwd=work, env=clean)
    assert jpeg.decode((work / "out.jpg").read_bytes()).shape == (300, 451, 3)
    sh(env / "bin/msroi", "compress", "photos", "--prior", "center", "-o", "tree", "-j", "1", cwd=work, env=clean)
    assert (work / "tree/chelsea.jpg").read_bytes() == (work / "out.jpg").read_bytes()
