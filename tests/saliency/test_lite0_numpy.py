"""The default classifier in NumPy: same features, logits and maps as its Keras form, no
TensorFlow on the map path, the folded-weights cache, and maps of large images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from msroi.errors import InputError
from msroi.saliency import maps
from msroi.saliency.maps import msroi_map
from msroi.saliency.networks import efficientnet_lite0_numpy as lite0_np

#: Largest difference allowed between the NumPy and Keras forward passes, relative to the
#: output's range (float32 rounding in a different order: about 1e-5 is seen).
FORWARD_TOLERANCE = 1e-4
#: Largest absolute difference allowed between the NumPy and Keras maps ([0, 1] maps).
MAP_TOLERANCE = 1e-4


def _relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    span = b.max() - b.min()
    return float(np.abs(a - b).max() / span) if span > 0 else float(np.abs(a - b).max())


@pytest.mark.parametrize("shape", [(192, 288), (320, 480), (224, 224), (65, 97), (31, 33), (1, 1)])
def test_forward_matches_keras(classifier, keras_classifier, shape):
    net, _ = classifier
    model, _ = keras_classifier
    x = maps._resized(data.astronaut(), *shape)
    features, logits = net(x)
    kf, kl = model(x[None], training=False)
    kf, kl = np.asarray(kf[0]), np.asarray(kl[0])
    assert features.shape == kf.shape and features.dtype == np.float32 and logits.shape == kl.shape
    assert _relative(features, kf) < FORWARD_TOLERANCE
    if shape != (1, 1):  # a 1 x 1 image's features are all zero after the ReLU6 either way
        assert _relative(logits, kl) < FORWARD_TOLERANCE


@pytest.mark.parametrize("method", ["msroi", "paper"])
def test_default_map_matches_the_keras_map(classifier, keras_classifier, method):
    for rgb in (data.astronaut(), data.coffee()[:, :533]):
        a, top_a, info_a = msroi_map(classifier, rgb, method=method, return_info=True)
        b, top_b, info_b = msroi_map(keras_classifier, rgb, method=method, return_info=True)
        assert a.shape == b.shape == rgb.shape[:2] and a.dtype == b.dtype == np.float32
        assert np.abs(a - b).max() < MAP_TOLERANCE
        assert [c for c, _, _ in top_a] == [c for c, _, _ in top_b]
        np.testing.assert_allclose([s for _, _, s in top_a], [s for _, _, s in top_b], atol=1e-5)
        assert info_a["faces"] == info_b["faces"]


def test_results_do_not_depend_on_threads(classifier, monkeypatch):
    net, _ = classifier
    xs = [maps._resized(data.chelsea(), h, w) for h, w in ((192, 288), (320, 480), (224, 224))]
    for (f1, l1), (f2, l2) in zip(net.many(xs, 1), net.many(xs, 2)):
        assert f1.tobytes() == f2.tobytes() and l1.tobytes() == l2.tobytes()
    big = np.asarray(Image.fromarray(data.astronaut()).resize((1500, 1000)))  # above WORK_PIXELS
    maps_by_threads = []
    for threads in (1, 2):
        monkeypatch.setattr(maps, "THREADS", threads)
        maps_by_threads.append([msroi_map(classifier, rgb, return_info=True) for rgb in (data.astronaut(), big)])
    for (a, top_a, info_a), (b, top_b, info_b) in zip(*maps_by_threads):
        assert a.tobytes() == b.tobytes() and top_a == top_b and info_a == info_b


def test_folded_weights_cache(tmp_path, model_cache):
    from msroi.saliency.networks.efficientnet_lite0 import DEFAULT_NAME, default_model_path

    net, meta = lite0_np.load_default(tmp_path)
    path = tmp_path / f"{DEFAULT_NAME}.npz"
    assert path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files
    # the metadata is the Keras cache's
    keras_json = default_model_path(model_cache).with_suffix(".json")
    import json

    assert meta == json.loads(keras_json.read_text())
    # reused as it is
    before = path.stat().st_mtime_ns
    again, _ = lite0_np.load_default(tmp_path)
    assert path.stat().st_mtime_ns == before
    x = maps._resized(data.coffee(), 96, 160)
    assert net(x)[0].tobytes() == again(x)[0].tobytes()
    # a damaged or outdated cache is rebuilt
    path.write_bytes(path.read_bytes()[:1000])
    lite0_np.load_default(tmp_path)
    assert lite0_np._read_cache(path, meta["source_sha256"]) is not None
    assert lite0_np._read_cache(path, "0" * 64) is None
    weights = dict(np.load(path))
    weights["format_version"] = np.int64(lite0_np.FORMAT_VERSION + 1)
    np.savez(path, **weights)
    assert lite0_np._read_cache(path, meta["source_sha256"]) is None
    rebuilt, _ = lite0_np.load_default(tmp_path)
    assert rebuilt(x)[0].tobytes() == net(x)[0].tobytes()
    # the cache file is a model path (the workflow's default model); another .npz is refused
    by_path, _ = maps.load_classifier(path)
    assert by_path(x)[0].tobytes() == net(x)[0].tobytes()
    other = tmp_path / "mine.npz"
    other.write_bytes(path.read_bytes())
    with pytest.raises(InputError, match="mine.npz.*folded weights"):
        maps.load_classifier(other)


_NO_TF = """
import sys
from msroi.cli import main
{patch}
rc = main(sys.argv[1:])
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"tensorflow", "keras", "mtcnn"}})
print(rc, heavy)
"""


def _msroi_process(tmp_path, model_cache, *args, patch=""):
    """Run ``msroi ARGS`` in a fresh process (inputs: tmp_path/in/*.png); returns its exit
    status and the heavy packages it imported, as printed."""
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    Image.fromarray(data.coffee()).save(src / "coffee.png")
    Image.fromarray(data.chelsea()).save(src / "chelsea.png")
    r = subprocess.run([sys.executable, "-c", _NO_TF.format(patch=patch), *map(str, args), "--cache", str(model_cache)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip().splitlines()[-1]


def test_default_map_path_imports_no_tensorflow(tmp_path, model_cache):
    """`msroi map` (model load, forward passes, map, files) and `msroi compress -j 2` (the
    weights folded once before the workers) never import TensorFlow/Keras; faces patched out."""
    patch = "import msroi.saliency.faces as f; f.detect_faces = lambda rgb, *a, **k: []"
    assert _msroi_process(tmp_path, model_cache, "map", "in/coffee.png", "-o", "m.png", "-q", patch=patch) == "0 []"
    assert (tmp_path / "m.png").is_file()
    out = _msroi_process(tmp_path, model_cache, "compress", "in", "-o", "out", "-j", "2", "-q", patch=patch)
    assert out == "0 []" and len(list((tmp_path / "out").glob("*.jpg"))) == 2


def test_msroi_map_imports_no_tensorflow(tmp_path, model_cache):
    """The whole `msroi map` (faces included) never imports TensorFlow, Keras or mtcnn's networks."""
    from msroi.saliency import faces

    if "from mtcnn import MTCNN" in Path(faces.__file__).read_text():
        pytest.skip("this checkout's face detector is still mtcnn's TensorFlow MTCNN")
    assert _msroi_process(tmp_path, model_cache, "map", "in/coffee.png", "-o", "m.png", "-q") == "0 []"


# --- maps of images larger than the work grid ----------------------------------------------


def test_work_shape():
    assert maps.work_shape(512, 768) == (512, 768)
    assert maps.work_shape(1024, 1024) == (1024, 1024)
    h, w = maps.work_shape(4000, 6000)
    assert abs(h * w - maps.WORK_PIXELS) < 0.01 * maps.WORK_PIXELS and abs(w / h - 1.5) < 0.01
    assert maps.work_shape(1, 3_000_000)[0] == 1


def test_upsample_in_bands_equals_one_resize():
    from msroi.files import resize_map
    from msroi.saliency.cam import minmax

    rng = np.random.default_rng(0)
    small = minmax(resize_map(rng.random((9, 13)), (90, 130)))  # smooth, like a map
    for shape in ((700, 1000), (91, 131), (2000, 45)):
        out = maps._to_size(small, shape)
        assert out.shape == shape and out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
        np.testing.assert_allclose(out, minmax(resize_map(small, shape)), atol=1e-5)


def _big_photo(w=2400, h=1600):
    """coffee resized to ``w`` x ``h`` with the astronaut's head pasted at (1400, 200), 400 px wide."""
    rgb = np.asarray(Image.fromarray(data.coffee()).resize((w, h), Image.LANCZOS)).copy()
    face = np.asarray(Image.fromarray(data.astronaut()[20:220, 150:300]).resize((300, 400), Image.LANCZOS))
    rgb[200:600, 1400:1700] = face
    return rgb


def test_large_image_map_is_close_to_the_full_size_computation(classifier, monkeypatch):
    rgb = _big_photo()
    m, top, info = msroi_map(classifier, rgb, return_info=True)
    assert m.shape == rgb.shape[:2] and m.dtype == np.float32 and m.min() == 0.0 and m.max() == 1.0
    again, _ = msroi_map(classifier, rgb.copy())
    assert m.tobytes() == again.tobytes()
    # the face is found in photo pixels and is the map's top
    assert len(info["faces"]) == 1
    x0, y0, x1, y1 = info["faces"][0][:4]
    assert 1350 < (x0 + x1) / 2 < 1750 and 150 < (y0 + y1) / 2 < 650
    y, x = np.unravel_index(np.argmax(m), m.shape)
    assert x0 <= x < x1 and y0 <= y < y1
    # every step at full size (what maps did before): the same map to within 0.5%
    monkeypatch.setattr(maps, "WORK_PIXELS", 10**9)
    full, top_full = msroi_map(classifier, rgb)
    assert top_full == top
    assert np.abs(m - full).max() < 5e-3
