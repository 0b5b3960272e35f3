"""Batch compression: files and directories in, a tree of JPEGs out, the map built in.

Each image gets a saliency map (the msroi map of a classifier loaded once per process, a
prior, or a user map), a byte budget from a target, and one JPEG from the chosen method.
Targets and the budget they set:

- ``quality`` Q: the size of standard JPEG (libjpeg-turbo, the encoder options) at Q,
  plus ``threshold_pct`` percent.
- ``size`` S bytes: S, capped by the size of standard JPEG at ``max_quality`` when given.
- ``bpp`` B: ``floor(B * width * height / 8)`` bytes, capped the same way.

An image whose budget no JPEG can meet is reported and nothing is written for it. A bad
image never stops the batch: its record says why (``ok`` False, ``error``). Outputs do not
depend on the number of worker processes: msroi maps do not depend on threads (the default
model runs in NumPy with single-threaded BLAS, a Keras model single-threaded) and are
quantised to 16 bits exactly as ``msroi map`` saves them, so compressing with the built-in
map gives the same bytes as ``msroi map`` followed by ``msroi compress --map``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from msroi import files
from msroi import settings as defaults
from msroi.codec.jpeg import EncoderOptions
from msroi.errors import MsroiError

#: Bounds of the targets (bytes; bits per pixel).
MIN_SIZE, MAX_SIZE = 128, 1 << 30
MAX_BPP = 24.0
_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmM]?)[bB]?\s*$")

#: Columns of the per-image table.
TABLE_COLUMNS = ["image", "output", "ok", "error", "bytes", "input_bytes", "final_quality", "base_quality",
                 "base_bytes", "budget_bytes", "target", "target_value", "method", "map", "width", "height",
                 "bpp", "seconds"]

#: What a process keeps between images: the settings and the classifier, loaded once.
_STATE: dict = {}


@dataclass(frozen=True)
class Target:
    """What sets each image's byte budget: ``kind`` 'quality' (value = JPEG quality Q),
    'size' (value = bytes) or 'bpp' (value = bits per pixel); ``max_quality`` caps size and
    bpp budgets at standard JPEG's size at that quality; ``threshold_pct`` is the allowed
    excess over standard JPEG at Q (quality targets only)."""

    kind: str = "quality"
    value: float = 50
    max_quality: int | None = None
    threshold_pct: float = 0.0

    def __post_init__(self):
        check_target(self)

    def describe(self) -> str:
        """The target in words: 'standard JPEG at Q50', '--size 153600 bytes', '--bpp 0.8'."""
        if self.kind == "quality":
            return f"standard JPEG at Q{int(self.value)}"
        cap = f", --max-quality {self.max_quality}" if self.max_quality else ""
        if self.kind == "size":
            return f"--size {int(self.value)} bytes{cap}"
        return f"--bpp {self.value:g}{cap}"


def check_target(target: Target) -> None:
    """Raise MsroiError naming the option when a target is out of its bounds."""
    k, v = target.kind, target.value
    if k == "quality" and not (float(v).is_integer() and 1 <= v <= 100):
        raise MsroiError(f"--quality must be an integer in 1..100, got {v}")
    if k == "size" and not MIN_SIZE <= v <= MAX_SIZE:
        raise MsroiError(f"--size must be between {MIN_SIZE} bytes and 1 GiB, got {v:g} bytes")
    if k == "bpp" and not 0 < v <= MAX_BPP:
        raise MsroiError(f"--bpp must be in (0, {MAX_BPP:g}], got {v:g}")
    if k not in ("quality", "size", "bpp"):
        raise MsroiError(f"unknown target {k!r}; known: quality, size, bpp")
    if target.max_quality is not None and not 1 <= target.max_quality <= 100:
        raise MsroiError(f"--max-quality must be in 1..100, got {target.max_quality}")
    if not 0 <= target.threshold_pct < float("inf"):
        raise MsroiError("--threshold-pct must be a finite number >= 0")


def parse_size(text: str) -> int:
    """Bytes from a size such as '150k', '1.5M', '20000' (k/K = 1024, M = 1024^2, optional
    trailing B); raises MsroiError for anything else or outside 128 bytes .. 1 GiB."""
    m = _SIZE.match(str(text))
    if not m:
        raise MsroiError(f"--size: cannot read {text!r}; write bytes, or a number with k or M (e.g. 150k)")
    n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    check_target(Target("size", n))
    return n


def format_size(n: float) -> str:
    """A byte count for people: '812 B', '150 KiB', '2.3 MiB'."""
    if abs(n) < 1024:
        return f"{n:.0f} B"
    if abs(n) < 1024**2:
        return f"{n / 1024:.1f} KiB".replace(".0 KiB", " KiB")
    return f"{n / 1024**2:.1f} MiB"


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to compress one image: method and its parameters, the
    target, encoder options, the map (``map_file``, ``map_dir``, ``prior``, or else the
    msroi map of ``model``) and the pixel limit."""

    method: str = "semantic"
    target: Target = field(default_factory=Target)
    selection: int = 3
    ratio: float = defaults.RATIO
    smooth: float = defaults.SMOOTH
    options: EncoderOptions = field(default_factory=lambda: EncoderOptions(optimize=True))
    map_file: Path | None = None
    map_dir: Path | None = None
    prior: str | None = None
    center_sigma: float = 0.25
    model: str = "default"
    cache_dir: Path | None = None
    short_side: int = defaults.SHORT_SIDE
    top_k: int = defaults.TOP_K
    last_weight: float = defaults.LAST_WEIGHT
    max_pixels: int = defaults.MAX_PIXELS
    strip_metadata: bool = False

    @property
    def needs_model(self) -> bool:
        """True when maps come from the classifier (the model is loaded)."""
        return self.map_file is None and self.map_dir is None and self.prior is None

    def map_source(self) -> str:
        """How the map is made, as recorded: 'msroi', 'prior:center', 'file:PATH'."""
        if self.prior:
            return f"prior:{self.prior}"
        if self.map_file or self.map_dir:
            return f"file:{self.map_file or self.map_dir}"
        return "msroi" if str(self.model) == "default" else f"msroi:{self.model}"


