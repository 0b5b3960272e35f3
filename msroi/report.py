"""Plots and the results document, made from the pipeline's CSV tables (no TensorFlow).

Every figure and number here is computed from ``results/metrics.csv`` (one row per output),
``results/summary.csv`` and ``results/bdrate.csv``; nothing is typed by hand.
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pandas as pd

from . import io

#: Metrics in the paper's order, with display names.
METRICS = {"psnr": "PSNR", "ssim": "SSIM", "msssim": "MS-SSIM", "vifp": "VIF-P", "psnrhvs": "PSNR-HVS",
           "psnrhvsm": "PSNR-HVS-M"}


def setting_label(row) -> str:
    """A short name for a setting: ``jpeg``, ``jpegli``, ``original msroi sel3 +1%``, ..."""
    if row["method"] in ("jpeg", "jpegli"):
        return row["method"]
    label = f"{row['method']} {row['map_source']}"
    if row["method"] == "original":
        label += f" sel{int(row['selection'])} +{row['threshold_pct']:g}%"
    reference = row.get("reference", "jpeg")
    if isinstance(reference, str) and reference != "jpeg":
        label += f" vs {reference}"
    return label


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``setting`` column of :func:`setting_label`."""
    df = df.copy()
    df["setting"] = [setting_label(r) for r in df.to_dict("records")]
    return df


