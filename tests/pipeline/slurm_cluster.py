"""A throw-away one-node SLURM cluster on loopback, for the live SLURM test.

Everything lives in one temporary directory: slurm.conf (found by the clients and the
daemons through the SLURM_CONF environment variable, so /etc/slurm is never touched),
a private munge key and socket, state, spool, logs and the job completion file.
The daemons (munged, slurmctld, slurmd) run in the foreground as child processes;
`stop()` cancels this cluster's jobs and then stops exactly those processes, by PID.
Needs root (slurmd launches jobs as the submitting user) and Debian's `slurm-wlm`
and `munge` packages (Slurm 22.05).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

TOOLS = ("munged", "mungekey", "munge", "unmunge", "slurmctld", "slurmd", "sbatch", "srun",
         "squeue", "sinfo", "scontrol", "scancel", "setpriv")
PARTITION = "msroi"


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_hardware() -> dict[str, int]:
    """CPUs, sockets, cores and memory as `slurmd -C` sees them."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[0]))
    return {k: int(fields[k]) for k in ("CPUs", "SocketsPerBoard", "CoresPerSocket",
                                         "ThreadsPerCore", "RealMemory")}


class SlurmCluster:
    """Start with `SlurmCluster.start()`, use `.env` for every SLURM command, then `.stop()`."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.jobcomp = root / "jobcomp.txt"
        self.ctld_log = root / "slurmctld.log"
        self.bin = root / "bin"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf),
                    "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
        self.procs: list[tuple[str, subprocess.Popen]] = []

    # ---- start -------------------------------------------------------------------------
    @classmethod
    def start(cls, timeout: float = 60) -> "SlurmCluster":
        root = Path(tempfile.mkdtemp(prefix="msroi-slurm-"))
        root.chmod(0o755)  # munged runs as user munge and must reach its socket directory
        cluster = cls(root)
        try:
            cluster._write_conf()
            cluster._start_munge(timeout)
            cluster._spawn("slurmctld", ["slurmctld", "-D", "-f", str(cluster.conf)])
            cluster._spawn("slurmd", ["slurmd", "-D", "-N", "localhost", "-f", str(cluster.conf)])
            cluster._wait_idle(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _write_conf(self) -> None:
        r = self.root
        # snakemake-executor-plugin-slurm-jobstep (0.6.1) removes every SLURM_* variable but
        # a few job ids, SLURM_CONF included, before its `srun` inside a job; that srun then
        # cannot find this cluster. A PATH shim puts SLURM_CONF back for srun only.
        self.bin.mkdir()
        shim = self.bin / "srun"
        shim.write_text(f"#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which('srun')} \"$@\"\n")
        shim.chmod(0o755)
        for d in ("state", "spool"):
            (r / d).mkdir()
        hw = _node_hardware()
        mem = int(hw["RealMemory"] * 0.95)
        self.conf.write_text(f"""\
# Written by tests/slurm_cluster.py for one test session; removed afterwards.
ClusterName=msroitest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={r}/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={self.ctld_log}
SlurmdLogFile={r}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeAddr=127.0.0.1 CPUs={hw["CPUs"]} SocketsPerBoard={hw["SocketsPerBoard"]} \
CoresPerSocket={hw["CoresPerSocket"]} ThreadsPerCore={hw["ThreadsPerCore"]} RealMemory={mem} State=UNKNOWN
PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")

    def _start_munge(self, timeout: float) -> None:
        d = self.root / "munge"
        d.mkdir(mode=0o700)
        key = d / "munge.key"
        subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True,
                       capture_output=True)
        key.chmod(0o600)
        shutil.chown(d, "munge", "munge")
        shutil.chown(key, "munge", "munge")
        d.chmod(0o755)
        sock = d / "munge.socket"
        self._spawn("munged", [
            "setpriv", "--reuid=munge", "--regid=munge", "--init-groups",
            "munged", "-F", f"--socket={sock}", f"--key-file={key}",
            f"--log-file={d}/munged.log", f"--pid-file={d}/munged.pid",
            f"--seed-file={d}/munged.seed",
        ])
        deadline = time.monotonic() + timeout
        while True:
            cred = subprocess.run(["munge", "-n", "-S", str(sock)], capture_output=True)
            if cred.returncode == 0 and subprocess.run(
                    ["unmunge", "-S", str(sock)], input=cred.stdout, capture_output=True).returncode == 0:
                return
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged did not answer within {timeout} s\n{self.logs()}")
            time.sleep(0.2)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.root / f"{name}.out", "wb")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=self.env, start_new_session=True)
        out.close()
        self.procs.append((name, proc))

    def _check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.logs()}")

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            self._check_alive()
            r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                               env=self.env)
            state = r.stdout.strip() or r.stderr.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"node not idle after {timeout} s (sinfo: {state!r})\n{self.logs()}")

    # ---- use ---------------------------------------------------------------------------
    def run(self, *cmd: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, **kw)

    def completed_jobs(self) -> dict[int, dict[str, str]]:
        """JobId -> fields (Name, StartTime, EndTime, ...) of every job recorded as COMPLETED."""
        if not self.jobcomp.exists():
            return {}
        jobs = {}
        for line in self.jobcomp.read_text().splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if fields.get("JobState") == "COMPLETED":
                jobs[int(fields["JobId"])] = fields
        return jobs

    def submitted_jobs(self) -> list[int]:
        """JobIds the controller accepted, from its log."""
        if not self.ctld_log.exists():
            return []
        text = self.ctld_log.read_text(errors="replace")
        return sorted({int(m) for m in re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", text)})

    def logs(self, tail: int = 2000) -> str:
        parts = []
        for path in sorted(self.root.glob("*.out")) + [self.ctld_log, self.root / "slurmd.log",
                                                       self.root / "munge" / "munged.log"]:
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    # ---- stop --------------------------------------------------------------------------
    def stop(self, timeout: float = 20) -> None:
        """Cancel this cluster's jobs, stop the daemons this object started, remove its files."""
        if self.procs and all(p.poll() is None for _, p in self.procs):
            try:
                self.run("scancel", "--full", "--partition", PARTITION, timeout=10)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    q = self.run("squeue", "-h", "-t", "RUNNING,COMPLETING,PENDING", timeout=10)
                    if q.returncode != 0 or not q.stdout.strip():
                        break
                    time.sleep(0.5)
            except subprocess.TimeoutExpired:
                pass
        for name, proc in reversed(self.procs):  # slurmd, slurmctld, munged
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.procs.clear()
        if os.environ.get("MSROI_KEEP_SLURM_DIR") != "1":
            shutil.rmtree(self.root, ignore_errors=True)