# ----------------------------------------------------------------------------- planning


def collect_inputs(inputs, recursive: bool = False, exclude=None) -> list[tuple[Path, Path]]:
    """Expand files and directories into ``(image, path relative to the output root)``.

    A file given directly maps to its name; a directory's images (by suffix; in its whole
    tree with ``recursive``) map to their path inside it; hidden files and directories are
    skipped, and so are files under ``exclude`` (an output directory inside an input
    directory). Raises MsroiError for a missing input or when nothing is found.
    """
    exclude = Path(exclude).resolve() if exclude is not None else None
    found = []
    for given in map(Path, inputs):
        if given.is_dir():
            found += [(p, p.relative_to(given)) for p in _images_in(given, recursive, exclude)]
        elif given.exists() or given.is_symlink():
            found.append((given, Path(given.name)))
        else:
            raise MsroiError(f"{given}: no such file or directory")
    if not found:
        raise MsroiError(f"no images found in {', '.join(map(str, inputs))}"
                         + ("" if recursive else " (use -r for subdirectories)"))
    return found


def _images_in(directory: Path, recursive: bool, exclude: Path | None) -> list[Path]:
    candidates = directory.rglob("*") if recursive else directory.iterdir()
    if exclude == directory.resolve():  # writing into the input tree itself: the overwrite check decides
        exclude = None
    out = []
    for p in candidates:
        if not p.is_file() or p.suffix.lower() not in files.IMAGE_SUFFIXES:
            continue
        if any(part.startswith(".") for part in p.relative_to(directory).parts):
            continue
        if exclude is not None and p.resolve().is_relative_to(exclude):
            continue
        out.append(p)
    return sorted(out)


def output_is_file(inputs, output) -> bool:
    """True when ``output`` names one JPEG file: one input that is a file, and an output
    that is not an existing directory and has a suffix (``out.jpg``; ``out`` is a directory)."""
    inputs = [Path(p) for p in inputs]
    output = Path(output)
    return len(inputs) == 1 and not inputs[0].is_dir() and not output.is_dir() and output.suffix != ""


