"""Dataset preparation, the synthetic dataset, and training (msroi.training.dataset, msroi.training.synthetic, msroi.training.train).

The acceptance test trains the small backbone on the synthetic dataset from scratch on the
CPU (image-level labels only) and checks that its MSROI map finds the objects: the map's
peak must fall inside the true box (pointing game), far more often than a centre prior's.
"""

import csv
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from msroi.training.dataset import make_tf_dataset, parse_holdout, prepare_manifest, read_manifest
from msroi.errors import MsroiError
from msroi.files import read_image
from msroi.saliency.maps import load_classifier, msroi_map
from msroi.training.synthetic import make_synthetic_dataset
from msroi.training.train import run_dir, train

# The acceptance configuration (tuned to train in about a minute on an idle 2-core CPU).
ACCEPT = dict(n_classes=4, per_class=160, size=80)
ACCEPT_TRAIN = dict(backbone="small", epochs=14, batch_size=16, lr=0.003, adam_epsilon=1e-3, dropout=0.0,
                    crop_scale=1.0, lr_schedule="cosine", restore_best=False, holdout="fraction:0.25",
                    checkpoint_every=8, seed=0)


# --- synthetic data and manifests ---------------------------------------------------------------

def test_synthetic_dataset_layout_boxes_and_determinism(tmp_path):
    a = make_synthetic_dataset(tmp_path / "a", n_classes=3, per_class=4, size=64, seed=5)
    b = make_synthetic_dataset(tmp_path / "b", n_classes=3, per_class=4, size=64, seed=5)
    assert b["classes"] == a["classes"] and b["n_images"] == a["n_images"]
    assert a["classes"] == ["disk_stripes", "square_checks", "triangle_dots"] and a["n_images"] == 12
    folders = sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_dir())
    assert folders == ["001.disk_stripes", "002.square_checks", "003.triangle_dots"]
    boxes = pd.read_csv(a["boxes_csv"])
    assert list(boxes.columns) == ["path", "x0", "y0", "x1", "y1"] and len(boxes) == 12
    assert ((boxes.x0 >= 0) & (boxes.y0 >= 0) & (boxes.x1 <= 64) & (boxes.y1 <= 64)).all()
    assert ((boxes.x1 - boxes.x0 >= 8) & (boxes.y1 - boxes.y0 >= 8)).all()
    for rel in boxes.path:
        assert np.array_equal(read_image(tmp_path / "a" / rel), read_image(tmp_path / "b" / rel))
    other = make_synthetic_dataset(tmp_path / "c", n_classes=3, per_class=4, size=64, seed=6)
    assert not pd.read_csv(other["boxes_csv"]).equals(boxes)


def test_synthetic_objects_differ_from_background(tmp_path):
    make_synthetic_dataset(tmp_path, n_classes=2, per_class=3, size=64, seed=0)
    boxes = pd.read_csv(tmp_path / "boxes.csv")
    img = read_image(tmp_path / boxes.path[0])
    b = boxes.iloc[0]
    inside = img[b.y0:b.y1, b.x0:b.x1].astype(float)
    assert inside.std() > 10  # textured object, not an empty box


def _tree(root, names, n=4):
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((20, 30, 3), 25 * i, np.uint8)).save(root / name / f"img{i:02d}.png")


def test_prepare_manifest_caltech_layout_skips_unreadable(tmp_path):
    root = tmp_path / "data"
    _tree(root, ["001.ak47", "002.bat", "257.clutter"])
    (root / "002.bat" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "001.ak47" / "notes.txt").write_text("not an image")
    out = tmp_path / "m" / "manifest.csv"
    r = prepare_manifest(root, out, holdout="last:1")
    assert r["classes"] == ["ak47", "bat", "clutter"]
    assert r["n_train"] == 9 and r["n_test"] == 3
    assert [Path(p).name for p, _ in r["skipped"]] == ["broken.jpg"]
    skipped = list(csv.reader(open(out.with_name("manifest.skipped.csv"))))
    assert skipped[0] == ["path", "problem"] and skipped[1][0].endswith("broken.jpg")
    df = pd.read_csv(out)
    assert list(df.columns) == ["path", "label", "label_name", "split"]
    assert df[df.split == "test"].path.map(lambda p: Path(p).name).tolist() == ["img03.png"] * 3
    assert sorted(df.label.unique()) == [0, 1, 2]
    m = read_manifest(out)
    assert all(Path(p).is_file() for p in m["paths"]) and m["classes"] == r["classes"]


