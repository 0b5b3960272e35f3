"""msroi.saliency.maps: maps at the photo's own size and aspect, localisation, determinism, batch I/O."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from msroi.errors import InputError, MsroiError
from msroi.files import read_map
from msroi.saliency.maps import load_classifier, map_images, msroi_map, overlay, save_map


@pytest.fixture(scope="module")
def classifier(pytestconfig, tmp_path_factory):
    cache = getattr(pytestconfig, "cache", None)
    directory = cache.mkdir("msroi_default_model") if cache is not None else tmp_path_factory.mktemp("model")
    return load_classifier("default", cache_dir=directory)


def _tiny_contract_model(tmp_path: Path, n_classes=3, with_gap_w=True):
    """A small untrained model following the contract, saved as NAME.keras + NAME.json."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    x_in = keras.Input((None, None, 3))
    f = layers.Conv2D(8, 3, strides=4, padding="same", activation="relu", name="conv")(x_in)
    logits = layers.Dense(n_classes, use_bias=False, name="gap_w" if with_gap_w else "head")(
        layers.GlobalAveragePooling2D()(f)
    )
    model = keras.Model(x_in, [f, logits])
    path = tmp_path / "tiny.keras"
    model.save(path)
    path.with_suffix(".json").write_text(
        json.dumps({"classes": [f"c{i}" for i in range(n_classes)], "backbone": "tiny"})
    )
    return path


def test_non_square_photo_gives_map_of_photo_size(classifier):
    rgb = data.coffee()[:, :533]  # 400 x 533: not a multiple of 32 either way
    m, top = msroi_map(classifier, rgb)
    assert m.shape == rgb.shape[:2] and m.dtype == np.float32
    assert m.min() == 0.0 and m.max() == 1.0
    assert len(top) == 5 and all(0.0 <= s <= 1.0 for _, _, s in top)


def test_pasted_object_is_where_the_map_is(classifier):
    cat = data.chelsea()[20:290, 110:360]  # 270 x 250, the cat's head
    canvas = np.full((400, 800, 3), 128, np.uint8)
    y0, x0 = 40, 460
    canvas[y0 : y0 + cat.shape[0], x0 : x0 + cat.shape[1]] = cat
    m, top = msroi_map(classifier, canvas)
    assert m.shape == (400, 800)
    top_decile = m >= np.quantile(m, 0.9)
    box = np.zeros_like(top_decile)
    box[y0 : y0 + cat.shape[0], x0 : x0 + cat.shape[1]] = True
    # the box is 21% of the canvas; at least 80% of the top-decile area must fall in it
    assert (top_decile & box).sum() / top_decile.sum() >= 0.8
    assert "cat" in top[0][1]


def test_same_input_gives_bit_identical_map(classifier):
    rgb = data.astronaut()[:, 40:]
    m1, top1 = msroi_map(classifier, rgb)
    m2, top2 = msroi_map(classifier, rgb.copy())
    assert m1.tobytes() == m2.tobytes() and top1 == top2


def test_map_changes_with_settings(classifier):
    rgb = data.chelsea()
    a, _ = msroi_map(classifier, rgb, short_side=224)
    b, _ = msroi_map(classifier, rgb, short_side=448)
    c, top = msroi_map(classifier, rgb, short_side=448, top_k=1)
    assert a.shape == b.shape == c.shape and not np.array_equal(a, b) and not np.array_equal(b, c)
    assert len(top) == 1


def test_save_map_png16_and_npy(tmp_path):
    m = np.linspace(0, 1, 12 * 7, dtype=np.float32).reshape(12, 7)
    save_map(tmp_path / "m.png", m)
    save_map(tmp_path / "m.npy", m)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode.startswith("I;16") and im.size == (7, 12)
    np.testing.assert_allclose(read_map(tmp_path / "m.png"), m, atol=0.5 / 65535 + 1e-7)
    loaded = np.load(tmp_path / "m.npy")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npy", "m.png"]  # no temp files left


def test_overlay_mixes_jet_over_photo():
    rgb = np.full((4, 6, 3), 100, np.uint8)
    m = np.zeros((4, 6), np.float32)
    m[:, 3:] = 1.0
    out = overlay(rgb, m)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    # jet(0) = dark blue (0, 0, 0.5), jet(1) = dark red (0.5, 0, 0); 40% photo + 60% colour
    assert tuple(out[0, 0]) == (40, 40, round(40 + 0.6 * 127.5))
    assert tuple(out[0, 5]) == (round(40 + 0.6 * 127.5), 40, 40)


def test_custom_contract_model_without_input_size(tmp_path):
    path = _tiny_contract_model(tmp_path)
    model, meta = load_classifier(path)
    rgb = np.asarray(np.random.default_rng(1).integers(0, 256, (50, 70, 3)), np.uint8)
    m, top = msroi_map((model, meta), rgb, short_side=64, top_k=3)
    assert m.shape == (50, 70) and m.dtype == np.float32
    assert sorted(c for c, _, _ in top) == [0, 1, 2] and [meta["classes"][c] for c, _, _ in top] == [
        n for _, n, _ in top
    ]
    scores = [s for _, _, s in top]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1.0) < 1e-9


def test_load_classifier_refuses_bad_models(tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        load_classifier(tmp_path / "none.keras")
    path = _tiny_contract_model(tmp_path, with_gap_w=False)
    with pytest.raises(InputError, match="gap_w"):
        load_classifier(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(InputError, match="metadata missing"):
        load_classifier(path)


def test_map_images_batch_with_one_bad_image(classifier, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(data.chelsea()).save(src / "cat.png")
    Image.fromarray(data.coffee()[:300, :]).save(src / "cup.jpg", quality=95)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    paths = [src / "cat.png", src / "broken.jpg", src / "cup.jpg"]
    status = map_images(paths, tmp_path / "out", model=classifier)
    assert [s["ok"] for s in status] == [True, False, True]
    assert "broken.jpg" in status[1]["error"] and "\n" not in status[1]["error"]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["cat.png", "cat_overlay.png", "cat.json", "cup.png", "cup_overlay.png", "cup.json"]
    )
    assert read_map(out / "cup.png").shape == (300, 600)
    with Image.open(out / "cat_overlay.png") as im:
        assert im.mode == "RGB" and im.size == (451, 300)
    record = json.loads((out / "cat.json").read_text())
    assert record["top_k"][0]["name"] in {"Egyptian cat", "tabby, tabby cat", "tiger cat"}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and err[0].startswith("[1/3] cat.png") and "broken.jpg" in err[1]

    # the same run again writes the same bytes
    first = (out / "cat.png").read_bytes()
    map_images([src / "cat.png"], out, model=classifier, progress=False)
    assert (out / "cat.png").read_bytes() == first


def test_map_images_explicit_paths_and_collisions(classifier, tmp_path):
    Image.fromarray(data.astronaut()[::2, ::2]).save(tmp_path / "a.png")
    target = tmp_path / "maps" / "astro.npy"
    status = map_images(
        [tmp_path / "a.png"], model=classifier, map_paths=[target], overlay_paths=[None], progress=False
    )
    assert status[0]["ok"] and target.is_file() and (tmp_path / "maps" / "astro.json").is_file()
    assert not (tmp_path / "maps" / "astro_overlay.png").exists()
    assert np.load(target).shape == (256, 256)
    Image.fromarray(data.astronaut()[::2, ::2]).save(tmp_path / "a.jpg")
    with pytest.raises(MsroiError, match="same file stem"):
        map_images([tmp_path / "a.png", tmp_path / "a.jpg"], tmp_path / "o", model=classifier)
