"""Live SLURM: the workflow through a real one-node SLURM cluster, with the slurm profile.

Starts munged, slurmctld and slurmd on loopback (tests/slurm_cluster.py), runs the
pipeline on two small images with `--workflow-profile workflow/profiles/slurm`, proves
that every job went through SLURM (job ids from Snakemake's output, checked against the
cluster's job completion log) and that the metrics equal a local run's on the same inputs.
Needs root and Debian's slurm-wlm + munge; skipped otherwise, failed when
MSROI_REQUIRE_TOOLS=1 (CI).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.conftest import REPO, require_tool
from tests.pipeline.slurm_cluster import SlurmCluster, missing_tools

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
PROFILE = REPO / "workflow" / "profiles" / "slurm"
RUN_TIMEOUT = 360  # seconds for the SLURM run; `timeout -k 10` stops Snakemake after that
CONFIG = {
    "images": "images",
    "map_sources": ["center"],
    "compress": {"selection": [3], "base_quality": [50, 70], "threshold_pct": [1]},
    "jpegli": False,  # fewer jobs: each SLURM job costs ~10 s of Snakemake start-up here
}


def _require_slurm():
    missing = missing_tools()
    if missing:
        if os.environ.get("MSROI_REQUIRE_TOOLS") == "1":
            for tool in missing:
                require_tool(tool)  # fails, naming the tool
        pytest.skip(f"SLURM not installed (missing {', '.join(missing)}; "
                    "Debian: apt-get install slurm-wlm munge)")
    if os.geteuid() != 0:
        message = "the live SLURM test starts slurmd and needs root"
        if os.environ.get("MSROI_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{message} (MSROI_REQUIRE_TOOLS=1)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def slurm_cluster():
    _require_slurm()
    cluster = SlurmCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _make_workdir(path: Path, small_photo) -> Path:
    from skimage import data

    images = path / "images"
    images.mkdir(parents=True)
    Image.fromarray(small_photo).save(images / "cat.png")
    Image.fromarray(data.coffee()[::6, ::6]).save(images / "cup.jpg", quality=95)
    (path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return path


def _snakemake(workdir: Path, *args: str, env=None, timeout=None) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), *args]
    if timeout is not None:
        cmd = ["timeout", "-k", "10", str(timeout), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=(timeout or 600) + 30)


def _jobs_run(log: str) -> Counter:
    """Rule -> number of jobs Snakemake started, from its log."""
    return Counter(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", log, re.M))


def _report(capsys, submitted, completed, accepted, local_s, slurm_s):
    """Print the SLURM job ids checked, also without -s (the CI log should show them)."""
    lines = [f"SLURM jobs of the workflow run (local run {local_s:.0f} s, SLURM run {slurm_s:.0f} s):"]
    for sid, rule in sorted(submitted.items()):
        job = completed.get(sid, {})
        lines.append(f"  JobId={sid:<4} rule={rule:<16} state={job.get('JobState', 'NOT COMPLETED')} "
                     f"start={job.get('StartTime', '?')} end={job.get('EndTime', '?')}")
    lines.append(f"  accepted by slurmctld (log): {accepted}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def _sorted(path: Path) -> pd.DataFrame:
    """A result table in a fixed row order (rows are written in job completion order)."""
    table = pd.read_csv(path)
    return table.sort_values(list(table.columns)).reset_index(drop=True)


def test_pipeline_runs_through_slurm_like_locally(slurm_cluster, tmp_path, small_photo, capsys):
    local = _make_workdir(tmp_path / "local", small_photo)
    remote = _make_workdir(tmp_path / "slurm", small_photo)

    started = time.monotonic()
    r = _snakemake(local, "--cores", "2")
    assert r.returncode == 0, f"local run failed:\n{r.stderr[-4000:]}"
    local_s = time.monotonic() - started
    local_jobs = _jobs_run(r.stderr)
    assert local_jobs, r.stderr[-4000:]

    started = time.monotonic()
    r = _snakemake(remote, "--workflow-profile", str(PROFILE),
                   # poll every few seconds instead of the plugin's 40 s: the jobs are short
                   "--slurm-init-seconds-before-status-checks", "2",
                   env=slurm_cluster.env, timeout=RUN_TIMEOUT)
    slurm_s = time.monotonic() - started
    out = r.stdout + r.stderr
    assert r.returncode == 0, (
        f"SLURM run failed ({r.returncode}; 124 = timed out after {RUN_TIMEOUT} s):\n"
        f"{out[-6000:]}\n{slurm_cluster.logs()}")

    # Every job of the local run went through SLURM (same rules, same counts) and completed,
    # except the workflow's local rules (`all`), which Snakemake runs itself in both modes.
    submitted = {int(sid): rule for sid, rule in re.findall(
        r"submitted with SLURM jobid (\d+) \(log: \S*?/rule_(\w+)/", out)}
    completed = slurm_cluster.completed_jobs()
    _report(capsys, submitted, completed, slurm_cluster.submitted_jobs(), local_s, slurm_s)
    assert submitted, f"no SLURM submissions in Snakemake's output:\n{out[-4000:]}"
    ran_locally = Counter(re.findall(r"^local(?:rule|checkpoint) (\w+):$", out, re.M))
    assert Counter(submitted.values()) == local_jobs - ran_locally, (
        sorted(submitted.items()), local_jobs, ran_locally)
    assert set(submitted) <= set(completed), (sorted(submitted), sorted(completed))
    assert set(submitted) <= set(slurm_cluster.submitted_jobs())
    assert len({completed[sid]["Name"] for sid in submitted}) == 1, "one Snakemake run, one job name"

    for name in ("metrics.csv", "summary.csv"):
        pd.testing.assert_frame_equal(_sorted(remote / "results" / name),
                                      _sorted(local / "results" / name), check_exact=False, rtol=1e-9)
    metrics = pd.read_csv(remote / "results/metrics.csv")
    assert sorted(metrics["image"].unique()) == ["cat", "cup"]
    for path in metrics["output"]:
        assert (remote / path).is_file()
