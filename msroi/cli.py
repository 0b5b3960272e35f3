"""Command-line interface: ``msroi <command> ...`` (see ``msroi --help``).

User errors (bad input files, bad options) print one line ``msroi: <file>: <problem>`` and
exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InputError, MsroiError

EXIT_USER_ERROR = 2
EXIT_OVER_BUDGET = 3


def _encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subsampling", choices=["4:2:0", "4:2:2", "4:4:4"], default="4:2:0", help="chroma subsampling (default 4:2:0)")
    p.add_argument("--optimize", action="store_true", help="optimise Huffman tables")
    p.add_argument("--progressive", action="store_true", help="write a progressive JPEG (default: baseline)")


def _encoder_options(args):
    from .encoder import EncoderOptions

    return EncoderOptions(subsampling=args.subsampling, optimize=args.optimize, progressive=args.progressive)


def _check_output(path: Path, *inputs: Path) -> None:
    for i in inputs:
        if i is not None and Path(i).exists() and Path(path).resolve() == Path(i).resolve():
            raise InputError(path, "output would overwrite an input file")


def cmd_compress(args) -> int:
    from . import compress, io, priors

    _check_output(args.output, args.image, args.map)
    rgb = io.read_image(args.image, args.max_pixels)
    if args.map is not None:
        sal = io.read_map(args.map, rgb.shape[:2])
    else:
        sal = priors.prior_map(args.prior, rgb.shape[:2])
    data, baseline, rec = compress.compress_original(
        rgb, sal, args.selection, args.base_quality, args.threshold_pct, _encoder_options(args)
    )
    rec.update(image=str(args.image), map=str(args.map) if args.map else f"prior:{args.prior}", output=str(args.output))
    if not rec["fits_budget"]:
        if args.json:
            print(json.dumps(rec, indent=2))
        raise MsroiError(
            f"{args.image}: no JPEG quality fits the budget of {rec['budget_bytes']} bytes "
            f"(even Q1 is {rec['bytes']} bytes); nothing written"
        )
    io.write_bytes(args.output, data)
    if args.baseline:
        io.write_bytes(args.baseline, baseline)
        rec["baseline"] = str(args.baseline)
    if args.json:
        print(json.dumps(rec, indent=2))
    else:
        print(f"{args.output}: {rec['bytes']} bytes at Q{rec['final_quality']} "
              f"(baseline Q{rec['base_quality']}: {rec['base_bytes']} bytes, budget {rec['budget_bytes']})")
    return 0


def cmd_samples(args) -> int:
    from .samples import SAMPLES, export_sample, sample_path

    names = args.names or list(SAMPLES)
    for name in names:
        if args.output is None:
            print(f"{name}\t{sample_path(name)}")
        else:
            out = Path(args.output) / f"{name}{sample_path(name).suffix}"
            export_sample(name, out)
            print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="msroi", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"msroi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compress", help="compress one image guided by a saliency map (the original MSROI method)")
    p.add_argument("image", type=Path)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--map", type=Path, help="saliency map: 8/16-bit PNG or float .npy, any size (resized to the image)")
    src.add_argument("--prior", choices=["uniform", "center"], help="use a prior map instead of a file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output JPEG")
    p.add_argument("--baseline", type=Path, help="also write standard JPEG at the base quality here")
    p.add_argument("--selection", type=int, choices=range(1, 7), default=3, metavar="1..6", help="selection model (default 3, deciles)")
    p.add_argument("--base-quality", type=int, default=50, choices=range(1, 101), metavar="1..100", help="quality of the baseline that sets the budget (default 50)")
    p.add_argument("--threshold-pct", type=float, default=1.0, help="allowed size over the baseline, in percent (default 1; 0 = never larger)")
    p.add_argument("--max-pixels", type=int, default=100_000_000, help="refuse images with more pixels (default 1e8)")
    p.add_argument("--json", action="store_true", help="print the result record as JSON")
    _encoder_args(p)
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("samples", help="list the bundled sample photos, or export them to a directory")
    p.add_argument("names", nargs="*", help="sample names (default: all)")
    p.add_argument("-o", "--output", type=Path, help="directory to copy them to")
    p.set_defaults(func=cmd_samples)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threshold_pct", 0) is not None and getattr(args, "threshold_pct", 0) < 0:
        parser.error("--threshold-pct must be >= 0")
    try:
        return args.func(args)
    except MsroiError as e:
        if args.debug:
            raise
        print(f"msroi: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("msroi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