def _figure(n_panels: int, ncols: int = 3, size=(4.2, 3.4)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.axis("off")
    return plt, fig, axes.ravel()


def _save(plt, fig, path) -> None:
    fig.tight_layout()
    with io.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def plot_rd(metrics: pd.DataFrame, out_png, settings=None, prefix: str = "") -> None:
    """Rate-distortion curves: mean bpp against mean metric over images, per setting and
    base quality, one panel per metric (``prefix='roi_'`` for the ROI metrics)."""
    df = with_labels(metrics)
    if settings is not None:
        df = df[df["setting"].isin(settings)]
    names = [m for m in METRICS if prefix + m in df.columns]
    plt, fig, axes = _figure(len(names))
    for ax, m in zip(axes, names):
        for setting, g in df.groupby("setting", sort=True):
            curve = g.groupby("base_quality")[["bpp", prefix + m]].mean().sort_values("bpp")
            style = "k-" if setting == "jpeg" else "-"
            ax.plot(curve["bpp"], curve[prefix + m], style, marker=".", label=setting, linewidth=1)
        ax.set_xlabel("bits per pixel (mean over images)")
        ax.set_title(("ROI " if prefix else "") + METRICS[m])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    _save(plt, fig, out_png)


def plot_deltas(metrics: pd.DataFrame, out_png, metric: str = "psnrhvsm", base_quality: int = 50, settings=None) -> None:
    """Per-image bars of ``delta_<metric>`` (output minus standard JPEG at equal bytes) at one
    base quality, one group of bars per image, one bar per setting."""
    col = f"delta_{metric}"
    df = with_labels(metrics)
    df = df[(df["base_quality"] == base_quality) & (df["method"] != "jpeg") & df[col].notna()]
    if settings is not None:
        df = df[df["setting"].isin(settings)]
    table = df.pivot_table(index="image", columns="setting", values=col)
    plt, fig, axes = _figure(1, 1, size=(max(6.0, 1.1 * len(table)), 4.0))
    ax = axes[0]
    width = 0.8 / max(1, table.shape[1])
    x = np.arange(len(table))
    for i, setting in enumerate(table.columns):
        ax.bar(x + i * width, table[setting], width, label=setting)
    ax.axhline(0, color="k", linewidth=0.8)
    ax.set_xticks(x + 0.4 - width / 2, table.index, rotation=30, ha="right")
    ax.set_ylabel(f"delta {METRICS.get(metric.removeprefix('roi_'), metric)} at equal bytes")
    ax.set_title(f"{'ROI ' if metric.startswith('roi_') else ''}{METRICS.get(metric.removeprefix('roi_'), metric)}: "
                 f"difference from standard JPEG at equal bytes (base Q{base_quality})")
    ax.legend(fontsize=6)
    _save(plt, fig, out_png)


def gallery(images: dict, maps_dir, out_png) -> None:
    """Photo, map and overlay side by side for each image (``images``: id -> path)."""
    from PIL import Image

    maps_dir = Path(maps_dir)
    ids = [i for i in images if (maps_dir / f"{i}.png").is_file()]
    plt, fig, axes = _figure(3 * len(ids), 3, size=(3.2, 2.6))
    for n, i in enumerate(ids):
        rgb = io.read_image(images[i])
        panels = [(rgb, i), (io.read_map(maps_dir / f"{i}.png"), "map")]
        overlay = maps_dir / f"{i}_overlay.png"
        panels.append((np.asarray(Image.open(overlay).convert("RGB")) if overlay.is_file() else rgb, "overlay"))
        for k, (arr, title) in enumerate(panels):
            ax = axes[3 * n + k]
            ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    _save(plt, fig, out_png)


def roi_crops(image_path, output_jpeg, box, out_png, label: str = "ours", options=None) -> None:
    """The ROI of one image: original, standard JPEG (encoder ``options``) at the output's
    bytes (the highest quality whose file is not larger), and the output, cropped to ``box``
    (x0, y0, x1, y1)."""
    from . import compress, encoder

    rgb = io.read_image(image_path)
    data = Path(output_jpeg).read_bytes()
    q, std, _ = compress.fit_budget(rgb, len(data), options or encoder.EncoderOptions(optimize=True))
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    crops = [(rgb, "original"), (encoder.decode(std), f"standard JPEG Q{q}, {len(std)} B"),
             (encoder.decode(data), f"{label}, {len(data)} B")]
    plt, fig, axes = _figure(3, 3, size=(4.0, 4.0 * (y1 - y0) / max(1, x1 - x0) + 0.4))
    for ax, (arr, title) in zip(axes, crops):
        ax.imshow(arr[y0:y1, x0:x1], interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    _save(plt, fig, out_png)


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
    from .stages import SAME_ENCODER

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
    from .stages import SAME_ENCODER

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
            from .errors import InputError

            raise InputError(src, "missing: run the workflow first")
        tables[name] = src.read_text()
        io.write_text(docs_dir / "results" / f"{name}.csv", tables[name])
    import shutil

    for src in (results_dir / "eval" / "rd.png", *(results_dir / "eval" / "figures" / n
                                                   for n in ("rd_roi.png", "gallery.png", "crop_chelsea.png"))):
        if src.is_file():
            with io.atomic_path(docs_dir / "figures" / src.name) as tmp:
                shutil.copyfile(src, tmp)
    info = run_info(runtime_min)
    io.write_text(docs_dir / "results" / "run.json", json.dumps(info, indent=2) + "\n")
    return render_results_doc(docs_dir, base_quality)


def render_results_doc(docs_dir, base_quality: int = 50) -> Path:
    """(Re)write ``docs_dir/results.md`` from ``docs_dir/results/{summary,bdrate}.csv`` and
    ``run.json``; returns its path."""
    import json

    docs_dir = Path(docs_dir)
    d = docs_dir / "results"
    text = results_markdown(pd.read_csv(d / "summary.csv"), pd.read_csv(d / "bdrate.csv"),
                            json.loads((d / "run.json").read_text()), base_quality)
    io.write_text(docs_dir / "results.md", text)
    return docs_dir / "results.md"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _turbo() -> str:
    from PIL import features

    return features.version("libjpeg_turbo") or "?"


def eval_tables(metrics: pd.DataFrame, summary: pd.DataFrame, bdrate: pd.DataFrame):
    """The study's three tables, labelled by setting: ``rd`` (every output: bytes, bpp and
    every metric), ``equal_bytes`` (per setting and base quality: mean delta at equal bytes
    with 95% intervals) and ``bdrate`` (per setting: mean BD-rate per metric with intervals)."""
    measure = [c for c in metrics.columns if c in ("bytes", "bpp") or c.removeprefix("roi_") in METRICS]
    rd = with_labels(metrics)[["setting", "image", "method", "map_source", "selection", "threshold_pct",
                               "base_quality", "final_quality", *measure]]
    s = with_labels(summary)
    s = s[s["method"] != "jpeg"]
    eq = s[["setting", "base_quality", "n_images", "bytes_vs_base"]
           + [c for c in s.columns if c.startswith("delta_")]]
    bd = with_labels(bdrate)
    bd = bd[["setting", "n_images"] + [c for c in bd.columns if c.startswith("bdrate_")]]
    return rd.reset_index(drop=True), eq.reset_index(drop=True), bd.reset_index(drop=True)


def make_study(metrics_csv, summary_csv, bdrate_csv, out_dir, figures_dir, images: dict | None = None,
               maps_dir=None, roi_path="", base_quality: int = 50, options=None) -> list[Path]:
    """Write the study's tables and headline plots into ``out_dir`` (``rd.csv``,
    ``equal_bytes.csv``, ``bdrate.csv``, ``rd.png``, ``deltas.png``) and the other figures into
    ``figures_dir`` (``rd_roi.png``, ``deltas_roi.png`` when ROI metrics exist, ``gallery.png``
    of photos, msroi maps and overlays, ``crop_<image>.png``: the ROI of each image, standard
    JPEG with encoder ``options`` vs the semantic msroi output at equal bytes). Returns the
    paths written."""
    from .stages import write_csv

    out, figs = Path(out_dir), Path(figures_dir)
    figs.mkdir(parents=True, exist_ok=True)
    metrics, summary, bdrate = (pd.read_csv(p) for p in (metrics_csv, summary_csv, bdrate_csv))
    rd, eq, bd = eval_tables(metrics, summary, bdrate)
    written = []
    for name, df in (("rd", rd), ("equal_bytes", eq), ("bdrate", bd)):
        write_csv(out / f"{name}.csv", df)
        written.append(out / f"{name}.csv")
    # plots show the standard encoders, the semantic method with every map and the original
    # with msroi maps at +1%; every setting is in the tables
    shown = sorted(s for s in rd["setting"].unique()
                   if not s.startswith("original") or (" msroi " in s and s.endswith("+1%")))
    has_roi = "roi_psnrhvsm" in metrics.columns
    for prefix, where, suffix in [("", out, "")] + ([("roi_", figs, "_roi")] if has_roi else []):
        plot_rd(metrics, where / f"rd{suffix}.png", settings=shown, prefix=prefix)
        plot_deltas(metrics, where / f"deltas{suffix}.png", f"{prefix}psnrhvsm", base_quality, shown)
        written += [where / f"rd{suffix}.png", where / f"deltas{suffix}.png"]
    if images and maps_dir is not None and Path(maps_dir).is_dir():
        gallery(images, maps_dir, figs / "gallery.png")
        written.append(figs / "gallery.png")
    if images and roi_path and Path(roi_path).suffix.lower() in (".csv", ".json"):
        from .roi import boxes_for, read_boxes

        boxes = read_boxes(roi_path)
        chosen = metrics[(metrics["method"] == "semantic") & (metrics["map_source"] == "msroi")
                         & (metrics["base_quality"] == base_quality)]
        for r in chosen.itertuples():
            b = boxes_for(boxes, r.image)
            if b and r.image in images:
                roi_crops(images[r.image], r.output, b[0], figs / f"crop_{r.image}.png", "semantic msroi", options)
                written.append(figs / f"crop_{r.image}.png")
    return written
