"""msroi.saliency.mtcnn(_nets): the NumPy MTCNN finds the faces the mtcnn package finds, without TensorFlow."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from msroi.errors import InputError, MsroiError
from msroi.saliency import mtcnn, mtcnn_nets
from msroi.saliency.faces import FACE_SIDE, detect_faces
from msroi.saliency.joblib_arrays import load_arrays
from tests.conftest import REPO


def _detector_input(name):
    """Sample ``name`` downscaled as detect_faces feeds it to the detector."""
    from msroi.files import read_image
    from msroi.samples import sample_path

    rgb = read_image(sample_path(name))
    h, w = rgb.shape[:2]
    s = min(1.0, FACE_SIDE / max(h, w))
    return np.asarray(Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.BILINEAR))


def test_face_detection_needs_no_tensorflow():
    code = (
        "import json, sys\n"
        "from skimage import data\n"
        "from msroi.saliency.faces import detect_faces\n"
        "faces = detect_faces(data.astronaut())\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'mtcnn', 'joblib'))\n"
        "print(json.dumps({'faces': faces, 'heavy': heavy}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["heavy"] == [] and len(out["faces"]) == 1 and out["faces"][0][4] > 0.99
    # her face, as drawn by hand on the photo: (175, 55) - (270, 175)
    x0, y0, x1, y1 = out["faces"][0][:4]
    assert abs((x0 + x1) / 2 - 222) < 30 and abs((y0 + y1) / 2 - 115) < 40


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea"])
def test_no_faces_in_photos_without_people(name):
    assert mtcnn.detect(_detector_input(name)).shape == (0, 5)


def test_detections_are_sorted_boxes_inside_the_image():
    small = _detector_input("rocket")  # low O-Net threshold: several weak candidates on the tower
    found = mtcnn.detect(small, thresholds=(0.6, 0.2, 0.05))
    assert len(found) >= 3 and np.all(np.diff(found[:, 4]) <= 0) and np.all(found[:, 4] > 0.05)
    x, y, w, h = found[:, :4].T
    assert np.all(x >= 0) and np.all(y >= 0) and np.all(w > 0) and np.all(h > 0)
    assert np.all(x + w <= small.shape[1] - 1) and np.all(y + h <= small.shape[0] - 1)
    assert np.array_equal(found[:, :4], np.round(found[:, :4]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, thresholds",
    [("astronaut", None), ("grace_hopper", None), ("coffee", None), ("rocket", None),
     ("rocket", (0.6, 0.2, 0.05)), ("coffee", (0.6, 0.2, 0.05))],
)
def test_same_faces_as_the_mtcnn_package(name, thresholds):
    """Same boxes (within 1 px) and confidences (within 1e-3) as mtcnn 1.0.0 on TensorFlow."""
    package = pytest.importorskip("mtcnn").MTCNN()
    small = _detector_input(name)
    kw = {} if thresholds is None else dict(threshold_pnet=thresholds[0], threshold_rnet=thresholds[1],
                                            threshold_onet=thresholds[2])
    theirs = package.detect_faces(small, **kw)
    ours = mtcnn.detect(small, **({} if thresholds is None else {"thresholds": thresholds}))
    assert len(ours) == len(theirs), (ours, theirs)
    if name in ("astronaut", "grace_hopper"):
        assert len(ours) == 1
    for row, face in zip(ours, sorted(theirs, key=lambda f: -f["confidence"])):
        assert np.abs(row[:4] - np.asarray(face["box"])).max() <= 1, (row, face)
        assert abs(row[4] - face["confidence"]) < 1e-3


def test_layers_match_their_definitions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    k = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    want = np.zeros((2, 5, 5, 4), np.float32)
    for i in range(5):
        for j in range(5):
            want[:, i, j] = np.einsum("nhwc,hwco->no", x[:, i : i + 3, j : j + 2], k) + b
    np.testing.assert_allclose(mtcnn_nets.conv(x, k, b), want, rtol=1e-5, atol=1e-5)
    # "same" pooling gives ceil(n / stride) windows, padded as TensorFlow pads (the odd pixel at the end)
    row = np.array([1, 5, 2, 0, 7], np.float32).reshape(1, 1, 5, 1)
    assert mtcnn_nets.max_pool(np.repeat(row, 2, axis=1), 2, 2, same=True)[0, :, :, 0].tolist() == [[5, 2, 7]]
    assert mtcnn_nets.max_pool(np.repeat(row, 3, axis=1), 3, 2, same=True)[0, :, :, 0].tolist() == [[5, 5, 7], [5, 5, 7]]
    assert mtcnn_nets.max_pool(np.repeat(row, 3, axis=1), 3, 2, same=False)[0, :, :, 0].tolist() == [[5, 7]]
    # area resize averages blocks, and keeps a constant image constant at a fractional ratio
    img = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    np.testing.assert_allclose(mtcnn.resize_area(img, 2, 2)[..., 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(mtcnn.resize_area(np.full((13, 9, 3), 0.3, np.float32), 5, 4), 0.3, rtol=1e-6)


def test_suppression_drops_boxes_overlapping_a_better_one():
    boxes = np.array([[0, 0, 10, 10, 0.9], [1, 1, 11, 11, 0.8], [20, 20, 30, 30, 0.7], [0, 0, 4, 4, 0.6]], float)
    assert mtcnn.suppress(boxes, 0.5)[:, 4].tolist() == [0.9, 0.7, 0.6]
    assert mtcnn.suppress(boxes, 0.5, over_min=True)[:, 4].tolist() == [0.9, 0.7]  # inside the first box


def test_missing_weights_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(mtcnn_nets, "_WEIGHTS", {})
    monkeypatch.setattr(mtcnn_nets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MsroiError, match="weights of the 'mtcnn' package") as e:
        detect_faces(np.zeros((64, 64, 3), np.uint8))
    assert "\n" not in str(e.value)


def test_weights_reader_matches_joblib_and_refuses_other_globals(tmp_path):
    joblib = pytest.importorskip("joblib")
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.asfortranarray(np.eye(3)), np.int16([-1, 2])]
    for fname, compress in (("plain.pkl", 0), ("packed.lz4", ("lz4", 3))):
        path = tmp_path / fname
        joblib.dump(arrays, path, compress=compress)
        got = load_arrays(path)
        assert [a.dtype for a in got] == [a.dtype for a in arrays]
        assert all(np.array_equal(a, b) for a, b in zip(got, arrays))
    ours = load_arrays(mtcnn_nets.weights_dir() / "pnet.lz4")
    assert [a.shape for a in ours[:3]] == [(3, 3, 3, 10), (10,), (1, 1, 10)]
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps([np.zeros(2)]))  # needs numpy's array rebuild global
    with pytest.raises(InputError, match="refused global"):
        load_arrays(hostile)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes((tmp_path / "plain.pkl").read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable joblib"):
        load_arrays(truncated)
