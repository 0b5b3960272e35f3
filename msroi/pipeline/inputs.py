"""Input images: unique ids and the decode check that lists every input."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from msroi import files
from msroi.errors import MsroiError
from msroi.files import write_csv


_UNSAFE = re.compile(r"[^\w.+-]+", re.UNICODE)



def image_ids(paths) -> dict[str, Path]:
    """Map each input image to a unique id usable as a file name.

    The id is the file's stem with runs of characters other than letters, digits, ``.``,
    ``_``, ``+``, ``-`` replaced by ``_`` (so spaces and shell metacharacters never reach a
    path, and no id contains a path separator); when two inputs share an id (``a.png``,
    ``a.jpg``) each gets its suffix appended (``a_png``, ``a_jpg``). Returns id -> path,
    sorted by id.
    """
    paths = [Path(p) for p in paths]

    def clean(s: str) -> str:
        s = _UNSAFE.sub("_", s).strip("._") or "image"
        return s

    stems = [clean(p.stem) for p in paths]
    ids = {}
    for p, s in zip(paths, stems):
        key = s if stems.count(s) == 1 else clean(f"{p.stem}_{p.suffix.lstrip('.')}")
        n, base = 2, key
        while key in ids:
            key, n = f"{base}_{n}", n + 1
        ids[key] = p
    return dict(sorted(ids.items()))



def check_images(images: dict[str, Path], out_csv, max_pixels: int = files.DEFAULT_MAX_PIXELS) -> pd.DataFrame:
    """Decode every image once; write a table (id, path, ok, width, height, error) to ``out_csv``.

    Bad files do not raise: each is reported on stderr in one line and recorded with
    ok=False, so the rest of the pipeline runs on the good ones.
    """
    rows = []
    for i, (key, path) in enumerate(images.items(), 1):
        try:
            rgb = files.read_image(path, max_pixels)
            rows.append({"id": key, "path": str(path), "ok": True, "width": rgb.shape[1], "height": rgb.shape[0], "error": ""})
        except MsroiError as e:
            print(f"msroi: skipping {e}", file=sys.stderr)
            rows.append({"id": key, "path": str(path), "ok": False, "width": 0, "height": 0, "error": e.problem if hasattr(e, "problem") else str(e)})
        print(f"[{i}/{len(images)}] checked {path}", file=sys.stderr)
    df = pd.DataFrame(rows, columns=["id", "path", "ok", "width", "height", "error"])
    write_csv(out_csv, df)
    return df