def test_prepare_manifest_plain_names_and_fraction(tmp_path):
    root = tmp_path / "data"
    _tree(root, ["cat", "dog"], n=10)
    r1 = prepare_manifest(root, tmp_path / "a.csv", holdout="fraction:0.3", seed=1, verify="header")
    r2 = prepare_manifest(root, tmp_path / "b.csv", holdout="fraction:0.3", seed=1, verify="header")
    assert r1["classes"] == r2["classes"] == ["cat", "dog"] and r1["n_test"] == r2["n_test"] == 6
    assert pd.read_csv(tmp_path / "a.csv").equals(pd.read_csv(tmp_path / "b.csv"))
    prepare_manifest(root, tmp_path / "c.csv", holdout="fraction:0.3", seed=2)
    assert not pd.read_csv(tmp_path / "a.csv").split.equals(pd.read_csv(tmp_path / "c.csv").split)


@pytest.mark.parametrize("bad", ["last", "last:-1", "fraction:1.5", "first:3", "last:2.5"])
def test_bad_holdout(bad):
    with pytest.raises(MsroiError):
        parse_holdout(bad)


def test_tf_dataset_batches_and_resumable_order(tmp_path):
    make_synthetic_dataset(tmp_path / "d", n_classes=2, per_class=6, size=48, seed=0)
    prepare_manifest(tmp_path / "d", tmp_path / "m.csv", holdout="last:2")
    plain = list(make_tf_dataset(tmp_path / "m.csv", "test", 40, 3))
    x, y = plain[0]
    assert x.shape == (3, 40, 40, 3) and x.dtype.name == "float32" and y.dtype.name == "int32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    assert np.concatenate([b[1] for b in plain]).tolist() == [0, 0, 1, 1]  # file order
    two = [(a.numpy(), b.numpy()) for a, b in make_tf_dataset(tmp_path / "m.csv", "train", 40, 4, augment=True,
                                                              seed=7, n_epochs=2)]
    assert len(two) == 4  # 8 images, batch 4, 2 epochs; no batch straddles epochs
    second = [(a.numpy(), b.numpy()) for a, b in make_tf_dataset(tmp_path / "m.csv", "train", 40, 4, augment=True,
                                                                 seed=7, first_epoch=1)]
    for (xa, ya), (xb, yb) in zip(two[2:], second):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(two[:2], two[2:]))  # epochs differ
    with pytest.raises(MsroiError, match="validation"):
        make_tf_dataset(tmp_path / "m.csv", "validation", 40, 4)


