"""Hostile inputs: one table of bad and odd files, run through every entry point.

Each case is a test for ``msroi compress``, ``msroi metrics`` and ``msroi map`` (the CLI
as a subprocess; ``map`` in ONE invocation over a directory, as TensorFlow starts slowly)
and, for a subset, the workflow. Expected: a bad file gives one line ``msroi: <file>:
<problem>``, exit status 2, no traceback and no output file; an odd but valid file works and
its outputs are in the displayed orientation (EXIF applied) at the image's size.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from msroi.codec import jpeg
from msroi.files import read_image, read_map

from tests.conftest import snakemake


from tests.conftest import run_cli as run


def photo() -> np.ndarray:
    """A small real photo, 50 x 76."""
    from skimage import data

    return np.ascontiguousarray(data.chelsea()[::6, ::6])


def _save(array, mode=None, **kw):
    def make(path):
        Image.fromarray(array, mode).save(path, **kw) if mode else Image.fromarray(array).save(path, **kw)
    return make


def _truncated(fmt):
    def make(path):
        Image.fromarray(photo()).save(path, format=fmt)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return make


def _bomb(path):
    """A 74-byte PNG whose header claims 100000 x 100000 pixels (1e10)."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
                     + chunk(b"IEND", b""))


def _palette_with_transparency(path):
    im = Image.fromarray(photo()).quantize(16)
    im.save(path, transparency=0)


def _rgba(path):
    a = np.zeros((50, 76, 4), np.uint8)
    a[..., :3] = photo()
    a[:, 38:, 3] = 255  # right half opaque, left half fully transparent -> white
    Image.fromarray(a, "RGBA").save(path)


def _exif_rotated(path):
    im = Image.fromarray(photo())  # stored 76 wide x 50 high
    exif = im.getexif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: 50 wide x 76 high
    im.save(path, exif=exif, quality=95)


def _tiny(n):
    return _save(np.random.default_rng(n).integers(0, 256, (n, n, 3), dtype=np.uint8))


@dataclass
class Case:
    name: str
    filename: str
    make: Callable[[Path], None]
    problem: str | None = None  # regex of the error; None: a valid input
    shape: tuple[int, int] | None = None  # displayed (height, width) of a valid input
    check: Callable[[np.ndarray], None] | None = field(default=None)  # on the decoded compress output


def _white_left_half(out):
    assert out[:, :30].mean() > 245  # transparent over white
    assert out[:, 45:].mean() < 200  # the opaque photo


def _grey_ramp(out):
    expected = np.linspace(0, 255, 40)[None, :]
    assert np.abs(out.mean(axis=2) - expected).mean() < 8  # 16 bit scaled to 8, not clipped/wrapped


CASES = [
    Case("zero_bytes", "empty.png", lambda p: p.write_bytes(b""), problem="empty file"),
    Case("truncated_jpeg", "cut.jpg", _truncated("JPEG"), problem="cannot decode"),
    Case("truncated_png", "halved.png", _truncated("PNG"), problem="cannot decode"),
    Case("text_named_jpg", "notes.jpg", lambda p: p.write_text("just some text\n"), problem="not an image"),
    Case("bomb_header", "bomb.png", _bomb, problem="too large|above the limit"),
    Case("tiny_1x1", "one.png", _tiny(1), shape=(1, 1)),
    Case("tiny_7x7", "seven.png", _tiny(7), shape=(7, 7)),
    Case("tiny_15x15", "fifteen.png", _tiny(15), shape=(15, 15)),
    Case("greyscale", "grey.png", _save(photo()[..., 1]), shape=(50, 76)),
    Case("palette_transparency", "palette.png", _palette_with_transparency, shape=(50, 76)),
    Case("rgba", "alpha.png", _rgba, shape=(50, 76), check=_white_left_half),
    Case("cmyk_jpeg", "cmyk.jpg", lambda p: Image.fromarray(photo()).convert("CMYK").save(p, quality=95), shape=(50, 76)),
    Case("png_16bit", "deep.png",
         _save(np.tile(np.rint(np.linspace(0, 65535, 40)).astype(np.uint16), (30, 1))), shape=(30, 40), check=_grey_ramp),
    Case("exif_rotated", "rotated.jpg", _exif_rotated, shape=(76, 50)),
    Case("name_spaces", "my photo (1).png", _save(photo()), shape=(50, 76)),
    Case("name_unicode", "café 日本 ☃.png", _save(photo()), shape=(50, 76)),
    Case("name_shell", "a;b $(touch pwned) `touch pwned2` 'q' \"x\" &.png", _save(photo()), shape=(50, 76)),
]
BAD = [c for c in CASES if c.problem]
GOOD = [c for c in CASES if not c.problem]


def _ids(cases):
    return [c.name for c in cases]


