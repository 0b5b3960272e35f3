"""Lossless rewrite of a sequential JPEG as a progressive one (ITU T.81 Annex G) with
scans chosen for size.

The coefficients are untouched: libjpeg-turbo's ``jpegtran -optimize -scans FILE``
re-codes the same quantised blocks in the given scans with Huffman tables optimised per
scan, so the progressive file decodes to exactly the pixels of the sequential one.

The candidate scripts are the shapes mozjpeg's scan optimisation picks on photographs
(measured on the development set, ``docs/research.md``): one interleaved DC scan; luma AC
as one band or split after coefficient 2, 8 or 12, optionally with one successive
approximation bit; each chroma component's AC as one band or split after coefficient 2.
Luma and chroma scans are coded independently (one Huffman table per scan), so the luma
shape is chosen with chroma fixed, then the chroma shape: 8 + 1 rewrites per choice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from msroi.errors import MsroiError

LUMA_SPLITS = (None, 2, 8, 12)
CHROMA_SPLITS = (None, 2)


def jpegtran_path() -> str | None:
    return shutil.which("jpegtran")


def scan_script(luma_split: int | None = None, luma_sa: int = 0,
                chroma_split: int | None = None) -> str:
    """A jpegtran scan script (component indices 0 = Y, 1 = Cb, 2 = Cr)."""
    lines = ["0,1,2: 0-0, 0, 0;"]
    bands = [(1, 63)] if luma_split is None else [(1, luma_split), (luma_split + 1, 63)]
    for lo, hi in bands:
        lines.append(f"0: {lo}-{hi}, 0, {luma_sa};")
    for c in (1, 2):
        cb = [(1, 63)] if chroma_split is None else [(1, chroma_split), (chroma_split + 1, 63)]
        for lo, hi in cb:
            lines.append(f"{c}: {lo}-{hi}, 0, 0;")
    if luma_sa:
        lines.append(f"0: 1-63, {luma_sa}, 0;")
    return "\n".join(lines) + "\n"


def rewrite(sequential: bytes, script: str) -> bytes:
    """``sequential`` re-coded losslessly with the scans of ``script``."""
    path = jpegtran_path()
    if path is None:
        raise MsroiError("progressive output needs jpegtran (libjpeg-turbo-progs)")
    fd, tmp = tempfile.mkstemp(suffix=".txt", prefix="msroi-scans-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(script)
        proc = subprocess.run([path, "-optimize", "-copy", "none", "-scans", tmp],
                              input=sequential, capture_output=True, timeout=60)
    finally:
        os.unlink(tmp)
    if proc.returncode != 0 or not proc.stdout:
        raise MsroiError(f"jpegtran failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def best_script(sequential: bytes) -> tuple[str, bytes]:
    """The candidate script giving the smallest progressive file, and that file."""
    best = None
    for split in LUMA_SPLITS:
        for sa in (0, 1):
            s = scan_script(split, sa, None)
            d = rewrite(sequential, s)
            if best is None or len(d) < len(best[1]):
                best = (s, d, split, sa)
    _, _, split, sa = best
    s = scan_script(split, sa, 2)
    d = rewrite(sequential, s)
    if len(d) < len(best[1]):
        best = (s, d, split, sa)
    return best[0], best[1]
