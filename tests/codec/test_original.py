"""The compression core: selection models, size budget, output format."""

import subprocess

import numpy as np
import pytest

from msroi.codec import original
from msroi.codec import jpeg, rate
from msroi.saliency import priors
from msroi.codec.jpeg import EncoderOptions

from tests.conftest import require_tool

# A 10x10 map holding the ranks 0..99: every percentile is known exactly.
RANKS = np.arange(100, dtype=np.float64).reshape(10, 10)


def level_counts(levels):
    return {int(k): int(v) for k, v in zip(*np.unique(levels, return_counts=True))}


@pytest.mark.parametrize(
    "model, expected",
    [
        (1, {6: 50, 9: 50}),  # > mean (49.5): Q100, else Q70
        # floor(10 v / 99) + 2: v=0..9 -> 2, 10..19 -> 3, ... 70..79 -> 9, 80..99 -> 10, clipped to 9
        (2, {2: 10, 3: 10, 4: 10, 5: 10, 6: 10, 7: 10, 8: 10, 9: 30}),
        # k-th decile -> level k (Q = 10(k+1)): one decile per level, the top two both Q100
        (3, {1: 10, 2: 10, 3: 10, 4: 10, 5: 10, 6: 10, 7: 10, 8: 10, 9: 20}),
        (4, {4: 20, 6: 40, 8: 30, 9: 10}),  # <p20 Q50, <p60 Q70, <p90 Q90, else Q100
        (5, {2: 50, 8: 50}),  # < median Q30, else Q90
        (6, {7: 50, 9: 50}),  # < median Q80, else Q100
    ],
)
def test_selection_models_on_known_map(model, expected):
    levels = original.selection_levels(RANKS, model)
    assert levels.shape == RANKS.shape
    assert level_counts(levels) == expected


def test_selection_levels_follow_the_map_order():
    for model in original.SELECTION_MODELS:
        lv = original.selection_levels(RANKS, model).ravel()
        assert np.all(np.diff(lv) >= 0), f"model {model} is not monotone in the map value"


def test_model3_map_maximum_gets_top_quality():
    m = RANKS.copy()
    m[0, 0] = 1000.0  # a single extreme maximum
    levels = original.selection_levels(m, 3)
    assert levels[0, 0] == 9  # Q100, inside the ladder (the original overflowed here)
    assert levels.max() == 9


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("model", original.SELECTION_MODELS)
def test_constant_map_gives_valid_result(small_photo, model, value):
    m = np.full(small_photo.shape[:2], value)
    levels = original.selection_levels(m, model)
    assert levels.min() >= 1 and levels.max() <= 9
    assert len(np.unique(levels)) == 1
    data, _, rec = original.compress_original(small_photo, m, model, 50, 1.0)
    assert rec["fits_budget"] and len(data) <= rec["budget_bytes"]
    assert jpeg.decode(data).shape == small_photo.shape


def test_mosaic_copies_pixels_from_the_chosen_decode(small_photo):
    ladder = original.quality_ladder(small_photo)
    assert sorted(ladder) == list(range(10)) and ladder[3].shape == small_photo.shape
    levels = np.zeros(small_photo.shape[:2], dtype=np.int64) + 1
    levels[:, ::2] = 9
    out = original.mosaic(ladder, levels)
    np.testing.assert_array_equal(out[:, ::2], ladder[9][:, ::2])
    np.testing.assert_array_equal(out[:, 1::2], ladder[1][:, 1::2])


@pytest.mark.parametrize("threshold", [0, 1, 20])
@pytest.mark.parametrize("base_quality", [10, 50, 90])
@pytest.mark.parametrize("model", [1, 3, 6])
def test_budget_is_met_and_is_the_highest_verified_quality(photo, model, base_quality, threshold):
    sal = priors.center_map(photo.shape[:2])
    ladder = original.quality_ladder(photo)
    data, baseline, rec = original.compress_original(photo, sal, model, base_quality, threshold, ladder=ladder)
    budget = int(len(baseline) * (1 + threshold / 100))
    assert rec["budget_bytes"] == budget
    assert rec["fits_budget"]
    assert len(data) == rec["bytes"] <= budget
    # the next quality up, encoded from the same mosaic, would not fit
    mixed = original.mosaic(ladder, original.selection_levels(sal, model))
    assert jpeg.encode(mixed, rec["final_quality"], EncoderOptions()) == data
    if rec["final_quality"] < 100:
        assert len(jpeg.encode(mixed, rec["final_quality"] + 1)) > budget


def test_no_quality_fits_is_reported_not_hidden(small_photo):
    q, data, fits = rate.fit_budget(small_photo, 100)
    assert not fits and q == 1 and len(data) > 100


def test_map_of_other_size_and_aspect_is_resized(small_photo):
    tall = np.tile(np.linspace(0, 1, 7)[:, None], (1, 3))  # 7x3, wrong aspect
    data, _, rec = original.compress_original(small_photo, tall, 3, 50, 1)
    assert rec["fits_budget"] and jpeg.decode(data).shape == small_photo.shape


def jpeg_frame(data: bytes):
    """(SOF marker, number of components) of a JPEG, read from its markers."""
    i = 2
    assert data[:2] == b"\xff\xd8", "not a JPEG (no SOI)"
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker, data[i + 9]
        i += 2 + length
    raise AssertionError("no SOF marker")


@pytest.mark.parametrize("opts", [EncoderOptions(), EncoderOptions(subsampling="4:4:4", optimize=True)])
def test_outputs_are_baseline_rgb_jpegs_that_djpeg_decodes(tmp_path, photo, opts):
    djpeg = require_tool("djpeg")
    sal = priors.center_map(photo.shape[:2])
    for model in original.SELECTION_MODELS:
        data, baseline, _ = original.compress_original(photo, sal, model, 50, 1, opts)
        for blob in (data, baseline):
            assert jpeg_frame(blob) == (0xC0, 3)  # SOF0 = baseline sequential, 3 components
            path = tmp_path / "x.jpg"
            path.write_bytes(blob)
            ppm = subprocess.run([djpeg, "-pnm", str(path)], capture_output=True, check=True).stdout
            assert ppm.startswith(b"P6\n512 512\n255\n")
            pixels = np.frombuffer(ppm[len(b"P6\n512 512\n255\n"):], np.uint8).reshape(512, 512, 3)
            assert np.abs(pixels.astype(int) - jpeg.decode(blob).astype(int)).mean() < 1.0


def test_progressive_option_writes_progressive(photo):
    data, _, _ = original.compress_original(photo, priors.center_map(photo.shape[:2]), 3, 50, 1,
                                            EncoderOptions(progressive=True))
    assert jpeg_frame(data)[0] == 0xC2


def test_compression_is_deterministic(small_photo):
    sal = priors.center_map(small_photo.shape[:2])
    a = original.compress_original(small_photo, sal, 3, 50, 1)
    b = original.compress_original(small_photo, sal, 3, 50, 1)
    assert a == b
