"""The workflow follows Snakemake's conventions: lint, format, documented and validated config."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def tool(name):
    return shutil.which(name, path=str(BIN)) or shutil.which(name)


def test_snakemake_lint_is_clean():
    r = subprocess.run([tool("snakemake"), "--lint", "--cores", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_snakefmt_check_is_clean():
    r = subprocess.run([tool("snakefmt"), "--check", "Snakefile", "workflow"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def _leaves(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        yield name, sub
        if sub.get("type") == "object":
            yield from _leaves(sub, name + ".")


def test_every_config_key_is_described_defaulted_and_documented():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    readme = (REPO / "config/README.md").read_text()
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for name, sub in _leaves(schema):
        assert sub.get("description"), f"{name} has no description in the schema"
        assert "default" in sub, f"{name} has no default in the schema"
        if sub.get("type") != "object":
            assert f"`{name}`" in readme, f"{name} is not documented in config/README.md"
    top = set(schema["properties"])
    assert set(config) <= top, f"config keys not in the schema: {set(config) - top}"


def test_every_rule_logs_under_results_logs():
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("\nrule ") + text.count("\ncheckpoint ") == text.count("    log:\n"), smk.name
        for line in text.split("    log:\n")[1:]:
            assert line.strip().startswith('f"{RESULTS}/logs/'), f"{smk.name}: a log outside results/logs: {line[:80]}"


def test_schema_defaults_and_bounds_are_the_code_constants():
    """Defaults live in msroi.settings; the schema, the CLI and the code read the same values."""
    from msroi import cli, cli_batch, settings
    from msroi.codec import semantic

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]

    def key(*path):
        node = props
        for k in path[:-1]:
            node = node[k]["properties"]
        return node[path[-1]]

    for path, default, bounds in [
        (("max_pixels",), settings.MAX_PIXELS, settings.MAX_PIXELS_RANGE),
        (("center_sigma",), settings.CENTER_SIGMA, settings.CENTER_SIGMA_RANGE),
        (("evaluation", "sweep_tolerance"), settings.SWEEP_TOLERANCE, settings.SWEEP_TOLERANCE_RANGE),
        (("semantic", "ratio"), settings.RATIO, settings.RATIO_RANGE),
        (("semantic", "smooth"), settings.SMOOTH, settings.SMOOTH_RANGE),
        (("model", "top_k"), settings.TOP_K, settings.TOP_K_RANGE),
        (("model", "short_side"), settings.SHORT_SIDE, settings.SHORT_SIDE_RANGE),
        (("model", "last_weight"), settings.LAST_WEIGHT, settings.LAST_WEIGHT_RANGE),
        (("encoder", "optimize"), settings.OPTIMIZE, None),
    ]:
        entry = key(*path)
        assert entry["default"] == default, path
        if bounds:
            assert (entry["minimum"], entry["maximum"]) == bounds, path
    threshold = key("original", "threshold_pct")["items"]
    assert (threshold["minimum"], threshold["maximum"]) == settings.THRESHOLD_PCT_RANGE
    quality = key("base_quality")["items"]
    assert (quality["minimum"], quality["maximum"]) == settings.BASE_QUALITY_RANGE
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert config["max_pixels"] == settings.MAX_PIXELS
    args = cli.build_parser().parse_args(["compress", "x.png", "--prior", "center", "-o", "o.jpg"])
    defaults = vars(args)
    assert (defaults["max_pixels"], defaults["ratio"], defaults["smooth"], defaults["optimize"]) \
        == (settings.MAX_PIXELS, settings.RATIO, settings.SMOOTH, settings.OPTIMIZE)
    assert cli_batch.target(args).value == settings.BASE_QUALITY
    assert (semantic.DEFAULTS["ratio"], semantic.DEFAULTS["smooth"]) == (settings.RATIO, settings.SMOOTH)
    mapped = vars(cli.build_parser().parse_args(["map", "x.png", "-o", "out"]))
    assert (mapped["top_k"], mapped["short_side"], mapped["last_weight"]) == (settings.TOP_K, settings.SHORT_SIDE,
                                                                                 settings.LAST_WEIGHT)
