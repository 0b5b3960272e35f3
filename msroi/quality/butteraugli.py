"""Butteraugli max distance and libjxl's "3-norm", from libjxl's ``butteraugli_main`` tool.

There is no Butteraugli port here: the metric is computed by the C++ tool of Debian's
``libjxl-devtools`` package (libjxl 0.7, see :data:`BUTTERAUGLI_VERSION`). Each pair is
written as two binary 8-bit PPMs (no colour information: read by the tool as sRGB) into a
temporary directory, and one call ``butteraugli_main REF DIST --pnorm 3`` prints both
numbers:

* the max distance (``%.10f``), the usual "Butteraugli distance";
* the "3-norm" (``%f``, 6 decimals). It is *not* a plain p-norm: libjxl's
  ``ComputeDistanceP(distmap, p=3)`` is ``(mean(d^3)^(1/3) + mean(d^6)^(1/6) +
  mean(d^12)^(1/12)) / 3`` over the distance map ``d``.

The tool's defaults are kept: intensity target 80 nits (SDR), ``xmul = 1``; libjxl 0.7's
tool uses ``hf_asymmetry = 0.8`` where later releases use 1.0, which is why its values
are up to ~4 % lower than libjxl 0.11's on the same images. Tables must say which
Butteraugli they report; this module reports :data:`BUTTERAUGLI_VERSION`.

Without the tool, :func:`butteraugli` logs a one-line warning once and returns
``(nan, nan)``. A failing run (non-zero exit, unparsable output, timeout) raises
:class:`ButteraugliError`, naming the tool.

ROI (:func:`butteraugli_roi`): libjxl 0.7's tool cannot write the raw distance map (no
``--rawdistmap``; its ``--distmap`` is an 8-bit false-colour heat map, which cannot be
inverted), so each box is scored by running the tool on the two crops, i.e. the crop is
treated as an image of its own (its borders are image borders for Butteraugli's filters).
This is the same convention as :func:`msroi.quality.ssimulacra2.ssimulacra2_roi`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import MsroiError
from msroi.quality._boxes import check_rgb_pair, roi_mean

__all__ = [
    "BUTTERAUGLI_MIN_SIDE",
    "BUTTERAUGLI_TOOL",
    "BUTTERAUGLI_VERSION",
    "ButteraugliError",
    "butteraugli",
    "butteraugli_available",
    "butteraugli_roi",
]

log = logging.getLogger(__name__)

#: The external program that computes the metric.
BUTTERAUGLI_TOOL = "butteraugli_main"
#: The Butteraugli whose values this module reports (checked once per process: a tool that
#: accepts ``--rawdistmap`` is a later libjxl and triggers a warning).
BUTTERAUGLI_VERSION = "libjxl 0.7 butteraugli_main (Debian libjxl-devtools 0.7.0)"
#: Smallest side Butteraugli computes on: libjxl pads smaller images to 8 x 8 and calls the
#: result "non-sensical", so ROI boxes below this give NaN.
BUTTERAUGLI_MIN_SIDE = 8
#: Seconds one tool call may take before it is killed (a 768 x 512 pair takes well under 1 s).
DEFAULT_TIMEOUT = 120.0

_MAX_RE = re.compile(r"^\s*([-+0-9.eE]+|nan|inf)\s*$", re.IGNORECASE)
_PNORM_RE = re.compile(r"^\s*3-norm:\s*([-+0-9.eE]+|nan|inf)\s*$", re.IGNORECASE)


class ButteraugliError(MsroiError):
    """``butteraugli_main`` failed (non-zero exit, timeout or output it could not parse)."""


def _tool_path() -> str | None:
    return shutil.which(BUTTERAUGLI_TOOL)


@cache
def _notice_missing() -> None:
    log.warning("Butteraugli skipped (NaN): %s not found on PATH (Debian: apt-get install "
                "libjxl-devtools)", BUTTERAUGLI_TOOL)


@cache
def _check_version(path: str) -> bool:
    """True when the tool at ``path`` looks like libjxl 0.7's; warns once otherwise.

    libjxl 0.7's usage text (printed when called without arguments) has no
    ``--rawdistmap`` option; libjxl 0.8 and later have it and use other parameters.
    """
    try:
        proc = subprocess.run([path], check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    usage = proc.stdout + proc.stderr
    if "Usage" not in usage or "--pnorm" not in usage:
        log.warning("%s at %s printed no usage text we recognise; cannot confirm it is %s",
                    BUTTERAUGLI_TOOL, path, BUTTERAUGLI_VERSION)
        return False
    if "--rawdistmap" in usage:
        log.warning("%s at %s is a newer libjxl than %s (it accepts --rawdistmap); its "
                    "values differ by up to ~4%%", BUTTERAUGLI_TOOL, path, BUTTERAUGLI_VERSION)
        return False
    return True


def butteraugli_available() -> bool:
    """Whether ``butteraugli_main`` is on PATH."""
    return _tool_path() is not None


def _check_pair(reference, distorted) -> tuple[np.ndarray, np.ndarray]:
    ref, dist = check_rgb_pair(reference, distorted, "Butteraugli")
    if ref.shape[0] < 1 or ref.shape[1] < 1:
        raise ValueError(f"Butteraugli: empty image, shape {ref.shape}")
    return ref, dist


def _parse(stdout: str, path: str) -> tuple[float, float]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) >= 2:
        m_max, m_p = _MAX_RE.match(lines[0]), _PNORM_RE.match(lines[1])
        if m_max and m_p:
            return float(m_max.group(1)), float(m_p.group(1))
    raise ButteraugliError(f"{BUTTERAUGLI_TOOL} ({path}): unexpected output {stdout.strip()[:200]!r}")


def _run(path: str, ref: np.ndarray, dist: np.ndarray, timeout: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="msroi-butteraugli-") as tmp:
        ref_file = Path(tmp, "reference.ppm")
        dist_file = Path(tmp, "distorted.ppm")
        # Binary 8-bit PPMs (no colour information: the tool reads them as sRGB, as it reads
        # a PNG without colour chunks, to the same values; much cheaper to write and read).
        Image.fromarray(np.ascontiguousarray(ref), "RGB").save(ref_file)
        Image.fromarray(np.ascontiguousarray(dist), "RGB").save(dist_file)
        cmd = [path, str(ref_file), str(dist_file), "--pnorm", "3"]
        try:
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "LC_ALL": "C"})
        except subprocess.TimeoutExpired as exc:
            raise ButteraugliError(f"{BUTTERAUGLI_TOOL} ({path}) timed out after {timeout:g} s "
                                   f"on a {ref.shape[1]}x{ref.shape[0]} pair") from exc
        except OSError as exc:
            raise ButteraugliError(f"{BUTTERAUGLI_TOOL} ({path}) could not be run: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[:300]
        raise ButteraugliError(f"{BUTTERAUGLI_TOOL} ({path}) failed with exit code "
                               f"{proc.returncode}: {detail}")
    return _parse(proc.stdout, path)


def butteraugli(reference, distorted, timeout: float = DEFAULT_TIMEOUT) -> tuple[float, float]:
    """Butteraugli ``(max, 3-norm)`` of ``distorted`` against ``reference`` (uint8 H x W x 3 sRGB).

    Definition: libjxl's ``butteraugli_main --pnorm 3`` (:data:`BUTTERAUGLI_VERSION`); the
    "3-norm" is libjxl's mean of the 3-, 6- and 12-norms of the distance map. 0 means
    identical. Returns ``(nan, nan)`` (with a one-time warning) when the tool is missing;
    raises ``ValueError`` for bad arrays and :class:`ButteraugliError` when the tool fails.
    """
    ref, dist = _check_pair(reference, distorted)
    path = _tool_path()
    if path is None:
        _notice_missing()
        return math.nan, math.nan
    _check_version(path)
    return _run(path, ref, dist, timeout)


def butteraugli_roi(reference, distorted, boxes,
                    timeout: float = DEFAULT_TIMEOUT) -> tuple[float, float]:
    """Area-weighted means of Butteraugli ``(max, 3-norm)`` over boxes ``(x0, y0, x1, y1)``.

    Pixel boxes, x1/y1 exclusive, clipped to the image. Each box is scored by one tool call
    on the two crops (the crop is an image of its own; see the module docstring for why the
    distance map is not cropped instead). A box narrower or shorter than
    :data:`BUTTERAUGLI_MIN_SIDE` pixels gives NaN, because libjxl pads such images to 8 x 8
    and its own comment calls the values non-sensical; the means are NaN if any box is NaN,
    if ``boxes`` is empty, or if the tool is missing.
    """
    ref, dist = _check_pair(reference, distorted)
    bmax, bnorm = roi_mean(ref, dist, boxes, lambda r, d: butteraugli(r, d, timeout=timeout),
                           BUTTERAUGLI_MIN_SIDE, n_values=2)
    return float(bmax), float(bnorm)
