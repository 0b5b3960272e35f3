"""``msroi compress``: images and directories in, JPEGs out (logic in :mod:`msroi.pipeline.batch`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

from msroi import settings as defaults
from msroi.errors import InputError, MsroiError

EXIT_FAILED = 2


def _size(text: str) -> int:
    from msroi.pipeline.batch import parse_size

    try:
        return parse_size(text)
    except MsroiError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--size: ")) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the batch and target options to the ``compress`` parser: -r, -j, -q, --model,
    --cache, and one of --quality (alias --base-quality) / --size / --bpp, with --max-quality."""
    p.add_argument("-r", "--recursive", action="store_true", help="compress the images of subdirectories too (the tree is mirrored)")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="worker processes over images (default: $MSROI_THREADS, else all cores); outputs do not depend on it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, result line or summary (errors still print)")
    p.add_argument("--model", default="default",
                   help="classifier for the built-in map: 'default' (bundled ImageNet EfficientNet-Lite0) or a .keras model from `msroi train`")
    p.add_argument("--cache", type=Path, help="where the converted default model is cached (default $MSROI_CACHE or ~/.cache/msroi)")
    t = p.add_mutually_exclusive_group()
    t.add_argument("--quality", "--base-quality", dest="base_quality", type=int, choices=range(1, 101), metavar="1..100",
                   help=f"budget: the size of standard JPEG at this quality (default {defaults.BASE_QUALITY})")
    t.add_argument("--size", type=_size, metavar="BYTES",
                   help="budget: this many bytes per image, e.g. 150k (k = 1024 bytes, M = 1024^2; 128 bytes .. 1 GiB)")
    t.add_argument("--bpp", type=float, metavar="B", help="budget: B bits per pixel, i.e. B x width x height / 8 bytes (0 < B <= 24)")
    p.add_argument("--max-quality", type=int, choices=range(1, 101), metavar="1..100",
                   help="with --size/--bpp: never spend more than standard JPEG at this quality would")


def target(args):
    """The :class:`~msroi.pipeline.batch.Target` of the parsed options (MsroiError when they clash)."""
    from msroi.pipeline.batch import Target

    if args.size is not None or args.bpp is not None:
        if args.threshold_pct is not None:
            raise MsroiError("--threshold-pct applies to --quality only")
        kind, value = ("size", args.size) if args.size is not None else ("bpp", args.bpp)
        return Target(kind, value, max_quality=args.max_quality)
    if args.max_quality is not None:
        raise MsroiError("--max-quality applies to --size and --bpp only (with --quality the budget is that quality)")
    threshold = args.threshold_pct if args.threshold_pct is not None else (1.0 if args.method == "original" else 0.0)
    quality = defaults.BASE_QUALITY if args.base_quality is None else args.base_quality
    return Target("quality", quality, threshold_pct=threshold)


def settings(args):
    """The :class:`~msroi.pipeline.batch.Settings` of the parsed options."""
    from msroi.codec.jpeg import EncoderOptions
    from msroi.pipeline.batch import Settings

    is_dir = args.map is not None and args.map.is_dir()
    options = EncoderOptions(args.subsampling, args.optimize, args.progressive)
    if args.method == "semantic":
        from msroi.codec.semantic import check_options

        check_options(options)
    return Settings(method=args.method, target=target(args), selection=args.selection, ratio=args.ratio,
                    smooth=args.smooth, options=options,
                    map_file=None if is_dir else args.map, map_dir=args.map if is_dir else None, prior=args.prior,
                    model=args.model, cache_dir=args.cache, max_pixels=args.max_pixels,
                    strip_metadata=args.strip_metadata)


def _jobs(args) -> int:
    from msroi.pipeline.batch import default_jobs

    jobs = default_jobs() if args.jobs is None else args.jobs
    if not 1 <= jobs <= 256:
        raise MsroiError(f"-j/--jobs must be in 1..256, got {jobs}")
    return jobs


def _prepare_model(s, jobs: int, n: int) -> None:
    """Check a model file before work starts; fold the default model's weights once, before workers start."""
    if not s.needs_model:
        return
    if str(s.model) != "default":
        if not Path(s.model).is_file():
            raise InputError(s.model, "no such model file")
        return
    if min(jobs, n) > 1:
        from msroi.saliency.networks.efficientnet_lite0_numpy import load_default

        load_default(s.cache_dir)  # writes the cached .npz the workers then read


def cmd_compress(args) -> int:
    """Run ``msroi compress``; returns the exit status (2 when any image failed)."""
    from msroi.pipeline import batch

    s = settings(args)
    single = batch.output_is_file(args.inputs, args.output)
    pairs = _plan(args, s, single)
    jobs = _jobs(args)
    _prepare_model(s, jobs, len(pairs))
    bar, advance = batch.progress_bar(len(pairs), not (args.quiet or single) and sys.stderr.isatty())

    def on_done(rec):
        advance(rec)
        if args.json and (rec["ok"] or not single):
            print(json.dumps(_with_baseline(rec, args.baseline)), flush=True)

    t0 = time.perf_counter()
    with bar if bar is not None else contextlib.nullcontext():
        records = batch.run(pairs, s, jobs, on_done, baselines=[args.baseline] if single else None, debug=args.debug)
    if not args.quiet:
        _report(records, s.target, single, args.json, time.perf_counter() - t0)
    return 0 if all(r["ok"] for r in records) else EXIT_FAILED


def _plan(args, s, single: bool):
    """The (image, output) pairs, after every check that must pass before work starts."""
    from msroi.pipeline import batch

    if args.map is not None and not args.map.is_dir() and not single:
        raise MsroiError("--map FILE needs one input image and an output file name (out.jpg); "
                         "for several images give a directory of maps named by image stem")
    if args.baseline is not None and not single:
        raise MsroiError("--baseline needs one input image and an output file name (out.jpg)")
    model_file = None if not s.needs_model or str(s.model) == "default" else s.model
    pairs = batch.plan(args.inputs, args.output, args.recursive, protect=[args.map, model_file])
    if args.baseline is not None:
        from msroi import files

        files.check_outputs([args.output, args.baseline], [args.inputs[0], args.map, model_file])
    return pairs


def _report(records, target, single: bool, as_json: bool, seconds: float) -> None:
    """One result line on stdout for a single image, else the summary on stderr."""
    from msroi.pipeline import batch

    if not single:
        print(batch.summary_text(batch.summary(records, seconds), target), file=sys.stderr)
    elif records[0]["ok"] and not as_json:
        r = records[0]
        ref = f"standard JPEG Q{r['base_quality']}: {r['base_bytes']} bytes, " if r["base_quality"] else ""
        print(f"{r['output']}: {r['bytes']} bytes at Q{r['final_quality']} ({ref}budget {r['budget_bytes']})")


def _with_baseline(rec: dict, baseline) -> dict:
    return {**rec, "baseline": str(baseline)} if baseline is not None and rec["ok"] else rec