def plan(inputs, output, recursive: bool = False, protect=()) -> list[tuple[Path, Path]]:
    """The ``(image, output JPEG)`` pairs of a run, checked before any work starts.

    ``output`` is the JPEG for a single file input (see :func:`output_is_file`), else the
    root of a tree that mirrors the inputs with ``.jpg`` names. Raises MsroiError, naming the
    path, when two images would write the same output, an output would overwrite an input
    (or a file in ``protect``, e.g. the map), or the output root is an existing file.
    """
    output = Path(output)
    if output_is_file(inputs, output):
        pairs = [(Path(inputs[0]), output)]
    else:
        if output.exists() and not output.is_dir():
            raise MsroiError(f"{output}: exists and is not a directory (several inputs need an output directory)")
        pairs = [(src, output / rel.with_suffix(".jpg")) for src, rel in collect_inputs(inputs, recursive, output)]
    _check_pairs(pairs, protect)
    return pairs


def _check_pairs(pairs, protect) -> None:
    """Refuse outputs that overwrite an input (or a file in ``protect``) or that two images share."""
    written: dict = {}
    for src, dst in pairs:
        k = _key(dst)
        if k in written:
            raise MsroiError(f"{dst}: would be written from both {written[k]} and {src}")
        written[k] = src
    files.check_outputs([dst for _, dst in pairs], [src for src, _ in pairs] + list(protect))


def _key(path) -> str:
    """A path's identity for collisions (resolved; case-folded where the file system folds)."""
    return os.path.normcase(str(Path(path).resolve()))


# ----------------------------------------------------------------------------- one image


def compress_file(src, dst, settings: Settings, baseline=None) -> dict:
    """Compress image ``src`` into ``dst`` with ``settings``; optionally write the standard
    JPEG the output is compared with to ``baseline``. The input's ICC profile and EXIF
    (orientation reset; EXIF left out with ``strip_metadata``) go into both files, inside
    the target. Returns the image's record: :class:`~msroi.codec.record.Record`'s fields plus
    the image, output, map source, target and seconds; raises MsroiError when the image
    cannot be read or no JPEG meets its budget (nothing is written then)."""
    from msroi.codec.record import attach_metadata, make_record

    t0 = time.perf_counter()
    src, dst = Path(src), Path(dst)
    rgb, meta = files.read_image(src, settings.max_pixels, with_metadata=True)
    if settings.strip_metadata:
        meta = meta.stripped()
    sal = saliency(rgb, src, settings)
    reserve = len(files.metadata_segments(meta)) if settings.target.kind != "quality" else 0
    budget, ref_q, ref_data = target_budget(rgb, settings.target, settings.options, reserve)
    data, final_q, fits = encode(rgb, sal, budget, settings, ref_q, ref_data)
    if not fits:
        raise MsroiError(f"{src}: no JPEG fits the budget of {budget + reserve} bytes ({settings.target.describe()}); "
                         f"the smallest is {len(data) + reserve} bytes; nothing written")
    h, w = rgb.shape[:2]
    semantic = settings.method == "semantic"
    record = make_record(data, method=settings.method, base_quality=ref_q or 0, final_quality=final_q, width=w,
                         height=h, optimize=True if semantic else settings.options.optimize,
                         threshold_pct=settings.target.threshold_pct if settings.target.kind == "quality" else 0.0,
                         base_bytes=None if ref_data is None else len(ref_data), budget_bytes=budget,
                         selection=0 if semantic else settings.selection,
                         ratio=settings.ratio if semantic else None, smooth=settings.smooth if semantic else None)
    data, ref_data, record = attach_metadata(data, ref_data, record, meta)
    if reserve:
        record = replace(record, budget_bytes=budget + reserve)
    files.write_bytes(dst, data)
    if baseline is not None and ref_data is not None:
        files.write_bytes(baseline, ref_data)
    return {"image": str(src), "output": str(dst), "ok": True, "error": "", **record.as_dict(),
            "map": settings.map_source(), "target": settings.target.kind, "target_value": settings.target.value,
            "input_bytes": src.stat().st_size, "bpp": 8.0 * len(data) / (w * h),
            "seconds": round(time.perf_counter() - t0, 4)}


