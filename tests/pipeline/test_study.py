"""The study's tables, figures and results document are computed from the CSVs."""

import json

import pandas as pd
import pytest

from msroi.pipeline import study as report
from msroi.pipeline import results_doc
from msroi.pipeline.results_doc import render_results_doc

from tests.conftest import REPO


def test_results_doc_in_the_repo_is_what_its_csvs_give(tmp_path):
    docs = REPO / "docs"
    if not (docs / "results" / "summary.csv").is_file():
        pytest.fail("docs/results/*.csv missing: run the workflow and `msroi results-doc`")
    committed = (docs / "results.md").read_text()
    copy = tmp_path / "docs"
    (copy / "results").mkdir(parents=True)
    for name in ("summary.csv", "bdrate.csv", "per_image.csv", "map_scores.csv", "run.json"):
        if (docs / "results" / name).is_file():
            (copy / "results" / name).write_text((docs / "results" / name).read_text())
    assert render_results_doc(copy).read_text() == committed


def test_targets_read_the_map_share_on_small_rois_and_monotone_quality():
    rows = []
    for image, fraction, gain in (("small", 0.1, 1.3), ("large", 0.8, 1.0)):
        for source, factor in (("uniform", 1.0), ("msroi", gain)):
            for q, b in ((30, 1000), (50, 1500), (70, 2200)):
                rows.append({"image": image, "map_source": source, "base_quality": q, "bytes": b * (2 - factor),
                             "roi_fraction": fraction, "roi_ssimulacra2": 40 + q / 2, "ssimulacra2": 40 + q / 2})
    per_image = pd.DataFrame(rows)
    share, n = results_doc.map_share(per_image)
    # only the small-ROI image counts; it needs 30% fewer bytes for the same ROI score
    assert n == 1 and share == pytest.approx(-30.0, abs=1e-6)
    assert results_doc.monotone_images(per_image) == (2, 2)
    per_image.loc[(per_image["image"] == "small") & (per_image["map_source"] == "msroi")
                  & (per_image["base_quality"] == 70), "ssimulacra2"] = 0.0
    assert results_doc.monotone_images(per_image) == (1, 2)


def test_a_changed_bdrate_row_changes_the_document(tmp_path):
    """The document's BD-rates are read from bdrate.csv: a sentinel put into the semantic
    method's row against standard JPEG shows up in the regenerated document."""
    docs = REPO / "docs"
    copy = tmp_path / "docs"
    (copy / "results").mkdir(parents=True)
    for name in ("summary.csv", "bdrate.csv", "run.json"):
        (copy / "results" / name).write_text((docs / "results" / name).read_text())
    bd = pd.read_csv(copy / "results" / "bdrate.csv")
    row = (bd["method"] == "semantic") & (bd["map_source"] == "msroi") & (bd["reference"] == "jpeg")
    assert row.sum() == 1, "the study must have the semantic method with msroi maps against standard JPEG"
    bd.loc[row, "bdrate_psnrhvsm"] = -42.4242
    bd.to_csv(copy / "results" / "bdrate.csv", index=False)
    assert "-42.4" not in (docs / "results.md").read_text()
    assert "-42.4" in render_results_doc(copy).read_text()


def test_make_study_writes_tables_and_figures(tmp_path):
    from skimage import data

    from msroi.codec import original
    from msroi.codec import jpeg
    from msroi import files
    from msroi.saliency import priors
    from msroi.pipeline import score

    rgb = data.chelsea()[::2, ::2]
    img = tmp_path / "cat.png"
    files.save_png(img, rgb)
    rows = []
    for q in (30, 50, 70):
        std = jpeg.encode(rgb, q)
        out, _, rec = original.compress_original(rgb, priors.center_map(rgb.shape[:2]), 3, q, 1)
        for method, data_ in (("jpeg", std), ("original", out)):
            p = tmp_path / f"{method}{q}.jpg"
            p.write_bytes(data_)
            rows.append({"image": "cat", "map_source": "none" if method == "jpeg" else "center", "method": method,
                         "selection": 0 if method == "jpeg" else 3, "base_quality": q,
                         "threshold_pct": 0.0 if method == "jpeg" else 1.0, "final_quality": q, "output": str(p)})
    pd.DataFrame(rows).to_csv(tmp_path / "records.csv", index=False)
    score.score_records(img, tmp_path / "records.csv", tmp_path / "scores.csv")
    score.sweep_image(img, tmp_path / "sweep.csv", "cat", qualities=range(20, 81))
    score.aggregate([tmp_path / "scores.csv"], tmp_path / "metrics.csv", tmp_path / "summary.csv",
                     [tmp_path / "sweep.csv"], tmp_path / "bdrate.csv")
    written = report.make_study(tmp_path / "metrics.csv", tmp_path / "summary.csv", tmp_path / "bdrate.csv",
                                tmp_path / "eval", tmp_path / "eval" / "figures")
    names = sorted(p.name for p in written)
    assert names == ["bdrate.csv", "deltas.png", "equal_bytes.csv", "rd.csv", "rd.png"]
    eq = pd.read_csv(tmp_path / "eval" / "equal_bytes.csv")
    assert list(eq["setting"].unique()) == ["original center sel3 +1%"] and len(eq) == 3
    assert pd.read_csv(tmp_path / "eval" / "bdrate.csv")["bdrate_psnr"].notna().all()
    info = results_doc.run_info(1.5)
    assert info["runtime_min"] == 1.5 and json.dumps(info)


