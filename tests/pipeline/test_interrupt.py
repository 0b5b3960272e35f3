"""Interruption: SIGKILL the workflow mid-job, re-run it, and get what an uninterrupted run gets.

Outputs are written atomically (a hidden ``.NAME.*.part*`` file renamed onto NAME), so a
killed job leaves either no output or a complete one. Snakemake marks the killed job's
outputs incomplete; missing ones are simply redone, and ``--rerun-incomplete`` (set by the
workflow profile) also redoes any that a multi-output job had already written.
A SIGKILL also leaves Snakemake's lock behind, so the re-run needs ``--unlock`` first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.conftest import REPO
from tests.conftest import SNAKEMAKE

pytestmark = pytest.mark.slow

PROFILE = REPO / "workflow" / "profiles" / "default"
CONFIG = {
    "images": "images",
    "map_sources": ["center"],
    "jpegli": False,
    "base_quality": [50], "original": {"selection": [3], "threshold_pct": [1]},
}


def _setup(workdir: Path) -> Path:
    from skimage import data

    images = workdir / "images"
    images.mkdir(parents=True)
    Image.fromarray(np.ascontiguousarray(data.chelsea()[::6, ::6])).save(images / "cat.png")
    Image.fromarray(np.ascontiguousarray(data.coffee()[::8, ::8])).save(images / "cup.jpg", quality=95)
    (workdir / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return workdir


def _cmd(workdir: Path, *args) -> list[str]:
    return [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), *args]


def _run(workdir: Path, *args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(_cmd(workdir, *args), capture_output=True, text=True, timeout=600, cwd=workdir)
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake {args} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
    return r


def _job_logs(workdir: Path) -> list[Path]:
    logs = workdir / "results" / "logs"
    return [p for p in logs.rglob("*.log") if p.name != "check_images.log"] if logs.is_dir() else []


def _assert_no_truncated_outputs(workdir: Path) -> None:
    """Every visible JPEG and CSV under results/ is complete (decodes / parses)."""
    from msroi.codec.jpeg import decode

    results = workdir / "results"
    for p in results.rglob("*.jpg"):
        if p.name.startswith("."):
            continue  # an atomic-write temp file left by the kill: never an output name
        decode(p.read_bytes())  # raises on a truncated JPEG
    for p in results.rglob("*.csv"):
        if not p.name.startswith("."):
            pd.read_csv(p)


def _sorted_metrics(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    keys = [c for c in ("image", "method", "map_source", "selection", "base_quality", "threshold_pct") if c in df]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, started in the background (it runs while the other is killed)."""
    wd = _setup(tmp_path_factory.mktemp("uninterrupted"))
    proc = subprocess.Popen(_cmd(wd, "--cores", "1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=wd)
    yield wd, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_sigkill_mid_job_then_rerun_gives_the_uninterrupted_result(tmp_path, reference):
    wd = _setup(tmp_path / "killed")
    proc = subprocess.Popen(_cmd(wd, "--cores", "1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=wd, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # check_images, then one finished job, then kill while the next one runs
        while len(_job_logs(wd)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the workflow finished before it could be interrupted:\n" + proc.stdout.read()
        assert len(_job_logs(wd)) >= 2, "no job started within the time limit"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert not (wd / "results" / "metrics.csv").exists()
    _assert_no_truncated_outputs(wd)

    # the kill leaves the lock behind: a plain re-run refuses until --unlock
    locked = _run(wd, "--cores", "2", check=False)
    assert locked.returncode != 0 and "lock" in (locked.stdout + locked.stderr).lower()
    _run(wd, "--unlock")
    # the documented way: the workflow profile (keep-going, rerun-incomplete), here on 2 cores
    _run(wd, "--workflow-profile", str(PROFILE), "--cores", "2")
    _assert_no_truncated_outputs(wd)
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(_run(wd, "-n", "--cores", "1"))

    ref_wd, ref_proc = reference
    out, _ = ref_proc.communicate(timeout=600)
    assert ref_proc.returncode == 0, out[-5000:]
    got, want = _sorted_metrics(wd / "results/metrics.csv"), _sorted_metrics(ref_wd / "results/metrics.csv")
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) > 0
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-12)
    for path in got["output"]:
        assert (wd / path).is_file()
