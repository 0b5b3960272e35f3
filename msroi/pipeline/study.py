"""The study: labelled tables and figures made from the pipeline's CSV tables (no TensorFlow).

Every figure and number here is computed from ``results/metrics.csv`` (one row per output),
``results/summary.csv`` and ``results/bdrate.csv``; nothing is typed by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from msroi import files
from msroi.codec import jpeg, rate

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
    with files.atomic_path(path) as tmp:
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
            finite = g[["base_quality", "bpp", prefix + m]].replace([np.inf, -np.inf], np.nan)
            curve = finite.groupby("base_quality")[["bpp", prefix + m]].mean().sort_values("bpp")
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
        rgb = files.read_image(images[i])
        panels = [(rgb, i), (files.read_map(maps_dir / f"{i}.png"), "map")]
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

    from msroi.pipeline.compress import read_for_output

    rgb, meta = read_for_output(image_path)
    data = Path(output_jpeg).read_bytes()
    q, std, _ = rate.fit_budget(rgb, len(data) - len(files.metadata_segments(meta)),
                                options or jpeg.EncoderOptions(optimize=True))
    std = files.add_metadata(std, meta)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    crops = [(rgb, "original"), (jpeg.decode(std), f"standard JPEG Q{q}, {len(std)} B"),
             (jpeg.decode(data), f"{label}, {len(data)} B")]
    plt, fig, axes = _figure(3, 3, size=(4.0, 4.0 * (y1 - y0) / max(1, x1 - x0) + 0.4))
    for ax, (arr, title) in zip(axes, crops):
        ax.imshow(arr[y0:y1, x0:x1], interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    _save(plt, fig, out_png)


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
    from msroi.files import write_csv

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
        from msroi.quality.roi import boxes_for, read_boxes

        boxes = read_boxes(roi_path)
        chosen = metrics[(metrics["method"] == "semantic") & (metrics["map_source"] == "msroi")
                         & (metrics["base_quality"] == base_quality)]
        for r in chosen.itertuples():
            b = boxes_for(boxes, r.image)
            if b and r.image in images:
                roi_crops(images[r.image], r.output, b[0], figs / f"crop_{r.image}.png", "semantic msroi", options)
                written.append(figs / f"crop_{r.image}.png")
    return written
