"""Properties of the compressors on random small images and random maps (hypothesis).

For any image (8..64 px a side; flat, noisy, gradient or mixed content) and any map (any
shape, constant allowed), the output decodes to the image's size, is never over budget
when it says it fits, its record is honest, and the same call gives the same bytes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msroi.codec import original
from msroi.codec import jpeg, rate
from msroi.codec.jpeg import EncoderOptions

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def images(draw):
    h = draw(st.integers(8, 64))
    w = draw(st.integers(8, 64))
    kind = draw(st.sampled_from(["flat", "noise", "gradient", "mixed"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "flat":
        return np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    grad = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(h + w - 2, 1)], -1)
    if kind == "gradient":
        return grad.astype(np.uint8)
    noise = rng.integers(0, 256, (h, w, 3))
    return np.where(rng.random((h, w, 1)) < 0.3, noise, grad).astype(np.uint8)


@st.composite
def maps(draw):
    h = draw(st.integers(1, 80))
    w = draw(st.integers(1, 80))
    if draw(st.booleans()):
        return np.full((h, w), draw(st.floats(0, 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.random((h, w))


def _check(rgb, data, rec):
    assert rec["bytes"] == len(data)
    assert rec["fits_budget"] == (len(data) <= rec["budget_bytes"])
    assert jpeg.decode(data).shape == rgb.shape
    assert (rec["height"], rec["width"]) == rgb.shape[:2]


@SETTINGS
@given(
    rgb=images(),
    sal=maps(),
    selection=st.sampled_from(original.SELECTION_MODELS),
    base_quality=st.integers(1, 100),
    threshold=st.sampled_from([0.0, 0.5, 1.0, 5.0, 20.0]),
    subsampling=st.sampled_from(["4:2:0", "4:4:4"]),
)
def test_compress_original_properties(rgb, sal, selection, base_quality, threshold, subsampling):
    options = EncoderOptions(subsampling=subsampling)
    data, baseline, rec = original.compress_original(rgb, sal, selection, base_quality, threshold, options)
    _check(rgb, data, rec)
    assert rec["base_bytes"] == len(baseline) and jpeg.decode(baseline).shape == rgb.shape
    assert rec["budget_bytes"] == rate.budget_bytes(len(baseline), threshold) >= len(baseline)
    if rec["fits_budget"]:
        assert len(data) <= rec["budget_bytes"]
    again = original.compress_original(rgb, sal.copy(), selection, base_quality, threshold, options)
    assert again[0] == data and again[1] == baseline and again[2] == rec


@SETTINGS
@given(rgb=images(), sal=maps(), base_quality=st.integers(5, 95), ratio=st.sampled_from([1.0, 4.0, 16.0]))
def test_encode_semantic_properties(rgb, sal, base_quality, ratio):
    """The default method: within budget when it fits, decodes, deterministic, and close to
    the image (never worse than the plain JPEG at quality 1, which is far smaller)."""
    allocate = pytest.importorskip("msroi.codec.semantic")
    from msroi.files import resize_map
    from msroi.quality.metrics import psnr

    budget = len(jpeg.encode(rgb, base_quality, EncoderOptions(optimize=True)))
    m = resize_map(sal, rgb.shape[:2])
    data, info = allocate.encode_semantic(rgb, m, budget, ratio=ratio)
    assert info["bytes"] == len(data) and info["budget"] == budget
    if info["fits"]:
        assert len(data) <= budget
    out = jpeg.decode(data)
    assert out.shape == rgb.shape
    again, _ = allocate.encode_semantic(rgb, m.copy(), budget, ratio=ratio)
    assert again == data
    if info["fits"] and rgb.std() > 0:  # a scrambled or misplaced block would show here
        from msroi.quality.metrics import luma

        q1 = jpeg.encode(rgb, 1)
        # Only where Q1 is far smaller than the budget: on tiny flat images the headers are
        # the whole file, Q1 is as large as the budget, and the trellis may spend the last
        # byte elsewhere than on the DC (found by hypothesis: 9x9 flat, Q1 284 B, budget 285 B).
        if len(q1) <= 0.9 * budget:
            # (on a near-flat image Q1 can be exact: then 40 dB is far above any scrambled block)
            worst = jpeg.decode(q1)
            assert psnr(luma(rgb), luma(out)) >= min(psnr(luma(rgb), luma(worst)) - 0.5, 40.0)


@st.composite
def compress_requests(draw):
    """A ``msroi compress`` command line with random valid options whose outputs are drawn
    from paths that may name an input (directly, through ``..`` or a symbolic link)."""
    method = draw(st.sampled_from(["semantic", "original"]))
    argv = ["--base-quality", str(draw(st.integers(1, 100))),
            "--threshold-pct", str(draw(st.sampled_from([0, 1, 20, 1000])))]
    if method == "semantic":
        argv += ["--ratio", str(draw(st.floats(1, 1000))), "--smooth", str(draw(st.floats(0, 1024)))]
    else:
        argv += ["--method", "original", "--selection", str(draw(st.integers(1, 6))),
                 "--subsampling", draw(st.sampled_from(["4:2:0", "4:2:2", "4:4:4"]))]
        argv += ["--progressive"] if draw(st.booleans()) else []
    targets = ["img.png", "map.npy", "sub/../img.png", "link.png", "sub/../map.npy", "out.jpg", "base.jpg"]
    output = draw(st.sampled_from(targets))
    baseline = draw(st.sampled_from([None, *targets]))
    argv += ["-o", output] + (["--baseline", baseline] if baseline else [])
    source = ["--map", "map.npy"] if draw(st.booleans()) else ["--prior", draw(st.sampled_from(["center", "uniform"]))]
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    return ["compress", "img.png", *source, *argv], size


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=compress_requests(), seed=st.integers(0, 2**32 - 1))
def test_no_command_writes_to_an_input(request, seed):
    """Whatever the options and image size, the inputs are byte-identical afterwards, and a
    request naming an input as an output is refused (status 2) before anything is written."""
    import contextlib
    import io
    import os
    import tempfile
    from pathlib import Path

    from PIL import Image

    from msroi import cli

    argv, (h, w) = request
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / "img.png")
        np.save(d / "map.npy", rng.random((max(h // 2, 1), w)))
        (d / "sub").mkdir()
        (d / "link.png").symlink_to(d / "img.png")
        inputs = ["img.png"] + (["map.npy"] if "--map" in argv else [])
        before = {p: (d / p).read_bytes() for p in inputs}
        cwd = os.getcwd()
        os.chdir(d)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rc = cli.main(argv)
        finally:
            os.chdir(cwd)
        assert {p: (d / p).read_bytes() for p in before} == before
        outputs = [argv[i + 1] for i, a in enumerate(argv) if a in ("-o", "--baseline")]
        names_input = any(os.path.realpath(d / o) in {str((d / p).resolve()) for p in before} for o in outputs)
        if names_input or len({os.path.realpath(d / o) for o in outputs}) < len(outputs):
            assert rc == 2
            assert sorted(p.name for p in d.iterdir()) == sorted(["img.png", "map.npy", "sub", "link.png"])
        assert rc in (0, 2)


@st.composite
def map_requests(draw):
    """A ``msroi map`` command line with random valid options over one image or a directory,
    whose outputs may name the inputs."""
    argv = ["--top-k", str(draw(st.integers(1, 1000))), "--short-side", str(draw(st.integers(32, 2048))),
            "--last-weight", str(draw(st.floats(0.01, 100)))]
    source = draw(st.sampled_from(["in", "in/a.png", "in/../in/b.jpg"]))
    if source == "in":
        output = draw(st.sampled_from(["in", "in/..", "out", "link"]))
        return ["map", source, "-o", output, *argv]
    output = draw(st.sampled_from(["in/a.png", "in/b.png", "link/a.png", "m.png", "m.npy"]))
    overlay = draw(st.sampled_from([None, "in/b.jpg", "ov.png", "in/a.png"]))
    return ["map", source, "-o", output, *(["--overlay", overlay] if overlay else []), *argv]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argv=map_requests(), size=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_map_never_writes_to_an_input(monkeypatch, argv, size):
    """``msroi map`` with the network replaced by a constant map (the paths are what is
    tested): the command's input images are byte-identical afterwards."""
    import contextlib
    import io
    import os
    import tempfile
    from pathlib import Path

    from PIL import Image

    import msroi.saliency.maps as maps
    from msroi import cli

    monkeypatch.setattr(maps, "load_classifier", lambda *a, **k: (None, {}))
    monkeypatch.setattr(maps, "msroi_map", lambda model, rgb, *a, **k: (np.full(rgb.shape[:2], 0.5, np.float32),
                                                                     [(0, "thing", 1.0)]))
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "in").mkdir()
        Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(d / "in" / "a.png")
        Image.fromarray(np.full((*size, 3), 160, np.uint8)).save(d / "in" / "b.jpg")
        (d / "link").symlink_to(d / "in")
        inputs = list((d / "in").iterdir()) if argv[1] == "in" else [(d / argv[1]).resolve()]
        before = {p: p.read_bytes() for p in inputs}
        cwd = os.getcwd()
        os.chdir(d)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rc = cli.main(argv)
        finally:
            os.chdir(cwd)
        assert {p: p.read_bytes() for p in before} == before
        assert rc in (0, 2)
