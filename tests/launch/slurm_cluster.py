"""A real single-node SLURM for the tests: munge, MariaDB, slurmdbd, slurmctld and slurmd started
as root in a private folder on free ports, with accounting (so ``sacct`` -- and submitit through
it -- sees cancelled and failed jobs). Nothing is installed here: CI installs the Debian packages
(munge slurmctld slurmd slurm-client slurmdbd mariadb-server) before the tests.

    python tests/launch/slurm_cluster.py   # start one, print SLURM_CONF and the start time, stop
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")


def missing() -> str | None:
    """Why a cluster cannot start here (``None`` when it can)."""
    absent = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if absent:
        return f"SLURM test cluster needs {', '.join(absent)} (Debian: munge slurmctld slurmd slurm-client " \
               "slurmdbd mariadb-server)"
    if os.geteuid() != 0:
        return "SLURM test cluster starts its daemons as root"
    return None


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class Cluster:
    """A running test cluster; :meth:`stop` ends its daemons and removes its folder."""

    folder: Path
    conf: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    started_s: float = 0.0

    @property
    def env(self) -> dict[str, str]:
        """The environment SLURM's clients (sbatch, squeue, sacct; submitit) need."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def stop(self) -> None:
        """Cancel the jobs left (their processes would outlive slurmd), stop the daemons (newest
        first), wait for them, remove the folder."""
        if self.processes and all(p.poll() is None for p in self.processes):
            subprocess.run(["scancel", "--full", f"--user={os.getuid()}"], env=self.env, capture_output=True,
                           timeout=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and subprocess.run(
                    ["squeue", "-h"], env=self.env, capture_output=True, text=True, timeout=30).stdout.strip():
                time.sleep(0.5)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self, name: str) -> str:
        path = self.folder / "log" / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _wait(condition, what: str, cluster: Cluster, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [p.args[0] for p in cluster.processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {n}\n{cluster.log(n)}" for n in ("munged.log", "mariadb.log", "slurmdbd.log",
                                                                    "slurmctld.log", "slurmd.log"))
            cluster.stop()
            raise RuntimeError(f"SLURM test cluster: {what} failed (exited: {dead})\n{logs}")
        time.sleep(0.2)


def start() -> Cluster:
    """Start munge, MariaDB, slurmdbd, slurmctld and slurmd; return once the node is idle."""
    t0 = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="upgan-slurm-", dir="/tmp"))  # short: socket paths
    for sub in ("munge", "db", "state", "spool", "log", "run"):
        (folder / sub).mkdir()
    (folder / "munge").chmod(0o755)
    cluster = Cluster(folder, folder / "slurm.conf")
    host = socket.gethostname().split(".")[0]
    db_port, dbd_port, ctld_port, d_port = _free_ports(4)
    sock = folder / "munge" / "munge.socket"
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    log = folder / "log"

    def daemon(*command: str, name: str) -> None:
        out = open(log / f"{name}.out", "w")  # noqa: SIM115 (kept by the process)
        cluster.processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                                  start_new_session=True))

    daemon(_binary("munged"), "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
           f"--pid-file={folder / 'run' / 'munged.pid'}", f"--log-file={log / 'munged.log'}",
           f"--seed-file={folder / 'munge' / 'seed'}", name="munged")
    subprocess.run([_binary("mariadb-install-db"), f"--datadir={folder / 'db'}", "--user=root",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    daemon(_binary("mariadbd"), f"--datadir={folder / 'db'}", "--user=root", f"--port={db_port}",
           "--bind-address=127.0.0.1", f"--socket={folder / 'run' / 'mysqld.sock'}",
           f"--pid-file={folder / 'run' / 'mysqld.pid'}", f"--log-error={log / 'mariadb.log'}",
           "--skip-grant-tables", "--innodb-buffer-pool-size=32M", name="mariadb")
    dbd = folder / "slurmdbd.conf"
    dbd.write_text("\n".join([
        "AuthType=auth/munge", f"AuthInfo=socket={sock}", "DbdHost=localhost", f"DbdPort={dbd_port}",
        "SlurmUser=root", "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1",
        f"StoragePort={db_port}", "StorageUser=root", "StorageLoc=slurm_acct_db",
        f"PidFile={folder / 'run' / 'slurmdbd.pid'}", f"LogFile={log / 'slurmdbd.log'}", ""]))
    dbd.chmod(0o600)
    cpus = os.cpu_count() or 1
    memory = max(512, int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") / 2**20) // 2)
    cluster.conf.write_text("\n".join([
        "ClusterName=upgantest", f"SlurmctldHost={host}(127.0.0.1)", f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={d_port}", "AuthType=auth/munge", f"AuthInfo=socket={sock}",
        "CredType=cred/munge", "AccountingStorageType=accounting_storage/slurmdbd",
        "AccountingStorageHost=localhost", f"AccountingStoragePort={dbd_port}", f"AccountingStoragePass={sock}",
        "JobCompType=jobcomp/none", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "JobAcctGatherType=jobacct_gather/none",
        "MpiDefault=none", "ReturnToService=2", "SlurmUser=root", "SlurmdUser=root", "MailProg=/bin/true",
        "KillWait=5", "MinJobAge=300", "SchedulerParameters=sched_interval=1",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'run' / 'slurmd.pid'}",
        f"SlurmctldLogFile={log / 'slurmctld.log'}", f"SlurmdLogFile={log / 'slurmd.log'}",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
    env = {**os.environ, "SLURM_CONF": str(cluster.conf)}

    def up(command: list[str]) -> bool:
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0

    _wait(lambda: sock.exists(), "munged", cluster)
    _wait(lambda: (folder / "run" / "mysqld.sock").exists(), "mariadb", cluster)
    cluster.processes.append(subprocess.Popen([_binary("slurmdbd"), "-D"], env=env, start_new_session=True,
                                              stdout=open(log / "slurmdbd.out", "w"), stderr=subprocess.STDOUT))
    _wait(lambda: up(["sacctmgr", "-n", "list", "cluster"]), "slurmdbd", cluster)
    daemon_env = subprocess.Popen  # slurmctld/slurmd read SLURM_CONF too
    for name in ("slurmctld", "slurmd"):
        cluster.processes.append(daemon_env([_binary(name), "-D", "-f", str(cluster.conf)], env=env,
                                            start_new_session=True, stdout=open(log / f"{name}.out", "w"),
                                            stderr=subprocess.STDOUT))

    def idle() -> bool:
        result = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, timeout=30)
        return result.stdout.strip() == "idle"

    _wait(idle, "slurmctld + slurmd (node idle)", cluster)
    _wait(lambda: up(["sacct", "-n", "-X", "-S", "now-1minute"]), "accounting (sacct)", cluster)
    cluster.started_s = time.monotonic() - t0
    return cluster


if __name__ == "__main__":
    reason = missing()
    if reason:
        raise SystemExit(reason)
    running = start()
    print(f"SLURM_CONF={running.conf}\nstarted in {running.started_s:.1f} s")  # noqa: T201
    t = time.monotonic()
    result = subprocess.run(["sbatch", "--wrap", "hostname", "--wait", "-o", "/dev/null"], env=running.env,
                            capture_output=True, text=True)
    print(f"sbatch --wait hostname: rc {result.returncode} in {time.monotonic() - t:.1f} s {result.stdout.strip()}")  # noqa: T201
    print(subprocess.run(["sacct", "-n", "-X", "-o", "JobID,State"], env=running.env, capture_output=True,  # noqa: T201
                         text=True).stdout)
    t = time.monotonic()
    running.stop()
    print(f"stopped in {time.monotonic() - t:.1f} s")  # noqa: T201