# --- training -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_resume_continues_from_saved_epoch(tmp_path):
    make_synthetic_dataset(tmp_path / "d", n_classes=2, per_class=6, size=40, seed=0)
    common = dict(backbone="small", batch_size=4, input_size=40, holdout="last:2", checkpoint_every=1,
                  lr=1e-3, adam_epsilon=1e-3, dropout=0.5, seed=0, verbose=0)
    first = train(tmp_path / "d", tmp_path / "m.keras", epochs=2, **common)
    assert first["metrics"]["epochs_run"] == 2
    state = json.loads((run_dir(tmp_path / "m.keras") / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and state["checkpoint"] == "epoch_0002.keras"
    resumed = train(tmp_path / "d", tmp_path / "m.keras", epochs=3, resume=True, **common)
    assert resumed["metrics"]["epochs_run"] == 3
    assert list(resumed["history"]["loss"]) and len(resumed["history"]["loss"]) == 1  # one new epoch only
    history = pd.read_csv(run_dir(tmp_path / "m.keras") / "history.csv")
    assert history.epoch.tolist() == [0, 1, 2]
    straight = train(tmp_path / "d", tmp_path / "s.keras", epochs=3, **common)
    np.testing.assert_allclose(resumed["history"]["loss"][0], straight["history"]["loss"][2], rtol=1e-3)
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["backbone"] == "small" and meta["classes"] == ["disk_stripes", "square_checks"]
    assert meta["input_size"] == 40 and meta["training"]["epochs"] == 3
    with pytest.raises(MsroiError, match="backbone"):
        train(tmp_path / "d", tmp_path / "m.keras", epochs=4, resume=True, **{**common, "backbone": "mobilenetv2"})


@pytest.mark.slow
def test_early_stopping_stops(tmp_path):
    make_synthetic_dataset(tmp_path / "d", n_classes=2, per_class=4, size=32, seed=0)
    r = train(tmp_path / "d", tmp_path / "m.keras", backbone="small", epochs=30, batch_size=4, input_size=32,
              holdout="last:1", lr=0.0, early_stopping_patience=2, monitor="val_loss", verbose=0)
    assert r["metrics"]["stopped_early"] and r["metrics"]["epochs_run"] == 3  # lr 0: never improves


def _pointing_game(model, manifest_csv, root):
    """Share of held-out images whose MSROI-map peak lies in the true box, and the centre prior's."""
    boxes = pd.read_csv(root / "boxes.csv")
    boxes.index = [str((root / p).resolve()) for p in boxes.path]
    m = read_manifest(manifest_csv)
    test = [p for p, s in zip(m["paths"], m["splits"]) if s == "test"]
    hits = centre = 0
    maps = []
    for path in test:
        img = read_image(path)
        roi, _ = msroi_map(model, img, short_side=min(img.shape[:2]), method="paper")  # the paper's map
        maps.append(roi)
        y, x = np.unravel_index(np.argmax(roi), roi.shape)
        b = boxes.loc[str(Path(path).resolve())]
        hits += bool(b.x0 <= x < b.x1 and b.y0 <= y < b.y1)
        cy, cx = (img.shape[0] - 1) / 2, (img.shape[1] - 1) / 2
        centre += bool(b.x0 <= cx < b.x1 and b.y0 <= cy < b.y1)
    return hits / len(test), centre / len(test), maps


@pytest.mark.slow
def test_small_network_finds_objects_without_boxes(tmp_path):
    """Acceptance: >= 90% held-out accuracy, >= 80% pointing game through the production map
    path, far above a centre prior (the time it takes is in benchmarks/bench_train.py)."""
    data = tmp_path / "synthetic"
    make_synthetic_dataset(data, seed=0, **ACCEPT)
    t0 = time.perf_counter()
    result = train(data, tmp_path / "net.keras", input_size=ACCEPT["size"], verbose=2, **ACCEPT_TRAIN)
    seconds = time.perf_counter() - t0
    print(f"training took {seconds:.0f} s; metrics {result['metrics']}")
    assert result["metrics"]["test_accuracy"] >= 0.90

    model = load_classifier(tmp_path / "net.keras")
    assert model[1]["classes"] == result["classes"] and model[1]["backbone"] == "small"
    pointing, centre, maps = _pointing_game(model, run_dir(tmp_path / "net.keras") / "manifest.csv", data)
    print(f"pointing game: MSROI map {pointing:.3f}, centre prior {centre:.3f}")
    assert pointing >= 0.80
    assert pointing >= centre + 0.35

    again = _pointing_game(model, run_dir(tmp_path / "net.keras") / "manifest.csv", data)[2]
    for a, b in zip(maps, again):
        np.testing.assert_array_equal(a, b)