def target_budget(rgb: np.ndarray, target: Target, options: EncoderOptions, reserve: int = 0):
    """The byte budget of ``target`` for image ``rgb``, less ``reserve`` bytes (the metadata
    a size/bpp target must hold too), and the standard JPEG it is compared with; returns
    ``(budget, reference quality, reference JPEG bytes)`` (reference None when even
    standard JPEG at Q1 is over a size/bpp budget)."""
    from msroi.codec import jpeg, rate

    if target.kind == "quality":
        ref = jpeg.encode(rgb, int(target.value), options)
        return rate.budget_bytes(len(ref), target.threshold_pct), int(target.value), ref
    h, w = rgb.shape[:2]
    budget = (int(target.value) if target.kind == "size" else int(np.floor(target.value * w * h / 8.0))) - reserve
    if target.max_quality is not None:
        budget = min(budget, len(jpeg.encode(rgb, target.max_quality, options)))
    q, ref, fits = rate.fit_budget(rgb, budget, options)
    return budget, (q if fits else None), (ref if fits else None)


def encode(rgb: np.ndarray, sal: np.ndarray, budget: int, settings: Settings, ref_q: int | None = None,
           ref_data: bytes | None = None) -> tuple[bytes, int, bool]:
    """One JPEG of ``rgb`` steered by map ``sal`` within ``budget`` bytes by the settings'
    method; ``ref_q`` and ``ref_data`` are the standard JPEG the budget came from (with
    the settings' options), if any. Returns ``(jpeg bytes, final/table quality, whether it
    fits)``."""
    if settings.method == "semantic":
        from msroi.codec.semantic import encode_semantic

        # the semantic method starts from the highest standard quality (optimised Huffman)
        # that fits: most often the reference's, which saves a bisection of whole encodes
        same = settings.options == EncoderOptions(optimize=True)
        data, info = encode_semantic(rgb, sal, budget, ratio=settings.ratio, smooth=settings.smooth,
                                     progressive=settings.options.progressive, base_quality_hint=ref_q,
                                     base_data=ref_data if same else None)
        return data, int(info["table_quality"]), bool(info["fits"])
    from msroi.codec import original, rate

    levels = original.selection_levels(sal, settings.selection)
    ladder = original.quality_ladder(rgb, settings.options, np.unique(levels))
    q, data, fits = rate.fit_budget(original.mosaic(ladder, levels), budget, settings.options)
    return data, q, fits


def saliency(rgb: np.ndarray, src: Path, settings: Settings) -> np.ndarray:
    """The map of image ``rgb`` (read from ``src``) at its size, float64 in [0, 1]."""
    from msroi.saliency import priors

    shape = rgb.shape[:2]
    if settings.prior:
        return priors.prior_map(settings.prior, shape, settings.center_sigma)
    if settings.map_file is not None:
        return files.read_map(settings.map_file, shape)
    if settings.map_dir is not None:
        return priors.file_map(settings.map_dir, src.stem, shape)
    from msroi.saliency.maps import msroi_map

    m, _ = msroi_map(classifier(settings), rgb, settings.short_side, settings.top_k, settings.last_weight)
    return np.rint(np.clip(m, 0.0, 1.0).astype(np.float64) * 65535.0) / 65535.0


def classifier(settings: Settings):
    """This process's classifier ``(model, metadata)``, loaded on first use only."""
    key = (str(settings.model), str(settings.cache_dir))
    if _STATE.get("model_key") != key:
        if str(settings.model) != "default":  # a Keras model; the default one is NumPy
            _single_threaded_tensorflow()
        from msroi.saliency.maps import load_classifier

        _STATE["model"] = load_classifier(settings.model, settings.cache_dir)
        _STATE["model_key"] = key
    return _STATE["model"]


def _single_threaded_tensorflow() -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started in this process
        pass


# ----------------------------------------------------------------------------- many images