def _make(case: Case, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / case.filename
    case.make(path)
    return path


def assert_one_line_error(r, *needles, pattern=None):
    err = r.stderr.strip()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert len(err.splitlines()) == 1, f"expected one line, got:\n{r.stderr}"
    assert err.startswith("msroi: "), err
    for n in needles:
        assert str(n) in err, (n, err)
    if pattern:
        import re

        assert re.search(pattern, err), (pattern, err)


def _no_side_effects(*dirs):
    for d in dirs:
        assert not list(Path(d).rglob("pwned*")), "a file name was run by a shell"


# ----------------------------------------------------------------------------- compress


COMPRESS = [(c, "default") for c in CASES] + [(c, "original") for c in GOOD]


@pytest.mark.parametrize("case, method", COMPRESS, ids=[f"{c.name}-{m}" for c, m in COMPRESS])
def test_compress(tmp_path, case, method):
    """The default (semantic) method on every case; the original method on the valid ones."""
    src = _make(case, tmp_path / "in")
    out_dir = tmp_path / "out"
    out = out_dir / f"{case.filename}.jpg"
    extra = [] if method == "default" else ["--method", method]
    r = run("compress", src, "--prior", "center", "-o", out, "--json", *extra, cwd=tmp_path)
    _no_side_effects(tmp_path)
    if case.problem:
        assert_one_line_error(r, src, pattern=case.problem)
        assert r.stdout == ""
        assert not out_dir.exists() or list(out_dir.iterdir()) == []
        return
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert sorted(p.name for p in out_dir.iterdir()) == [out.name]  # no temp files left
    data = out.read_bytes()
    assert rec["bytes"] == len(data) and rec["fits_budget"] and len(data) <= rec["budget_bytes"]
    assert (rec["height"], rec["width"]) == case.shape
    with Image.open(out) as im:
        assert (im.height, im.width) == case.shape  # the displayed orientation...
        assert im.getexif().get(0x0112, 1) == 1  # ...with no orientation tag to rotate it again
    decoded = jpeg.decode(data)
    assert decoded.shape == (*case.shape, 3)
    if case.check:
        case.check(decoded)
    if case.name == "exif_rotated":  # content, not only size, is the displayed image
        shown = read_image(src)
        assert np.abs(decoded.astype(int) - shown.astype(int)).mean() < 15


def test_compress_pixel_limit_option(tmp_path):
    src = _make(CASES[-3], tmp_path)  # 50 x 76 = 3800 pixels
    out = tmp_path / "o.jpg"
    r = run("compress", src, "--prior", "center", "-o", out, "--max-pixels", "3799")
    assert_one_line_error(r, src, "3800", "3799", pattern="above the limit")
    assert not out.exists()
    assert run("compress", src, "--prior", "center", "-o", out, "--max-pixels", "3800").returncode == 0


def test_bad_input_with_debug_shows_the_traceback(tmp_path):
    src = _make(BAD[0], tmp_path)
    r = run("--debug", "compress", src, "--prior", "center", "-o", tmp_path / "o.jpg")
    assert r.returncode != 0 and "Traceback" in r.stderr and "InputError" in r.stderr
    assert not (tmp_path / "o.jpg").exists()


# ------------------------------------------------------------------------- map files


def _npy(array):
    return lambda p: np.save(p, np.asarray(array))


def _float_tiff_with_nan(path):
    m = np.full((10, 12), 0.5, np.float32)
    m[3, 4] = np.nan
    Image.fromarray(m, "F").save(path)


MAP_CASES = [
    ("smaller_npy", "m.npy", _npy(np.random.default_rng(0).random((5, 9))), None),
    ("other_aspect_png8", "m.png", _save(np.random.default_rng(1).integers(0, 256, (90, 20), dtype=np.uint8)), None),
    ("bigger_png16", "m.png", _save(np.random.default_rng(2).integers(0, 65536, (200, 300), dtype=np.uint16)), None),
    ("constant_ones", "m.npy", _npy(np.ones((50, 76))), None),
    ("constant_zero_png", "m.png", _save(np.zeros((50, 76), np.uint8)), None),
    ("one_pixel", "m.npy", _npy([[0.3]]), None),
    ("nan_npy", "m.npy", _npy(np.where(np.eye(8) > 0, np.nan, 0.5)), "NaN"),
    ("inf_npy", "m.npy", _npy(np.where(np.eye(8) > 0, np.inf, 0.5)), "infinite"),
    ("nan_float_tiff", "m.tif", _float_tiff_with_nan, "NaN"),
    ("three_d_npy", "m.npy", _npy(np.zeros((4, 4, 3))), "2-D"),
    ("text_as_png", "m.png", lambda p: p.write_text("not a map"), "cannot read map"),
    ("empty_npy", "m.npy", lambda p: p.write_bytes(b""), "cannot read map"),
    ("missing", "m.png", lambda p: None, "no such map file"),
]


@pytest.mark.parametrize("name, filename, make, problem", MAP_CASES, ids=[c[0] for c in MAP_CASES])
def test_compress_with_map_file(tmp_path, name, filename, make, problem):
    src = tmp_path / "photo.png"
    Image.fromarray(photo()).save(src)
    m = tmp_path / "maps" / filename
    m.parent.mkdir()
    make(m)
    out_dir = tmp_path / "out"
    r = run("compress", src, "--map", m, "-o", out_dir / "o.jpg")
    if problem:
        assert_one_line_error(r, m, problem)
        assert not out_dir.exists()
    else:
        assert r.returncode == 0, r.stderr
        assert jpeg.decode((out_dir / "o.jpg").read_bytes()).shape == (50, 76, 3)
        assert sorted(p.name for p in out_dir.iterdir()) == ["o.jpg"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_compress_refuses_non_finite_threshold(tmp_path, value):
    src = tmp_path / "photo.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "o.jpg"
    r = run("compress", src, "--prior", "center", "-o", out, f"--threshold-pct={value}")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "threshold" in r.stderr
    assert not out.exists()


def test_compress_option_out_of_range_names_the_option(tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(photo()).save(src)
    r = run("compress", src, "--prior", "center", "-o", tmp_path / "o.jpg", "--base-quality", "0")
    assert r.returncode == 2 and "--base-quality" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.jpg").exists()


# ---------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_metrics(tmp_path, case):
    good = tmp_path / "ref.png"
    Image.fromarray(photo()).save(good)
    src = _make(case, tmp_path / "in")
    if case.problem:
        # the bad file as the reference, and (for one case) as the distorted image
        for args in ((src, good), (good, src))[: 2 if case.name == "zero_bytes" else 1]:
            r = run("metrics", *args, "--json")
            assert_one_line_error(r, src, pattern=case.problem)
            assert r.stdout == ""
        return
    distorted = tmp_path / "distorted.jpg"
    distorted.write_bytes(jpeg.encode(read_image(src), 75))
    r = run("metrics", src, distorted, "--json")
    assert r.returncode == 0, r.stderr

    def no_nan(token):  # NaN/Infinity are not JSON: they must be printed as null
        raise AssertionError(f"non-JSON number {token} in output")

    v = json.loads(r.stdout, parse_constant=no_nan)
    side = min(case.shape)
    # what the metrics give on small images (docs/metrics.md "too small"): null = NaN
    assert (v["ssim"] is None) == (side < 11), v
    assert (v["msssim"] is None) == (side < 161), v
    assert (v["vifp"] is None) == (side < 41), v
    assert (v["psnrhvs"] is None) == (side < 8) and (v["psnrhvsm"] is None) == (side < 8), v
    assert v["psnr"] is None or v["psnr"] > 0  # None only when identical (infinite PSNR)
    r = run("metrics", src, distorted)  # the text form prints every metric, nan included
    assert r.returncode == 0 and len(r.stdout.splitlines()) == len(v)


# ------------------------------------------------------------------------------- map


@pytest.fixture(scope="module")
def map_run(tmp_path_factory):
    """`msroi map DIR -o OUT` once over a directory holding every case."""
    wd = tmp_path_factory.mktemp("map")
    src = wd / "in"
    paths = {c.name: _make(c, src) for c in CASES}
    out = wd / "out"
    r = run("map", src, "-o", out, "--short-side", "64", cwd=wd)
    return wd, paths, out, r


def test_map_batch_reports_every_bad_file_and_finishes_the_rest(map_run):
    wd, paths, out, r = map_run
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last == f"msroi: {len(BAD)} of {len(CASES)} images failed (see the lines above)"
    _no_side_effects(wd)
    expected = sorted(f"{Path(c.filename).stem}{s}" for c in GOOD for s in (".png", "_overlay.png", ".json"))
    assert sorted(p.name for p in out.iterdir()) == expected  # nothing for bad files, no temp files


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_map(map_run, case):
    _, paths, out, r = map_run
    src = paths[case.name]
    stem = Path(case.filename).stem
    lines = [line for line in r.stderr.splitlines() if str(src) in line]
    if case.problem:
        import re

        assert len(lines) == 1 and re.search(case.problem, lines[0]), r.stderr
        assert not list(out.glob(f"{stem}*"))
        return
    assert not any("error" in line for line in lines), lines
    m = read_map(out / f"{stem}.png")
    assert m.shape == case.shape and 0.0 <= m.min() and m.max() <= 1.0
    with Image.open(out / f"{stem}_overlay.png") as im:
        assert (im.height, im.width) == case.shape and im.mode == "RGB"
    record = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
    assert record["image"] == case.filename and (record["height"], record["width"]) == case.shape


def test_map_single_bad_image_is_one_line(tmp_path):
    src = _make(CASES[3], tmp_path)  # text named .jpg
    out = tmp_path / "maps" / "m.png"
    r = run("map", src, "-o", out)
    assert_one_line_error(r, src, "not an image")
    assert not out.parent.exists()


def test_map_missing_model_file(tmp_path):
    src = _make(GOOD[0], tmp_path)
    r = run("map", src, "-o", tmp_path / "out", "--model", tmp_path / "missing.keras")
    assert_one_line_error(r, tmp_path / "missing.keras", "no such model file")
    assert not (tmp_path / "out").exists()


def test_map_same_stem_in_one_directory_is_refused_before_work(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo()).save(src / "a.png")
    Image.fromarray(photo()).save(src / "a.jpg")
    r = run("map", src, "-o", tmp_path / "out")
    assert_one_line_error(r, src / "a.png", src / "a.jpg", "same file stem")
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------- hostile checkpoint


def test_checkpoint_pickle_naming_other_classes_is_refused_through_convert(tmp_path):
    """The default model's .pth goes through msroi.saliency.networks.efficientnet_lite0.convert (the default_model rule)."""
    import os
    import pickle

    from msroi.saliency.networks.efficientnet_lite0 import convert
    from msroi.errors import InputError

    marker = tmp_path / "side_effect"

    class System:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    header = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
              + pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2))
    hostile = tmp_path / "weights.pth"
    hostile.write_bytes(header + pickle.dumps({"conv.weight": System()}, protocol=2))
    out = tmp_path / "model"
    with pytest.raises(InputError) as e:
        convert(hostile, out)
    msg = str(e.value)
    assert str(hostile) in msg and "refused global" in msg and "system" in msg and "\n" not in msg
    assert not marker.exists()
    assert not out.exists() or list(out.iterdir()) == []


# ---------------------------------------------------------------------------- workflow


WORKFLOW_CASES = BAD
# a .png/.jpg pair with the same hostile stem: one a 1x1 image, one an EXIF-rotated photo
PAIR_STEM = "a;b $(touch pwned) 'q' café"
PAIR_IDS = {"a_b_touch_pwned_q_café_png": (1, 1), "a_b_touch_pwned_q_café_jpg": (76, 50)}


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("wf hostile")  # a space in the working directory too
    images = wd / "images"
    for c in WORKFLOW_CASES:
        _make(c, images)
    _tiny(1)(images / f"{PAIR_STEM}.png")
    _exif_rotated(images / f"{PAIR_STEM}.jpg")
    config = {"images": "images", "map_sources": ["center"], "jpegli": False,
              "base_quality": [50], "original": {"selection": [3], "threshold_pct": [1]}}
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    r = snakemake(wd, check=False)
    return wd, r


def test_workflow_finishes_the_good_images(workflow_run):
    wd, r = workflow_run
    assert r.returncode == 0, r.stderr[-5000:]
    _no_side_effects(wd)
    metrics = pd.read_csv(wd / "results/metrics.csv")
    assert set(metrics["image"]) == set(PAIR_IDS)


@pytest.mark.parametrize("case", WORKFLOW_CASES, ids=_ids(WORKFLOW_CASES))
def test_workflow_reports_bad_file_in_inputs_csv(workflow_run, case):
    import re

    wd, r = workflow_run
    inputs = pd.read_csv(wd / "results/inputs.csv", keep_default_na=False)
    row = inputs[inputs["path"] == f"images/{case.filename}"]
    assert len(row) == 1 and not row["ok"].iloc[0]
    assert re.search(case.problem, row["error"].iloc[0])
    assert case.filename in (wd / "results/logs/check_images.log").read_text(encoding="utf-8")
    metrics = pd.read_csv(wd / "results/metrics.csv")
    assert row["id"].iloc[0] not in set(metrics["image"])


def test_workflow_same_stem_gives_two_ids_in_displayed_orientation(workflow_run):
    wd, r = workflow_run
    inputs = pd.read_csv(wd / "results/inputs.csv", keep_default_na=False).set_index("id")
    evaluated = {}  # a JPEG input is evaluated downscaled by 2, a lossless one as it is
    for key, (h, w) in PAIR_IDS.items():
        assert inputs.loc[key, "ok"] and (inputs.loc[key, "height"], inputs.loc[key, "width"]) == (h, w)
        evaluated[key] = (h // 2, w // 2) if key.endswith("_jpg") else (h, w)
        assert read_map(wd / f"results/maps/center/{key}.png").shape == evaluated[key]
    metrics = pd.read_csv(wd / "results/metrics.csv")
    for row in metrics.itertuples():
        h, w = evaluated[row.image]
        data = (wd / row.output).read_bytes()
        assert row.bytes == len(data)
        with Image.open(wd / row.output) as im:
            assert (im.height, im.width) == (h, w) and im.getexif().get(0x0112, 1) == 1
        assert jpeg.decode(data).shape == (h, w, 3)


def test_workflow_outputs_resemble_the_displayed_image(workflow_run):
    """Every method's output for the rotated photo is that photo, not a scrambled one."""
    wd, r = workflow_run
    metrics = pd.read_csv(wd / "results/metrics.csv")
    rotated = metrics[metrics["image"] == "a_b_touch_pwned_q_café_jpg"]
    assert len(rotated) >= 2
    bad = rotated[~(rotated["psnr"] > 22)]
    assert bad.empty, f"outputs far from the input:\n{bad[['method', 'map_source', 'bytes', 'psnr', 'ssim']]}"


def test_workflow_tiny_image_metrics_are_nan_not_errors(workflow_run):
    wd, r = workflow_run
    metrics = pd.read_csv(wd / "results/metrics.csv")
    tiny = metrics[metrics["image"] == "a_b_touch_pwned_q_café_png"]
    assert len(tiny) >= 2
    assert tiny["ssim"].isna().all() and tiny["msssim"].isna().all() and tiny["psnrhvs"].isna().all()
    assert (tiny["bytes"] > 0).all()


@pytest.mark.parametrize(
    "overrides, key",
    [
        ({"max_pixels": 0}, "max_pixels"),
        ({"base_quality": [101], "original": {"selection": [3], "threshold_pct": [1]}}, "base_quality"),
        ({"imagez": "images"}, "imagez"),
        ({"semantic": {"smooth": 1e9}}, "smooth"),
        ({"max_pixels": 10**12}, "max_pixels"),
        ({"encoder": {"subsampling": "4:4:4"}}, "subsampling"),
    ],
    ids=["max_pixels", "base_quality", "unknown_key", "smooth_1e9", "max_pixels_1e12", "semantic_444"],
)
def test_workflow_invalid_config_names_the_key(tmp_path, overrides, key):
    config = {"images": "images", **overrides}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    r = snakemake(tmp_path, "-n", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and key in out, out[-3000:]
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------ safe with a user's photos
#
# One row per way a command could destroy an input, exhaust the machine, or fail with a
# traceback. Each row builds its files in an empty directory and returns the command line;
# the test asserts exit status 2, one line naming the file (or option) and the problem, no
# traceback, every file present before byte-identical after, and no file added.


def _photo_png(path):
    Image.fromarray(photo()).save(path)


def _jpeg_photo(path):
    Image.fromarray(photo()).save(path, quality=90)


def _nested_json(path):
    path.write_text("[" * 100_000 + "]" * 100_000)


def _long_name_npy(path):
    np.save(path, np.full((4, 4), 0.5))


def _in(d, name, make=_photo_png):
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    make(p)
    return p


def _symlinked(d):
    _in(d, "a.png")
    (d / "link.png").symlink_to(d / "a.png")
    return ["compress", "a.png", "--prior", "center", "-o", "o.jpg", "--baseline", "link.png"]


def _dotdot(d):
    _in(d, "a.png")
    (d / "sub").mkdir()
    return ["compress", "a.png", "--prior", "center", "-o", "o.jpg", "--baseline", "sub/../a.png"]


def _map_dir_onto_itself(d):
    _in(d, "in/a.png")
    _in(d, "in/b.jpg", _jpeg_photo)
    return ["map", "in", "-o", "in"]


def _map_npy(array):
    def setup(d):
        _in(d, "a.png")
        np.save(d / "m.npy", array)
        return ["compress", "a.png", "--map", "m.npy", "-o", "o.jpg"]
    return setup


def _roi(make, name):
    def setup(d):
        _in(d, "a.png")
        _in(d, "b.jpg", _jpeg_photo)
        _in(d, name, make)
        return ["metrics", "a.png", "b.jpg", "--roi", name]
    return setup


def _compress(*extra, name="a.png"):
    def setup(d):
        _in(d, name)
        return ["compress", name, "--prior", "center", "-o", "o.jpg", *extra]
    return setup


def _map(*extra):
    def setup(d):
        _in(d, "a.png")
        return ["map", "a.png", "-o", "maps", *extra]
    return setup


def _map_file_onto_itself(d):
    _in(d, "a.png")
    return ["map", "a.png", "-o", "a.png"]


def _overlay_onto_the_input(d):
    _in(d, "b.jpg", _jpeg_photo)
    return ["map", "b.jpg", "-o", "m.png", "--overlay", "b.jpg"]


def _x_and_x_overlay(d):
    _in(d, "in/x.png")
    _in(d, "in/x_overlay.jpg", _jpeg_photo)
    return ["map", "in", "-o", "out"]


def _bomb_map(d):
    _in(d, "a.png")
    _in(d, "bomb.png", _bomb)
    return ["compress", "a.png", "--map", "bomb.png", "-o", "o.jpg"]


def _output_under_a_file(d):
    _in(d, "a.png")
    (d / "f").write_text("a file")
    return ["compress", "a.png", "--prior", "center", "-o", "f/o.jpg"]


def _samples_into_a_file(d):
    (d / "f").write_text("a file")
    return ["samples", "chelsea", "-o", "f"]


def _prepare_dataset_onto_an_image(d):
    for c in ("cats", "dogs"):
        _in(d, f"data/{c}/1.png")
        _in(d, f"data/{c}/2.png")
    return ["prepare-dataset", "data", "-o", "data/cats/1.png"]


@dataclass
class Unsafe:
    name: str
    setup: Callable[[Path], list]
    problem: str  # regex the message must match
    names: tuple = ()  # strings the message must contain (the file, the option)


UNSAFE = [
    # 1-3: an output over an input, or two outputs on one file
    Unsafe("baseline_is_the_input", _compress("--baseline", "a.png"), "overwrite the input", ("a.png",)),
    Unsafe("baseline_is_the_input_through_dotdot", _dotdot, "overwrite the input", ("sub/../a.png",)),
    Unsafe("baseline_is_the_input_through_a_symlink", _symlinked, "overwrite the input", ("link.png",)),
    Unsafe("output_is_the_input", _compress(name="o.jpg"), "overwrite the input", ("o.jpg",)),
    Unsafe("map_directory_onto_itself", _map_dir_onto_itself, "overwrite the input", ("a.png",)),
    Unsafe("map_file_onto_itself", _map_file_onto_itself, "overwrite the input", ("a.png",)),
    Unsafe("overlay_onto_the_input", _overlay_onto_the_input, "overwrite the input", ("b.jpg",)),
    Unsafe("output_and_baseline_one_file", _compress("--baseline", "o.jpg"), "two outputs", ("o.jpg",)),
    Unsafe("prepare_dataset_onto_an_image", _prepare_dataset_onto_an_image, "overwrite the input", ("1.png",)),
    Unsafe("map_x_next_to_x_overlay", _x_and_x_overlay, "named like the other's overlay", ("x_overlay.jpg", "x.png")),
    # 4: options that would exhaust the machine
    Unsafe("smooth_1e9", _compress("--smooth", "1e9"), r"not in \[0, 1024\]", ("--smooth",)),
    Unsafe("short_side_100000", _map("--short-side", "100000"), r"not in \[32, 2048\]", ("--short-side",)),
    Unsafe("max_pixels_1e12", _compress("--max-pixels", "1000000000000"), r"not in \[1, 1e\+09\]", ("--max-pixels",)),
    # 5: maps and ROI images get the image's decompression-bomb guard
    Unsafe("bomb_map", _bomb_map, "too large|above the limit", ("bomb.png",)),
    Unsafe("bomb_roi", _roi(_bomb, "bomb.png"), "too large|above the limit", ("bomb.png",)),
    # 15: maps outside [0, 1]
    Unsafe("map_0_255_floats", _map_npy(np.linspace(0, 255, 64).reshape(8, 8)), r"\[0, 1\]", ("m.npy",)),
    Unsafe("map_logits", _map_npy(np.linspace(-4, 4, 64).reshape(8, 8)), r"\[0, 1\]", ("m.npy",)),
    # 16: options the semantic method cannot honour
    Unsafe("semantic_444", _compress("--subsampling", "4:4:4"), "cannot write subsampling 4:4:4", ()),
    Unsafe("semantic_no_optimize", _compress("--no-optimize"), "cannot write optimize", ()),
    # 17: map options that gave all-zero maps or silent substitutions
    Unsafe("short_side_0", _map("--short-side", "0"), r"not in \[32", ("--short-side",)),
    Unsafe("last_weight_nan", _map("--last-weight", "nan"), r"not in \[0.01, 100\]", ("--last-weight",)),
    Unsafe("last_weight_inf", _map("--last-weight", "inf"), r"not in \[0.01, 100\]", ("--last-weight",)),
    Unsafe("top_k_minus_1", _map("--top-k", "-1"), r"not in \[1, 1000\]", ("--top-k",)),
    Unsafe("top_k_0", _map("--top-k", "0"), r"not in \[1, 1000\]", ("--top-k",)),
    # 18: more one-line errors
    Unsafe("empty_npy_map", _map_npy(np.zeros((0, 0))), "map is empty", ("m.npy",)),
    Unsafe("string_npy_map", _map_npy(np.array([["a", "b"], ["c", "d"]])), "must hold numbers", ("m.npy",)),
    Unsafe("threshold_1e308", _compress("--threshold-pct", "1e308"), r"not in \[0, 1000\]", ("--threshold-pct",)),
    Unsafe("roi_nested_json", _roi(_nested_json, "boxes.json"), "nested too deeply", ("boxes.json",)),
    Unsafe("roi_nan_box", _roi(lambda p: p.write_text('{"a.png": [[NaN, 0, 10, 10]]}'), "boxes.json"), "finite",
           ("boxes.json",)),
    Unsafe("output_under_a_file", _output_under_a_file, "not a directory", ("f/o.jpg",)),
    Unsafe("samples_into_a_file", _samples_into_a_file, "not a directory", ("f/chelsea.png",)),
]


def _snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in d.rglob("*")}


@pytest.mark.parametrize("case", UNSAFE, ids=[c.name for c in UNSAFE])
def test_unsafe_request_is_refused_before_any_work(tmp_path, case):
    argv = case.setup(tmp_path)
    before = _snapshot(tmp_path)
    r = run(*argv, cwd=tmp_path)
    assert_one_line_error(r, *case.names, pattern=case.problem)
    assert _snapshot(tmp_path) == before  # inputs byte-identical; no output, partial or temporary file


def test_readonly_place_is_refused_before_any_work(tmp_path):
    ro = next((Path(p) for p in ("/proc/sys", "/sys") if not os.access(p, os.W_OK)), None)
    if ro is None:
        pytest.skip("no read-only place on this machine")
    _in(tmp_path, "a.png")
    r = run("compress", "a.png", "--prior", "center", "-o", ro / "o.jpg", cwd=tmp_path)
    assert_one_line_error(r, ro / "o.jpg", pattern="cannot write|permission denied")


def test_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    """A write that fails with ENOSPC half way: one line naming the output, nothing left behind."""
    import errno

    from msroi import cli, files

    _in(tmp_path, "a.png")
    real = Path.write_bytes

    def full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compress", "a.png", "--prior", "center", "-o", "o.jpg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("msroi: o.jpg: cannot write") and "No space" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    assert files.DEFAULT_MAX_PIXELS  # the module imported fine under the patch


def test_out_of_memory_is_one_line(tmp_path, monkeypatch, capsys):
    from msroi import cli
    from msroi.codec import semantic

    _in(tmp_path, "a.png")

    def exhausted(*a, **k):
        raise MemoryError

    monkeypatch.setattr(semantic, "encode_semantic", exhausted)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compress", "a.png", "--prior", "center", "-o", "o.jpg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err and "--max-pixels" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_default_max_pixels_fits_the_memory_budget():
    from msroi import files, settings

    assert files.DEFAULT_MAX_PIXELS == settings.MAX_PIXELS
    assert settings.MAX_PIXELS * settings.SEMANTIC_BYTES_PER_PIXEL <= settings.MEMORY_BUDGET_BYTES
    # the 9000 x 9000 PNG that once took 8.35 GB now fits (81 M px x 64 B = 5.2 GB);
    # the limit stays under what Pillow refuses on its own
    assert 9000 * 9000 * settings.SEMANTIC_BYTES_PER_PIXEL <= settings.MEMORY_BUDGET_BYTES
    assert settings.MAX_PIXELS < 2 * 89_478_485


def test_long_file_name_works(tmp_path):
    """A legal 249-character name, as input and output (the temporary name must stay legal)."""
    name = "p" * 245 + ".png"
    _in(tmp_path, name)
    r = run("compress", name, "--prior", "center", "-o", "q" * 245 + ".jpg", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "q" * 245 + ".jpg"])


# -------------------------------------------------- colour, metadata and permissions


@functools.lru_cache(maxsize=None)
def _adobe_like_icc() -> bytes:
    """An RGB ICC profile (sRGB from Pillow, with its description changed: any RGB profile)."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _photo_with_metadata(path, icc=None):
    im = Image.fromarray(photo())
    exif = im.getexif()
    exif[0x0112] = 6  # rotated
    exif[0x010F] = "MakerCo"  # camera make
    exif[0x0132] = "2024:05:01 10:00:00"  # date
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPS latitude
    im.save(path, exif=exif, quality=95, icc_profile=icc or _adobe_like_icc())


@pytest.mark.parametrize("method", ["semantic", "original"])
def test_icc_and_exif_are_kept_with_orientation_reset(tmp_path, method):
    src = tmp_path / "cam.jpg"
    icc = _adobe_like_icc()
    _photo_with_metadata(src, icc)
    out, base = tmp_path / "o.jpg", tmp_path / "b.jpg"
    r = run("compress", src, "--prior", "center", "-o", out, "--baseline", base, "--method", method, "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["bytes"] == out.stat().st_size and rec["base_bytes"] == base.stat().st_size
    assert rec["metadata_bytes"] > len(icc) and rec["bytes"] <= rec["budget_bytes"]
    for p in (out, base):
        with Image.open(p) as im:
            assert im.info.get("icc_profile") == icc
            exif = im.getexif()
            assert exif.get(0x0112) == 1 and exif.get(0x010F) == "MakerCo" and exif.get(0x0132) == "2024:05:01 10:00:00"
            assert exif.get_ifd(0x8825).get(2) == (48.0, 51.0, 30.0)
            assert (im.height, im.width) == (76, 50)
    # the same pixels as without metadata
    r2 = run("compress", src, "--prior", "center", "-o", tmp_path / "plain.jpg", "--method", method,
             "--strip-metadata")
    assert r2.returncode == 0, r2.stderr
    assert np.array_equal(jpeg.decode(out.read_bytes()), jpeg.decode((tmp_path / "plain.jpg").read_bytes()))
    with Image.open(tmp_path / "plain.jpg") as im:
        assert im.info.get("icc_profile") == icc  # colour kept even when stripping
        assert 0x010F not in im.getexif() and 0x8825 not in im.getexif()


def test_icc_profile_split_into_chunks():
    from msroi.files import ImageMetadata, add_metadata

    big = b"\0" * 16 + b"RGB " + bytes(range(256)) * 600  # 153620 bytes: three chunks
    data = add_metadata(jpeg.encode(photo(), 50), ImageMetadata(icc_profile=big))
    with Image.open(__import__("io").BytesIO(data)) as im:
        assert im.info["icc_profile"] == big
    assert data.count(b"ICC_PROFILE\0") == 3


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_get_the_permissions_of_open(tmp_path, umask):
    from msroi.files import write_bytes

    old = os.umask(umask)
    try:
        write_bytes(tmp_path / "o.jpg", b"x")
        with open(tmp_path / "ref", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    mode = (tmp_path / "o.jpg").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask == (tmp_path / "ref").stat().st_mode & 0o777


def test_semantic_record_describes_the_file(tmp_path):
    src = _in(tmp_path, "a.png")
    r = run("compress", src, "--prior", "center", "-o", tmp_path / "o.jpg", "--json")
    rec = json.loads(r.stdout)
    from msroi.codec.record import jpeg_layout

    layout = jpeg_layout((tmp_path / "o.jpg").read_bytes())
    assert (rec["subsampling"], rec["progressive"]) == (layout["subsampling"], layout["progressive"]) == ("4:2:0", False)


# ------------------------------------------------- one bad file never stops the batch


def test_image_ids_are_safe_wildcards_and_file_names():
    from snakemake.io import PeriodicityDetector

    from msroi.pipeline.inputs import MAX_ID_LENGTH, image_ids

    names = ["scan_00000000000000000000.jpg", "x.png", "x_overlay.jpg", "p" * 245 + ".png",
             "q" * 200 + "r.png", "ab" * 30 + ".png", "2024-05-01 10.00.00.jpg"]
    ids = image_ids([Path("d") / n for n in names])
    assert len(ids) == len(names)
    detector = PeriodicityDetector()
    for key in ids:
        assert detector.is_periodic(key) is None, key
        assert len(key.encode()) <= MAX_ID_LENGTH and not key.endswith("_overlay"), key
    assert ids["scan_000_x20"] == Path("d/scan_00000000000000000000.jpg")
    assert ids["x_overlay_image"] == Path("d/x_overlay.jpg")


def test_every_directory_entry_is_used_or_skipped_with_a_reason(tmp_path):
    from msroi.files import scan_directory

    _in(tmp_path, "a.png")
    _in(tmp_path, "b.JFIF", _jpeg_photo)
    (tmp_path / "nested").mkdir()
    (tmp_path / "dir.jpg").mkdir()
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "notes.txt").write_text("x")
    used, skipped = scan_directory(tmp_path)
    assert [p.name for p in used] == ["a.png", "b.JFIF"]
    reasons = {p.name: why for p, why in skipped}
    assert set(reasons) == {"nested", "dir.jpg", "loop.jpg", "notes.txt"}
    assert "directory" in reasons["dir.jpg"] and "symbolic link" in reasons["loop.jpg"]
    assert "suffix" in reasons["notes.txt"]


def test_job_log_holds_the_error(tmp_path):
    from msroi.errors import InputError
    from msroi.pipeline.joblog import job_log

    for exc, expected in ((ValueError("boom"), "Traceback"), (InputError("a.png", "bad"), "msroi: a.png: bad")):
        log = tmp_path / "job.log"
        with pytest.raises(type(exc)):
            with job_log(log):
                print("working", file=sys.stderr)
                raise exc
        text = log.read_text()
        assert "working" in text and expected in text


def test_means_skip_non_finite_values_and_count_them():
    from msroi.pipeline.score import _with_ci

    df = pd.DataFrame({"image": ["a", "b", "c"], "method": "jpeg", "psnr": [30.0, np.inf, 32.0],
                       "delta_psnr": [0.5, np.inf, 1.5], "ssim": [0.9, np.nan, 0.8]})
    row = _with_ci(df, ["method"], ["psnr", "delta_psnr", "ssim"]).iloc[0]
    assert row["psnr"] == 31.0 and row["delta_psnr"] == 1.0 and np.isclose(row["ssim"], 0.85)
    assert row["n_skipped"] == 3 and np.isfinite(row["delta_psnr_ci_hi"])


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    """The workflow on good photos next to every kind of entry that used to stop the batch."""
    wd = tmp_path_factory.mktemp("batch")
    images = wd / "images"
    _in(images, "cat.png")
    _in(images, "cup.jpg", _jpeg_photo)
    _in(images, "scan_00000000000000000000.jpg", _jpeg_photo)  # periodic wildcard
    _in(images, "x.png")
    _in(images, "x_overlay.jpg", _jpeg_photo)  # the name of x.png's overlay
    _in(images, "n" * 245 + ".png")  # a legal 249-character name
    _in(images, "tiny.png", _tiny(1))  # lossless 1x1: PSNR inf
    _in(images, "old.jfif", _jpeg_photo)
    _in(images, "wide.jpg", _photo_with_metadata)  # an ICC profile and EXIF
    _in(images, "nested/inside.png")
    (images / "folder.jpg").mkdir()
    (images / "loop.jpg").symlink_to(images / "loop.jpg")
    config = {"images": "images", "map_sources": ["center"], "jpegli": False,
              "base_quality": [50], "original": {"enabled": False}}
    (wd / "config.yaml").write_text(yaml.safe_dump(config))
    r = snakemake(wd, check=False)
    return wd, r


@pytest.mark.slow
def test_batch_finishes_every_good_photo(batch_run):
    wd, r = batch_run
    assert r.returncode == 0, r.stderr[-5000:]
    inputs = pd.read_csv(wd / "results/inputs.csv", keep_default_na=False)
    entries = sorted(p.name for p in (wd / "images").iterdir())
    assert sorted(Path(p).name for p in inputs["path"]) == entries  # every entry explained
    status = dict(zip((Path(p).name for p in inputs["path"]), inputs["status"]))
    assert {k for k, v in status.items() if v == "skipped"} == {"nested", "folder.jpg", "loop.jpg"}
    used = inputs[inputs["status"] == "used"]
    assert len(used) == 9
    metrics = pd.read_csv(wd / "results/metrics.csv")
    assert set(metrics["image"]) == set(used["id"])
    assert len(metrics) == 9 * 3  # every good photo x (jpeg, mozjpeg, semantic center)
    for row in metrics.itertuples():
        assert row.bytes == (wd / row.output).stat().st_size
    icc = _adobe_like_icc()
    for row in metrics[metrics["image"] == "wide"].itertuples():
        with Image.open(wd / row.output) as im:  # the colours kept, the EXIF not
            assert im.info.get("icc_profile") == icc and 0x010F not in im.getexif()
        assert row.metadata_bytes > len(icc)
    standard = metrics[(metrics["method"] == "jpeg") & (metrics["image"] != "tiny")]  # tiny: PSNR inf
    # the reference curve counts the profile too (else its bytes would not line up); on these 1 KB files two
    # qualities can give the same size, and the curve keeps the better one (up to ~0.07 dB)
    assert standard["delta_psnr"].abs().max() < 0.1
    summary = pd.read_csv(wd / "results/summary.csv")
    means = summary[[c for c in summary.columns if c in ("psnr", "delta_psnr", "psnr_rgb")]]
    assert np.isfinite(means.to_numpy(dtype=float)).all(), summary
    assert (summary["n_skipped"] > 0).any()  # the 1x1 image's values, counted
    assert len(pd.read_csv(wd / "results/eval/rd.csv")) == len(metrics)
    eq = pd.read_csv(wd / "results/eval/equal_bytes.csv")
    assert np.isfinite(eq["delta_psnr"].to_numpy(dtype=float)).all()
