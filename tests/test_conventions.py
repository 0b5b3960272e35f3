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
