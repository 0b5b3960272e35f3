"""Shared fixtures and helpers for the test suite."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ORACLE_DIR = Path(os.environ.get("MSROI_ORACLE_DIR", "/work/shared/oracle"))


def require_tool(name: str) -> str:
    """Path of an external tool; skip when missing, fail when CI says tools are required."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("MSROI_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is required here (MSROI_REQUIRE_TOOLS=1) but not installed")
        pytest.skip(f"{name} not installed (Debian: apt-get install libjpeg-turbo-progs)")
    return path


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real 512x512 RGB photo (scikit-image's astronaut)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def small_photo() -> np.ndarray:
    """A small non-square real photo (chelsea, 150x226)."""
    from skimage import data

    return np.ascontiguousarray(data.chelsea()[::2, ::2])


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run ``msroi ARGS`` in a fresh process; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, "-m", "msroi.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")


def snakemake(workdir, *args, check=True, configfile=True, timeout=900):
    """Run the workflow of this checkout in ``workdir`` (with its ``config.yaml`` when
    ``configfile``); returns the CompletedProcess, raising with the log tail when ``check``
    and it failed."""
    extra = ["--configfile", str(Path(workdir) / "config.yaml")] if configfile else []
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *extra, "--cores", "2", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}")
    return r


@pytest.fixture(scope="session")
def model_cache(pytestconfig, tmp_path_factory) -> Path:
    """Where the default model is converted once for the test session (pytest's cache when on)."""
    cache = getattr(pytestconfig, "cache", None)
    return cache.mkdir("msroi_default_model") if cache is not None else tmp_path_factory.mktemp("model")


@pytest.fixture(scope="session")
def classifier(model_cache):
    """The default classifier ``(model, metadata)`` (the NumPy network), loaded once per session."""
    from msroi.saliency.maps import load_classifier

    return load_classifier("default", cache_dir=model_cache)


@pytest.fixture(scope="session")
def keras_classifier(model_cache):
    """The default classifier in its Keras form (the converted ``.keras``), loaded once per session."""
    from msroi.saliency.maps import load_classifier
    from msroi.saliency.networks.efficientnet_lite0 import default_model_path

    return load_classifier(default_model_path(model_cache))