def test_results_doc_opens_with_mozjpeg_and_says_where_it_wins():
    """The opening tables come from the bdrate/summary rows against mozjpeg, and the prose
    counts wins by each metric's direction (Butteraugli: lower is better)."""
    metrics = ("ssimulacra2", "butteraugli_3norm", "psnrhvsm", "ssim")
    bd = {"method": "semantic", "map_source": "msroi", "selection": 0, "threshold_pct": 0.0, "n_images": 8}
    rows = []
    for reference, value in (("mozjpeg", 5.0), ("jpeg", -3.0)):
        row = {**bd, "reference": reference}
        for p in ("", "roi_"):
            for m in metrics:
                row[f"bdrate_{p}{m}"] = value if m != "ssim" else -value
                row[f"bdrate_{p}{m}_ci_lo"], row[f"bdrate_{p}{m}_ci_hi"] = row[f"bdrate_{p}{m}"] - 1, row[f"bdrate_{p}{m}"] + 1
        rows.append(row)
    bdrate = pd.DataFrame(rows)
    s = {"method": "semantic", "map_source": "msroi", "selection": 0, "base_quality": 50, "threshold_pct": 0.0,
         "n_images": 8, "bytes_vs_base": -0.001}
    for p in ("", "roi_"):
        for m in metrics:
            s[f"delta_mozjpeg_{p}{m}"] = 0.5  # a loss for Butteraugli, a win for the others
            s[f"delta_{p}{m}"] = 0.1
    text = results_doc.results_markdown(pd.DataFrame([s]), bdrate, {"machine": "x", "cores": 2, "python": "3",
                                        "pillow": "1", "libjpeg_turbo": "1", "numpy": "1", "pandas": "1"})
    opening = text.split("## The semantic method (msroi maps) against mozjpeg", 1)[1].split("## ", 1)[0]
    assert "| SSIMULACRA2 | +5.0% [+4.0%, +6.0%] | +0.50 |" in opening
    assert "| ROI Butteraugli 3-norm | +5.0% [+4.0%, +6.0%] | +0.500 |" in opening
    assert "wins on 2 of 8 BD-rates" in opening and "on 6 of 8 equal-bytes deltas" in opening
    assert "Losses (BD-rate): SSIMULACRA2" in opening
    assert text.index("against mozjpeg") < text.index("against libjpeg-turbo") < text.index("# The paper's six metrics")


def test_map_scores_section_lists_every_source_and_the_targets():
    rows = []
    for image, lifts in (("a", {"msroi": 3.0, "center": 1.5}), ("b", {"msroi": 2.2, "center": 2.4})):
        for source, value in lifts.items():
            rows.append({"source": source, "image": image, "roi_fraction": 0.2, "lift": value,
                         "auc": 0.9, "pointing": source == "msroi" or image == "a"})
    text = "\n".join(results_doc.map_scores_section(pd.DataFrame(rows)))
    assert "| msroi | 3.00 | 2.20 | 2.60 | 2.20 | 1/2 | 2/2 | 0.900 |" in text
    assert "| center | 1.50 | 2.40 | 1.95 | 1.50 | 2/2 | 1/2 | 0.900 |" in text
    assert "| mean lift | >= 2.5 | 2.60 | yes |" in text
    assert "| images at or above the centre prior's lift | >= 1/2 | 1/2 | yes |" in text
    assert results_doc.map_scores_section(pd.DataFrame()) == []
