"""Lift, AUC and pointing game score a map against boxes as their definitions say."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from msroi.quality.map_scores import auc, lift, pointing, score_map


def _mask(shape=(40, 60), box=(10, 20, 30, 35)):
    y0, x0, y1, x1 = box
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_uniform_map_is_chance_and_a_box_map_is_perfect():
    mask = _mask()
    uniform = np.ones(mask.shape)
    assert lift(uniform, mask) == pytest.approx(1.0)
    assert auc(uniform, mask) == pytest.approx(0.5)
    box = mask.astype(float)
    assert lift(box, mask) == pytest.approx(1.0 / mask.mean())
    assert auc(box, mask) == pytest.approx(1.0) and pointing(box, mask)
    assert auc(1.0 - box, mask) == pytest.approx(0.0) and not pointing(1.0 - box, mask)


def test_a_peak_beside_the_box_misses_the_pointing_game_but_keeps_some_lift():
    mask = _mask()
    yy, xx = np.mgrid[:40, :60]
    m = np.exp(-((yy - 20) ** 2 + (xx - 38) ** 2) / 200.0)  # peak 3 px right of the box
    scores = score_map(m, mask)
    assert not scores["pointing"] and scores["lift"] > 1.0 and 0.5 < scores["auc"] < 1.0
    assert scores["roi_fraction"] == pytest.approx(mask.mean())


def test_score_map_refuses_a_mask_of_another_size_or_the_whole_frame():
    with pytest.raises(ValueError, match="size"):
        score_map(np.ones((4, 4)), np.ones((4, 5), dtype=bool))
    with pytest.raises(ValueError, match="part of the map"):
        score_map(np.ones((4, 4)), np.ones((4, 4), dtype=bool))


def test_score_maps_writes_one_row_per_source_and_image_with_boxes(tmp_path):
    from msroi.files import save_map
    from msroi.pipeline.maps import score_maps

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    (tmp_path / "boxes.csv").write_text("image,x0,y0,x1,y1\na,20,10,35,30\n")
    for source, m in (("good", _mask().astype(float)), ("flat", np.full((40, 60), 0.5))):
        (tmp_path / source).mkdir()
        for image in "ab":
            save_map(tmp_path / source / f"{image}.png", m)
    out = tmp_path / "scores.csv"
    table = score_maps({i: tmp_path / f"{i}.png" for i in "ab"}, {s: tmp_path / s for s in ("good", "flat")},
                       {"a": tmp_path / "boxes.csv", "b": tmp_path / "boxes.csv"}, out)
    # b has no boxes: no row; the box map is perfect, the flat map is chance
    assert sorted(zip(table["source"], table["image"])) == [("flat", "a"), ("good", "a")]
    good = table.set_index("source").loc["good"]
    assert good["pointing"] and good["auc"] == pytest.approx(1.0)
    assert table.set_index("source").loc["flat", "lift"] == pytest.approx(1.0)
    assert pd.read_csv(out).shape == (2, 6)
