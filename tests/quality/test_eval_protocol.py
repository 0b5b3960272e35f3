"""The evaluation protocol: mozjpeg as a reference, perceptual metrics everywhere, no
recompressed JPEG, reference curves only where the comparisons need them."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from msroi.codec import jpeg
from msroi.quality import metrics as M
from msroi.quality import rd


def _markers(data: bytes) -> set[int]:
    """The SOFn markers in a JPEG stream."""
    return {data[i + 1] for i in range(len(data) - 1) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xC3}


@pytest.mark.parametrize("quality", [30, 50, 90])
def test_mozjpeg_sequential_form_decodes_to_the_same_pixels(small_photo, quality):
    progressive = jpeg.encode_mozjpeg(small_photo, quality)
    sequential = jpeg.encode_mozjpeg(small_photo, quality, progressive=False)
    assert _markers(progressive) == {0xC2} and _markers(sequential) == {0xC0}
    assert np.array_equal(jpeg.decode(progressive), jpeg.decode(sequential))
    with Image.open(io.BytesIO(sequential)) as im:
        assert max(max(t) for t in im.quantization.values()) <= 255
    # mozjpeg's own tables, not libjpeg-turbo's: fewer bytes than Pillow at the same quality
    assert len(sequential) < len(jpeg.encode(small_photo, quality, jpeg.EncoderOptions(optimize=True)))


def test_bd_rate_of_a_metric_that_falls_with_quality():
    rate = np.array([1000.0, 2000.0, 4000.0, 8000.0])
    butteraugli = np.array([4.0, 3.0, 2.2, 1.5])  # lower is better
    assert rd.bd_rate(rate, butteraugli, 0.9 * rate, butteraugli) == pytest.approx(-10.0)
    assert rd.bd_rate(rate, butteraugli, rate, butteraugli + 0.3) > 0  # worse at every rate: more bytes


def test_one_metric_list_with_directions():
    assert M.METRIC_NAMES[:3] == ("ssimulacra2", "butteraugli_3norm", "butteraugli_max")
    assert not M.METRIC["butteraugli_3norm"].higher_is_better and M.METRIC["ssimulacra2"].higher_is_better
    assert M.better("roi_butteraugli_3norm", -0.1) and not M.better("psnr", -0.1)
    assert set(M.PAPER_METRICS) < set(M.METRIC_NAMES)


def test_bracket_qualities_finds_each_size_with_few_encodes():
    sizes = {q: 100 * q for q in range(1, 101)}
    calls = []

    def size_at(q):
        calls.append(q)
        return sizes[q]

    assert rd.bracket_qualities(size_at, [5050, 4950, 50, 20000]) == [1, 49, 50, 51, 100]
    assert len(calls) == len(set(calls)) < 25


def test_bracket_qualities_with_a_tolerance_reuses_scored_points():
    sizes = {q: int(1000 * 1.03 ** q) for q in range(1, 101)}
    known = {q: sizes[q] for q in (30, 40, 50)}
    # 0.2% under a scored size: covered by it (bracketed by 30 and 40, within 3%)
    assert rd.bracket_qualities(sizes.get, [int(sizes[40] * 0.998)], known=known, tolerance=0.03) == []
    # halfway between 30 and 40 (about 15% from both): the nearest quality is scored
    assert rd.bracket_qualities(sizes.get, [sizes[35] + 1], known=known, tolerance=0.03) == [35]
    # below the smallest scored size: bracketed from below even when within tolerance
    assert rd.bracket_qualities(sizes.get, [sizes[30] - 5], known=known, tolerance=0.03) == [29]
    # tolerance 0: both bracketing qualities, the known ones not returned
    assert rd.bracket_qualities(sizes.get, [sizes[44] + 1], known=known, tolerance=0) == [44, 45]


def test_all_metrics_scores_ssimulacra2_and_butteraugli_with_one_tool_call(photo, monkeypatch):
    from msroi.quality import butteraugli as B
    from msroi.quality.ssimulacra2 import ssimulacra2, ssimulacra2_roi

    if not B.butteraugli_available():
        pytest.skip("butteraugli_main not installed (Debian: libjxl-devtools)")
    calls = []
    run = B._run
    monkeypatch.setattr(B, "_run", lambda *a, **k: calls.append(1) or run(*a, **k))
    ref = photo[:128, :192]
    dist = jpeg.decode(jpeg.encode(ref, 40))
    out = M.all_metrics(ref, dist)
    assert len(calls) == 1 and set(out) == set(M.METRIC_NAMES)
    assert out["ssimulacra2"] == ssimulacra2(ref, dist)
    assert out["butteraugli_max"] >= out["butteraugli_3norm"] > 0
    boxes = [(10, 10, 90, 70), (100, 20, 180, 120)]
    roi = np.zeros(ref.shape[:2])
    roi[10:70, 10:90] = roi[20:120, 100:180] = 1
    calls.clear()
    out = M.all_metrics(ref, dist, roi, boxes=boxes)
    assert len(calls) == 3  # whole image, then one per box
    assert out["roi_ssimulacra2"] == pytest.approx(ssimulacra2_roi(ref, dist, boxes))
    # a mask ROI without boxes is scored on its bounding box
    assert M.all_metrics(ref, dist, roi)["roi_ssimulacra2"] == pytest.approx(ssimulacra2_roi(ref, dist, [(10, 10, 180, 120)]))
    # a box under 8 pixels on a side gives NaN
    tiny = np.zeros(ref.shape[:2])
    tiny[5:9, 5:60] = 1
    out = M.all_metrics(ref, dist, tiny)
    assert np.isnan(out["roi_ssimulacra2"]) and np.isnan(out["roi_butteraugli_3norm"])


def test_jpeg_input_becomes_a_half_size_original_with_scaled_boxes(tmp_path, small_photo):
    from msroi.pipeline.originals import prepare_original

    boxes = tmp_path / "boxes.csv"
    boxes.write_text("image,x0,y0,x1,y1\ncat,50,20,150,120\n")
    Image.fromarray(small_photo).save(tmp_path / "cat.jpg", quality=95)
    Image.fromarray(small_photo).save(tmp_path / "cat.png")
    h, w = small_photo.shape[:2]
    info = prepare_original(tmp_path / "cat.jpg", tmp_path / "o.png", tmp_path / "o.csv", "cat", boxes)
    assert info == {"width": (w + 1) // 2, "height": (h + 1) // 2, "reduced": True}
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == ((h + 1) // 2, (w + 1) // 2, 3)
    scaled = pd.read_csv(tmp_path / "o.csv").iloc[0]
    assert scaled["x0"] == pytest.approx(50 * ((w + 1) // 2) / w) and scaled["y1"] == pytest.approx(120 * ((h + 1) // 2) / h)
    info = prepare_original(tmp_path / "cat.png", tmp_path / "p.png", tmp_path / "p.csv", "cat", boxes)
    assert not info["reduced"] and np.array_equal(np.asarray(Image.open(tmp_path / "p.png")), small_photo)
    assert pd.read_csv(tmp_path / "p.csv")[["x0", "y0", "x1", "y1"]].iloc[0].tolist() == [50, 20, 150, 120]
    info = prepare_original(tmp_path / "cat.jpg", tmp_path / "q.png", tmp_path / "q.csv", "cat", boxes, downscale_jpeg=False)
    assert not info["reduced"] and info["width"] == w


def test_metrics_command_prints_the_perceptual_metrics_with_boxes(tmp_path, small_photo):
    import json
    import subprocess
    import sys

    ref, dist = tmp_path / "cat.png", tmp_path / "d.jpg"
    Image.fromarray(small_photo).save(ref)
    dist.write_bytes(jpeg.encode(small_photo, 30))
    boxes = tmp_path / "boxes.csv"
    boxes.write_text("image,x0,y0,x1,y1\ncat,20,10,120,90\n")
    r = subprocess.run([sys.executable, "-m", "msroi.cli", "metrics", str(ref), str(dist), "--roi", str(boxes), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    values = json.loads(r.stdout)
    assert {p + m for p in ("", "roi_") for m in M.METRIC_NAMES} == set(values)
    crop = (slice(10, 90), slice(20, 120))
    assert values["roi_ssimulacra2"] == pytest.approx(
        M.all_metrics(small_photo[crop], jpeg.decode(dist.read_bytes())[crop], metrics=["ssimulacra2"])["ssimulacra2"])
