"""docs/results.md: the results document generated from a run's tables (no number typed by hand)."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pandas as pd

from msroi import files
from msroi.pipeline.study import METRICS, with_labels


def headline_table(summary: pd.DataFrame, bdrate: pd.DataFrame, base_quality: int = 50) -> pd.DataFrame:
    """One row per setting: mean delta at equal bytes at ``base_quality`` (whole image and ROI)
    and mean BD-rate over the base qualities, for every metric present."""
    s = with_labels(summary[summary["base_quality"] == base_quality])
    s = s[s["method"] != "jpeg"]
    b = with_labels(bdrate[_references(bdrate) == "jpeg"])
    cols = {}
    for m in METRICS:
        for prefix in ("", "roi_"):
            if f"delta_{prefix}{m}" in s.columns:
                cols[f"d_{prefix}{m}"] = s.set_index("setting")[f"delta_{prefix}{m}"]
            if f"bdrate_{prefix}{m}" in b.columns:
                cols[f"bd_{prefix}{m}"] = b.set_index("setting")[f"bdrate_{prefix}{m}"]
    table = pd.DataFrame(cols)
    table.index.name = "setting"
    if "bytes_vs_base" in s.columns:
        table.insert(0, "bytes_vs_q", s.set_index("setting")["bytes_vs_base"])
    return table.reset_index()



def _fmt(v, pct=False, digits=2) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:+.1f}%" if pct else f"{v:+.{digits}f}"



#: Decimal places of deltas per metric (dB metrics 2; SSIM-like indices in [0, 1] 4).
_DIGITS = {"ssim": 4, "msssim": 4, "vifp": 4}



def run_info(runtime_min: float | None = None) -> dict:
    """Machine and library versions of this run (saved beside the tables it describes)."""
    import PIL

    return {"machine": platform.machine(), "cores": _cpu_count(), "python": platform.python_version(),
            "pillow": PIL.__version__, "libjpeg_turbo": _turbo(), "numpy": np.__version__, "pandas": pd.__version__,
            "runtime_min": runtime_min}



def _semantic(summary: pd.DataFrame, source: str) -> pd.DataFrame:
    s = summary[(summary["method"] == "semantic") & (summary["map_source"] == source)]
    return s.set_index("base_quality").sort_index()



def _references(bdrate: pd.DataFrame) -> pd.Series:
    """What each BD-rate row is measured against (tables from before the column: "jpeg")."""
    return bdrate["reference"] if "reference" in bdrate.columns else pd.Series("jpeg", index=bdrate.index)



def same_encoder_table(summary: pd.DataFrame, bdrate: pd.DataFrame) -> pd.DataFrame:
    """The semantic part of the semantic method's gain: per map source other than uniform
    and per base quality, mean PSNR-HVS-M deltas (ROI and whole image) minus those of the
    same encoder with a uniform map (both at the budget of that base quality, so at nearly
    equal bytes), and the BD-rate (ROI PSNR-HVS-M) against the uniform-map curve."""
    from msroi.pipeline.score import SAME_ENCODER

    uniform = _semantic(summary, "uniform")
    if uniform.empty or "delta_roi_psnrhvsm" not in summary.columns:
        return pd.DataFrame()
    rows = []
    for source in sorted(set(summary.loc[summary["method"] == "semantic", "map_source"]) - {"uniform"}):
        s = _semantic(summary, source)
        bd = bdrate[(bdrate["method"] == "semantic") & (bdrate["map_source"] == source)
                    & (_references(bdrate) == SAME_ENCODER)]
        row = {"map_source": source,
               "bd_roi_psnrhvsm": bd["bdrate_roi_psnrhvsm"].iloc[0] if len(bd) else np.nan}
        for q in s.index.intersection(uniform.index):
            row[f"roi_q{q}"] = s.loc[q, "delta_roi_psnrhvsm"] - uniform.loc[q, "delta_roi_psnrhvsm"]
            row[f"whole_q{q}"] = s.loc[q, "delta_psnrhvsm"] - uniform.loc[q, "delta_psnrhvsm"]
        rows.append(row)
    return pd.DataFrame(rows)



def targets_table(summary: pd.DataFrame, bdrate: pd.DataFrame, base_quality: int = 50,
                  source: str = "msroi") -> list[tuple[str, str, float, bool | None]]:
    """The semantic method with ``source`` maps against the targets of the semantic-gain
    issue: (what, target, measured, met) rows, measured from the summary and BD-rate CSVs.
    "Same encoder" rows compare with the semantic method on a uniform map."""
    from msroi.pipeline.score import SAME_ENCODER

    s = _semantic(summary, source)
    u = _semantic(summary, "uniform")
    if s.empty or base_quality not in s.index or "delta_roi_psnrhvsm" not in s.columns:
        return []
    ref = _references(bdrate)

    def bd(method, map_source, reference="jpeg"):
        r = bdrate[(bdrate["method"] == method) & (bdrate["map_source"] == map_source) & (ref == reference)]
        return float(r["bdrate_roi_psnrhvsm"].iloc[0]) if len(r) else np.nan

    q = base_quality
    rows = [(f"ROI PSNR-HVS-M at the bytes of JPEG Q{q}, vs standard JPEG (dB)", ">= +1.0",
             s.loc[q, "delta_roi_psnrhvsm"], s.loc[q, "delta_roi_psnrhvsm"] >= 1.0),
            (f"whole-image PSNR-HVS-M at the bytes of JPEG Q{q}, vs standard JPEG (dB)", ">= -0.2",
             s.loc[q, "delta_psnrhvsm"], s.loc[q, "delta_psnrhvsm"] >= -0.2)]
    if q in u.index:
        d_roi = s.loc[q, "delta_roi_psnrhvsm"] - u.loc[q, "delta_roi_psnrhvsm"]
        d_all = s.loc[q, "delta_psnrhvsm"] - u.loc[q, "delta_psnrhvsm"]
        rows += [(f"ROI PSNR-HVS-M at Q{q} bytes, vs the same encoder with a uniform map (dB)", ">= +1.0",
                  d_roi, d_roi >= 1.0),
                 (f"whole-image PSNR-HVS-M at Q{q} bytes, vs the same encoder with a uniform map (dB)", ">= -0.2",
                  d_all, d_all >= -0.2)]
    b = bd("semantic", source)
    rows.append(("BD-rate of ROI PSNR-HVS-M over the base qualities, vs standard JPEG (%)", "<= -20", b, b <= -20))
    b_same = bd("semantic", source, SAME_ENCODER)
    if np.isfinite(b_same):
        rows.append(("BD-rate of ROI PSNR-HVS-M, vs the same encoder with a uniform map (%)", "<= -20",
                     b_same, b_same <= -20))
    b_jpegli = bd("jpegli", "none")
    if np.isfinite(b_jpegli):
        rows.append(("BD-rate of ROI PSNR-HVS-M vs standard JPEG, minus jpegli's (%)", "< 0", b - b_jpegli,
                     b - b_jpegli < 0))
    if "bytes_vs_base_max" in s.columns:
        worst = 100 * s["bytes_vs_base_max"].max()
        rows.append(("largest output relative to standard JPEG at its base quality (%)", "<= 0", worst, worst <= 0))
    return [(what, target, float(value), bool(met)) for what, target, value, met in rows]



def results_markdown(summary: pd.DataFrame, bdrate: pd.DataFrame, info: dict, base_quality: int = 50) -> str:
    """The text of ``docs/results.md``: headline tables from the summary and BD-rate CSVs,
    and the machine/versions of ``info`` (see :func:`run_info`)."""
    table = headline_table(summary, bdrate, base_quality)
    n_images = int(summary["n_images"].max())
    lines = [
        "# Results",
        "",
        "Generated by `msroi results-doc` from `docs/results/summary.csv` and `docs/results/bdrate.csv`",
        "(copies of the workflow's `results/summary.csv` and `results/bdrate.csv`); do not edit by hand.",
        "Regenerate everything: see README, \"Reproduce the evaluation\".",
        "",
        f"{n_images} images. Deltas are the output's metric minus standard JPEG's (same encoder",
        f"options) at exactly the output's byte count, at base quality {base_quality}, mean over images.",
        "BD-rate: Bjontegaard delta rate against standard JPEG over the configured base qualities,",
        "mean over images (negative = fewer bytes for the same quality). ROI metrics use the",
        "hand-drawn boxes of `msroi/resources/sample_boxes.csv`, never the map under test.",
        "",
    ]
    targets = targets_table(summary, bdrate, base_quality)
    if targets:
        lines += ["## The semantic method (msroi maps) against its targets", "",
                  "Measured from the tables below. \"Standard JPEG\" is libjpeg-turbo with the same",
                  "options as the baselines; \"the same encoder with a uniform map\" is the semantic method",
                  "given a constant map (every block weighted alike): its trellis quantisation and table choice",
                  "without semantics. The difference between the two isolates what the map contributes.", "",
                  "| measure | target | measured | met |", "|---|---|---|---|"]
        for what, target, value, met in targets:
            lines.append(f"| {what} | {target} | {value:+.2f} | {'yes' if met else 'no'} |")
        lines.append("")
    semantic = summary[summary["method"] == "semantic"]
    if not semantic.empty and "delta_roi_psnrhvsm" in semantic.columns:
        qs = sorted(int(q) for q in semantic["base_quality"].unique())
        lines += ["## The semantic method per base quality, vs standard JPEG", "",
                  "PSNR-HVS-M deltas at equal bytes (dB), ROI / whole image, mean over images.", "",
                  "| map | " + " | ".join(f"Q{q}" for q in qs) + " |", "|" + "---|" * (len(qs) + 1)]
        for source in sorted(semantic["map_source"].unique()):
            s = _semantic(summary, source)
            cells = [f"{_fmt(s.loc[q, 'delta_roi_psnrhvsm'])} / {_fmt(s.loc[q, 'delta_psnrhvsm'])}" if q in s.index
                     else "–" for q in qs]
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
        lines.append("")
    same = same_encoder_table(summary, bdrate)
    if not same.empty:
        qs = sorted(int(c[len("roi_q"):]) for c in same.columns if c.startswith("roi_q"))
        lines += ["## What the map adds: semantic method vs the same encoder with a uniform map", "",
                  "PSNR-HVS-M deltas (dB) of the semantic method with each map minus those with a uniform map,",
                  "ROI / whole image, per base quality; BD-rate of ROI PSNR-HVS-M against the uniform-map curve.", "",
                  "| map | " + " | ".join(f"Q{q}" for q in qs) + " | BD-rate ROI |",
                  "|" + "---|" * (len(qs) + 2)]
        for r in same.to_dict("records"):
            cells = [f"{_fmt(r[f'roi_q{q}'])} / {_fmt(r[f'whole_q{q}'])}" for q in qs]
            lines.append(f"| {r['map_source']} | " + " | ".join(cells) + f" | {_fmt(r['bd_roi_psnrhvsm'], pct=True)} |")
        lines.append("")
    for title, prefix in (("Whole image", ""), ("Region of interest", "roi_")):
        metric_cols = [m for m in METRICS if f"d_{prefix}{m}" in table.columns]
        if not metric_cols:
            continue
        lines += [f"## {title}: delta at equal bytes (base Q{base_quality}) / BD-rate", ""]
        header = "| setting | bytes vs Q | " + " | ".join(METRICS[m] for m in metric_cols) + " |"
        lines += [header, "|" + "---|" * (2 + len(metric_cols))]
        for r in table.to_dict("records"):
            cells = [f"{_fmt(r.get(f'd_{prefix}{m}'), digits=_DIGITS.get(m, 2))} / {_fmt(r.get(f'bd_{prefix}{m}'), pct=True)}"
                     for m in metric_cols]
            lines.append(f"| {r['setting']} | {_fmt(100 * r.get('bytes_vs_q', np.nan), pct=True)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Figures", "",
              "Rate-distortion curves (whole image, then ROI), the MSROI maps of the sample photos, and",
              "the cat's ROI: standard JPEG vs the semantic method with msroi maps at equal bytes.", "",
              "![RD](figures/rd.png)", "", "![RD ROI](figures/rd_roi.png)", "", "![maps](figures/gallery.png)", "",
              "![crop](figures/crop_chelsea.png)", ""]
    lines += ["## Machine and versions", "",
              f"- {info['machine']}, {info['cores']} cores, Python {info['python']}, Pillow {info['pillow']} "
              f"(libjpeg-turbo {info['libjpeg_turbo']}), numpy {info['numpy']}, pandas {info['pandas']}"]
    if info.get("runtime_min") is not None:
        lines.append(f"- whole workflow on this machine: {info['runtime_min']:.1f} min")
    return "\n".join(lines) + "\n"



def write_results_doc(results_dir, docs_dir, runtime_min: float | None = None, base_quality: int = 50) -> Path:
    """Copy ``summary.csv`` and ``bdrate.csv`` from ``results_dir`` to ``docs_dir/results/``
    with a ``run.json`` of :func:`run_info`, and write ``docs_dir/results.md`` from them.
    Returns the markdown path."""
    import json

    results_dir, docs_dir = Path(results_dir), Path(docs_dir)
    tables = {}
    for name in ("summary", "bdrate"):
        src = results_dir / f"{name}.csv"
        if not src.is_file():
            from msroi.errors import InputError

            raise InputError(src, "missing: run the workflow first")
        tables[name] = src.read_text()
        files.write_text(docs_dir / "results" / f"{name}.csv", tables[name])
    import shutil

    for src in (results_dir / "eval" / "rd.png", *(results_dir / "eval" / "figures" / n
                                                   for n in ("rd_roi.png", "gallery.png", "crop_chelsea.png"))):
        if src.is_file():
            with files.atomic_path(docs_dir / "figures" / src.name) as tmp:
                shutil.copyfile(src, tmp)
    info = run_info(runtime_min)
    files.write_text(docs_dir / "results" / "run.json", json.dumps(info, indent=2) + "\n")
    return render_results_doc(docs_dir, base_quality)



def render_results_doc(docs_dir, base_quality: int = 50) -> Path:
    """(Re)write ``docs_dir/results.md`` from ``docs_dir/results/{summary,bdrate}.csv`` and
    ``run.json``; returns its path."""
    import json

    docs_dir = Path(docs_dir)
    d = docs_dir / "results"
    text = results_markdown(pd.read_csv(d / "summary.csv"), pd.read_csv(d / "bdrate.csv"),
                            json.loads((d / "run.json").read_text()), base_quality)
    files.write_text(docs_dir / "results.md", text)
    return docs_dir / "results.md"



def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()



def _turbo() -> str:
    from PIL import features

    return features.version("libjpeg_turbo") or "?"
