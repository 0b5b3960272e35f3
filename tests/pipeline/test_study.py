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
    for name in ("summary.csv", "bdrate.csv", "run.json"):
        (copy / "results" / name).write_text((docs / "results" / name).read_text())
    assert render_results_doc(copy).read_text() == committed


def test_every_headline_number_traces_to_a_csv_row():
    docs = REPO / "docs" / "results"
    summary, bdrate = pd.read_csv(docs / "summary.csv"), pd.read_csv(docs / "bdrate.csv")
    table = results_doc.headline_table(summary, bdrate)
    s = report.with_labels(summary[summary["base_quality"] == 50]).set_index("setting")
    b = report.with_labels(bdrate).set_index("setting")
    for row in table.to_dict("records"):
        assert row["d_psnrhvsm"] == s.loc[row["setting"], "delta_psnrhvsm"]
        assert row["bd_psnrhvsm"] == b.loc[row["setting"], "bdrate_psnrhvsm"]
    text = (REPO / "docs" / "results.md").read_text()
    for row in table.to_dict("records"):
        assert f"| {row['setting']} |" in text


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
