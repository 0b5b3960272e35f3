"""Tests of msroi.quality.butteraugli (libjxl 0.7's butteraugli_main) against the oracle."""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

from msroi.quality import butteraugli as B

from ..conftest import ORACLE_DIR

ORACLE = ORACLE_DIR / "ssimulacra2"
needs_oracle = pytest.mark.skipif(
    not (ORACLE / "reference.csv").is_file(),
    reason=f"Butteraugli oracle not found at {ORACLE} (set MSROI_ORACLE_DIR to the folder holding ssimulacra2/)",
)


@pytest.fixture(scope="module")
def tool():
    """butteraugli_main; skip when missing, fail when CI says tools are required."""
    path = shutil.which(B.BUTTERAUGLI_TOOL)
    if path is None:
        if os.environ.get("MSROI_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{B.BUTTERAUGLI_TOOL} is required here (MSROI_REQUIRE_TOOLS=1) but not installed")
        pytest.skip(f"{B.BUTTERAUGLI_TOOL} not installed (Debian: apt-get install libjxl-devtools)")
    return path


def _rows():
    path = ORACLE / "reference.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _read(name):
    return np.asarray(Image.open(ORACLE / "pairs" / name).convert("RGB"))


def _jpeg(rgb, q):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _fake_tool(tmp_path, body):
    """A stand-in butteraugli_main (shell script) alone on a PATH directory."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / B.BUTTERAUGLI_TOOL
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir


@needs_oracle
@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["distorted"].removesuffix(".png"))
def test_matches_debian_libjxl07_tool(tool, row):
    bmax, bnorm = B.butteraugli(_read(row["image"]), _read(row["distorted"]))
    # Same tool as the oracle's _libjxl07 columns; the 3-norm is printed with 6 decimals.
    assert bmax == pytest.approx(float(row["butteraugli_max_libjxl07"]), rel=1e-6, abs=1e-9)
    assert bnorm == pytest.approx(float(row["butteraugli_pnorm3_libjxl07"]), abs=1e-6)


def test_tool_is_libjxl07(tool):
    assert "0.7" in B.BUTTERAUGLI_VERSION
    assert B.butteraugli_available()
    assert B._check_version(tool)


def test_identical_is_zero(tool, small_photo):
    assert B.butteraugli(small_photo, small_photo) == (0.0, 0.0)


def test_monotone_in_jpeg_quality(tool, photo):
    values = [B.butteraugli(photo, _jpeg(photo, q)) for q in (20, 50, 80)]
    maxes, norms = zip(*values)
    assert maxes[0] > maxes[1] > maxes[2] > 0.0
    assert norms[0] > norms[1] > norms[2] > 0.0


def test_rejects_bad_input(small_photo):
    with pytest.raises(ValueError, match="shapes differ"):
        B.butteraugli(small_photo, small_photo[:-1])
    with pytest.raises(ValueError, match="uint8"):
        B.butteraugli(small_photo.astype(float), small_photo.astype(float))
    with pytest.raises(ValueError, match="shapes differ"):
        B.butteraugli_roi(small_photo, small_photo[:, :-1], [(0, 0, 10, 10)])


def test_roi_whole_image_box_equals_whole_image(tool, small_photo):
    dist = _jpeg(small_photo, 30)
    h, w = small_photo.shape[:2]
    assert B.butteraugli_roi(small_photo, dist, [(0, 0, w, h)]) == B.butteraugli(small_photo, dist)


def test_roi_is_area_weighted_mean_of_crops(tool, small_photo):
    dist = _jpeg(small_photo, 30)
    ma, na = B.butteraugli(small_photo[0:30, 0:40], dist[0:30, 0:40])
    mb, nb = B.butteraugli(small_photo[20:70, 50:110], dist[20:70, 50:110])
    wa, wb = 40 * 30, 60 * 50
    bmax, bnorm = B.butteraugli_roi(small_photo, dist, [(0, 0, 40, 30), (50, 20, 110, 70)])
    assert bmax == pytest.approx((ma * wa + mb * wb) / (wa + wb), rel=1e-12)
    assert bnorm == pytest.approx((na * wa + nb * wb) / (wa + wb), rel=1e-12)


def test_roi_too_small_or_empty_is_nan(small_photo):
    # No tool call is made for these, so this runs without the tool too.
    for boxes in ([(0, 0, 7, 40)], [(0, 0, 40, 7)], [(300, 0, 360, 40)], []):
        assert all(math.isnan(v) for v in B.butteraugli_roi(small_photo, small_photo, boxes))


def test_missing_tool_gives_nan_and_one_notice(tmp_path, monkeypatch, caplog, small_photo):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    B._notice_missing.cache_clear()
    with caplog.at_level(logging.WARNING, logger=B.__name__):
        first = B.butteraugli(small_photo, small_photo)
        second = B.butteraugli(small_photo, small_photo)
    assert not B.butteraugli_available()
    assert all(math.isnan(v) for v in first + second)
    notices = [r for r in caplog.records if r.name == B.__name__]
    assert len(notices) == 1 and "\n" not in notices[0].getMessage()
    assert B.BUTTERAUGLI_TOOL in notices[0].getMessage()
    B._notice_missing.cache_clear()


def test_failing_tool_raises_naming_it(tmp_path, monkeypatch, small_photo):
    bindir = _fake_tool(tmp_path, 'echo "Failed to read image" >&2; exit 3')
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(B.ButteraugliError, match=r"butteraugli_main .*exit code 3.*Failed to read image"):
        B.butteraugli(small_photo, small_photo)


def test_unparsable_output_raises(tmp_path, monkeypatch, small_photo):
    bindir = _fake_tool(tmp_path, 'echo "hello"')
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(B.ButteraugliError, match="butteraugli_main .*unexpected output"):
        B.butteraugli(small_photo, small_photo)


def test_hanging_tool_times_out(tmp_path, monkeypatch, small_photo):
    bindir = _fake_tool(tmp_path, '[ $# -eq 0 ] && exit 1; exec sleep 30')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    with pytest.raises(B.ButteraugliError, match="butteraugli_main .*timed out"):
        B.butteraugli(small_photo, small_photo, timeout=0.5)


def test_parses_the_tool_output_format(tmp_path, monkeypatch, small_photo):
    bindir = _fake_tool(tmp_path, 'printf "3.2500000000\\n3-norm: 1.250000\\n"')
    monkeypatch.setenv("PATH", str(bindir))
    assert B.butteraugli(small_photo, small_photo) == (3.25, 1.25)