def default_jobs() -> int:
    """Worker processes by default: ``$MSROI_THREADS`` when set, else the usable cores."""
    env = os.environ.get("MSROI_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise MsroiError(f"MSROI_THREADS must be a whole number, got {env!r}") from None
        if not 1 <= n <= 256:
            raise MsroiError(f"MSROI_THREADS must be in 1..256, got {n}")
        return n
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _failure(src, dst, error: BaseException) -> dict:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, MemoryError):
        message = (f"out of memory (the semantic encoder needs about {defaults.SEMANTIC_BYTES_PER_PIXEL} bytes "
                   f"per pixel); use a smaller image or a lower --max-pixels")
    elif not isinstance(error, MsroiError):
        message = f"{type(error).__name__}: {message}"
    if str(src) not in message and str(dst) not in message:
        message = f"{src}: {message}"
    return {"image": str(src), "output": str(dst), "ok": False, "error": message}


def _run_one(index: int, src, dst, baseline=None, debug: bool = False) -> tuple[int, dict]:
    try:
        return index, compress_file(src, dst, _STATE["settings"], baseline)
    except Exception as e:  # one bad image never stops the batch
        if debug:
            raise
        return index, _failure(src, dst, e)


def _init_worker(settings: Settings) -> None:
    _STATE["settings"] = settings


def _init_child(settings: Settings) -> None:
    from msroi import lean
    from msroi.saliency import maps

    lean.OWN_PROCESS = True
    lean.reuse_freed_memory()  # as the command's own process
    maps.THREADS = 1  # the workers share the cores already
    _init_worker(settings)


def run(pairs, settings: Settings, jobs: int = 1, on_done=None, baselines=None, debug: bool = False) -> list[dict]:
    """Compress every ``(image, output)`` pair with ``settings`` in ``jobs`` processes (one
    classifier load per process, only when maps need it). ``on_done(record)`` is called as
    each image finishes; ``baselines`` optionally gives a standard-JPEG path per pair;
    ``debug`` re-raises the first error. Returns the records in the order of ``pairs``."""
    pairs = [(Path(s), Path(d)) for s, d in pairs]
    baselines = list(baselines) if baselines is not None else [None] * len(pairs)
    jobs = max(1, min(int(jobs), len(pairs)))
    records: list = [None] * len(pairs)
    if jobs == 1:
        _init_worker(settings)
        for i, ((src, dst), base) in enumerate(zip(pairs, baselines)):
            records[i] = _run_one(i, src, dst, base, debug)[1]
            on_done and on_done(records[i])
        return records
    from concurrent.futures import ProcessPoolExecutor, as_completed  # not needed for one job (start-up)
    from multiprocessing import get_context

    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_init_child,
                             initargs=(settings,)) as pool:
        futures = [pool.submit(_run_one, i, s, d, b, debug) for i, ((s, d), b) in enumerate(zip(pairs, baselines))]
        try:
            for f in as_completed(futures):
                i, rec = f.result()
                records[i] = rec
                on_done and on_done(rec)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return records


# ----------------------------------------------------------------------------- reporting


def summary(records: list[dict], seconds: float) -> dict:
    """Totals of a run: images done/failed, input and output bytes, bytes saved against the
    standard JPEG each output is compared with (mean per image, and percent), wall time."""
    done = [r for r in records if r["ok"]]
    ref = [r for r in done if r.get("base_bytes")]
    saved = [r["base_bytes"] - r["bytes"] for r in ref]
    return {"images": len(records), "done": len(done), "failed": len(records) - len(done),
            "input_bytes": sum(r["input_bytes"] for r in done), "output_bytes": sum(r["bytes"] for r in done),
            "mean_saved_bytes": float(np.mean(saved)) if saved else None,
            "saved_pct": 100.0 * sum(saved) / sum(r["base_bytes"] for r in ref) if ref else None,
            "seconds": seconds, "images_per_second": len(records) / seconds if seconds > 0 else None}


def summary_text(s: dict, target: Target) -> str:
    """The end-of-run lines for people (see :func:`summary`)."""
    lines = [f"{s['done']} of {s['images']} images compressed, {s['failed']} failed; "
             f"{format_size(s['input_bytes'])} in, {format_size(s['output_bytes'])} out"]
    if s["mean_saved_bytes"] is not None:
        what = target.describe() if target.kind == "quality" else "the best standard JPEG within each budget"
        m, pct = s["mean_saved_bytes"], s["saved_pct"]
        lines.append(f"vs {what}: {format_size(abs(m))} {'smaller' if m >= 0 else 'larger'} per image on average "
                     f"({abs(pct):.1f}%)")
    lines.append(f"{s['seconds']:.1f} s ({s['images_per_second']:.2f} images/s)")
    return "\n".join(lines)


