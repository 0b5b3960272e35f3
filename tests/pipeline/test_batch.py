"""`msroi compress` on files and directories: tree out, targets, failures, parallel workers."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from msroi.codec import jpeg
from msroi.errors import MsroiError
from msroi.pipeline import batch


from tests.conftest import run_cli as run


def records(stdout: str) -> dict:
    return {json.loads(line)["image"]: json.loads(line) for line in stdout.splitlines()}


@pytest.fixture()
def photos(tmp_path):
    """A directory with two photos at the top, two in a subdirectory and one bad file."""
    from skimage import data

    d = tmp_path / "photos"
    (d / "trip").mkdir(parents=True)
    Image.fromarray(data.chelsea()[::3, ::3]).save(d / "cat.png")
    Image.fromarray(data.coffee()[::5, ::5]).save(d / "cup.jpg", quality=95)
    Image.fromarray(data.astronaut()[::6, ::6]).save(d / "trip" / "astronaut.png")
    Image.fromarray(data.rocket()[::5, ::5]).save(d / "trip" / "rocket.tif")
    (d / "trip" / "broken.jpg").write_bytes(b"not a photo")
    return d


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_directory_in_tree_out(tmp_path, photos):
    out = tmp_path / "out"
    r = run("compress", photos, "-r", "-o", out, "--prior", "center", "-j", "1", "--json")
    assert r.returncode == 2, r.stderr  # one bad file
    assert tree(out) == ["cat.jpg", "cup.jpg", "trip/astronaut.jpg", "trip/rocket.jpg"]
    for rel in tree(out):
        src = next(photos.glob(str(rel)[:-4] + ".*"))
        with Image.open(src) as im:
            assert jpeg.decode((out / rel).read_bytes()).shape == (im.height, im.width, 3)
    recs = records(r.stdout)
    bad = recs[str(photos / "trip" / "broken.jpg")]
    assert not bad["ok"] and "broken.jpg" in bad["error"]
    good = [rec for rec in recs.values() if rec["ok"]]
    assert len(good) == 4 and all(rec["bytes"] <= rec["budget_bytes"] == rec["base_bytes"] for rec in good)
    # the failure is one line naming the file, then the summary
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "broken.jpg" in line] == [f"msroi: {photos / 'trip' / 'broken.jpg'}: not an image Pillow can read"]
    assert "4 of 5 images compressed, 1 failed" in r.stderr and "Traceback" not in r.stderr


def test_without_recursion_only_the_top_level(tmp_path, photos):
    out = tmp_path / "out"
    r = run("compress", photos, "-o", out, "--prior", "center", "-j", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert tree(out) == ["cat.jpg", "cup.jpg"] and r.stderr == "" and r.stdout == ""


def test_collisions_and_overwrites_refused_before_work(tmp_path, photos):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photos / "cup.png")  # cup.png and cup.jpg -> cup.jpg
    out = tmp_path / "out"
    r = run("compress", photos, "-o", out, "--prior", "center")
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip() == (f"msroi: {out / 'cup.jpg'}: would be written from both {photos / 'cup.jpg'} "
                                f"and {photos / 'cup.png'}")
    (photos / "cup.png").unlink()
    before = (photos / "cup.jpg").read_bytes()
    r = run("compress", photos, "-o", photos, "--prior", "center")  # the output tree is the input tree
    assert r.returncode == 2 and "cup.jpg: output would overwrite the input" in r.stderr
    assert r.stderr.count("\n") == 1 and (photos / "cup.jpg").read_bytes() == before
    assert not (photos / "cat.jpg").exists()


def test_outputs_inside_the_input_tree_are_not_inputs(tmp_path, photos):
    out = photos / "small"
    assert run("compress", photos, "-r", "-o", out, "--prior", "center", "-q").returncode == 2
    r = run("compress", photos, "-r", "-o", out, "--prior", "center", "-q")  # again: outputs not re-read
    assert r.returncode == 2 and tree(out) == ["cat.jpg", "cup.jpg", "trip/astronaut.jpg", "trip/rocket.jpg"]


def test_size_lands_at_or_under_the_target_or_writes_nothing(tmp_path, photos):
    from skimage import data

    (photos / "trip" / "broken.jpg").unlink()
    Image.fromarray(data.astronaut()).resize((1024, 1024)).save(photos / "big.png")  # DC alone is > 1500 bytes
    out = tmp_path / "out"
    r = run("compress", photos, "-r", "-o", out, "--size", "1500", "--prior", "center", "--json")
    assert r.returncode == 2
    recs = records(r.stdout)
    big = recs.pop(str(photos / "big.png"))
    assert not big["ok"] and "no JPEG fits the budget of 1500 bytes" in big["error"]
    assert "big.png" in r.stderr and not (out / "big.jpg").exists()
    assert len(recs) == 4
    for rec in recs.values():
        assert rec["ok"] and rec["target"] == "size" and rec["budget_bytes"] == 1500
        assert os.path.getsize(rec["output"]) == rec["bytes"] <= 1500
    r = run("compress", photos / "cat.png", "-o", tmp_path / "cat.jpg", "--size", "3k", "--json", "--prior", "center")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["bytes"] == (tmp_path / "cat.jpg").stat().st_size <= 3 * 1024


def test_bpp_and_max_quality_set_the_budget(tmp_path, photos):
    out = tmp_path / "a.jpg"
    r = run("compress", photos / "cat.png", "-o", out, "--bpp", "0.8", "--prior", "center", "--json")
    rec = json.loads(r.stdout)
    assert rec["budget_bytes"] == int(0.8 * rec["width"] * rec["height"] / 8) >= out.stat().st_size
    r = run("compress", photos / "cat.png", "-o", out, "--size", "1M", "--max-quality", "40", "--prior", "center", "--json")
    rec = json.loads(r.stdout)
    from msroi.files import read_image

    q40 = len(jpeg.encode(read_image(photos / "cat.png"), 40, jpeg.EncoderOptions(optimize=True)))
    assert rec["budget_bytes"] == q40 and out.stat().st_size <= q40


def test_quality_and_its_alias_base_quality_are_the_same(tmp_path, photos):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    assert run("compress", photos / "cat.png", "-o", a, "--quality", "70", "--prior", "center").returncode == 0
    assert run("compress", photos / "cat.png", "-o", b, "--base-quality", "70", "--prior", "center").returncode == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("args, words", [
    (["--size", "10"], "--size"), (["--size", "2G"], "--size"), (["--size", "lots"], "--size"),
    (["--bpp", "0"], "--bpp"), (["--bpp", "30"], "--bpp"), (["--quality", "50", "--size", "10k"], "not allowed"),
    (["--max-quality", "80"], "--max-quality"), (["--size", "10k", "--threshold-pct", "5"], "--threshold-pct"),
    (["-j", "0"], "--jobs")])
def test_bad_targets_are_refused_naming_the_option(tmp_path, photos, args, words):
    r = run("compress", photos / "cat.png", "-o", tmp_path / "o.jpg", "--prior", "center", *args)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.jpg").exists()


def test_parse_size():
    assert batch.parse_size("150k") == 150 * 1024 == batch.parse_size("150 KB")
    assert batch.parse_size("1.5M") == 1536 * 1024 and batch.parse_size("20000") == 20000
    for bad in ("0", "127", "2048M", "-5k", "5G", "", "k"):
        with pytest.raises(MsroiError):
            batch.parse_size(bad)


def test_msroi_threads_sets_the_default_workers(monkeypatch):
    monkeypatch.setenv("MSROI_THREADS", "3")
    assert batch.default_jobs() == 3
    monkeypatch.setenv("MSROI_THREADS", "many")
    with pytest.raises(MsroiError, match="MSROI_THREADS"):
        batch.default_jobs()
    monkeypatch.delenv("MSROI_THREADS")
    assert batch.default_jobs() >= 1


def test_two_workers_give_the_same_bytes_as_one(tmp_path, photos):
    outs = {}
    for j in (1, 2):
        outs[j] = tmp_path / f"out{j}"
        r = run("compress", photos, "-r", "-o", outs[j], "--prior", "center", "-j", j, "-q")
        assert r.returncode == 2  # the bad file
    assert tree(outs[1]) == tree(outs[2]) and len(tree(outs[1])) == 4
    for rel in tree(outs[1]):
        assert (outs[1] / rel).read_bytes() == (outs[2] / rel).read_bytes(), rel


def test_no_tensorflow_without_the_built_in_map(tmp_path, photos):
    code = ("import sys; from msroi.cli import main; "
            f"rc = main(['compress', {str(photos)!r}, '-o', {str(tmp_path / 'o')!r}, '--prior', 'center', '-q', '-j', '1']); "
            "assert 'tensorflow' not in sys.modules; print(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "0", r.stderr


@pytest.mark.slow
def test_msroi_maps_two_workers_byte_identical_and_equal_to_two_steps(tmp_path, photos):
    """The built-in map (model loaded once per worker) gives the bytes of `msroi map` then `--map`."""
    (photos / "trip" / "broken.jpg").unlink()
    outs = {}
    for j in (1, 2):
        outs[j] = tmp_path / f"out{j}"
        r = run("compress", photos, "-r", "-o", outs[j], "-j", j, "-q")
        assert r.returncode == 0, r.stderr
    assert tree(outs[1]) == tree(outs[2]) and len(tree(outs[1])) == 4
    for rel in tree(outs[1]):
        assert (outs[1] / rel).read_bytes() == (outs[2] / rel).read_bytes(), rel
    assert run("map", photos / "cat.png", "-o", tmp_path / "cat.png", "-q").returncode == 0
    r = run("compress", photos / "cat.png", "--map", tmp_path / "cat.png", "-o", tmp_path / "cat.jpg")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cat.jpg").read_bytes() == (outs[1] / "cat.jpg").read_bytes()


def test_map_directory_gives_each_image_its_own_map(tmp_path, photos):
    maps = tmp_path / "maps"
    maps.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("cat", "cup"):
        np.save(maps / f"{stem}.npy", rng.random((12, 18)))
    out = tmp_path / "out"
    r = run("compress", photos, "-o", out, "--map", maps, "-j", "1", "--json")
    assert r.returncode == 0, r.stderr
    for stem, src in (("cat", "cat.png"), ("cup", "cup.jpg")):
        one = tmp_path / f"{stem}.jpg"
        assert run("compress", photos / src, "--map", maps / f"{stem}.npy", "-o", one).returncode == 0
        assert one.read_bytes() == (out / f"{stem}.jpg").read_bytes()
    assert run("compress", photos, "-o", tmp_path / "x", "--map", maps / "cat.npy").returncode == 2


def test_command_line_file_equals_the_workflows(tmp_path):
    # msroi compress and the workflow's compress step give the same file for the same photo,
    # map and settings (the command hands the encoder the standard JPEG its budget came from)
    from skimage import data

    from msroi.codec.semantic import compress_semantic
    from msroi.saliency.priors import center_map

    rgb = data.astronaut()[::2, ::2]
    src = tmp_path / "a.png"
    Image.fromarray(rgb).save(src)
    for q in (35, 80):
        settings = batch.Settings(prior="center", target=batch.Target("quality", q))
        batch.compress_file(src, tmp_path / f"a{q}.jpg", settings)
        ours, _, _ = compress_semantic(rgb, center_map(rgb.shape[:2], settings.center_sigma), q, 0.0,
                                       settings.ratio, settings.smooth)
        assert (tmp_path / f"a{q}.jpg").read_bytes() == ours
