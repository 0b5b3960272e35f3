"""Shared fixtures and helpers for the test suite."""

import os
import shutil
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