def write_table(records: list[dict], path) -> None:
    """Write the records as a CSV (one row per image, failed ones with their error)."""
    import pandas as pd

    files.write_csv(path, _whole_numbers(pd.DataFrame(records).reindex(columns=TABLE_COLUMNS)))


def _whole_numbers(df):
    import pandas as pd

    for c in ("bytes", "input_bytes", "final_quality", "base_quality", "base_bytes", "budget_bytes", "width", "height"):
        df[c] = pd.to_numeric(df[c]).astype("Int64")
    return df


def progress_bar(total: int, enabled: bool):
    """A rich progress bar on stderr, or None when disabled; returns ``(bar, advance)``
    where ``advance(record)`` moves it and prints a failed image's error above it."""
    if not enabled:
        return None, (lambda rec: rec["ok"] or print(f"msroi: {rec['error']}", file=sys.stderr))
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("compressing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False)
    task = bar.add_task("compress", total=total)

    def advance(rec):
        if not rec["ok"]:
            console.print(f"msroi: {rec['error']}", markup=False, highlight=False)
        bar.advance(task)

    return bar, advance


# ----------------------------------------------------------------------------- workflow stages


def target_from(quality: int = 50, size="", bpp: float = 0.0, max_quality: int = 0,
                threshold_pct: float = 0.0) -> Target:
    """The target of the workflow's production settings: ``size`` when set (e.g. '150k'),
    else ``bpp`` when > 0, else ``quality``; ``max_quality`` 0 means no cap."""
    cap = int(max_quality) or None
    if str(size or "").strip():
        return Target("size", parse_size(size), max_quality=cap)
    if bpp and bpp > 0:
        return Target("bpp", float(bpp), max_quality=cap)
    return Target("quality", int(quality), threshold_pct=float(threshold_pct))


def compress_chunk(pairs, settings: dict, table) -> list[dict]:
    """Workflow stage: compress ``(image, output JPEG)`` pairs in this process (one
    classifier load) with ``settings`` (keyword arguments of :class:`Settings`, ``target``
    a dict for :func:`target_from`, ``options`` a dict for EncoderOptions), print one line
    per image to stderr, and write the records to the CSV ``table``. Returns the records."""
    kw = dict(settings)
    kw["target"] = target_from(**kw.get("target", {}))
    kw["options"] = EncoderOptions(**kw.get("options", {}))
    for key in ("map_file", "map_dir", "cache_dir"):
        kw[key] = Path(kw[key]) if kw.get(key) else None
    pairs = [(Path(s), Path(d)) for s, d in pairs]
    done = iter(range(1, len(pairs) + 1))

    def line(rec):
        what = f"{rec['bytes']} bytes at Q{rec['final_quality']}" if rec["ok"] else f"error: {rec['error']}"
        print(f"[{next(done)}/{len(pairs)}] {rec['image']}: {what}", file=sys.stderr, flush=True)

    records = run(pairs, Settings(**kw), jobs=1, on_done=line)
    write_table(records, table)
    return records


def merge_tables(tables, out_csv):
    """Workflow stage: concatenate per-chunk CSVs into ``out_csv`` (sorted by image) and
    print the run's summary to stderr; returns the table."""
    import pandas as pd

    parts = [pd.read_csv(t, keep_default_na=False, na_values=[""]) for t in tables]
    df = _whole_numbers(pd.concat(parts, ignore_index=True).sort_values("image", kind="stable"))
    df["error"] = df["error"].fillna("")
    files.write_csv(out_csv, df)
    ok = df["ok"].astype(str).str.lower() == "true"
    print(f"{int(ok.sum())} of {len(df)} images compressed, {int((~ok).sum())} failed", file=sys.stderr)
    for err in df.loc[~ok, "error"]:
        print(f"failed: {err}", file=sys.stderr)
    return df
