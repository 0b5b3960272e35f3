"""docs/results.md: the results document generated from a run's tables (no number typed by hand)."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pandas as pd

from msroi import files
from msroi.pipeline.study import label, with_labels
from msroi.quality.metrics import METRIC, PAPER_METRICS, better

#: The metrics of the opening tables: the two perceptual yardsticks, then PSNR-HVS-M and SSIM.
HEADLINE_METRICS = ("ssimulacra2", "butteraugli_3norm", "psnrhvsm", "ssim")


def headline_table(summary: pd.DataFrame, bdrate: pd.DataFrame, base_quality: int = 50) -> pd.DataFrame:
    """One row per setting: mean delta at equal bytes at ``base_quality`` (whole image and ROI)
    and mean BD-rate over the base qualities, for every metric present."""
    s = with_labels(summary[summary["base_quality"] == base_quality])
    s = s[s["method"] != "jpeg"]
    b = with_labels(bdrate[_references(bdrate) == "jpeg"])
    cols = {}
    for m in PAPER_METRICS:
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


def _fmt_ci(v, lo, hi, pct=False, digits=2) -> str:
    """``v [lo, hi]``, or just ``v`` without an interval."""
    if not _finite(lo) or not _finite(hi):
        return _fmt(v, pct, digits)
    return f"{_fmt(v, pct, digits)} [{_fmt(lo, pct, digits)}, {_fmt(hi, pct, digits)}]"


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float, np.floating)) and bool(np.isfinite(v))


def _one(df: pd.DataFrame, **where) -> dict | None:
    """The single row of ``df`` matching every ``column=value`` (None if absent)."""
    mask = pd.Series(True, index=df.index)
    for column, value in where.items():
        if column not in df.columns:
            return None
        mask &= df[column] == value
    rows = df[mask]
    return rows.iloc[0].to_dict() if len(rows) else None


def comparison_rows(summary: pd.DataFrame, bdrate: pd.DataFrame, source: str, reference: str,
                    base_quality: int = 50) -> list[dict]:
    """The semantic method with ``source`` maps against ``reference`` (``jpeg``, ``mozjpeg`` or
    the same encoder with a uniform map), one row per metric of :data:`HEADLINE_METRICS` and
    region (whole image, ROI): BD-rate with its 95% interval, and the equal-bytes delta at
    ``base_quality`` (with its interval against a reference encoder; against the uniform map,
    the difference of the two settings' mean deltas against libjpeg-turbo). Empty when the
    tables hold no such comparison."""
    from msroi.pipeline.score import SAME_ENCODER, delta_column

    bd = _one(bdrate.assign(reference=_references(bdrate)), method="semantic", map_source=source,
              reference=reference)
    s = _one(summary, method="semantic", map_source=source, base_quality=base_quality)
    if bd is None or s is None:
        return []
    u = _one(summary, method="semantic", map_source="uniform", base_quality=base_quality)
    rows = []
    for m in HEADLINE_METRICS:
        for prefix in ("", "roi_"):
            column = prefix + m
            row = {"metric": column, "bd": bd.get(f"bdrate_{column}", np.nan),
                   "bd_lo": bd.get(f"bdrate_{column}_ci_lo", np.nan), "bd_hi": bd.get(f"bdrate_{column}_ci_hi", np.nan)}
            if reference == SAME_ENCODER:
                mine, theirs = s.get(f"delta_{column}", np.nan), (u or {}).get(f"delta_{column}", np.nan)
                row.update(delta=mine - theirs, delta_lo=np.nan, delta_hi=np.nan)
            else:
                d = delta_column(reference, column)
                row.update(delta=s.get(d, np.nan), delta_lo=s.get(f"{d}_ci_lo", np.nan),
                           delta_hi=s.get(f"{d}_ci_hi", np.nan))
            rows.append(row)
    return rows


def wins_sentence(rows: list[dict], reference: str) -> str:
    """Prose from :func:`comparison_rows`: on how many BD-rates and deltas the method wins,
    and on which metrics it wins and loses (BD-rate < 0 wins; a delta wins in the metric's
    direction)."""
    bd = [(r["metric"], r["bd"]) for r in rows if _finite(r["bd"])]
    dl = [(r["metric"], r["delta"]) for r in rows if _finite(r["delta"])]
    if not bd and not dl:
        return "None of these metrics is in the tables."
    won = [label(m) for m, v in bd if v < 0]
    lost = [label(m) for m, v in bd if v >= 0]
    text = (f"Against {reference} it wins on {len(won)} of {len(bd)} BD-rates (fewer bytes at equal quality) "
            f"and on {sum(better(m, v) for m, v in dl)} of {len(dl)} equal-bytes deltas.")
    if won:
        text += f" Wins (BD-rate): {', '.join(won)}."
    if lost:
        text += f" Losses (BD-rate): {', '.join(lost)}."
    return text


def comparison_section(title: str, intro: list[str], columns: list[tuple[str, list[dict]]], reference: str) -> list[str]:
    """Markdown lines: a table of :func:`comparison_rows` (one column pair per entry of
    ``columns``: header, rows) and, per column, the sentence of :func:`wins_sentence`."""
    columns = [(h, rows) for h, rows in columns if rows]
    lines = [f"## {title}", "", *intro, ""]
    if not columns:
        return lines + [f"No comparison with {reference} in these tables: regenerate them with the workflow.", ""]
    header = "| metric | " + " | ".join(f"{h}: BD-rate [95% CI] | {h}: delta at equal bytes" for h, _ in columns) + " |"
    lines += [header, "|" + "---|" * (1 + 2 * len(columns))]
    for i, first in enumerate(columns[0][1]):
        digits = METRIC[first["metric"].removeprefix("roi_")].digits
        cells = []
        for _, rows in columns:
            r = rows[i]
            cells += [_fmt_ci(r["bd"], r["bd_lo"], r["bd_hi"], pct=True),
                      _fmt_ci(r["delta"], r["delta_lo"], r["delta_hi"], digits=digits)]
        lines.append(f"| {label(first['metric'])} | " + " | ".join(cells) + " |")
    lines.append("")
    for h, rows in columns:
        lines += [f"{h}: {wins_sentence(rows, reference)}", ""]
    return lines


#: What the results document says about JPEG inputs, by ``run.json``'s ``jpeg_inputs``.
_JPEG_INPUTS = {
    "downscaled": "JPEG inputs were evaluated downscaled by 2 (mean of 2x2 blocks), never at their own resolution.",
    "as is": "JPEG inputs were evaluated at their own resolution: biased towards encoders that land on the "
             "source's 8x8 grid.",
}


def jpeg_inputs(results_dir) -> str | None:
    """``"downscaled"`` when every JPEG input of a run was evaluated smaller than its file,
    ``"as is"`` when any was evaluated at its own size, None without JPEG inputs or tables
    (from ``inputs.csv`` and ``metrics.csv``)."""
    results_dir = Path(results_dir)
    try:
        inputs = pd.read_csv(results_dir / "inputs.csv", keep_default_na=False)
        sizes = pd.read_csv(results_dir / "metrics.csv", usecols=["image", "width"]).groupby("image")["width"].max()
    except (OSError, ValueError):
        return None
    jpegs = inputs[inputs["ok"].astype(str).str.lower().eq("true") & inputs["path"].str.lower().str.endswith((".jpg", ".jpeg"))]
    jpegs = jpegs[jpegs["id"].isin(sizes.index)]
    if jpegs.empty:
        return None
    return "downscaled" if (sizes.loc[jpegs["id"]].to_numpy() < jpegs["width"].to_numpy()).all() else "as is"


def run_info(runtime_min: float | None = None) -> dict:
    """Machine and library versions of this run (saved beside the tables it describes)."""
    import PIL

    from msroi.quality.butteraugli import BUTTERAUGLI_VERSION

    return {"machine": platform.machine(), "cores": _cpu_count(), "python": platform.python_version(),
            "pillow": PIL.__version__, "libjpeg_turbo": _turbo(), "numpy": np.__version__, "pandas": pd.__version__,
            "mozjpeg": "4.0.3 (jpeglib)", "butteraugli": BUTTERAUGLI_VERSION, "runtime_min": runtime_min}


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


#: Columns of ``docs/results/per_image.csv``: the semantic method's outputs, one row per image,
#: map source and base quality (what the per-image targets need).
PER_IMAGE_COLUMNS = ["image", "map_source", "base_quality", "bytes", "bytes_vs_base", "roi_fraction",
                     "ssimulacra2", "roi_ssimulacra2", "butteraugli_3norm", "roi_butteraugli_3norm",
                     "delta_mozjpeg_roi_ssimulacra2"]
#: The map's share is judged on images whose ROI covers less than this fraction of the frame.
SMALL_ROI = 0.4


def per_image_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """The semantic method's rows of a run's ``metrics.csv`` with :data:`PER_IMAGE_COLUMNS`."""
    s = metrics[metrics["method"] == "semantic"]
    return s[[c for c in PER_IMAGE_COLUMNS if c in s.columns]].reset_index(drop=True)


def map_share(per_image: pd.DataFrame, source: str = "msroi", metric: str = "roi_ssimulacra2",
              small_roi: float = SMALL_ROI) -> tuple[float, int]:
    """Mean over the images whose ROI covers less than ``small_roi`` of the frame of the
    BD-rate (%) of the semantic method with ``source`` maps against the same encoder with a
    uniform map, on ``metric``; returns (mean, number of images)."""
    from msroi.quality.rd import bd_rate

    if "roi_fraction" not in per_image.columns:
        return float("nan"), 0
    values = []
    for _, g in per_image[per_image["roi_fraction"] < small_roi].groupby("image"):
        a, b = g[g["map_source"] == "uniform"], g[g["map_source"] == source]
        if len(a) >= 2 and len(b) >= 2:
            values.append(bd_rate(a["bytes"], a[metric], b["bytes"], b[metric]))
    values = [v for v in values if np.isfinite(v)]
    return (float(np.mean(values)) if values else float("nan")), len(values)


def monotone_images(per_image: pd.DataFrame, source: str = "msroi", metric: str = "ssimulacra2") -> tuple[int, int]:
    """How many images have ``metric`` of the semantic output (``source`` maps) non-decreasing
    in base quality, and how many images there are."""
    g = per_image[per_image["map_source"] == source].sort_values("base_quality").groupby("image")[metric]
    flags = [bool(np.all(np.diff(v.to_numpy()) >= 0)) for _, v in g]
    return sum(flags), len(flags)


def targets_table(summary: pd.DataFrame, bdrate: pd.DataFrame, per_image: pd.DataFrame | None = None,
                  source: str = "msroi") -> list[tuple[str, str, float, bool]]:
    """The targets of beating mozjpeg, as (what, target, measured, met) rows, measured from
    the summary, BD-rate and per-image CSVs: the encoder alone (uniform map) and the semantic
    method with ``source`` maps against mozjpeg (BD-rates, mean over images), the map's
    share on images with a small ROI, the worst base quality's ROI SSIMULACRA2 at equal bytes
    against mozjpeg, monotone quality and the budget."""
    from msroi.pipeline.score import SAME_ENCODER

    ref = _references(bdrate)

    def bd(map_source, column, reference="mozjpeg"):
        r = bdrate[(bdrate["method"] == "semantic") & (bdrate["map_source"] == map_source) & (ref == reference)]
        col = f"bdrate_{column}"
        return float(r[col].iloc[0]) if len(r) and col in r.columns else np.nan

    rows = []
    for m in ("ssimulacra2", "butteraugli_3norm", "psnrhvsm"):
        v = bd("uniform", m)
        rows.append((f"encoder alone (uniform map) vs mozjpeg, BD-rate of {label(m)} (%)", "<= 0", v, v <= 0))
    for m in ("ssimulacra2", "butteraugli_3norm"):
        v = bd(source, f"roi_{m}")
        rows.append((f"{source} maps vs mozjpeg, BD-rate of ROI {label(m)} (%)", "<= -15", v, v <= -15))
    for m in ("ssimulacra2", "butteraugli_3norm"):
        v = bd(source, m)
        rows.append((f"{source} maps vs mozjpeg, BD-rate of whole-image {label(m)} (%)", "<= +5", v, v <= 5))
    if per_image is not None and len(per_image):
        v, n = map_share(per_image, source)
        rows.append((f"the map's share: {source} vs uniform map, BD-rate of ROI SSIMULACRA2 on the {n} images "
                     f"whose ROI covers < {SMALL_ROI:.0%} of the frame (%)", "<= -10", v, v <= -10))
    else:
        v = bd(source, "roi_ssimulacra2", SAME_ENCODER)
        rows.append((f"the map's share: {source} vs uniform map, BD-rate of ROI SSIMULACRA2, all images (%)",
                     "<= -10", v, v <= -10))
    s = _semantic(summary, source)
    if "delta_mozjpeg_roi_ssimulacra2" in s.columns and len(s):
        worst = s["delta_mozjpeg_roi_ssimulacra2"]
        q = int(worst.idxmin())
        rows.append((f"ROI SSIMULACRA2 at equal bytes minus mozjpeg's, worst base quality (Q{q})", ">= 0",
                     float(worst.min()), float(worst.min()) >= 0))
    if per_image is not None and len(per_image):
        ok, n = monotone_images(per_image, source)
        rows.append((f"images whose SSIMULACRA2 rises with base quality (of {n})", f"= {n}", ok, ok == n))
    if "bytes_vs_base_max" in s.columns:
        worst = 100 * s["bytes_vs_base_max"].max()
        rows.append(("largest output relative to standard JPEG at its base quality (%)", "<= 0", worst, worst <= 0))
    return [(what, target, float(value), bool(met)) for what, target, value, met in rows]


def per_quality_rows(summary: pd.DataFrame, source: str = "msroi") -> list[tuple[str, list[tuple[int, float]]]]:
    """Per metric of :data:`HEADLINE_METRICS` (ROI, then whole image): the semantic method's
    mean equal-bytes delta against mozjpeg at each base quality."""
    s = _semantic(summary, source)
    rows = []
    for prefix in ("roi_", ""):
        for m in HEADLINE_METRICS:
            col = f"delta_mozjpeg_{prefix}{m}"
            if col in s.columns:
                rows.append((prefix + m, [(int(q), float(v)) for q, v in s[col].items()]))
    return rows


def map_scores_section(scores: pd.DataFrame) -> list[str]:
    """Markdown lines: lift per image and map source, mean, min, how many images at or above the
    centre prior, pointing game and mean AUC (rows of :func:`msroi.pipeline.maps.score_maps`),
    then the map targets met / not met. Empty without scores."""
    if scores is None or scores.empty:
        return []
    images = list(dict.fromkeys(scores["image"]))
    lift = scores.pivot(index="source", columns="image", values="lift")[images]
    centre = lift.loc["center"] if "center" in lift.index else None
    n = len(images)
    lines = ["## Maps: do they find the boxes?", "",
             "Every map source on the evaluation originals and their hand-drawn boxes (the same boxes as the",
             "ROI metrics): lift = the share of the map's mass inside the boxes over the share of the area",
             "they cover (1 = a uniform map); pointing = the map's maximum inside a box; AUC = the probability",
             "that a box pixel ranks above a pixel outside. Per image: lift.", "",
             "| map | " + " | ".join(images) + " | mean | min | >= centre | pointing | AUC |",
             "|" + "---|" * (n + 6)]
    for source in lift.index:
        row = scores[scores["source"] == source]
        beats = "" if centre is None else f"{int((lift.loc[source] >= centre - 1e-9).sum())}/{n}"
        lines.append(f"| {source} | " + " | ".join(f"{v:.2f}" for v in lift.loc[source])
                     + f" | {lift.loc[source].mean():.2f} | {lift.loc[source].min():.2f} | {beats}"
                     + f" | {int(row['pointing'].sum())}/{n} | {row['auc'].mean():.3f} |")
    lines.append("")
    if "msroi" in lift.index:
        m = lift.loc["msroi"]
        hits = int(scores.loc[scores["source"] == "msroi", "pointing"].sum())
        checks = [("mean lift", ">= 2.5", f"{m.mean():.2f}", m.mean() >= 2.5),
                  ("lift on every image", ">= 1.2", f"{m.min():.2f}", m.min() >= 1.2),
                  ("pointing game", f"= {n}/{n}", f"{hits}/{n}", hits == n)]
        if centre is not None:
            beats = int((m >= centre - 1e-9).sum())
            checks.insert(1, ("images at or above the centre prior's lift", f">= {n - 1}/{n}", f"{beats}/{n}", beats >= n - 1))
        lines += ["Targets for the msroi maps:", "", "| measure | target | measured | met |", "|---|---|---|---|"]
        lines += [f"| {what} | {target} | {value} | {'yes' if met else 'no'} |" for what, target, value, met in checks]
        lines.append("")
    return lines


def results_markdown(summary: pd.DataFrame, bdrate: pd.DataFrame, info: dict, base_quality: int = 50,
                     per_image: pd.DataFrame | None = None, map_scores: pd.DataFrame | None = None) -> str:
    """The text of ``docs/results.md``: the semantic method against mozjpeg and libjpeg-turbo
    and against its own encoder with a uniform map on :data:`HEADLINE_METRICS`, then the
    paper's six metrics, all from the summary and BD-rate CSVs (and the targets, which also
    read ``per_image``, see :func:`per_image_table`), how well the maps find the boxes
    (``map_scores``, see :func:`map_scores_section`), and the machine/versions of ``info``
    (see :func:`run_info`)."""
    from msroi.quality.butteraugli import BUTTERAUGLI_VERSION

    table = headline_table(summary, bdrate, base_quality)
    n_images = int(summary["n_images"].max())
    lines = [
        "# Results",
        "",
        "Generated by `msroi results-doc` from `docs/results/summary.csv` and `docs/results/bdrate.csv`",
        "(copies of the workflow's `results/summary.csv` and `results/bdrate.csv`); do not edit by hand.",
        "Regenerate everything: see README, \"Reproduce the evaluation\".",
        "",
        f"{n_images} images. {_JPEG_INPUTS.get(info.get('jpeg_inputs'), '')}".rstrip(),
        "Deltas are the output's metric minus the reference encoder's at exactly the",
        f"output's byte count, at base quality {base_quality}, mean over images. BD-rate: Bjontegaard delta",
        "rate against the reference over the configured base qualities, mean over images (negative =",
        "fewer bytes for the same quality). ROI metrics use the hand-drawn boxes of",
        "`msroi/resources/sample_boxes.csv` (scaled with the image), never the map under test; SSIMULACRA2",
        "and Butteraugli on the ROI are the area-weighted mean over the boxes' crops.",
        *([f"Butteraugli: {info.get('butteraugli', BUTTERAUGLI_VERSION)}."]
          if any("butteraugli" in c for c in bdrate.columns) else []),
        "",
    ]
    from msroi.pipeline.score import SAME_ENCODER

    sources = sorted(set(summary.loc[summary["method"] == "semantic", "map_source"]) - {"uniform"})
    direction = ("Higher is better for SSIMULACRA2, PSNR-HVS-M and SSIM; lower is better for Butteraugli "
                 "(a negative delta is a win).")
    lines += comparison_section(
        "The semantic method (msroi maps) against mozjpeg",
        ["mozjpeg 4.0.3 at its defaults (its tables, trellis quantisation, optimised Huffman codes), in the",
         "same sequential/progressive mode as the other outputs: the encoder a user who wants smaller JPEGs",
         "picks. BD-rate over the base qualities; delta: the semantic output's metric minus mozjpeg's at",
         f"exactly its byte count, at base quality {base_quality}; 95% intervals over images. {direction}"],
        [("msroi", comparison_rows(summary, bdrate, "msroi", "mozjpeg", base_quality))], "mozjpeg")
    lines += comparison_section(
        "The semantic method (msroi maps) against libjpeg-turbo",
        ["The same comparison with standard JPEG (libjpeg-turbo with the baselines' options)."],
        [("msroi", comparison_rows(summary, bdrate, "msroi", "jpeg", base_quality))], "libjpeg-turbo")
    lines += comparison_section(
        "What the map adds: the semantic method vs the same encoder with a uniform map",
        ["BD-rate against the semantic method given a constant map (its trellis and table choice without",
         "semantics); delta: the difference of the two settings' mean equal-bytes deltas against",
         f"libjpeg-turbo at base quality {base_quality}."],
        [(source, comparison_rows(summary, bdrate, source, SAME_ENCODER, base_quality)) for source in sources],
        "the same encoder with a uniform map")
    targets = targets_table(summary, bdrate, per_image)
    if targets:
        lines += ["## Targets: beating mozjpeg", "",
                  "Measured from the tables above and the per-image table `docs/results/per_image.csv`;",
                  "BD-rates over the base qualities, mean over images, against mozjpeg in the same",
                  "sequential/progressive mode. \"Encoder alone\" is the semantic method given a constant map.", "",
                  "| measure | target | measured | met |", "|---|---|---|---|"]
        for what, target, value, met in targets:
            shown = f"{value:.0f}" if target.startswith("=") else f"{value:+.2f}"
            lines.append(f"| {what} | {target} | {shown} | {'yes' if met else 'no'} |")
        lines.append("")
    per_q = per_quality_rows(summary)
    if per_q:
        qs = [q for q, _ in per_q[0][1]]
        lines += ["### Per base quality: msroi maps vs mozjpeg at equal bytes", "",
                  "The semantic output's metric minus mozjpeg's at exactly its byte count, mean over images;",
                  "the ROI SSIMULACRA2 row is the target \"never below mozjpeg\" (met where >= 0).", "",
                  "| metric | " + " | ".join(f"Q{q}" for q in qs) + " |", "|" + "---|" * (len(qs) + 1)]
        for column, values in per_q:
            digits = METRIC[column.removeprefix("roi_")].digits
            cells = [_fmt(v, digits=digits) for _, v in values]
            if column == "roi_ssimulacra2":
                cells = [f"{c} ({'met' if v >= 0 else 'not met'})" for c, (_, v) in zip(cells, values)]
            lines.append(f"| {label(column)} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += map_scores_section(map_scores)
    lines += ["# The paper's six metrics", "", "Against standard JPEG (libjpeg-turbo), as the paper compared.", ""]
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
        metric_cols = [m for m in PAPER_METRICS if f"d_{prefix}{m}" in table.columns]
        if not metric_cols:
            continue
        lines += [f"## {title}: delta at equal bytes (base Q{base_quality}) / BD-rate", ""]
        header = "| setting | bytes vs Q | " + " | ".join(METRIC[m].label for m in metric_cols) + " |"
        lines += [header, "|" + "---|" * (2 + len(metric_cols))]
        for r in table.to_dict("records"):
            cells = [f"{_fmt(r.get(f'd_{prefix}{m}'), digits=METRIC[m].digits)} / {_fmt(r.get(f'bd_{prefix}{m}'), pct=True)}"
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
    if info.get("mozjpeg"):
        lines.append(f"- mozjpeg {info['mozjpeg']}; Butteraugli: {info['butteraugli']}")
    if info.get("runtime_min") is not None:
        lines.append(f"- whole workflow on this machine: {info['runtime_min']:.1f} min")
    return "\n".join(lines) + "\n"


def write_results_doc(results_dir, docs_dir, runtime_min: float | None = None, base_quality: int = 50) -> Path:
    """Copy ``summary.csv``, ``bdrate.csv`` and (if present) ``map_scores.csv`` from ``results_dir``
    to ``docs_dir/results/`` with ``per_image.csv`` (:func:`per_image_table` of ``metrics.csv``) and a ``run.json`` of
    :func:`run_info`, and write ``docs_dir/results.md`` from them.
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
    if (results_dir / "map_scores.csv").is_file():
        files.write_text(docs_dir / "results" / "map_scores.csv", (results_dir / "map_scores.csv").read_text())
    metrics_csv = results_dir / "metrics.csv"
    if metrics_csv.is_file():
        files.write_text(docs_dir / "results" / "per_image.csv",
                         per_image_table(pd.read_csv(metrics_csv)).to_csv(index=False))
    info = {**run_info(runtime_min), "jpeg_inputs": jpeg_inputs(results_dir)}
    files.write_text(docs_dir / "results" / "run.json", json.dumps(info, indent=2) + "\n")
    return render_results_doc(docs_dir, base_quality)


def render_results_doc(docs_dir, base_quality: int = 50) -> Path:
    """(Re)write ``docs_dir/results.md`` from ``docs_dir/results/{summary,bdrate,per_image,map_scores}.csv``
    (the last two optional) and ``run.json``; returns its path."""
    import json

    docs_dir = Path(docs_dir)
    d = docs_dir / "results"
    per_image, map_scores = (pd.read_csv(d / f"{n}.csv") if (d / f"{n}.csv").is_file() else None
                             for n in ("per_image", "map_scores"))
    text = results_markdown(pd.read_csv(d / "summary.csv"), pd.read_csv(d / "bdrate.csv"),
                            json.loads((d / "run.json").read_text()), base_quality, per_image, map_scores)
    files.write_text(docs_dir / "results.md", text)
    return docs_dir / "results.md"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _turbo() -> str:
    from PIL import features

    return features.version("libjpeg_turbo") or "?"
