"""Input images: unique ids and the decode check that lists every input."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pandas as pd

from msroi import files
from msroi.errors import MsroiError
from msroi.files import write_csv


_UNSAFE = re.compile(r"[^\w.+-]+", re.UNICODE)
#: A unit repeated this often in a row is shortened: Snakemake takes a wildcard value that
#: ends in 20 repeats of anything for an infinite recursion and refuses the whole run.
_REPEATS = re.compile(r"(.+?)\1{7,}")
#: Longest id: ids become file names with suffixes and Snakemake's own markers, all of which
#: must stay within the 255 bytes a file name may have.
MAX_ID_LENGTH = 64
#: Suffixes of files written next to an image's own output (``{id}_overlay.png`` beside
#: ``{id}.png``): an id never ends in one, so two images never write one file.
RESERVED_SUFFIXES = ("_overlay",)


def image_ids(paths) -> dict[str, Path]:
    """Map each input image to a unique id usable as a file name.

    The id is the file's stem with runs of characters other than letters, digits, ``.``,
    ``_``, ``+``, ``-`` replaced by ``_`` (so spaces and shell metacharacters never reach a
    path, and no id contains a path separator); when two inputs share an id (``a.png``,
    ``a.jpg``) each gets its suffix appended (``a_png``, ``a_jpg``). Returns id -> path,
    sorted by id. Runs of one unit repeated 8 times or more become three repeats and the
    count (``scan_0000...0`` -> ``scan_000_x20``), an id ending in ``_overlay`` gets
    ``_image`` appended, and ids longer than :data:`MAX_ID_LENGTH` bytes are cut and end in
    a hash of the full stem.
    """
    paths = [Path(p) for p in paths]

    def clean(s: str) -> str:
        out = _UNSAFE.sub("_", s).strip("._") or "image"
        out = _REPEATS.sub(lambda m: f"{m.group(1) * 3}_x{len(m.group(0)) // len(m.group(1))}_", out).strip("._")
        if out.endswith(RESERVED_SUFFIXES):
            out += "_image"
        if len(out.encode("utf-8")) > MAX_ID_LENGTH:
            digest = hashlib.sha1(s.encode("utf-8", "surrogateescape")).hexdigest()[:8]
            out = out.encode("utf-8")[:MAX_ID_LENGTH - 9].decode("utf-8", "ignore") + "_" + digest
        return out

    stems = [clean(p.stem) for p in paths]
    ids = {}
    for p, s in zip(paths, stems):
        key = s if stems.count(s) == 1 else clean(f"{p.stem}_{p.suffix.lstrip('.')}")
        n, base = 2, key
        while key in ids:
            key, n = f"{base}_{n}", n + 1
        ids[key] = p
    return dict(sorted(ids.items()))


COLUMNS = ["id", "path", "ok", "width", "height", "status", "error"]


def check_images(images: dict[str, Path], out_csv, max_pixels: int = files.DEFAULT_MAX_PIXELS,
                 skipped=()) -> pd.DataFrame:
    """Decode every image once; write a table (id, path, ok, width, height, status, error)
    to ``out_csv`` with one row per image and per ``skipped`` ``(path, reason)`` entry
    (the rest of the input directory, :func:`msroi.files.scan_directory`).

    ``status`` is ``used``, ``refused`` (the file could not be used; why in ``error``) or
    ``skipped`` (not taken as an image; why in ``error``). Bad files do not raise: each is
    reported on stderr in one line, so the rest of the pipeline runs on the good ones.
    """
    rows = [{"id": "", "path": str(p), "ok": False, "width": 0, "height": 0, "status": "skipped", "error": reason}
            for p, reason in skipped]
    for p, reason in skipped:
        print(f"msroi: skipping {p}: {reason}", file=sys.stderr)
    for i, (key, path) in enumerate(images.items(), 1):
        try:
            rgb = files.read_image(path, max_pixels)
            rows.append({"id": key, "path": str(path), "ok": True, "width": rgb.shape[1], "height": rgb.shape[0],
                         "status": "used", "error": ""})
        except MsroiError as e:
            print(f"msroi: skipping {e}", file=sys.stderr)
            rows.append({"id": key, "path": str(path), "ok": False, "width": 0, "height": 0, "status": "refused",
                         "error": e.problem if hasattr(e, "problem") else str(e)})
        print(f"[{i}/{len(images)}] checked {path}", file=sys.stderr)
    df = pd.DataFrame(rows, columns=COLUMNS).sort_values("path", kind="stable").reset_index(drop=True)
    write_csv(out_csv, df)
    return df
